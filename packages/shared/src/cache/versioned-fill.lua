--[[ versioned-fill: store a cache entry only if nothing newer is there.

KEYS[1]  entry key (from the key map)
ARGV[1]  version of the row the reader loaded (decimal integer, from settings_version_seq)
ARGV[2]  generation of the key space the reader saw *before* loading (decimal string, random)
ARGV[3]  TTL in milliseconds (a safety net only; freshness comes from evictions)
ARGV[4]  payload (bytes)
ARGV[5]  marker TTL in milliseconds (CACHE_MARKER_TTL_SECONDS: the fence kept when this fill is
         refused by an entry of another generation, below)
ARGV[6]  optional; '1': also refused (nothing written) by an entry of another generation at the
         same version. The settings service's Watch re-reads pass it: the entry is another
         release's fill of the same row (another payload format, payload-generation.ts), and
         replacing it would push a change to that release's watchers, whose re-read would
         replace it back, and so on for as long as both releases serve.

Value layouts (format v1, see cache-value.ts):
  entry   "e|<version>|<generation>|<payload>"
  marker  "m|<floor>"      -- left by an eviction: no version below <floor> may be stored

Returns 1 when written; 0 when fenced:
  - a marker with floor > ARGV[1] is present (the row changed after this reader loaded it), or
  - an entry of the same generation with version >= ARGV[1], or
  - an entry of another generation with version > ARGV[1]: that entry is then turned into a
    marker at its version (TTL ARGV[5]), or
  - with ARGV[6] = '1', an entry of another generation with version = ARGV[1] (left as it is).
An entry of another generation with the same or an older version is replaced: generations are
random, not counters (generation.ts), so "other" says nothing about older or newer, only that
readers of the current generation see that entry as a miss.

Why an entry of another generation still fences by its version: the invalidator treats any
entry at or above a change's version as already fenced (evict-to-marker.lua), whatever its
generation, and a fill at the new version replaces the marker. So after a generation change
(TRUNCATE, incarnation renewal) the version a marker held can live on only in an entry of the
old generation: 1. S reads G1; 2. the generation becomes G2; 3. R reads G2 and loads v10;
4. v12 commits, marker m|12; 5. S loads v12 and fills it under G1, replacing the marker;
6. R fills v10 under G2. Were the G1 entry not a fence, step 6 would store v10 as a current
entry, served until the next change. Versions only grow (settings_version_seq), so a fill below
an entry's version, of any generation, loaded an old row. The refused fill leaves a marker
rather than the entry: if the entry is current it costs one miss, as any late fill of another
generation did before; if the versions went backwards (a database restore, whose runbook renews
every generation) the fence lasts a marker's lifetime instead of an entry's. The marker TTL is
enough: a fill whose read started before the entry's version committed is older than half of
it before the marker expires, and readers drop those (cache-timing.ts).
Writes KEYS[1] only, with PX ttl (Cluster-safe: the generation key is not touched here).

Why atomic: the compare and the write must not interleave with the invalidator's marker
write, or a reader that loaded the row before a change could store it after its eviction.
Versions fit a Lua double exactly up to 2^53, far beyond what a bigint sequence reaches here
(compared as numbers; written back only as the text they were read as).
]]
local version = tonumber(ARGV[1])
local kind, n, generation, n_text = decode_cache_value(redis.call('GET', KEYS[1]))
if kind == 'm' and n and n > version then return 0 end
if kind == 'e' and n then
  if generation == ARGV[2] then
    if n >= version then return 0 end
  elseif n > version then
    -- As read, not as a Lua number: '..' prints one with %.14g (1.0000000000001e+14).
    redis.call('SET', KEYS[1], 'm|' .. n_text, 'PX', ARGV[5])
    return 0
  elseif n == version and ARGV[6] == '1' then
    return 0
  end
end
redis.call('SET', KEYS[1], 'e|' .. ARGV[1] .. '|' .. ARGV[2] .. '|' .. ARGV[4], 'PX', ARGV[3])
return 1
