-- read_index.lua: the change index of one capability (or of a whole namespace), so a
-- discovery read can answer 304 without reading providers or rendering anything.
--
-- KEYS[1] capver  HASH    capability -> counter bumped when a provider joins, changes, leaves
-- KEYS[2] due     ZSET    agent id -> ms of its next status transition (sweeper's work list)
-- KEYS[3] events  STREAM  the namespace's events (register, update, recover, degraded, ...)
-- ARGV[1] capability name; '' for the namespace as a whole
-- Returns "<counter>-<last event id>", or false when some agent of the namespace is past a
-- status transition the sweeper has not recorded yet: then only a full read tells the truth.
local capver_key, due_key, events_key = KEYS[1], KEYS[2], KEYS[3]
local capability = ARGV[1]

if #redis.call('ZRANGEBYSCORE', due_key, '-inf', now_ms(), 'LIMIT', 0, 1) > 0 then
  return false
end
local counter = '0'
if capability ~= '' then
  counter = redis.call('HGET', capver_key, capability) or '0'
end
local last = redis.call('XREVRANGE', events_key, '+', '-', 'COUNT', 1)
local id = '0-0'
if #last > 0 then id = last[1][1] end
return counter .. '-' .. id
