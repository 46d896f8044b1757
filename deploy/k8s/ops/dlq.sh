#!/usr/bin/env bash
# Dead-letter inspection and replay with the Kafka CLI tools of the Strimzi image (no kcat, no
# broker pod name): docs/operations.md#dead-letter-replay.
#   deploy/k8s/ops/dlq.sh -n <namespace> inspect [max]    print headers, key and value
#   deploy/k8s/ops/dlq.sh -n <namespace> replay           produce each dead letter back to
#                                                         its dlq.source.topic
# Runs a short-lived pod (app.kubernetes.io/name=settings-ops, Pod Security `restricted`) with
# the KafkaUser settings-ops credentials over the TLS listener. Replaying is harmless when
# repeated or late: evictions are idempotent and version-fenced. Each run reads the whole topic
# (retention 14 days) with a fresh consumer group.
set -euo pipefail
KUBECTL="${KUBECTL:-kubectl}"
IMAGE="${STRIMZI_KAFKA_IMAGE:-quay.io/strimzi/kafka:1.2.0-kafka-4.3.0}"
DLQ_TOPIC="${DLQ_TOPIC:-settings.invalidator.dlq}"
NS=""
[[ "${1:-}" == "-n" ]] && { NS="$2"; shift 2; }
CMD="${1:-}"; MAX="${2:-50}"
[[ -n "$NS" && "$CMD" =~ ^(inspect|replay)$ ]] || { echo "usage: $0 -n <namespace> inspect [max] | replay" >&2; exit 2; }

# Inside the pod: client config from the mounted SCRAM password and cluster CA, then the tools.
read -r -d '' SCRIPT <<'INNER' || true
set -eu
cat >/tmp/client.properties <<PROPS
bootstrap.servers=settings-kafka-kafka-bootstrap:9093
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="settings-ops" password="$(cat /mnt/user/password)";
ssl.truststore.type=PEM
ssl.truststore.location=/mnt/cluster-ca/ca.crt
PROPS
group="settings-ops-$(date +%s)"
consume() {
  # The end of the topic (--timeout-ms) exits 0 with an ERROR line on stderr (its TimeoutException),
  # so stderr is kept aside; an authentication, ACL or TLS failure exits non-zero, and is shown:
  # swallowed, it read as "nothing to replay".
  if ! bin/kafka-console-consumer.sh --bootstrap-server settings-kafka-kafka-bootstrap:9093 \
    --consumer.config /tmp/client.properties --group "$group" --topic "$DLQ_TOPIC" --from-beginning \
    --timeout-ms 15000 --property print.headers=true --property print.key=true "$@" 2>/tmp/consume.err; then
    cat /tmp/consume.err >&2
    echo "reading $DLQ_TOPIC failed (above): nothing was replayed" >&2
    exit 1
  fi
}
if [ "$CMD" = inspect ]; then consume --max-messages "$MAX"; exit 0; fi
# replay: lines are "<headers>\t<key>\t<value>"; headers "dlq.reason:...,dlq.source.topic:<t>,...".
consume >/tmp/dlq.all.tsv
# A dead letter with dlq.truncated.* holds only the first bytes of its event: replayed, it came
# back as a dead letter on every replay. Its row is healed with the snapshot heal instead.
cut=$(grep -c 'dlq\.truncated\.' /tmp/dlq.all.tsv || true)
grep -v 'dlq\.truncated\.' /tmp/dlq.all.tsv >/tmp/dlq.tsv || true
[ "$cut" = 0 ] || echo "skipping $cut truncated dead letters (not the whole event): heal their rows with heal-after-failover.sh --keep-offsets" >&2
total=0
for topic in $(sed -n 's/.*dlq\.source\.topic:\([^,\t]*\).*/\1/p' /tmp/dlq.tsv | sort -u); do
  case "$topic" in settings.public.*) ;; *) echo "skipping records of unexpected source topic $topic" >&2; continue ;; esac
  grep -F "dlq.source.topic:$topic" /tmp/dlq.tsv | cut -f2- >/tmp/replay.tsv
  n=$(wc -l </tmp/replay.tsv)
  bin/kafka-console-producer.sh --bootstrap-server settings-kafka-kafka-bootstrap:9093 \
    --producer.config /tmp/client.properties --topic "$topic" \
    --property parse.key=true --property key.separator="$(printf '\t')" </tmp/replay.tsv
  echo "replayed $n records to $topic"
  total=$((total + n))
done
echo "replayed $total dead letters"
INNER

pod="settings-ops-dlq-$(date +%s)"
overrides=$(cat <<JSON
{"apiVersion":"v1","metadata":{"labels":{"app.kubernetes.io/name":"settings-ops"}},
 "spec":{"automountServiceAccountToken":false,"restartPolicy":"Never",
  "securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},
  "containers":[{"name":"kafka","image":"$IMAGE","command":["bash","-c","$(printf '%s' "$SCRIPT" | sed 's/\\/\\\\/g; s/"/\\"/g' | awk '{printf "%s\\n", $0}')"],
   "env":[{"name":"CMD","value":"$CMD"},{"name":"MAX","value":"$MAX"},{"name":"DLQ_TOPIC","value":"$DLQ_TOPIC"}],
   "resources":{"requests":{"cpu":"100m","memory":"512Mi"},"limits":{"cpu":"1","memory":"768Mi"}},
   "securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}},
   "volumeMounts":[{"name":"user","mountPath":"/mnt/user","readOnly":true},{"name":"cluster-ca","mountPath":"/mnt/cluster-ca","readOnly":true}]}],
  "volumes":[{"name":"user","secret":{"secretName":"settings-ops"}},{"name":"cluster-ca","secret":{"secretName":"settings-kafka-cluster-ca-cert"}}]}}
JSON
)
echo "+ kubectl run $pod -n $NS --image=$IMAGE ($CMD)" >&2
exec "$KUBECTL" run "$pod" -n "$NS" --image="$IMAGE" --restart=Never --rm -i --quiet --overrides="$overrides" --command -- bash
