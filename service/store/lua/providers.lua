-- providers.lua: the live providers of one capability. Costs what the answer costs: one
-- liveness check per provider entry of this capability, never a scan of the registry.
--
-- KEYS[1] provider HASH of the capability
-- ARGV[1] live-key prefix (a provider's liveness key is the prefix plus its agent id)
-- Returns {entry, age_ms, degraded_after_ms, ...} for each live provider.
local h = redis.call('HGETALL', KEYS[1])
local rows = {}
for j = 1, #h, 2 do
  local lk = ARGV[1] .. string.match(h[j], '^([^:]+):')
  local pttl = redis.call('PTTL', lk)
  if pttl > 0 then
    local ttl, deg = string.match(redis.call('GET', lk), '^(%d+) (%d+) ')
    rows[#rows + 1] = h[j + 1]
    rows[#rows + 1] = tonumber(ttl) - pttl
    rows[#rows + 1] = tonumber(deg)
  end
end
return rows
