-- note_once.lua: record an event the first time an agent reaches a value (for drift: the
-- active config version), atomically, so that of several replicas noticing the same thing
-- exactly one records it, and a crash cannot separate the mark from the event.
--
-- KEYS[1] noted   HASH    agent_id -> the value last recorded
-- KEYS[2] events  STREAM
-- ARGV[1] agent_id
-- ARGV[2] value
-- ARGV[3] event type (t)
-- ARGV[4] event detail (d)
-- ARGV[5] events stream maxlen (approximate)
-- Returns 1 when the event was recorded, 0 when the agent already had this value.
local noted_key, events_key = KEYS[1], KEYS[2]
local id, value, kind, detail, maxlen = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if redis.call('HGET', noted_key, id) == value then return 0 end
redis.call('HSET', noted_key, id, value)
event(events_key, maxlen, kind, id, detail)
return 1
