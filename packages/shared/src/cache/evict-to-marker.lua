--[[ evict-to-marker: replace a cache entry by a version marker (an eviction that fences).

KEYS[1]  entry key (from the key map)
ARGV[1]  floor: the lowest version a later fill may store. For an insert or update it is the
         new row version; for a delete, the deleted row's version + 1.
ARGV[2]  marker TTL in milliseconds (must outlive the slowest fill: readers drop fills whose
         database read started longer ago than half of it)

Returns 1 when the marker was written; 0 when nothing needed to change:
  - an entry with version >= floor is there (it already holds this change or a newer one), or
  - a marker with floor >= ARGV[1] is there (already fenced at least as high).
Writes KEYS[1] only, with PX ttl. Idempotent: replaying a change (Debezium is at-least-once)
writes nothing new or the same marker.

Why atomic: a plain DEL would let a reader that loaded the old row before the change store
it right after the DEL; the marker makes that fill fail in versioned-fill.lua.
]]
local floor = tonumber(ARGV[1])
-- An entry's version and a marker's floor fence alike: at or above `floor`, nothing to do.
local _, fenced_at = decode_cache_value(redis.call('GET', KEYS[1]))
if fenced_at and fenced_at >= floor then return 0 end
redis.call('SET', KEYS[1], 'm|' .. ARGV[1], 'PX', ARGV[2])
return 1
