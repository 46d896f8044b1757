# syntax=docker/dockerfile:1
#
# One Dockerfile, two images; the build context is the repository root (npm workspaces):
#   docker build --target settings    -t <registry>/settings-service:<version> .
#   docker build --target invalidator -t <registry>/settings-invalidator:<version> .
# The migration Job runs `node services/settings/dist/src/migrate.js` from the settings image.
#
# Signals: the CMD is exec-form `node ...`, so node is PID 1 and receives SIGTERM directly.
# PID 1 gets no default signal actions from the kernel, which is fine here because both
# services install SIGTERM/SIGINT handlers (drain, then exit). Neither spawns child
# processes, so there are no zombies to reap and no need for tini. Never wrap the command in
# `npm start` or `sh -c`: they would become PID 1 and swallow or delay SIGTERM.

# Pinned by version: Node.js 22, the maintenance LTS line (Node 20 reached end of life in April
# 2026). The code is also tested on the Node 20 of development machines (package.json engines
# `>=20`), so nothing here may rely on a Node 22-only API. CI may additionally pin the digest
# (node:22.23.3-bookworm-slim@sha256:...) and let a bot propose updates.
ARG NODE_IMAGE=node:22.23.3-bookworm-slim

# ---- manifests: only package.json files and the lockfile, so dependency layers are cached
# until dependencies actually change (and new workspaces need no Dockerfile edit).
FROM ${NODE_IMAGE} AS manifests
WORKDIR /app
COPY . .
RUN find . -type f ! -name package.json ! -name package-lock.json -delete && find . -type d -empty -delete

# ---- build: all dependencies, TypeScript compiled into <workspace>/dist.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY --from=manifests /app ./
# No dependency needs an install script to build: protobuf code is generated and committed.
RUN npm ci --ignore-scripts --no-audit --no-fund
# kafkajs is patched to send the invalidator's group.instance.id (patches/; static membership,
# services/invalidator/README.md, KAFKA_GROUP_INSTANCE_ID). Install scripts are off above, so the
# postinstall that applies it locally does not run: applied here, where patch-package is
# installed, and the invalidator image ships this stage's patched copy.
COPY patches patches
RUN npx --no-install patch-package --error-on-fail
COPY . .
RUN npx tsc -b services/settings services/invalidator

# ---- production dependencies of one workspace each (workspace packages become symlinks into
# packages/, which the runtime stages fill with compiled code).
FROM ${NODE_IMAGE} AS settings-deps
WORKDIR /app
COPY --from=manifests /app ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund --workspace services/settings

FROM ${NODE_IMAGE} AS invalidator-deps
WORKDIR /app
COPY --from=manifests /app ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund --workspace services/invalidator

# ---- runtime images: no npm cache, no sources, no compilers; files owned by root and
# read-only for the `node` user (uid 1000) the process runs as.
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
# @settings/shared, used by both; its Lua scripts are read at run time from src/cache.
COPY --from=build /app/packages/shared/package.json packages/shared/
COPY --from=build /app/packages/shared/dist packages/shared/dist
COPY --from=build /app/packages/shared/src/cache/*.lua packages/shared/src/cache/

FROM runtime AS settings
COPY --from=settings-deps /app/node_modules node_modules
COPY --from=build /app/packages/settings-api/package.json packages/settings-api/
COPY --from=build /app/packages/settings-api/dist packages/settings-api/dist
COPY --from=build /app/packages/settings-db/package.json packages/settings-db/
COPY --from=build /app/packages/settings-db/dist packages/settings-db/dist
# gRPC reflection loads the .proto files from /app/proto (found by walking up from dist).
COPY --from=build /app/proto proto
COPY --from=build /app/services/settings/package.json services/settings/
COPY --from=build /app/services/settings/dist services/settings/dist
USER 1000:1000
EXPOSE 50051 9464
CMD ["node", "--enable-source-maps", "services/settings/dist/src/main.js"]

FROM runtime AS invalidator
COPY --from=invalidator-deps /app/node_modules node_modules
# The patched kafkajs (build stage), over the pristine copy of the same version.
COPY --from=build /app/node_modules/kafkajs node_modules/kafkajs
COPY --from=build /app/services/invalidator/package.json services/invalidator/
COPY --from=build /app/services/invalidator/dist services/invalidator/dist
USER 1000:1000
EXPOSE 9465
# --max-semi-space-size: deploy/local/src/service-node-args.ts (measured there; tested equal).
CMD ["node", "--enable-source-maps", "--max-semi-space-size=32", "services/invalidator/dist/src/main.js"]
