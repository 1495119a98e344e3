-- rollout_decide.lua: one decision on the running config rollout, by the gate leader or an
-- operator, applied only if the rollout is still the one the caller judged.
--
-- KEYS[1] rollout   HASH    the latest rollout (rollout_read in prelude.lua)
-- KEYS[2] log       STREAM  rollout decisions
-- KEYS[3] active    STRING  "generation|revision|version|source"
-- KEYS[4] history   STREAM  activations (claim_active.lua)
-- ARGV[1] action: promote, rollback, abort, pause, resume
-- ARGV[2] the rollout id the caller judged
-- ARGV[3] the step the caller judged ("" for any)
-- ARGV[4] the number of steps of the candidate's policy
-- ARGV[5] why (recorded with the decision)
-- ARGV[6] by: the replica or "operator"
-- ARGV[7] stream maxlen (approximate)
-- Returns {"ok", state, step} or {"stale", state, step} when the rollout moved on (another
-- rollout, another step, or a state the action does not apply to): nothing is written.
--
-- promote moves to the next step (the step's hold starts again); past the last step the
-- candidate becomes the active bundle with the generation it was delivered with, so agents
-- on it see no change. rollback (the gate) and abort (an operator) make the baseline
-- active for everyone with a new, higher generation, so agents that applied the candidate
-- take the baseline back (clients refuse lower generations).
local rollout_key, log_key, active_key, history_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local action, rid, want_step, steps = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local why, by, maxlen = ARGV[5], ARGV[6], ARGV[7]

local ro = rollout_read(rollout_key)
local open = ro.state == 'running' or ro.state == 'paused'
local fits = {
  promote = open, rollback = open, abort = open,
  pause = ro.state == 'running', resume = ro.state == 'paused',
}
if ro.id ~= rid or (want_step ~= '' and want_step ~= ro.step) or not fits[action] then
  return {'stale', ro.state, ro.step}
end
local now = now_ms()
local cur = redis.call('GET', active_key) or ''
local g, r = string.match(cur, '^(%d+)|(%d+)|')
local gen, rev = tonumber(g) or 0, r or ro.rev

local function activate(version, generation, revision, src, prev)
  redis.call('SET', active_key, generation .. '|' .. revision .. '|' .. version .. '|' .. src)
  redis.call('XADD', history_key, 'MAXLEN', '~', maxlen, '*', 'gen', generation, 'rev',
    revision, 'v', version, 'prev', prev, 'by', by, 'src', src)
end

if action == 'promote' then
  local next_step = tonumber(ro.step) + 1
  if next_step >= steps then
    activate(ro.cand, math.max(tonumber(ro.gen), gen + 1), ro.rev, 'rollout', ro.base)
    ro = rollout_end(rollout_key, log_key, maxlen, ro, 'complete', why, by)
  else
    ro.step = tostring(next_step)
    redis.call('HSET', rollout_key, 'step', ro.step, 'since', now, 'state', 'running')
    ro.state = 'running'
    rollout_log(log_key, maxlen, ro, 'promote', why, by)
  end
elseif action == 'rollback' or action == 'abort' then
  activate(ro.base, math.max(now, tonumber(ro.gen) + 1, gen + 1), rev, 'rollback', ro.cand)
  ro = rollout_end(rollout_key, log_key, maxlen, ro,
    action == 'rollback' and 'rolled-back' or 'aborted', why, by)
elseif action == 'pause' then
  ro.state = 'paused'
  redis.call('HSET', rollout_key, 'state', 'paused')
  rollout_log(log_key, maxlen, ro, 'pause', why, by)
else
  ro.state = 'running'
  redis.call('HSET', rollout_key, 'state', 'running', 'since', now)
  rollout_log(log_key, maxlen, ro, 'resume', why, by)
end
return {'ok', ro.state, ro.step}
