--[[ evict-to-marker-node-batch: evict-to-marker-batch.lua for the keys of many hash slots that
one Redis Cluster master serves, in one script call (Redis >= 7.0: the script flag
`allow-cross-slot-keys`, set by the shebang line cache-scripts.ts puts first).

KEYS[1]      one of the keys below: only routes the call to its master (a cluster client sends
             a script to the master of its declared keys, which must share one slot)
ARGV[1]      marker TTL in milliseconds (as evict-to-marker.lua)
ARGV[2..N+1] the N entry keys (from the key map), any slots this master serves
ARGV[N+2..]  floor of ARGV[1 + i] is ARGV[1 + N + i]

Per key exactly the contract of evict-to-marker.lua (and of evict-to-marker-batch.lua): an entry
with version >= floor, or a marker with floor >= floor, is left alone; otherwise the key becomes
the marker `m|<floor>` with PX ttl. Returns the number of markers written.

Why keys as arguments: a cluster refuses declared keys of several slots (CROSSSLOT) even with
the flag; the flag lets a script touch undeclared keys of any slot of its own master. A key that
is not this master's (a stale slot map, a slot being migrated) raises "Script attempted to
access a non local key" and the call fails; the markers written before it stay (evictions are
idempotent) and the invalidator re-sends the whole round trip after the client refreshed its
slot map. Nothing is ever written on a master that does not serve the key, as long as the call is
sent on the master's own connection (the invalidator does): a cluster client that follows an ASK
for KEYS[1] runs the call on the importing master under ASKING, where every key of that slot is
local, including keys whose entries the old master still holds.
]]
local ttl = ARGV[1]
local n = (#ARGV - 1) / 2
local written = 0
for i = 1, n do
  local key = ARGV[1 + i]
  local floor_text = ARGV[1 + n + i]
  local floor = tonumber(floor_text)
  local _, fenced_at = decode_cache_value(redis.call('GET', key))
  if not (fenced_at and fenced_at >= floor) then
    redis.call('SET', key, 'm|' .. floor_text, 'PX', ttl)
    written = written + 1
  end
end
return written
