#!/usr/bin/env bash
# Lints the protos and regenerates the TypeScript client in packages/settings-api/src/gen.
#
#   bash proto/generate.sh           lint, format-check, regenerate in place
#   bash proto/generate.sh --check   lint, format-check, regenerate into a temp dir and fail if
#                                    the committed output differs (for CI)
#
# Uses the buf and ts-proto pinned in the root package-lock, so output only changes when the
# protos or those pins change.
set -euo pipefail

proto_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root_dir="$(cd "$proto_dir/.." && pwd)"
gen_rel="packages/settings-api/src/gen"
buf="$root_dir/node_modules/.bin/buf"

mode="${1:-}"
case "$mode" in
  "" | --check) ;;
  *) echo "usage: bash proto/generate.sh [--check]" >&2; exit 2 ;;
esac

for tool in "$buf" "$root_dir/node_modules/.bin/protoc-gen-ts_proto"; do
  if [[ ! -x "$tool" ]]; then
    echo "generate.sh: $tool not found; run 'npm ci' at the repository root first" >&2
    exit 1
  fi
done

# buf.gen.yaml paths are relative to proto/.
cd "$proto_dir"
"$buf" lint
"$buf" format --diff --exit-code >/dev/null || {
  echo "generate.sh: protos are not buf-formatted; run: npx buf format -w proto" >&2
  exit 1
}

# What gRPC reflection serves (services/settings/src/grpc/proto-files.ts): the files exactly as
# protoc sees them — names, imports, fully qualified type names — which Go tools (grpcurl,
# buf curl) require; descriptors rebuilt by proto-loader are not valid for them.
descriptors_rel="proto/reflection-descriptors.binpb"
build_descriptors() { "$buf" build --as-file-descriptor-set --exclude-source-info -o "$1"; }

# proto3 strings are UTF-8, and decoders of other languages refuse a message whose string is
# not. ts-proto's decoders call `reader.string()`, which replaces invalid bytes with U+FFFD: a
# name sent in Latin-1 would be stored damaged and answered OK. `string(true)` throws instead
# (the server answers INVALID_ARGUMENT, grpc/request-decoding.ts). ts-proto has no option for it.
strict_utf8() { find "$1" -name '*.ts' -exec sed -i 's/reader\.string()/reader.string(true)/g' {} +; }

if [[ "$mode" != "--check" ]]; then
  "$buf" generate
  strict_utf8 "$root_dir/$gen_rel"
  build_descriptors "$root_dir/$descriptors_rel"
  echo "generated $gen_rel and $descriptors_rel"
  exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# `-o` is prepended to the template's `../packages/...` out path, so output lands in $tmp/packages/...
"$buf" generate -o "$tmp/proto"
strict_utf8 "$tmp/$gen_rel"
if ! diff -r -u "$root_dir/$gen_rel" "$tmp/$gen_rel" >"$tmp/gen.diff"; then
  head -n 200 "$tmp/gen.diff" >&2
  echo >&2
  echo "generate.sh --check: $gen_rel is out of date with proto/ (diff above)." >&2
  echo "Run 'npm run generate' and commit the result." >&2
  exit 1
fi
build_descriptors "$tmp/descriptors.binpb"
if ! cmp -s "$tmp/descriptors.binpb" "$root_dir/$descriptors_rel"; then
  echo "generate.sh --check: $descriptors_rel is out of date with proto/. Run 'npm run generate' and commit the result." >&2
  exit 1
fi
echo "$gen_rel and $descriptors_rel are up to date"
