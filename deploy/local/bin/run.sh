#!/usr/bin/env bash
# The one entry point behind the README's two commands:
#   npm start   -> run.sh start : install what is missing, bring the stack up, migrate, run both services
#   npm test    -> run.sh test  : install what is missing, typecheck, lint, unit + integration tests
#   npm run stack -- up|down|status|logs
#   npm run chaos -> run.sh chaos : install what is missing, bring the stack up, run the chaos suite
#   run.sh prepare                : install what is missing and compile (bench/run.sh starts with it)
# It installs only what is missing, so a warm second run goes straight to work.
set -euo pipefail
cd "$(dirname "$0")/../../.."
ROOT=$(pwd)

say() { printf '[setup] %s\n' "$*" >&2; }

ensure_system_packages() {
  local missing=()
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  # redis-benchmark (redis-tools) is the benchmark's reference for eviction throughput.
  { command -v redis-cli && command -v redis-benchmark; } >/dev/null 2>&1 || missing+=(redis-tools)
  command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null 2>&1 || missing+=(maven)
  # The benchmark's load generator (bench/; its smoke test runs in `npm test`).
  command -v h2load >/dev/null 2>&1 || missing+=(nghttp2-client)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    say "missing system packages: ${missing[*]} (install them, e.g. sudo apt-get install -y ${missing[*]})"
    exit 1
  fi
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_node_modules() {
  # A patch newer than the install (patches/, applied by the postinstall's patch-package) also
  # reinstalls: npm ci puts the pristine package back and the patch is applied to it.
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] \
    || [ -n "$(find patches -newer node_modules/.package-lock.json 2>/dev/null)" ]; then
    say "installing npm dependencies (npm ci)"
    npm ci --no-audit --no-fund --loglevel=error
  fi
}

ensure_jars() {
  local stamp=deploy/local/target/.fetched want
  want=$(sha1sum deploy/local/pom.xml | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "fetching Kafka + Debezium jars from Maven Central (mvn package)"
    # Neither copy-dependencies nor unpack removes anything: after a version change the old
    # jars would stay beside the new ones (two kafka-clients, two debezium-core on one classpath).
    rm -rf deploy/local/target/kafka-libs deploy/local/target/plugins
    mvn -B -q -f deploy/local/pom.xml package
    echo "$want" > "$stamp"
  fi
}

build() {
  say "compiling TypeScript (tsc -b)"
  npx tsc -b
}

prepare() {
  ensure_system_packages
  ensure_node_modules
  ensure_jars
  build
}

stack() { node deploy/local/dist/src/cli.js "$@"; }

cmd=${1:-}
shift || true
case "$cmd" in
  start)
    prepare
    stack up
    exec node deploy/local/dist/src/run-services.js
    ;;
  prepare)
    prepare
    ;;
  test)
    prepare
    say "lint (eslint, layering rules, buf lint, generated code is current)"
    npx eslint .
    # .dependency-cruiser.cjs: no cycles, db/ below grpc/, no service imports another, every
    # workspace package declares what it imports. About 2 s; fails on any violation.
    npm run --silent lint:layers
    bash proto/generate.sh --check
    say "tests (unit, then integration against the real stack)"
    # --forceExit: a test that fails mid-way may leave a client open; CI must still end.
    npx jest --ci --runInBand --forceExit "$@"
    ;;
  chaos)
    prepare
    # The suite restarts components of the stack and heals them; it needs it up to begin with
    # (idempotent) and never stops it: other engineers may be using it.
    stack up
    exec node chaos/dist/src/main.js "$@"
    ;;
  stack)
    ensure_system_packages
    ensure_node_modules
    ensure_jars
    [ -f deploy/local/dist/src/cli.js ] || build
    stack "$@"
    ;;
  *)
    echo "usage: $0 start|test|chaos|prepare|stack <up|down|status|logs>" >&2
    exit 2
    ;;
esac
