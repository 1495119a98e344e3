-- claim_active.lua: refresh (or withdraw) one replica's live claim and compute the fleet's
-- active bundle: the highest deploy revision among claims that have not expired, unless an
-- operator pinned a published version. Every replica runs this about once a second.
--
-- KEYS[1] claims    ZSET    "revision|version|replica" -> ms when the claim expires
-- KEYS[2] active    STRING  "generation|revision|version|source" last computed
-- KEYS[3] pin       STRING  a pinned version (manual override), usually absent
-- KEYS[4] history   STREAM  activations: rev, v (version), prev, by (replica), src
-- KEYS[5] versions  ZSET    published versions (a pin must name one)
-- KEYS[6] recovery  STRING  "floor|deadline" after a data loss (see below), usually absent
-- KEYS[7] rollout   HASH    the latest config rollout (rollout_prelude in prelude.lua)
-- KEYS[8] log       STREAM  rollout decisions
-- ARGV[1] mode: "claim", "withdraw" (graceful shutdown) or "read"
-- ARGV[2] this replica's claim member "revision|version|replica"
-- ARGV[3] claim TTL ms
-- ARGV[4] history stream maxlen (approximate)
-- ARGV[5] the version this replica baked (to learn whether Redis still holds it)
-- ARGV[6] the revision this replica last saw active, -1 if it never saw an activation
-- ARGV[7] the bundle-key prefix (Keys.bundle without the version): the claimed version is
--         only known here, and its manifest says whether it carries a rollout policy
-- ARGV[8] the baseline of the rollout this replica serves ("" when none is open); see below
-- Returns {generation, revision, version, source, own_published, rollout...}; version is ""
-- while nothing is active; own_published is 1 when ARGV[5] is published (0: Redis lost
-- it); rollout... is the rollout hash flattened (rollout_fields order), empty without one.
--
-- Rollouts: a higher revision whose bundle has a policy (manifest defaults.rollout) does not
-- activate: it becomes the candidate of a new rollout, and the gate leader promotes it step
-- by step (rollout_decide.lua). A candidate that was rolled back or aborted stays refused
-- while it is the best claim. A bundle published before the active one (a rollback
-- revision carrying an older bundle), a pin, or a claim without a policy activates at once
-- and ends a rollout in progress; so does the candidate losing its claims.
-- The generation is the Redis time (ms) of the activation, strictly increasing, so clients
-- tell a lagging replica's answer (lower) from a rollback (higher), even after Redis lost
-- its data and the history starts again.
local claims_key, active_key, pin_key, history_key, versions_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local recovery_key, rollout_key, log_key = KEYS[6], KEYS[7], KEYS[8]
local bundle_prefix = ARGV[7]
local mode, member, ttl, maxlen = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local seen = tonumber(ARGV[6])
local own = redis.call('ZSCORE', versions_key, ARGV[5]) and 1 or 0

local now = now_ms()
redis.call('ZREMRANGEBYSCORE', claims_key, '-inf', now)
if mode == 'claim' then
  redis.call('ZADD', claims_key, now + ttl, member)
elseif mode == 'withdraw' then
  redis.call('ZREM', claims_key, member)
end

local cur = redis.call('GET', active_key)

-- Redis lost its data while replicas remember an active revision: every replica republishes
-- its bundle within two refresh ticks, in no particular order. Lower revisions may not
-- activate for one claim TTL (longer than two ticks), so the fleet does not step back to an
-- older bundle until the highest remembered revision has had the time to republish; after
-- that (its replicas are gone) the highest live claim wins as usual.
local floor, deadline = -1, 0
if not cur then
  local hold = redis.call('GET', recovery_key)
  if hold then
    local f, d = string.match(hold, '^(%d+)|(%d+)$')
    floor, deadline = tonumber(f) or -1, tonumber(d) or 0
  end
  if seen >= 0 and not hold then
    floor, deadline = seen, now + ttl
    redis.call('SET', recovery_key, floor .. '|' .. deadline, 'PX', ttl * 10)
  elseif seen > floor and hold and now < deadline then
    floor = seen
    redis.call('SET', recovery_key, floor .. '|' .. deadline, 'KEEPTTL')
  end
  if now >= deadline then floor = -1 end
end

-- Redis lost its data mid-rollout: the baseline the replica remembers is active again with a
-- new generation, and the candidate goes through a rollout again (whatever order the
-- replicas republished in, which makes publish times meaningless here) rather than at once.
local recovering = false
if not cur and ARGV[8] ~= '' and redis.call('ZSCORE', versions_key, ARGV[8]) then
  local rev = math.max(seen, 0)
  cur = now .. '|' .. rev .. '|' .. ARGV[8] .. '|claim'
  redis.call('SET', active_key, cur)
  redis.call('XADD', history_key, 'MAXLEN', '~', maxlen, '*', 'gen', now, 'rev', rev,
    'v', ARGV[8], 'prev', '', 'by', 'recovery', 'src', 'claim')
  recovering = true
