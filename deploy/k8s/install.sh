#!/usr/bin/env bash
# Ordered install/upgrade of the settings cache into one namespace (docs/operations.md#deploy-order).
#
#   deploy/k8s/install.sh --env prod            # install or upgrade
#   deploy/k8s/install.sh --env prod --dry-run  # render, check, print the plan; no cluster access
#
# The order is the point: nothing that writes to PostgreSQL runs before the replication slot
# exists, or its changes would never be evicted from the cache.
#   1. preflight: Strimzi and Prometheus Operator CRDs serve the versions used
#   2. namespace, then the Secrets/ConfigMap the platform team provides must exist
#   3. foundation: NetworkPolicies, monitoring, exporters, endpoints, shared config
#   4. Kafka, node pools, topics, users               -> Ready
#   5. KafkaConnect (CI-built image, spec.image)      -> Ready
#   6. migration Job (schema, heartbeat table)        -> Complete, or stop at once on Failed
#   7. KafkaConnector                                 -> connector and task RUNNING, slot active
#   8. settings-service and settings-invalidator      -> rolled out
# The connector comes after the migrations because its publication and heartbeat table are
# created by them (first install); it comes before the services so the slot exists before the
# first write. Re-running is safe: every step is an apply or a wait.
#
# Site values: site/site.env (from site/site.env.example). The script refuses to run while any
# value matches site/placeholder-patterns.
# Environment: KUBECTL (default kubectl; the unit test points it at a stub), TIMEOUT_* seconds,
# POLL_INTERVAL seconds.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KUBECTL="${KUBECTL:-kubectl}"
POLL_INTERVAL="${POLL_INTERVAL:-5}"
TIMEOUT_KAFKA="${TIMEOUT_KAFKA:-1200}"
TIMEOUT_CONNECT="${TIMEOUT_CONNECT:-900}"
TIMEOUT_MIGRATE="${TIMEOUT_MIGRATE:-900}"
TIMEOUT_CONNECTOR="${TIMEOUT_CONNECTOR:-600}"
TIMEOUT_ROLLOUT="${TIMEOUT_ROLLOUT:-600}"
PHASE_LABEL=settings-cache.io/install-phase

ENVIRONMENT=""
DRY_RUN=0
usage() { echo "usage: $0 --env <dev|prod> [--dry-run]" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --env) ENVIRONMENT="${2:-}"; shift 2 ;;
    --env=*) ENVIRONMENT="${1#--env=}"; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h|--help) usage ;;
    *) echo "unknown argument: $1" >&2; usage ;;
  esac
done
[[ -n "$ENVIRONMENT" && -d "$HERE/overlays/$ENVIRONMENT" ]] || { echo "no overlay for --env '$ENVIRONMENT' in $HERE/overlays" >&2; usage; }

die() { echo "install.sh: $*" >&2; exit 1; }
step() { echo; echo "==> $*"; }
# Mutating calls: printed, and run unless --dry-run.
k() {
  echo "+ kubectl $*"
  if [[ $DRY_RUN -eq 0 ]]; then "$KUBECTL" "$@"; fi
}
# Read-only calls; under --dry-run there is no cluster to ask, so they print empty.
q() {
  if [[ $DRY_RUN -eq 1 ]]; then return 0; fi
  "$KUBECTL" "$@"
}

# ---- site values and rendering (offline) -----------------------------------------------
SITE_ENV="$HERE/site/site.env"
PATTERNS="$(grep -Ev '^(#|$)' "$HERE/site/placeholder-patterns")"
[[ -f "$SITE_ENV" ]] || die "missing $SITE_ENV: copy site/site.env.example and fill in this site's values"
if found="$(grep -v '^#' "$SITE_ENV" | grep -En "$PATTERNS")"; then
  die "site/site.env still holds placeholder values (patterns in site/placeholder-patterns):
$found"
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
step "render overlays/$ENVIRONMENT"
"$KUBECTL" kustomize "$HERE/overlays/$ENVIRONMENT" >"$WORK/app.yaml"
"$KUBECTL" kustomize "$HERE/overlays/$ENVIRONMENT/migrate" >"$WORK/migrate.yaml"
if found="$(grep -En "$PATTERNS" "$WORK/app.yaml" "$WORK/migrate.yaml")"; then
  die "the rendering still holds placeholder values:
