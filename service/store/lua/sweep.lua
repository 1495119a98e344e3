-- sweep.lua: the background pass that turns timer expiries into events and index updates.
-- Correctness never depends on it (readers check liveness keys); it keeps indexes small,
-- tells consumers that a provider expired, and purges records after retention. A purge (the
-- agent is gone for good) also drops its runtime capability assignment and its fields in the
-- "noted" hashes; an expiry keeps them, since the agent may come back.
--
-- Mass-expiry protection: when an agent expires while an unusual share of the namespace's
-- agents are missing heartbeats (degraded now, or expired within the last sweep window), or
-- in the first pass after the sweeper lost the store, the pass starts
-- protection (Keys.guard) for one window. While it lasts, an expiring agent is *held*: it
-- joins the suspect SET, keeps its provider entries (consumers stay wired, readers mark it
-- suspect) and is looked at again when the window ends, when it expires like any other
-- unless it came back. The guard key outlives its window by as long again, and protection
-- cannot start while it exists: protection always ends, and cannot chain (Eureka's
-- self-preservation could keep dead instances for ever).
--
-- KEYS[1] due  KEYS[2] ids  KEYS[3] capver  KEYS[4] capindex  KEYS[5] degraded
-- KEYS[6] expired  KEYS[7] events  KEYS[8] suspect  KEYS[9] guard  KEYS[10] expiring counter
-- KEYS[11 ..] noted HASHes (field = agent id)
-- ARGV[1] max agents to look at  ARGV[2] doc prefix  ARGV[3] live prefix
-- ARGV[4] provider-hash prefix  ARGV[5] events stream maxlen (approximate)
-- ARGV[6] assignment prefix
-- ARGV[7] protection share (0..1]  ARGV[8] minimum agents for the share rule
-- ARGV[9] protection window ms (0: never protect)  ARGV[10] sweep window ms
-- ARGV[11] "1" when this pass is the first after the sweeper could not reach the store
-- Returns {looked_at, degraded, expired, purged, held, protection started (0/1)}.
local due_key, ids_key, capver_key, capindex_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local degraded_key, expired_key, events_key = KEYS[5], KEYS[6], KEYS[7]
local suspect_key, guard_key, xc_key = KEYS[8], KEYS[9], KEYS[10]
local limit, doc_prefix, live_prefix, prov_prefix, maxlen, asg_prefix =
  tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local share, min_agents, window = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local sweep_window, after_outage = tonumber(ARGV[10]), ARGV[11] == '1'
local now = now_ms()
local nd, ne, np, nh, started = 0, 0, 0, 0, 0

local ids = redis.call('ZRANGEBYSCORE', due_key, '-inf', now, 'LIMIT', 0, limit)

-- Which of the due agents expire now (liveness gone, record kept, not yet recorded)? Those
-- the sweeper never saw degraded are counted apart, so the share below counts each once.
local expiring, unseen = 0, 0
for _, id in ipairs(ids) do
  if redis.call('EXISTS', live_prefix .. id) == 0 and redis.call('EXISTS', doc_prefix .. id) == 1
    and redis.call('SISMEMBER', expired_key, id) == 0
    and redis.call('SISMEMBER', suspect_key, id) == 0 then
    expiring = expiring + 1
    if redis.call('SISMEMBER', degraded_key, id) == 0 then unseen = unseen + 1 end
  end
end

local since, till, reason, ended = guard_read(guard_key)
if not since and window > 0 and expiring > 0 then
  -- Agents alive when this sweep window opened: those not yet recorded expired or held,
  -- plus the ones that expired earlier in the window. Missing heartbeats: those expired in
  -- the window, the degraded (the expiring ones among them), and expiring ones never seen
  -- degraded. Counting the degraded makes a mass stop trip at its first expiry, not after
  -- the first few have been let go.
  local before = tonumber(redis.call('GET', xc_key)) or 0
  local population = redis.call('ZCARD', ids_key) - redis.call('SCARD', expired_key)
    - redis.call('SCARD', suspect_key) + before
  local missing = before + redis.call('SCARD', degraded_key) + unseen
  local why
  if after_outage then
    why = 'first sweep after the store was unreachable: ' .. expiring .. ' expiring'
  elseif population >= min_agents and missing >= share * population then
    why = missing .. ' of ' .. population .. ' agents missing heartbeats (degraded or expiring)'
  end
  if why then
    since, till, reason, ended = now, now + window, why, false
    redis.call('SET', guard_key, since .. '|' .. till .. '|' .. why, 'PX', 2 * window)
    event(events_key, maxlen, 'protect', '', why .. '; expiries held until ' .. till)
    started = 1
  end
end
local active = since ~= nil and now < till
if since and not active and not ended then
  -- The window is over: say so once; the held agents come due now and expire below.
  redis.call('SET', guard_key, since .. '|' .. till .. '|' .. reason .. '|ended', 'KEEPTTL')
  event(events_key, maxlen, 'unprotect', '', 'held ' .. redis.call('SCARD', suspect_key)
    .. ' suspect(s); expiries resume')
end

for _, id in ipairs(ids) do
  local lk = live_prefix .. id
  local lv = live_read(lk)
  if lv then
    redis.call('SREM', suspect_key, id)
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
    if doc and redis.call('SISMEMBER', expired_key, id) == 0 and active then
      -- Held: offered as suspect until the window ends, then looked at again.
      if redis.call('SADD', suspect_key, id) == 1 then
        event(events_key, maxlen, 'suspect', id, 'held until ' .. till)
        nh = nh + 1
      end
      redis.call('ZADD', due_key, till + 1, id)
    elseif doc then
      if redis.call('SADD', expired_key, id) == 1 then
        local held = redis.call('SREM', suspect_key, id) == 1
        drop_entries(doc_provided(doc, id, capindex_key, prov_prefix), prov_prefix, capver_key,
          capindex_key)
        redis.call('SREM', degraded_key, id)
        event(events_key, maxlen, 'expire', id, held and 'after protection' or '')
        ne = ne + 1
        if redis.call('INCR', xc_key) == 1 then redis.call('PEXPIRE', xc_key, sweep_window) end
      end
      local left = redis.call('PTTL', dk)
      if left < 0 then left = 0 end
      redis.call('ZADD', due_key, now + left + 1, id)
    else
      redis.call('ZREM', due_key, id)
      redis.call('ZREM', ids_key, id)
      redis.call('SREM', degraded_key, id)
      redis.call('SREM', expired_key, id)
      redis.call('SREM', suspect_key, id)
      local ak = asg_prefix .. id
      local asg = redis.call('GET', ak)
      local detail = ''
      if asg then
        redis.call('DEL', ak)
        detail = 'dropped assignment ' .. assignment_version(asg)
      end
      for i = 11, #KEYS do redis.call('HDEL', KEYS[i], id) end
      event(events_key, maxlen, 'purge', id, detail)
      np = np + 1
    end
  end
end
return {#ids, nd, ne, np, nh, started}