elseif not cur and ARGV[8] ~= '' and now < deadline then
  -- Its replicas have not republished the baseline yet: activate nothing until they do.
  return {0, -1, '', '', own}
end

-- One member per live replica: a handful, so reading them all is cheap.
local best_rev, best_ver, best_by = -1, nil, ''
for _, m in ipairs(redis.call('ZRANGE', claims_key, 0, -1)) do
  local rev, ver, by = string.match(m, '^(%d+)|([^|]+)|(.*)$')
  rev = tonumber(rev)
  -- A claim counts once its bundle is published (after a Redis loss, until republished).
  if rev and rev >= floor and (rev > best_rev or (rev == best_rev and ver > best_ver))
      and redis.call('ZSCORE', versions_key, ver) then
    best_rev, best_ver, best_by = rev, ver, by
  end
end
local source = 'claim'
local pinned = redis.call('GET', pin_key)
if pinned and redis.call('ZSCORE', versions_key, pinned) then
  best_ver, source, best_by = pinned, 'pin', 'operator'
  if best_rev < 0 then best_rev = 0 end
end

local gen, crev, cver, csrc = 0, -1, '', ''
if cur then
  local g, r, v, s = string.match(cur, '^(%d+)|(%d+)|([^|]*)|(.*)$')
  gen, crev, cver, csrc = tonumber(g), tonumber(r), v, s
end
local ro = rollout_read(rollout_key)
local function answer(g, r, v, s)
  local out = {g, r, v, s, own}
  for _, f in ipairs(ROLLOUT_FIELDS) do out[#out + 1] = ro[f] or '' end
  return out
end
-- No live claim (every replica lost Redis for a while): keep the last active version.
if not best_ver then return answer(gen, crev, cver, csrc) end
local open = ro.state == 'running' or ro.state == 'paused'
if source == 'claim' and cver ~= '' and best_ver ~= cver then
  if ro.cand == best_ver and (open or ro.state == 'rolled-back' or ro.state == 'aborted') then
    return answer(gen, crev, cver, csrc)  -- in progress, or refused
  end
  local older = (tonumber(redis.call('ZSCORE', versions_key, best_ver)) or 0)
    < (tonumber(redis.call('ZSCORE', versions_key, cver)) or 0)
  if (recovering or not older) and has_policy(bundle_prefix .. best_ver) then
    if open then
      rollout_end(rollout_key, log_key, maxlen, ro, 'aborted',
        'superseded by revision ' .. best_rev .. ' (' .. best_ver .. ')', best_by)
    end
    local rgen = math.max(now, gen + 1)
    ro = {
      id = string.format('%x', rgen), cand = best_ver, base = cver, gen = tostring(rgen),
      bgen = tostring(gen), step = '0', since = tostring(now), started = tostring(now),
      state = 'running', rev = tostring(best_rev), reason = '',
    }
    redis.call('DEL', rollout_key)
    for _, f in ipairs(ROLLOUT_FIELDS) do redis.call('HSET', rollout_key, f, ro[f]) end
    rollout_log(log_key, maxlen, ro, 'start',
      'revision ' .. best_rev .. ' claims a bundle with a rollout policy', best_by)
    return answer(gen, crev, cver, csrc)
  end
end
if open and (best_ver ~= ro.cand or source == 'pin') then
  -- The candidate activated another way, or nobody claims it any more: the rollout is over.
  local why = source == 'pin' and ('pinned ' .. best_ver)
    or (best_ver == cver and 'the candidate is no longer claimed')
    or ('revision ' .. best_rev .. ' activates ' .. best_ver .. ' at once')
  ro = rollout_end(rollout_key, log_key, maxlen, ro, 'aborted', why, best_by)
end
if best_ver ~= cver then
  gen = math.max(now, gen + 1)
  redis.call('XADD', history_key, 'MAXLEN', '~', maxlen, '*', 'gen', gen, 'rev', best_rev,
    'v', best_ver, 'prev', cver, 'by', best_by, 'src', source)
end
if best_ver ~= cver or best_rev ~= crev or source ~= csrc then
  redis.call('SET', active_key, gen .. '|' .. best_rev .. '|' .. best_ver .. '|' .. source)
end
return answer(gen, best_rev, best_ver, source)
