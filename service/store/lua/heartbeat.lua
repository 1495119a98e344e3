-- heartbeat.lua: register or refresh an agent from a full POST /heartbeat, and return the
-- live providers of the capabilities it depends on, all in one round trip.
--
-- KEYS[1]  doc        STRING  the agent's stored record (JSON)
-- KEYS[2]  live       STRING  liveness key; value = hot state, TTL = expire_after
-- KEYS[3]  ids        ZSET    every agent of the namespace (lexical)
-- KEYS[4]  due        ZSET    id -> ms when the sweeper looks next
-- KEYS[5]  capver     HASH    capability -> topology counter
-- KEYS[6]  capindex   ZSET    capabilities with providers (lexical)
-- KEYS[7]  degraded   SET
-- KEYS[8]  expired    SET
-- KEYS[9]  events     STREAM
-- KEYS[10 .. 9+P]     provider HASHes of the capabilities this agent provides
-- KEYS[10+P .. 9+N]   provider HASHes of the capabilities it depends on (N = #names)
-- KEYS[10+N]          assignment STRING: the agent's runtime capability assignment, if any
-- ARGV[1]  agent_id
-- ARGV[2]  doc JSON; must carry "fp" (fingerprint) and "prov" ([[capability, field], ...])
-- ARGV[3]  expire_after ms     ARGV[4] degraded_after ms     ARGV[5] retention ms
-- ARGV[6]  events stream maxlen (approximate)
-- ARGV[7]  P, the number of provided-capability keys
-- ARGV[8]  JSON [[key index 1..P, field, entry], ...] for each provided function
-- ARGV[9]  fingerprint of the provided entries
-- ARGV[10] live-key prefix (providers' liveness keys are data: their ids come from KEYS)
-- ARGV[11] provider-hash prefix (for capabilities this agent no longer provides)
-- ARGV[12] epoch: the config version the record was built for ("-" for none)
-- ARGV[13] JSON capability names aligned with KEYS[10 ..]
-- Returns {kind, assignment, rows_1, rows_2, ...}: kind is "register", "update" or "refresh";
-- assignment is the stored JSON or ""; rows_i lists {entry, age_ms, degraded_after_ms} for
-- each live provider of dependency key i.
local doc_key, live_key = KEYS[1], KEYS[2]
local id, doc = ARGV[1], ARGV[2]
local ttl, deg, ret = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local maxlen, nprov = ARGV[6], tonumber(ARGV[7])
local entries, fp = cjson.decode(ARGV[8]), ARGV[9]
local live_prefix, prov_prefix, epoch = ARGV[10], ARGV[11], ARGV[12]
local names = cjson.decode(ARGV[13])

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local old = redis.call('GET', doc_key)
local was_live = redis.call('EXISTS', live_key) == 1
local changed = true
local kind = 'register'
if old then
  local od = cjson.decode(old)
  if was_live then
    kind = 'refresh'
    if od.fp == fp then changed = false end
  elseif redis.call('SREM', KEYS[8], id) == 0 then
    -- Expired while no sweeper ran: record the expiry before the re-registration.
    redis.call('XADD', KEYS[9], 'MAXLEN', '~', maxlen, '*', 't', 'expire', 'a', id, 'd', 'noticed at re-registration')
  end
  local keep = {}
  for _, e in ipairs(entries) do keep[names[e[1]] .. '\0' .. e[2]] = true end
  for _, p in ipairs(od.prov or {}) do
    if not keep[p[1] .. '\0' .. p[2]] then
      local k = prov_prefix .. p[1]
      redis.call('HDEL', k, p[2])
      redis.call('HINCRBY', KEYS[5], p[1], 1)
      if redis.call('EXISTS', k) == 0 then redis.call('ZREM', KEYS[6], p[1]) end
    end
  end
end

if changed then
  if kind == 'refresh' then kind = 'update' end
  for _, e in ipairs(entries) do
    redis.call('HSET', KEYS[9 + e[1]], e[2], e[3])
  end
  for i = 1, nprov do
    redis.call('ZADD', KEYS[6], 0, names[i])
    redis.call('HINCRBY', KEYS[5], names[i], 1)
  end
  redis.call('XADD', KEYS[9], 'MAXLEN', '~', maxlen, '*', 't', kind, 'a', id, 'd', '')
end

-- The consumer's signature: the sum of its dependencies' counters, which only grow.
local deps = {}
for i = nprov + 1, #names do deps[#deps + 1] = names[i] end
local sig = 0
if #deps > 0 then
  for _, v in ipairs(redis.call('HMGET', KEYS[5], unpack(deps))) do sig = sig + (tonumber(v) or 0) end
end

redis.call('SET', doc_key, doc, 'PX', ttl + ret)
redis.call('SET', live_key, ttl .. ' ' .. deg .. ' ' .. ret .. ' ' .. sig .. ' ' .. epoch .. ' ' .. table.concat(deps, ','), 'PX', ttl)
redis.call('ZADD', KEYS[3], 0, id)
redis.call('ZADD', KEYS[4], now + deg, id)
redis.call('SREM', KEYS[7], id)
redis.call('SREM', KEYS[8], id)

local out = {kind, redis.call('GET', KEYS[10 + #names]) or ''}
for i = nprov + 1, #names do
  local h = redis.call('HGETALL', KEYS[9 + i])
  local rows = {}
  for j = 1, #h, 2 do
    local pid = string.match(h[j], '^([^:]+):')
    local lk = live_prefix .. pid
    local pttl = redis.call('PTTL', lk)
    if pttl > 0 then
      local lv = redis.call('GET', lk)
      local pttl_full, pdeg = string.match(lv, '^(%d+) (%d+) ')
      rows[#rows + 1] = h[j + 1]
      rows[#rows + 1] = tonumber(pttl_full) - pttl
      rows[#rows + 1] = tonumber(pdeg)
    end
  end
  out[#out + 1] = rows
end
return out
