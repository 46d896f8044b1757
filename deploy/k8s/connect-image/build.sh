#!/usr/bin/env bash
# CI recipe for the Kafka Connect image (Containerfile beside this file):
#   IMAGE_REGISTRY=registry.internal/settings deploy/k8s/connect-image/build.sh [--push]
# Builds <IMAGE_REGISTRY>/connect-debezium:<tag>, the tag being the one base/connect/connect.yaml
# deploys (Debezium and Kafka versions), so a version bump changes both in one commit. Uses
# docker, podman or buildah (CONTAINER_TOOL to choose). With --push, pushes and prints the
# digest, which CI may pin in the overlay (images: digest) for immutable deploys.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${IMAGE_REGISTRY:?set IMAGE_REGISTRY (the site.env value)}"
TAG="$(awk '/^  image: connect-debezium:/{sub(/.*connect-debezium:/, ""); print; exit}' "$HERE/../base/connect/connect.yaml")"
[[ -n "$TAG" ]] || { echo "no connect-debezium image in base/connect/connect.yaml" >&2; exit 1; }
IMAGE="$IMAGE_REGISTRY/connect-debezium:$TAG"
TOOL="${CONTAINER_TOOL:-$(command -v docker || command -v podman || command -v buildah || true)}"
[[ -n "$TOOL" ]] || { echo "no docker, podman or buildah" >&2; exit 1; }
case "$(basename "$TOOL")" in
  buildah) "$TOOL" bud --layers -f "$HERE/Containerfile" -t "$IMAGE" "$HERE" ;;
  *) "$TOOL" build -f "$HERE/Containerfile" -t "$IMAGE" "$HERE" ;;
esac
echo "built $IMAGE"
if [[ "${1:-}" == "--push" ]]; then
  "$TOOL" push "$IMAGE"
  echo "pushed $IMAGE"
fi
