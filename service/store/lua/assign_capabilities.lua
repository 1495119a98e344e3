-- assign_capabilities.lua: store (or clear) an agent's runtime capability assignment and
-- mark its liveness stale, so its next HEAD answers 202 and its POST collects the change.
--
-- KEYS[1] assignment STRING  JSON {"v": version, "caps": [...]} (no TTL)
-- KEYS[2] live       HASH    liveness; its "e" (epoch) field becomes "stale"
-- KEYS[3] events     STREAM
-- ARGV[1] agent_id
-- ARGV[2] assignment JSON, or "" to clear it (back to the profile's defaults)
-- ARGV[3] events stream maxlen (approximate)
-- ARGV[4] the assignment's version (for the event)
-- Returns 1 when the agent is live (it learns at its next heartbeat), 0 otherwise.
local asg_key, live_key, events_key = KEYS[1], KEYS[2], KEYS[3]
local id, body, maxlen, version = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if body == '' then
  redis.call('DEL', asg_key)
else
  redis.call('SET', asg_key, body)
end
event(events_key, maxlen, 'assign', id, version)
if not live_read(live_key) then return 0 end
redis.call('HSET', live_key, 'e', 'stale')  -- a field write keeps the key's TTL
return 1
