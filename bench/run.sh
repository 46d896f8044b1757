#!/usr/bin/env bash
# `npm run bench` entry: installs what the benchmark needs, compiles, makes sure the local stack
# is up (it never stops it: other engineers may be using it), then runs the harness.
#   BENCH_QUICK=1            smoke run, a few seconds per scenario (results in bench/results/raw/quick)
#   BENCH_SCENARIOS=a,b      subset of: read-path, invalidation-lag, eviction-throughput, incident-replay, memory
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[bench] %s\n' "$*" >&2; }

ensure_tools() {
  local missing=()
  command -v h2load >/dev/null 2>&1 || missing+=(nghttp2-client)
  command -v redis-benchmark >/dev/null 2>&1 || missing+=(redis-tools)
  command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    say "missing tools: ${missing[*]} (install them: sudo apt-get install -y ${missing[*]})"
    exit 1
  fi
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_tools
# The stack's own prerequisites (PostgreSQL, Redis, Java, Maven, npm ci, Kafka/Debezium jars)
# are installed by its script; `status` is cheap and runs that preparation first.
bash deploy/local/bin/run.sh stack status >/dev/null 2>&1 || true
say "compiling (tsc -b, including bench/)"
npx tsc -b
npx tsc -b bench
say "bringing the local stack up (idempotent)"
node deploy/local/dist/src/cli.js up
exec node bench/dist/src/main.js
