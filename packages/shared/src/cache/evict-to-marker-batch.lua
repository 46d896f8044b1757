--[[ evict-to-marker-batch: evict-to-marker.lua for many keys in one script call.

KEYS[1..N]   entry keys (from the key map)
ARGV[1]      marker TTL in milliseconds (as evict-to-marker.lua)
ARGV[2..N+1] floor of KEYS[i] is ARGV[i + 1]: the lowest version a later fill of that key may
             store (insert/update: the new row version; delete: deleted version + 1)

Per key exactly the contract of evict-to-marker.lua: an entry with version >= floor, or a marker
with floor >= floor, is left alone; otherwise the key becomes the marker `m|<floor>` with PX ttl.
Keys are decided independently: one key's fence never affects another's.
Returns the number of markers written.

Why one call for many keys: the cost of an eviction is mostly the per-call overhead (command
parsing, script lookup, the round of replies), not the GET and SET; one call per key capped the
invalidator at a small fraction of what Redis takes (issue 12). A call runs atomically, so it
blocks other clients for its duration: callers keep N small (the invalidator's
REDIS_EVICTION_BATCH_KEYS, ~0.1-0.3 ms of Redis time per call).

Redis Cluster: every key of one call must hash to the same slot; a caller on a cluster groups
keys by slot (or hash tag) before calling. Nothing here assumes a single Redis.
]]
local ttl = ARGV[1]
local written = 0
for i = 1, #KEYS do
  local floor_text = ARGV[i + 1]
  local floor = tonumber(floor_text)
  -- An entry's version and a marker's floor fence alike: at or above `floor`, nothing to do.
  local _, fenced_at = decode_cache_value(redis.call('GET', KEYS[i]))
  if not (fenced_at and fenced_at >= floor) then
    redis.call('SET', KEYS[i], 'm|' .. floor_text, 'PX', ttl)
    written = written + 1
  end
end
return written