$found"
fi
NS="$(awk '/^kind: Namespace$/{ns=1} ns && /^  name: /{print $2; exit}' "$WORK/app.yaml")"
[[ -n "$NS" ]] || die "overlays/$ENVIRONMENT renders no Namespace"
SLOT="$(awk -F': ' '/^    slot.name: /{print $2; exit}' "$WORK/app.yaml")"
CONNECTOR="$(awk '/^kind: KafkaConnector$/{c=1} c && /^  name: /{print $2; exit}' "$WORK/app.yaml")"
echo "namespace $NS, connector $CONNECTOR, replication slot $SLOT"

apply_phase() {
  local phase="$1"
  grep -q "$PHASE_LABEL: $phase" "$WORK/app.yaml" || die "nothing rendered for phase $phase"
  k apply --server-side --field-manager=settings-install --force-conflicts -n "$NS" -f "$WORK/app.yaml" -l "$PHASE_LABEL=$phase"
}

# Polls `check` (a function printing DONE, FAILED:<why> or anything else for "not yet") until
# done, failed (exit at once: a failed Job or task does not wait out the timeout) or timeout.
wait_for() {
  local what="$1" timeout="$2" check="$3" deadline out
  echo "    waiting up to ${timeout}s for $what"
  [[ $DRY_RUN -eq 1 ]] && return 0
  deadline=$((SECONDS + timeout))
  while :; do
    out="$($check 2>&1 || true)"
    case "$out" in
      DONE*) echo "    $what: ok"; return 0 ;;
      FAILED*) die "$what failed: ${out#FAILED:}" ;;
    esac
    ((SECONDS < deadline)) || die "$what: not done after ${timeout}s (last state: ${out:-none})"
    sleep "$POLL_INTERVAL"
  done
}

conditions() { q get "$1" -n "$NS" -o jsonpath='{range .status.conditions[*]}{.type}={.status}:{.reason};{end}'; }
# Strimzi custom resources: Ready=True; an invalid spec is reported as NotReady with an
# Invalid*/Unsupported* reason and will not heal by waiting.
strimzi_ready() {
  local c; c="$(conditions "$1")"
  if [[ "$c" == *"Ready=True"* && "$c" != *"NotReady=True"* ]]; then echo DONE
  elif [[ "$c" =~ (Invalid|Unsupported)[A-Za-z]* ]]; then echo "FAILED:$c"
  else echo "$c"; fi
}
kafka_ready() { strimzi_ready kafka/settings-kafka; }
connect_ready() { strimzi_ready kafkaconnect/settings-connect; }
job_done() {
  local c; c="$(conditions job/settings-migrate)"
  if [[ "$c" == *"Complete=True"* ]]; then echo DONE
  elif [[ "$c" == *"Failed=True"* ]]; then
    echo "FAILED:$c"
    q logs -n "$NS" job/settings-migrate --tail=40 >&2 || true
  else echo "$c"; fi
}
connector_running() {
  local states
  states="$(q get "kafkaconnector/$CONNECTOR" -n "$NS" -o jsonpath='{.status.connectorStatus.connector.state} {.status.connectorStatus.tasks[*].state}')"
  if [[ "$states" == *FAILED* ]]; then
    echo "FAILED:$states: $(q get "kafkaconnector/$CONNECTOR" -n "$NS" -o jsonpath='{.status.connectorStatus.connector.trace}{.status.connectorStatus.tasks[*].trace}' | head -c 2000)"
  elif [[ "$states" =~ ^RUNNING( RUNNING)+$ ]]; then echo DONE
  else echo "$states"; fi
}
# The slot as PostgreSQL sees it, through postgres_exporter (which has the pg_monitor role).
slot_active() {
  local metrics
  metrics="$(q exec -n "$NS" deploy/settings-postgres-exporter -- wget -qO- http://127.0.0.1:9187/metrics)"
  if grep -Eq "^pg_replication_slot_slot_is_active\{[^}]*slot_name=\"$SLOT\"[^}]*\} 1\$" <<<"$metrics"; then echo DONE
  else echo "slot $SLOT not active yet"; fi
}

# `kubectl rollout status` fails on its own when a Deployment exceeds progressDeadlineSeconds.
rollout() {
  local d
  for d in "$@"; do k rollout status -n "$NS" "deploy/$d" --timeout="${TIMEOUT_ROLLOUT}s"; done
}

