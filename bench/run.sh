#!/usr/bin/env bash
# `npm run bench` entry: installs what the benchmark needs, compiles, makes sure the local stack
# is up (it never stops it: other engineers may be using it), then runs the harness.
#   BENCH_QUICK=1            smoke run, a few seconds per scenario (results in bench/results/raw/quick)
#   BENCH_SCENARIOS=a,b      subset of: read-path, cold-start, not-found, l1-coherence, invalidation-lag, eviction-throughput, event-format, bulk-drain, incident-replay, consistent-flood, watch, redis-cluster, memory
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[bench] %s\n' "$*" >&2; }

# The stack's own preparation installs what is missing the way it installs its parts (h2load
# from nghttp2-client and redis-benchmark from redis-tools are among its Debian packages), then
# compiles the workspace, bench/ included.
bash deploy/local/bin/run.sh prepare
say "bringing the local stack up (idempotent)"
node deploy/local/dist/src/cli.js up
exec node bench/dist/src/main.js
