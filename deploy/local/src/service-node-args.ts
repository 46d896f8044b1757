/**
 * Node/V8 flags the invalidator runs with wherever it runs as a service: the container image
 * (Dockerfile CMD, tested equal), `npm start`, the bench and the chaos fleet.
 *
 * `--max-semi-space-size=32` (MiB; Node 20 defaults to 16): draining a bulk change, the
 * invalidator turns every change event into short-lived objects (the parsed JSON envelope, keys,
 * Redis arguments), and a young generation twice as large scavenges half as often while what
 * survives a scavenge stays the same. Measured: one invalidator draining the same 100,000-event
 * backlog with the ceiling off, default and 32 MiB alternated, four rounds each: CPU per key
 * 17 / 16 / 21.8 / 18.3 µs against 15.2 / 14.2 / 15 / 14.8, drain rate median 58k against 67k
 * keys/s; 64 MiB measured no better than 32. The cost is memory: up to 2 × 32 MiB of young
 * generation (deploy/k8s keeps the old generation's cap below the pod limit with it).
 */
export const INVALIDATOR_NODE_ARGS: readonly string[] = ['--max-semi-space-size=32'];