# ---- 1. preflight ---------------------------------------------------------------------
step "preflight: CRDs"
for crd in kafkas kafkanodepools kafkatopics kafkausers kafkaconnects kafkaconnectors; do
  if [[ $DRY_RUN -eq 0 ]]; then
    served="$(q get crd "$crd.kafka.strimzi.io" -o jsonpath='{.spec.versions[?(@.served==true)].name}')" || die "CRD $crd.kafka.strimzi.io missing: install the Strimzi operator (1.2.0) first"
    [[ " $served " == *" v1 "* ]] || die "CRD $crd.kafka.strimzi.io does not serve v1 (served: $served): Strimzi >= 1.0 is required"
  fi
  echo "    $crd.kafka.strimzi.io v1"
done
for crd in servicemonitors podmonitors prometheusrules; do
  [[ $DRY_RUN -eq 1 ]] || q get crd "$crd.monitoring.coreos.com" -o name >/dev/null || die "CRD $crd.monitoring.coreos.com missing: install the Prometheus Operator CRDs first"
  echo "    $crd.monitoring.coreos.com"
done

# ---- 2. namespace and what the platform team provides ----------------------------------
step "namespace $NS"
apply_phase namespace
required=(secret/settings-db secret/settings-db-migrator secret/settings-db-auditor secret/settings-redis secret/settings-debezium-db
  secret/settings-registry-pull secret/settings-postgres-exporter configmap/settings-ca-bundle)
if grep -q 'name: settings-jwt$' "$WORK/app.yaml"; then required+=(secret/settings-jwt); fi
if grep -q 'name: settings-consistency-token$' "$WORK/app.yaml"; then required+=(secret/settings-consistency-token); fi
missing=()
for r in "${required[@]}"; do
  if [[ $DRY_RUN -eq 0 ]] && ! q get "$r" -n "$NS" -o name >/dev/null 2>&1; then missing+=("$r"); fi
done
[[ ${#missing[@]} -eq 0 ]] || die "create these in namespace $NS first (docs/operations.md#deploy-order): ${missing[*]}"
if [[ $DRY_RUN -eq 1 ]]; then echo "    would require: ${required[*]}"; else echo "    ${#required[@]} Secrets/ConfigMaps present"; fi

# ---- 3. foundation ---------------------------------------------------------------------
step "foundation: network policies, monitoring, exporters, endpoints"
apply_phase foundation
rollout settings-postgres-exporter settings-redis-exporter

# ---- 4. Kafka --------------------------------------------------------------------------
step "Kafka"
apply_phase kafka
wait_for "Kafka settings-kafka Ready" "$TIMEOUT_KAFKA" kafka_ready
k wait -n "$NS" kafkatopic -l strimzi.io/cluster=settings-kafka --for=condition=Ready --timeout=300s
k wait -n "$NS" kafkauser -l strimzi.io/cluster=settings-kafka --for=condition=Ready --timeout=300s

# ---- 5. Kafka Connect ------------------------------------------------------------------
step "Kafka Connect (image built by CI, see connect-image/)"
apply_phase connect
wait_for "KafkaConnect settings-connect Ready" "$TIMEOUT_CONNECT" connect_ready

# ---- 6. migrations ---------------------------------------------------------------------
step "migrations"
# Jobs are immutable: the previous release's Job goes first.
k delete job settings-migrate -n "$NS" --ignore-not-found --wait=true
k apply --server-side --field-manager=settings-install --force-conflicts -n "$NS" -f "$WORK/migrate.yaml"
wait_for "Job settings-migrate" "$TIMEOUT_MIGRATE" job_done

# ---- 7. connector and replication slot -------------------------------------------------
step "connector $CONNECTOR"
apply_phase connector
wait_for "connector $CONNECTOR and its task RUNNING" "$TIMEOUT_CONNECTOR" connector_running
wait_for "replication slot $SLOT active" "$TIMEOUT_CONNECTOR" slot_active

# ---- 8. workloads ----------------------------------------------------------------------
step "settings-service and settings-invalidator"
apply_phase app
rollout settings-service settings-invalidator

step "done: $ENVIRONMENT installed in namespace $NS"
