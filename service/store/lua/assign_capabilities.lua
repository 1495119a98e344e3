-- assign_capabilities.lua: store (or clear) an agent's runtime capability assignment and
-- mark its hot state stale, so its next HEAD answers 202 and its POST collects the change.
--
-- KEYS[1] assignment STRING  JSON {"v": version, "caps": [...]} (no TTL)
-- KEYS[2] live       STRING  liveness key; value "ttl deg ret sig epoch caps"
-- KEYS[3] events     STREAM
-- ARGV[1] agent_id
-- ARGV[2] assignment JSON, or "" to clear it (back to the profile's defaults)
-- ARGV[3] events stream maxlen (approximate)
-- ARGV[4] the assignment's version (for the event)
-- Returns 1 when the agent is live (it learns at its next heartbeat), 0 otherwise.
local asg_key, live_key, id, body = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
if body == '' then
  redis.call('DEL', asg_key)
else
  redis.call('SET', asg_key, body)
end
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 't', 'assign', 'a', id, 'd', ARGV[4])
local v = redis.call('GET', live_key)
if not v then return 0 end
local head, rest = string.match(v, '^(%d+ %d+ %d+ %d+ )%S+(.*)$')
if head then
  redis.call('SET', live_key, head .. 'stale' .. rest, 'KEEPTTL')
end
return 1
