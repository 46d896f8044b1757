#!/usr/bin/env bash
# The scripted heal after a PostgreSQL failover, a lost or recreated replication slot or reset
# connector offsets (docs/operations.md#postgresql-failover):
#   deploy/k8s/ops/heal-after-failover.sh -n <namespace> [--keep-offsets] [--reason <text>]
#                                         [--renew-generations] [--dry-run]
#
# 1. Connector: stop it; record this run's reason as a gap and drop the replication slot if
#    PostgreSQL invalidated it (wal_status lost: such a slot can never stream again, and Debezium
#    recreates only a missing slot); reset its offsets; start it, so it streams from the slot's
#    position (the gap is recorded before the reset: a run that fails after it, step 2 timing
#    out or the step-3 pod failing, leaves it recorded for any later heal, with or without a
#    reason). Always, not only when the task FAILED: after a restore, or a failover to a
#    standby that was behind, the stored offset is AHEAD of the new server's WAL, and Debezium
#    (offset.mismatch.strategy no_validation) streams from it without an error, skipping every change committed before the WAL passes it.
#    The reset has a cost too: with snapshot.mode=no_data Debezium then starts at the current WAL
#    position, so the changes committed while the connector was stopped (this step's seconds)
#    are not streamed. Step 3 heals the updates among them; a row deleted in that window stays
#    cached until its TTL, as in any gap. Where the connector's position is right (no failover,
#    restore or slot loss: dead letters not replayed, an invalidator down beyond retention), run
#    with --keep-offsets, which skips this step. (--reset-offsets is still accepted: the default.)
# 2. Wait until the connector task is RUNNING and the slot is active: from here on every change
#    is evicted again, and a signal row is read.
# 3. Re-read the current rows (the invalidator's heal-cdc-gap command): every recorded CDC gap
#    (with --keep-offsets, this run's reason recorded now) becomes one Debezium incremental
#    snapshot of the cached tables; each row is re-emitted with its current version and the
#    invalidator evicts only the entries older than their row. The cache is not emptied. Runs in
#    a short-lived pod of the invalidator image (app.kubernetes.io/name=settings-cdc-heal) as the replication role debezium_settings: its password goes from the Secret
#    settings-debezium-db straight into the pod's PGPASSWORD (secretKeyRef), never through
#    this shell, the command line or the pod spec, and the operator needs no read access to
#    Secrets.
# 4. Only with --renew-generations (a restore or rewind: versions went backwards, so the
#    version fence cannot tell stale from fresh): bump every key-space generation (the
#    renew-cache-generations command, inside an invalidator pod with its own REDIS_URL): every
#    cached entry becomes a miss. Cost: one miss per hot key.
# Order matters: a signal written before step 2 is never read, and a bump before step 2 would
# let entries filled during the gap survive. Safe to run more than once: each run records its
# reason (--reason, default this script and the time) as a gap and requests one snapshot.
set -euo pipefail
KUBECTL="${KUBECTL:-kubectl}"
CONNECTOR="${CONNECTOR:-settings-postgres}"
SLOT="${SLOT:-settings_cache_slot}"
TIMEOUT="${TIMEOUT:-600}"
NS="" DRY_RUN=0 RENEW=0 REASON="" KEEP_OFFSETS=0
usage() { echo "usage: $0 -n <namespace> [--keep-offsets] [--reason <text>] [--renew-generations] [--dry-run]" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    -n|--namespace) [[ $# -ge 2 ]] || usage; NS="$2"; shift 2 ;;
    --reset-offsets) shift ;; # the default (step 1)
    --keep-offsets) KEEP_OFFSETS=1; shift ;;
    --reason) [[ $# -ge 2 ]] || usage; REASON="$2"; shift 2 ;;
    --renew-generations) RENEW=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    *) usage ;;
  esac
done
[[ -n "$NS" ]] || usage
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

if [[ $DRY_RUN -eq 0 ]]; then echo "connector $CONNECTOR: $(state)"; fi
cfg() { # <connector config key> <default>: where the connector reads, so the heal writes there
  local v=""; [[ $DRY_RUN -eq 1 ]] || v="$("$KUBECTL" get "kafkaconnector/$CONNECTOR" -n "$NS" -o jsonpath="{.spec.config.database\\.$1}")"
  echo "${v:-$2}"
}
# The connector's own TLS mode (dev: disable), and the CA bundle only where the server is verified.
sslmode="$(cfg sslmode verify-full)"
db_url="postgresql://$(cfg user debezium_settings)@$(cfg hostname settings-postgres):$(cfg port 5432)/$(cfg dbname settings)?sslmode=$sslmode"
[[ "$sslmode" != verify-* ]] || db_url+="&sslrootcert=/etc/settings-ca/ca.crt"
image=$(if [[ $DRY_RUN -eq 1 ]]; then echo "<image of deploy/settings-invalidator>"; else
  "$KUBECTL" get deploy/settings-invalidator -n "$NS" -o jsonpath='{.spec.template.spec.containers[?(@.name=="settings-invalidator")].image}'; fi)
