--[[ fill-lease-release: end a fill lease, only if it is still the caller's.

KEYS[1]  lease key (key-map.ts fillLeaseKey)
ARGV[1]  the holder's token (random, from fill-lease.ts)

Returns 1 when the lease was the caller's and is gone; 0 when it had expired or another reader
holds it now (after ours expired): that one is left alone. Touches only the lease key, never an
entry; a lease that is not released expires by itself (PX).
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
