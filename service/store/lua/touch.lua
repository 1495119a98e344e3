-- touch.lua: the cheap heartbeat (HEAD /heartbeat/{id}). Refreshes the liveness TTL and
-- says whether anything this agent depends on changed since its last full POST.
--
-- KEYS[1] live      STRING  liveness key; value "ttl deg ret sig epoch cap1,cap2"
-- KEYS[2] doc       STRING  the agent's record (its TTL follows the liveness key)
-- KEYS[3] capver    HASH    capability -> topology counter
-- KEYS[4] due       ZSET    id -> ms when the sweeper looks next
-- KEYS[5] degraded  SET
-- KEYS[6] events    STREAM
-- ARGV[1] agent_id
-- ARGV[2] current epoch: the fleet-active config version ("" skips the check). An epoch of
--         "stale" (set by assign_capabilities.lua) always asks for a POST.
-- ARGV[3] events stream maxlen (approximate)
-- Returns 0 = unknown or expired (re-register), 1 = nothing changed, 2 = send a full POST.
local live_key, id = KEYS[1], ARGV[1]
local v = redis.call('GET', live_key)
if not v then return 0 end
local ttl, deg, ret, sig, epoch, caps = string.match(v, '^(%d+) (%d+) (%d+) (%d+) (%S+) ?(.*)$')
ttl, deg, ret = tonumber(ttl), tonumber(deg), tonumber(ret)

local age = ttl - redis.call('PTTL', live_key)
redis.call('PEXPIRE', live_key, ttl)
local has_doc = redis.call('PEXPIRE', KEYS[2], ttl + ret)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[4], now + deg, id)
if age > deg and redis.call('SREM', KEYS[5], id) == 1 then
  redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[3], '*', 't', 'recover', 'a', id, 'd', '')
end

if has_doc == 0 then return 2 end
if epoch == 'stale' or (ARGV[2] ~= '' and epoch ~= ARGV[2]) then return 2 end
if caps ~= '' then
  local names = {}
  for c in string.gmatch(caps, '[^,]+') do names[#names + 1] = c end
  local s = 0
  for _, x in ipairs(redis.call('HMGET', KEYS[3], unpack(names))) do s = s + (tonumber(x) or 0) end
  if s ~= tonumber(sig) then return 2 end
end
return 1