[[ -n "$image" ]] || die "no image on deploy/settings-invalidator"
json() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }
heal_pod() { # [argument...]: runs heal-cdc-gap.js <argument...> in a short-lived pod and waits for it
  local overrides args="" a
  for a in "$@"; do args+=",\"$(json "$a")\""; done
  overrides=$(cat <<JSON
{"apiVersion":"v1","metadata":{"labels":{"app.kubernetes.io/name":"settings-cdc-heal","app.kubernetes.io/part-of":"settings-cache"}},
 "spec":{"serviceAccountName":"settings-invalidator","automountServiceAccountToken":false,"enableServiceLinks":false,"restartPolicy":"Never",
  "securityContext":{"runAsNonRoot":true,"runAsUser":1000,"runAsGroup":1000,"seccompProfile":{"type":"RuntimeDefault"}},
  "containers":[{"name":"heal","image":"$(json "$image")",
   "command":["node","services/invalidator/dist/src/admin/heal-cdc-gap.js"$args],
   "env":[{"name":"HEAL_DATABASE_URL","value":"$(json "$db_url")"},
    {"name":"PGPASSWORD","valueFrom":{"secretKeyRef":{"name":"settings-debezium-db","key":"password"}}},
    {"name":"REPLICATION_SLOT","value":"$(json "$SLOT")"}],
   "resources":{"requests":{"cpu":"50m","memory":"64Mi"},"limits":{"cpu":"500m","memory":"256Mi"}},
   "securityContext":{"allowPrivilegeEscalation":false,"readOnlyRootFilesystem":true,"runAsNonRoot":true,"capabilities":{"drop":["ALL"]}},
   "volumeMounts":[{"name":"settings-ca","mountPath":"/etc/settings-ca","readOnly":true}]}],
  "volumes":[{"name":"settings-ca","configMap":{"name":"settings-ca-bundle"}}]}}
JSON
)
  k run "settings-cdc-heal-$(date +%s)-$RANDOM" -n "$NS" --image="$image" --restart=Never --rm -i --quiet --overrides="$overrides"
}
[[ -n "$REASON" ]] || REASON="heal-after-failover.sh $(date -u +%Y-%m-%dT%H:%M:%SZ): $(if [[ $KEEP_OFFSETS -eq 1 ]]; then echo "rows re-read"; else echo "connector offsets reset"; fi)"

if [[ $KEEP_OFFSETS -eq 1 ]]; then
  echo "==> keeping the connector's offsets (--keep-offsets): no stop, no reset"
else
echo "==> stopping the connector, recording the gap, dropping its slot if PostgreSQL invalidated it, resetting its offsets"
# Never leave change capture stopped: whatever fails from here until it runs again (the drop pod,
# the offsets reset, a timeout), the connector is started again on the way out, without a reset
# still pending: Strimzi acts on the annotation whenever the connector is next stopped, and that
# reset would skip changes unrecorded.
restart_on_failure() {
  echo "heal-after-failover: failed with the connector stopped: starting it again; the heal did not finish, run this script again" >&2
  k annotate "kafkaconnector/$CONNECTOR" -n "$NS" strimzi.io/connector-offsets- || true
  k patch "kafkaconnector/$CONNECTOR" -n "$NS" --type merge -p '{"spec":{"state":"running"}}' || true
}
trap restart_on_failure EXIT
k patch "kafkaconnector/$CONNECTOR" -n "$NS" --type merge -p '{"spec":{"state":"stopped"}}'
until_true "connector STOPPED" bash -c "[[ \"\$($KUBECTL get kafkaconnector/$CONNECTOR -n $NS -o jsonpath='{.status.connectorStatus.connector.state}')\" == STOPPED ]]"
# Records REASON as a gap before the reset makes it (whatever fails later, the gap stays
# recorded for the next heal), then drops the slot if it lost its WAL.
heal_pod --drop-lost-slot "$REASON"
k annotate "kafkaconnector/$CONNECTOR" -n "$NS" strimzi.io/connector-offsets=reset --overwrite
# Strimzi removes the annotation once the offsets are reset. A failed read is not "removed":
# started before the reset, the connector would stream from the stale offset.
until_true "offsets reset" bash -c "v=\"\$($KUBECTL get kafkaconnector/$CONNECTOR -n $NS -o jsonpath='{.metadata.annotations.strimzi\.io/connector-offsets}')\" && [[ -z \"\$v\" ]]"
k patch "kafkaconnector/$CONNECTOR" -n "$NS" --type merge -p '{"spec":{"state":"running"}}'
trap - EXIT
fi

echo "==> waiting for the connector to stream again"
until_true "connector and task RUNNING" bash -c "[[ \"\$($KUBECTL get kafkaconnector/$CONNECTOR -n $NS -o jsonpath='{.status.connectorStatus.connector.state} {.status.connectorStatus.tasks[*].state}')\" =~ ^RUNNING( RUNNING)+\$ ]]"
until_true "slot $SLOT active" bash -c "$KUBECTL exec -n $NS deploy/settings-postgres-exporter -- wget -qO- http://127.0.0.1:9187/metrics | grep -Eq '^pg_replication_slot_slot_is_active\{[^}]*slot_name=\"$SLOT\"[^}]*\} 1\$'"

echo "==> re-reading the current rows: incremental snapshot of the cached tables (heal-cdc-gap)"
# After a reset the gap is recorded already (step 1): heal what is recorded. Without one, this
# run's reason is the gap.
if [[ $KEEP_OFFSETS -eq 1 ]]; then heal_pod "$REASON"; else heal_pod; fi

if [[ $RENEW -eq 1 ]]; then
  echo "==> bumping every key-space generation (--renew-generations: the whole cache becomes misses)"
  # The library the services use; REDIS_URL and the CA are the pod's own.
  k exec -n "$NS" deploy/settings-invalidator -c settings-invalidator -- node services/invalidator/dist/src/admin/renew-cache-generations.js
fi
echo "healed: changes from now on are evicted, and the snapshot evicts every entry older than its row (at the invalidator's rate ceiling)"
