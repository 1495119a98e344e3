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
local limit, doc_prefix, live_prefix, prov_prefix, maxlen, asg_prefix =
  tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nd, ne, np = 0, 0, 0

local function event(kind, id, detail)
  redis.call('XADD', KEYS[7], 'MAXLEN', '~', maxlen, '*', 't', kind, 'a', id, 'd', detail or '')
end

local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit)
for _, id in ipairs(ids) do
  local lk = live_prefix .. id
  local v = redis.call('GET', lk)
  if v then
    local ttl, deg = string.match(v, '^(%d+) (%d+) ')
    ttl, deg = tonumber(ttl), tonumber(deg)
    local pttl = redis.call('PTTL', lk)
    local age = ttl - pttl
    if age >= deg then
      if redis.call('SADD', KEYS[5], id) == 1 then
        event('degraded', id)
        nd = nd + 1
      end
      redis.call('ZADD', KEYS[1], now + pttl, id)
    else
      redis.call('ZADD', KEYS[1], now + deg - age, id)
    end
  else
    local dk = doc_prefix .. id
    local doc = redis.call('GET', dk)
    if doc then
      if redis.call('SADD', KEYS[6], id) == 1 then
        for _, p in ipairs(cjson.decode(doc).prov or {}) do
          local k = prov_prefix .. p[1]
          redis.call('HDEL', k, p[2])
          redis.call('HINCRBY', KEYS[3], p[1], 1)
          if redis.call('EXISTS', k) == 0 then redis.call('ZREM', KEYS[4], p[1]) end
        end
        redis.call('SREM', KEYS[5], id)
        event('expire', id)
        ne = ne + 1
      end
      local left = redis.call('PTTL', dk)
      if left < 0 then left = 0 end
      redis.call('ZADD', KEYS[1], now + left + 1, id)
    else
      redis.call('ZREM', KEYS[1], id)
      redis.call('ZREM', KEYS[2], id)
      redis.call('SREM', KEYS[5], id)
      redis.call('SREM', KEYS[6], id)
      local ak = asg_prefix .. id
      local asg = redis.call('GET', ak)
      local detail = ''
      if asg then
        redis.call('DEL', ak)
        detail = 'dropped assignment ' .. (cjson.decode(asg).v or '')
      end
      for i = 8, #KEYS do redis.call('HDEL', KEYS[i], id) end
      event('purge', id, detail)
      np = np + 1
    end
  end
end
return {#ids, nd, ne, np}
