--[[ cache-value-decode: the value layouts of format v1, decoded once for both scripts.

Not a script of its own: cache-scripts.ts puts it in front of versioned-fill.lua and
evict-to-marker.lua (Redis runs each as one script; Lua in Redis has no `require`).

  entry   "e|<version>|<generation>|<payload>"   returns 'e', version, generation, version text
  marker  "m|<floor>"                             returns 'm', floor, nil, floor text
  anything else, or no value (GET of a missing key returns false)   returns nil

Versions and floors are numbers; the generation stays a decimal string (compared as such). A
version written back goes as its text: Lua prints a number with %.14g, so from 10^14 on
'm|' .. n wrote "m|1.0000000000001e+14", which both decoders read as no valid floor.
cache-value.ts reads the same layouts in TypeScript.
]]
local function decode_cache_value(current)
  if not current then return nil end
  local kind = string.sub(current, 1, 1)
  if kind == 'e' then
    local v, g = string.match(current, '^e|(%d+)|(%d+)|')
    return 'e', tonumber(v), g, v
  elseif kind == 'm' then
    local f = string.match(current, '^m|(%d+)')
    return 'm', tonumber(f), nil, f
  end
  return nil
end
