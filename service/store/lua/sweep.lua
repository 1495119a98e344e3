-- sweep.lua: the background pass that turns timer expiries into events and index updates.
-- Correctness never depends on it (readers check liveness keys); it keeps indexes small,
-- tells consumers that a provider expired, and purges records after retention. A purge (the
-- agent is gone for good) also drops its runtime capability assignment and its fields in the
-- "noted" hashes; an expiry keeps them, since the agent may come back.
--
-- KEYS[1] due  KEYS[2] ids  KEYS[3] capver  KEYS[4] capindex  KEYS[5] degraded
-- KEYS[6] expired  KEYS[7] events  KEYS[8 ..] noted HASHes (field = agent id)
-- ARGV[1] max agents to look at  ARGV[2] doc prefix  ARGV[3] live prefix
-- ARGV[4] provider-hash prefix  ARGV[5] events stream maxlen (approximate)
-- ARGV[6] assignment prefix
-- Returns {looked_at, degraded, expired, purged}.
local due_key, ids_key, capver_key, capindex_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local degraded_key, expired_key, events_key = KEYS[5], KEYS[6], KEYS[7]
local limit, doc_prefix, live_prefix, prov_prefix, maxlen, asg_prefix =
  tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local now = now_ms()
local nd, ne, np = 0, 0, 0

local ids = redis.call('ZRANGEBYSCORE', due_key, '-inf', now, 'LIMIT', 0, limit)
for _, id in ipairs(ids) do
  local lk = live_prefix .. id
  local lv = live_read(lk)
  if lv then
    local pttl = redis.call('PTTL', lk)
    local age = lv.ttl - pttl
    if age >= lv.deg then
      if redis.call('SADD', degraded_key, id) == 1 then
        event(events_key, maxlen, 'degraded', id)
        nd = nd + 1
      end
      redis.call('ZADD', due_key, now + pttl, id)
    else
      redis.call('ZADD', due_key, now + lv.deg - age, id)
    end
  else
    local dk = doc_prefix .. id
    local doc = redis.call('GET', dk)
    if doc then
      if redis.call('SADD', expired_key, id) == 1 then
        drop_entries(doc_provided(doc, id, capindex_key, prov_prefix), prov_prefix, capver_key,
          capindex_key)
        redis.call('SREM', degraded_key, id)
        event(events_key, maxlen, 'expire', id)
        ne = ne + 1
      end
      local left = redis.call('PTTL', dk)
      if left < 0 then left = 0 end
      redis.call('ZADD', due_key, now + left + 1, id)
    else
      redis.call('ZREM', due_key, id)
      redis.call('ZREM', ids_key, id)
      redis.call('SREM', degraded_key, id)
      redis.call('SREM', expired_key, id)
      local ak = asg_prefix .. id
      local asg = redis.call('GET', ak)
      local detail = ''
      if asg then
        redis.call('DEL', ak)
        detail = 'dropped assignment ' .. assignment_version(asg)
      end
      for i = 8, #KEYS do redis.call('HDEL', KEYS[i], id) end
      event(events_key, maxlen, 'purge', id, detail)
      np = np + 1
    end
  end
end
return {#ids, nd, ne, np}
