-- heartbeat.lua: register or refresh an agent from a full POST /heartbeat, and return the
-- live providers of the capabilities it depends on, all in one round trip.
--
-- KEYS[1]  doc        STRING  the agent's stored record (JSON)
-- KEYS[2]  live       HASH    liveness (prelude live_read/live_write), TTL = expire_after
-- KEYS[3]  ids        ZSET    every agent of the namespace (lexical)
-- KEYS[4]  due        ZSET    id -> ms when the sweeper looks next
-- KEYS[5]  capver     HASH    capability -> topology counter
-- KEYS[6]  capindex   ZSET    capabilities with providers (lexical)
-- KEYS[7]  degraded   SET
-- KEYS[8]  expired    SET
-- KEYS[9]  events     STREAM
-- KEYS[10] suspect    SET     agents held by mass-expiry protection (sweep.lua)
-- KEYS[11 .. 10+P]    provider HASHes of the capabilities this agent provides
-- KEYS[11+P .. 10+N]  provider HASHes of the capabilities it depends on (N = #names)
-- KEYS[11+N]          assignment STRING: the agent's runtime capability assignment, if any
-- ARGV[1]  agent_id
-- ARGV[2]  doc JSON; must carry "fp" (fingerprint) and "prov" ([[capability, field], ...])
-- ARGV[3]  expire_after ms     ARGV[4] degraded_after ms     ARGV[5] retention ms
-- ARGV[6]  events stream maxlen (approximate)
-- ARGV[7]  P, the number of provided-capability keys
-- ARGV[8]  JSON [[key index 1..P, field, entry], ...] for each provided function
-- ARGV[9]  fingerprint of the provided entries
-- ARGV[10] live-key prefix (providers' liveness keys are data: their ids come from KEYS)
-- ARGV[11] provider-hash prefix (for capabilities this agent no longer provides)
-- ARGV[12] epoch tag of the config version the record was built for ("-" for none)
-- ARGV[13] JSON capability names aligned with KEYS[11 ..]
-- ARGV[14] the caller's owner tag ("" when auth is off: nothing is checked or bound)
-- ARGV[15] "1" when the caller already checked that no other namespace holds the id
-- ARGV[16] the rollout cohort to store in the liveness hash ("-" outside a rollout)
-- ARGV[17] "1" when the request reports no config version (a restart, if the record had one)
-- Returns {"forbidden"} when another identity owns the agent (nothing written), {"claim"}
-- when the id is new here and ARGV[15] is not "1" (nothing written: the caller checks the
-- other namespaces, then calls again), else
-- {kind, assignment, rows_1, rows_2, ...}: kind is "register", "update" or "refresh";
-- assignment is the stored JSON or ""; rows_i lists {entry, age_ms, degraded_after_ms} for
-- each live (or held suspect: age -1) provider of dependency key i.
-- Events: register / update (entries changed), recover (it was degraded, or held as
-- suspect), expire when it expired with no sweeper noticing, and restart when an agent whose
-- record reports a config version sends none (its process started again without its state),
-- or when an expired agent registers again (the rollout gate counts these).
local doc_key, live_key, ids_key, due_key, capver_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local capindex_key, degraded_key, expired_key, events_key = KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local suspect_key = KEYS[10]
local id, doc = ARGV[1], ARGV[2]
local ttl, deg, ret = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local maxlen, nprov = ARGV[6], tonumber(ARGV[7])
local entries, fp = cjson.decode(ARGV[8]), ARGV[9]
local live_prefix, prov_prefix, epoch = ARGV[10], ARGV[11], ARGV[12]
local names = cjson.decode(ARGV[13])
local caller, checked = ARGV[14], ARGV[15] == '1'
local cohort, unversioned = ARGV[16], ARGV[17] == '1'
local now = now_ms()

local old = redis.call('GET', doc_key)
local lv = live_read(live_key)
local was_live = lv ~= nil
if caller ~= '' then
  -- Ownership: the id is bound to the identity that registered it; nobody else may speak
  -- for it. A record registered while auth was off is unowned and binds to this caller.
  local bound = stored_owner(lv, old)
  if bound ~= '' and bound ~= caller then return {'forbidden'} end
  if not old and not lv and not checked then return {'claim'} end
end
-- True when the index holds exactly the entries this heartbeat sends. An unchanged
-- fingerprint says the record's entries are the same, not that the index still holds them
-- intact; checking costs one HGET per provided function, on full heartbeats only, and is
-- what lets an agent's next POST repair an entry that was overwritten with garbage.
local function entries_intact()
  for _, e in ipairs(entries) do
    if redis.call('HGET', KEYS[10 + e[1]], e[2]) ~= e[3] then return false end
  end
  return true
end

local changed = true
local kind = 'register'
if old then
  -- An undecodable record (corrupted) is replaced by this one: that is how it heals.
  local od = decode_record(old)
  local restarted = od and unversioned and type(od.cfg) == 'string'
  if restarted then
    event(events_key, maxlen, 'restart', id, 'was on ' .. od.cfg)
  end
  if was_live then
    kind = 'refresh'
    if od and od.fp == fp and entries_intact() then changed = false end
  elseif redis.call('SREM', suspect_key, id) == 1 then
    -- Held by mass-expiry protection and back before the window ended: never expired.
    redis.call('SREM', expired_key, id)
    event(events_key, maxlen, 'recover', id, 'was suspect')
  elseif redis.call('SREM', expired_key, id) == 0 then
    -- Its liveness lapsed and no sweep recorded it, so no consumer was unwired. Back within
    -- one more expire_after (a store pause, a slow network), that is a recovery; after
    -- longer, record the expiry no sweeper did (the record's TTL says how long ago).
    local lapsed = ret - redis.call('PTTL', doc_key)
    if lapsed < ttl then
      event(events_key, maxlen, 'recover', id, 'lapsed ' .. lapsed .. ' ms, back before a sweep')
    else
      event(events_key, maxlen, 'expire', id, 'noticed at re-registration')
      if not restarted then event(events_key, maxlen, 'restart', id, 're-registered') end
    end
  elseif not restarted then
    -- The sweeper had recorded its expiry: it registers again (the gate counts restarts).
    event(events_key, maxlen, 'restart', id, 're-registered after expiry')
  end
  local keep = {}
  for _, e in ipairs(entries) do keep[names[e[1]] .. '\0' .. e[2]] = true end
  local prov = od and od.prov or agent_entries(id, capindex_key, prov_prefix)
  drop_entries(prov, prov_prefix, capver_key, capindex_key, keep)
end

if changed then
  if kind == 'refresh' then kind = 'update' end
  for _, e in ipairs(entries) do
    redis.call('HSET', KEYS[10 + e[1]], e[2], e[3])
  end
  for i = 1, nprov do
    redis.call('ZADD', capindex_key, 0, names[i])
    redis.call('HINCRBY', capver_key, names[i], 1)
  end
  event(events_key, maxlen, kind, id)
end

local deps = {}
for i = nprov + 1, #names do deps[#deps + 1] = names[i] end
local sig = dep_signature(capver_key, deps)

redis.call('SET', doc_key, doc, 'PX', ttl + ret)
live_write(live_key, ttl, deg, ret, sig, epoch, table.concat(deps, ','), caller, cohort)
redis.call('ZADD', ids_key, 0, id)
redis.call('ZADD', due_key, now + deg, id)
-- A live agent the sweeper saw degraded is back: the same event a HEAD leaves (touch.lua).
if redis.call('SREM', degraded_key, id) == 1 and was_live then
  event(events_key, maxlen, 'recover', id)
end
redis.call('SREM', expired_key, id)

local out = {kind, redis.call('GET', KEYS[11 + #names]) or ''}
for i = nprov + 1, #names do
  out[#out + 1] = live_candidates(KEYS[10 + i], live_prefix, suspect_key)
end
return out
