-- unregister.lua: graceful deregistration (DELETE /agents/{id}). Removes the agent and its
-- provider entries and bumps their capabilities' counters so consumers are rewired. An
-- explicit unregister also drops the agent's runtime capability assignment and its fields
-- in the "noted" hashes (a mere expiry keeps them: the agent may come back).
--
-- KEYS[1] doc  KEYS[2] live  KEYS[3] ids  KEYS[4] due  KEYS[5] capver  KEYS[6] capindex
-- KEYS[7] degraded  KEYS[8] expired  KEYS[9] events  KEYS[10] assignment
-- KEYS[11 ..] noted HASHes (field = agent id)
-- ARGV[1] agent_id  ARGV[2] provider-hash prefix  ARGV[3] events stream maxlen
-- Returns 1 if the agent was known, 0 otherwise (leftovers of an unknown agent are dropped
-- all the same).
local id, prov_prefix, maxlen = ARGV[1], ARGV[2], ARGV[3]
local asg = redis.call('GET', KEYS[10])
redis.call('DEL', KEYS[10])
for i = 11, #KEYS do redis.call('HDEL', KEYS[i], id) end
local old = redis.call('GET', KEYS[1])
local known = redis.call('ZSCORE', KEYS[3], id)
if not old and not known then return 0 end
if old then
  for _, p in ipairs(cjson.decode(old).prov or {}) do
    local k = prov_prefix .. p[1]
    redis.call('HDEL', k, p[2])
    redis.call('HINCRBY', KEYS[5], p[1], 1)
    if redis.call('EXISTS', k) == 0 then redis.call('ZREM', KEYS[6], p[1]) end
  end
end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], id)
redis.call('ZREM', KEYS[4], id)
redis.call('SREM', KEYS[7], id)
redis.call('SREM', KEYS[8], id)
-- The event names a dropped assignment, so a later "assignment-lost" can be traced to it.
local detail = ''
if asg then detail = 'dropped assignment ' .. (cjson.decode(asg).v or '') end
redis.call('XADD', KEYS[9], 'MAXLEN', '~', maxlen, '*', 't', 'unregister', 'a', id, 'd', detail)
return 1
