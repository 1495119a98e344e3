-- touch.lua: the cheap heartbeat (HEAD /heartbeat/{id}). Refreshes the liveness TTL and
-- says whether anything this agent depends on changed since its last full POST.
--
-- KEYS[1] live      HASH    liveness (prelude live_read), TTL = expire_after
-- KEYS[2] doc       STRING  the agent's record (its TTL follows the liveness key)
-- KEYS[3] capver    HASH    capability -> topology counter
-- KEYS[4] due       ZSET    id -> ms when the sweeper looks next
-- KEYS[5] degraded  SET
-- KEYS[6] events    STREAM
-- ARGV[1] agent_id
-- ARGV[2] epoch tag of the fleet-active config version ("" skips the check). An epoch of
--         "stale" (set by assign_capabilities.lua) always asks for a POST.
-- ARGV[3] events stream maxlen (approximate)
-- ARGV[4] the caller's owner tag ("" when auth is off: not checked)
-- ARGV[5] during a config rollout "<rollout id>|<step>|<candidate epoch tag>", else "": the
--         agent's cohort (liveness "k", written by its last POST) says whether it should be
--         on the candidate; one on the candidate stays there (cohorts are sticky).
-- Returns 0 = unknown or expired (re-register), 1 = nothing changed, 2 = send a full POST,
-- 3 = another identity owns this agent (nothing refreshed). An agent registered while auth
-- was off has no owner: it gets 2, and the POST binds it.
local live_key, doc_key, capver_key, due_key, degraded_key, events_key =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local id, current_epoch, maxlen, caller, rollout = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]

local lv = live_read(live_key)
if not lv then return 0 end
if caller ~= '' and lv.owner ~= caller and lv.owner ~= '' then return 3 end
local age = live_age(live_key, lv)
redis.call('PEXPIRE', live_key, lv.ttl)
local has_doc = redis.call('PEXPIRE', doc_key, lv.ttl + lv.ret)
redis.call('ZADD', due_key, now_ms() + lv.deg, id)
if age > lv.deg and redis.call('SREM', degraded_key, id) == 1 then
  event(events_key, maxlen, 'recover', id)
end

if has_doc == 0 then return 2 end
if caller ~= '' and lv.owner == '' then return 2 end
if lv.epoch == 'stale' then return 2 end
if rollout ~= '' then
  local rid, step, candidate = string.match(rollout, '^([^|]*)|(%d+)|(.*)$')
  if lv.epoch == candidate then
    current_epoch = candidate
  else
    -- Placed in an earlier rollout (or none): only a POST can place it in this one.
    local placed, entry = string.match(lv.cohort, '^([^:]*):(.*)$')
    if placed ~= rid then return 2 end
    if entry ~= '-' and tonumber(step) >= (tonumber(entry) or 0) then return 2 end
  end
end
if current_epoch ~= '' and lv.epoch ~= current_epoch then return 2 end
if lv.caps ~= '' and dep_signature(capver_key, split_caps(lv.caps)) ~= lv.sig then return 2 end
return 1
