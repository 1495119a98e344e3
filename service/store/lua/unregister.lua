-- unregister.lua: graceful deregistration (DELETE /agents/{id}). Removes the agent and its
-- provider entries and bumps their capabilities' counters so consumers are rewired. An
-- explicit unregister also drops the agent's runtime capability assignment and its fields
-- in the "noted" hashes (a mere expiry keeps them: the agent may come back).
--
-- KEYS[1] doc  KEYS[2] live  KEYS[3] ids  KEYS[4] due  KEYS[5] capver  KEYS[6] capindex
-- KEYS[7] degraded  KEYS[8] expired  KEYS[9] events  KEYS[10] suspect  KEYS[11] assignment
-- KEYS[12 ..] noted HASHes (field = agent id)
-- ARGV[1] agent_id  ARGV[2] provider-hash prefix  ARGV[3] events stream maxlen
-- ARGV[4] the caller's owner tag ("" when auth is off: not checked)
-- Returns 1 if the agent was known, 0 otherwise (leftovers of an unknown agent are dropped
-- all the same), -1 when another identity owns it (nothing changed).
local doc_key, live_key, ids_key, due_key, capver_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local capindex_key, degraded_key, expired_key, events_key, suspect_key, asg_key =
  KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11]
local id, prov_prefix, maxlen, caller = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local old = redis.call('GET', doc_key)
if caller ~= '' then
  local bound = stored_owner(live_read(live_key), old)
  if bound ~= '' and bound ~= caller then return -1 end
end
local asg = redis.call('GET', asg_key)
redis.call('DEL', asg_key)
for i = 12, #KEYS do redis.call('HDEL', KEYS[i], id) end
local known = redis.call('ZSCORE', ids_key, id)
if not old and not known then return 0 end
if old then
  drop_entries(doc_provided(old, id, capindex_key, prov_prefix), prov_prefix, capver_key,
    capindex_key)
end
redis.call('DEL', doc_key, live_key)
redis.call('ZREM', ids_key, id)
redis.call('ZREM', due_key, id)
redis.call('SREM', degraded_key, id)
redis.call('SREM', expired_key, id)
redis.call('SREM', suspect_key, id)
-- The event names a dropped assignment, so a later "assignment-lost" can be traced to it.
local detail = ''
if asg then detail = 'dropped assignment ' .. assignment_version(asg) end
event(events_key, maxlen, 'unregister', id, detail)
return 1
