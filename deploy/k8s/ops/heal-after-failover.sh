#!/usr/bin/env bash
# The scripted heal after a PostgreSQL failover that may have left the cache stale
# (docs/operations.md#postgresql-failover):
#   deploy/k8s/ops/heal-after-failover.sh -n <namespace> [--reset-offsets] [--dry-run]
#
# 1. Connector: with --reset-offsets (or when its task FAILED because the stored offset is "no
#    longer available" on the new primary's fresh slot), stop it, reset its offsets and start it,
#    so it streams from the new slot.
# 2. Wait until the connector task is RUNNING and the slot is active: from here on every change
#    is evicted again.
# 3. Bump every key-space generation (the invalidator's renew-cache-generations command, run
#    inside an invalidator pod with its own REDIS_URL): every cached entry and in-flight fill becomes
#    a miss, so whatever changed in the gap (or was lost with an async standby) cannot be served.
#    Cost: one miss per hot key, absorbed by the fallback limiter and single-flight.
# Order matters: bumping before step 2 would let entries filled during the gap survive.
# Safe to run more than once (each run costs one cold cache).
set -euo pipefail
KUBECTL="${KUBECTL:-kubectl}"
CONNECTOR="${CONNECTOR:-settings-postgres}"
SLOT="${SLOT:-settings_cache_slot}"
TIMEOUT="${TIMEOUT:-600}"
NS="" RESET=0 DRY_RUN=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    -n|--namespace) NS="$2"; shift 2 ;;
    --reset-offsets) RESET=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    *) echo "usage: $0 -n <namespace> [--reset-offsets] [--dry-run]" >&2; exit 2 ;;
  esac
done
[[ -n "$NS" ]] || { echo "usage: $0 -n <namespace> [--reset-offsets] [--dry-run]" >&2; exit 2; }
k() { echo "+ kubectl $*"; [[ $DRY_RUN -eq 1 ]] || "$KUBECTL" "$@"; }
die() { echo "heal-after-failover: $*" >&2; exit 1; }
state() { "$KUBECTL" get "kafkaconnector/$CONNECTOR" -n "$NS" -o jsonpath='{.status.connectorStatus.connector.state} {.status.connectorStatus.tasks[*].state}'; }
until_true() { # <what> <command...>: polls every 5 s, fails after TIMEOUT
  local what="$1"; shift
  [[ $DRY_RUN -eq 1 ]] && { echo "    would wait for $what"; return 0; }
  local deadline=$((SECONDS + TIMEOUT))
  until "$@"; do ((SECONDS < deadline)) || die "$what: not reached after ${TIMEOUT}s"; sleep 5; done
  echo "    $what"
}

if [[ $DRY_RUN -eq 0 ]]; then
  echo "connector $CONNECTOR: $(state)"
  trace="$("$KUBECTL" get "kafkaconnector/$CONNECTOR" -n "$NS" -o jsonpath='{.status.connectorStatus.tasks[*].trace}')"
  [[ "$trace" == *"no longer available"* ]] && RESET=1
fi

if [[ $RESET -eq 1 ]]; then
  echo "==> resetting the connector's offsets: it streams from the slot's position"
  k patch "kafkaconnector/$CONNECTOR" -n "$NS" --type merge -p '{"spec":{"state":"stopped"}}'
  until_true "connector STOPPED" bash -c "[[ \"\$($KUBECTL get kafkaconnector/$CONNECTOR -n $NS -o jsonpath='{.status.connectorStatus.connector.state}')\" == STOPPED ]]"
  k annotate "kafkaconnector/$CONNECTOR" -n "$NS" strimzi.io/connector-offsets=reset --overwrite
  # Strimzi removes the annotation once the offsets are reset.
  until_true "offsets reset" bash -c "[[ -z \"\$($KUBECTL get kafkaconnector/$CONNECTOR -n $NS -o jsonpath='{.metadata.annotations.strimzi\.io/connector-offsets}')\" ]]"
  k patch "kafkaconnector/$CONNECTOR" -n "$NS" --type merge -p '{"spec":{"state":"running"}}'
fi

echo "==> waiting for the connector to stream again"
until_true "connector and task RUNNING" bash -c "[[ \"\$($KUBECTL get kafkaconnector/$CONNECTOR -n $NS -o jsonpath='{.status.connectorStatus.connector.state} {.status.connectorStatus.tasks[*].state}')\" =~ ^RUNNING( RUNNING)+\$ ]]"
until_true "slot $SLOT active" bash -c "$KUBECTL exec -n $NS deploy/settings-postgres-exporter -- wget -qO- http://127.0.0.1:9187/metrics | grep -Eq '^pg_replication_slot_slot_is_active\{[^}]*slot_name=\"$SLOT\"[^}]*\} 1\$'"

echo "==> bumping every key-space generation (the whole cache becomes misses, never stale)"
# The library the services use; REDIS_URL and the CA are the pod's own.
k exec -n "$NS" deploy/settings-invalidator -c settings-invalidator -- node services/invalidator/dist/src/admin/renew-cache-generations.js
echo "healed: changes from now on are evicted, and nothing cached before now is served"
