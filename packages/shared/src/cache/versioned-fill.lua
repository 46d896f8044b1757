--[[ versioned-fill: store a cache entry only if nothing newer is there.

KEYS[1]  entry key (from the key map)
ARGV[1]  version of the row the reader loaded (decimal integer, from settings_version_seq)
ARGV[2]  generation of the key space the reader saw *before* loading (decimal string, random)
ARGV[3]  TTL in milliseconds (a safety net only; freshness comes from evictions)
ARGV[4]  payload (bytes)

Value layouts (format v1, see cache-value.ts):
  entry   "e|<version>|<generation>|<payload>"
  marker  "m|<floor>"      -- left by an eviction: no version below <floor> may be stored

Returns 1 when written; 0 when fenced:
  - a marker with floor > ARGV[1] is present (the row changed after this reader loaded it), or
  - an entry of the same generation with version >= ARGV[1].
An entry of any other generation is replaced: generations are random, not counters
(generation.ts), so "other" says nothing about older or newer, only that readers of the
current generation see that entry as a miss. A fill from before a TRUNCATE or a Redis restart
may therefore replace a current entry, which costs one miss and never serves the old value,
because readers compare the entry's generation with the current one before serving it.
Writes KEYS[1] only, with PX ttl (Cluster-safe: the generation key is not touched here).

Why atomic: the compare and the write must not interleave with the invalidator's marker
write, or a reader that loaded the row before a change could store it after its eviction.
Versions fit a Lua double exactly up to 2^53, far beyond what a bigint sequence reaches here.
]]
local version = tonumber(ARGV[1])
local kind, n, generation = decode_cache_value(redis.call('GET', KEYS[1]))
if kind == 'm' and n and n > version then return 0 end
if kind == 'e' and n and generation == ARGV[2] and n >= version then return 0 end
redis.call('SET', KEYS[1], 'e|' .. ARGV[1] .. '|' .. ARGV[2] .. '|' .. ARGV[4], 'PX', ARGV[3])
return 1
