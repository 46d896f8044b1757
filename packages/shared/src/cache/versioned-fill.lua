--[[ versioned-fill: store a cache entry only if nothing newer is there.

KEYS[1]  entry key (from the key map)
ARGV[1]  version of the row the reader loaded (decimal integer, from settings_version_seq)
ARGV[2]  generation of the key space the reader saw *before* loading (decimal integer)
ARGV[3]  TTL in milliseconds (a safety net only; freshness comes from evictions)
ARGV[4]  payload (bytes)

Value layouts (format v1, see cache-value.ts):
  entry   "e|<version>|<generation>|<payload>"
  marker  "m|<floor>"      -- left by an eviction: no version below <floor> may be stored

Returns 1 when written; 0 when fenced:
  - a marker with floor > ARGV[1] is present (the row changed after this reader loaded it), or
  - an entry of a newer generation, or of the same generation with version >= ARGV[1].
Writes KEYS[1] only, with PX ttl.

Why atomic: the compare and the write must not interleave with the invalidator's marker
write, or a reader that loaded the row before a change could store it after its eviction.
Versions fit a Lua double exactly up to 2^53, far beyond what a bigint sequence reaches here.
]]
local version = tonumber(ARGV[1])
local generation = tonumber(ARGV[2])
local current = redis.call('GET', KEYS[1])
if current then
  local kind = string.sub(current, 1, 1)
  if kind == 'm' then
    local floor = tonumber(string.match(current, '^m|(%d+)'))
    if floor and floor > version then return 0 end
  elseif kind == 'e' then
    local v, g = string.match(current, '^e|(%d+)|(%d+)|')
    if v then
      g = tonumber(g)
      if g > generation then return 0 end
      if g == generation and tonumber(v) >= version then return 0 end
    end
  end
end
redis.call('SET', KEYS[1], 'e|' .. ARGV[1] .. '|' .. ARGV[2] .. '|' .. ARGV[4], 'PX', ARGV[3])
return 1
