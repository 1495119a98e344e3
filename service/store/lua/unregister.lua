-- unregister.lua: graceful deregistration (DELETE /agents/{id}). Removes the agent and its
-- provider entries and bumps their capabilities' counters so consumers are rewired.
--
-- KEYS[1] doc  KEYS[2] live  KEYS[3] ids  KEYS[4] due  KEYS[5] capver  KEYS[6] capindex
-- KEYS[7] degraded  KEYS[8] expired  KEYS[9] events
-- ARGV[1] agent_id  ARGV[2] provider-hash prefix  ARGV[3] events stream maxlen
-- Returns 1 if the agent was known, 0 otherwise.
local id = ARGV[1]
local old = redis.call('GET', KEYS[1])
local known = redis.call('ZSCORE', KEYS[3], id)
if not old and not known then return 0 end
if old then
  for _, p in ipairs(cjson.decode(old).prov or {}) do
    local k = ARGV[2] .. p[1]
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
redis.call('XADD', KEYS[9], 'MAXLEN', '~', ARGV[3], '*', 't', 'unregister', 'a', id, 'd', '')
return 1
