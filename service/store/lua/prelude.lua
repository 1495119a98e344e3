-- prelude.lua: helpers shared by every store script. scripts.py prepends this file once to
-- each script's source when it registers it, so a script's SHA covers prelude + body and
-- NOSCRIPT recovery reloads both. Layouts are documented in service/store/SCHEMA.md; every
-- key still reaches a script through KEYS (helpers take keys and prefixes as arguments).

-- The Redis server clock in ms: the only clock liveness is measured with.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The liveness HASH (Keys.live): t = expire_after ms (also the key's TTL), d = degraded_after
-- ms, r = retention ms, s = dependency signature, e = epoch tag, c = dependency capabilities
-- joined with ",", o = owner tag, k = rollout cohort ("<rollout id>:<entry step>", ":-" never
-- on the candidate, "-" outside a rollout). Small integers and short strings keep it a
-- listpack (see SCHEMA.md). Returns {ttl, deg, ret, sig, epoch, caps, owner, cohort} with
-- numbers decoded, or nil when the key is gone.
local function live_read(key)
  local v = redis.pcall('HMGET', key, 't', 'd', 'r', 's', 'e', 'c', 'o', 'k')
  if v.err then
    -- A value in a layout this code does not know (written before the schema changed):
    -- drop it, so the agent re-registers (410 -> POST) instead of failing every heartbeat.
    redis.call('DEL', key)
    return nil
  end
  if not v[1] then return nil end
  local ttl, deg, ret = tonumber(v[1]), tonumber(v[2]), tonumber(v[3])
  if not (ttl and deg and ret) then
    -- Timers that are not numbers (a corrupted value): the same remedy as above. Every
    -- caller does arithmetic on them, and one bad key must not fail a whole sweep pass.
    redis.call('DEL', key)
    return nil
  end
  return {
    ttl = ttl, deg = deg, ret = ret,
    sig = tonumber(v[4]) or 0, epoch = v[5] or '-', caps = v[6] or '', owner = v[7] or '',
    cohort = v[8] or '-',
  }
end

-- Write the whole liveness value and set its TTL (= expire_after).
local function live_write(key, ttl, deg, ret, sig, epoch, caps, owner, cohort)
  redis.call('HSET', key, 't', ttl, 'd', deg, 'r', ret, 's', sig, 'e', epoch, 'c', caps,
    'o', owner, 'k', cohort)
  redis.call('PEXPIRE', key, ttl)
end

-- The owner tag of a stored record (JSON "own", the identity it is bound to): 16 hex of its
-- sha1, as records.owner_tag computes it; "" for an unowned record.
local function owner_tag(own)
  if not own or own == '' then return '' end
  return string.sub(redis.sha1hex(own), 1, 16)
end

-- A stored JSON object (record, assignment) decoded, or nil when it does not decode to one
-- (a corrupted value): scripts never let cjson raise, so one bad value cannot fail a call
-- made for another agent (a sweep pass, a consumer's heartbeat).
local function decode_object(raw)
  local ok, value = pcall(cjson.decode, raw)
  if ok and type(value) == 'table' then return value end
  return nil
end

-- A stored record (Keys.doc) decoded, or nil when it is not in the shape these scripts
-- read: "prov" a list of [capability, field] strings (drop_entries indexes and concatenates
-- every pair; records.encode_agent always writes it) and "own", if any, a string.
local function decode_record(raw)
  local od = decode_object(raw)
  if not od or type(od.prov) ~= 'table' then return nil end
  if od.own ~= nil and type(od.own) ~= 'string' then return nil end
  for _, p in ipairs(od.prov) do
    if type(p) ~= 'table' or type(p[1]) ~= 'string' or type(p[2]) ~= 'string' then
      return nil
    end
  end
  return od
end

-- The tag no caller has (callers' tags are 16 hex): the owner of an undecodable record.
local UNKNOWN_OWNER = 'unknown'

-- The owner tag an agent is bound to, from its liveness hash or else its retained record.
-- A live agent's hash is authoritative (every heartbeat writes the same owner to both).
-- Without one, an undecodable record binds the id to nobody who can prove it: refused to
-- every caller until the record expires, rather than handed to whoever asks first.
local function stored_owner(lv, old_doc)
  if lv and lv.owner ~= '' then return lv.owner end
  if old_doc then
    local od = decode_record(old_doc)
    if od then return owner_tag(od.own) end
    if not lv then return UNKNOWN_OWNER end
  end
  return ''
end

-- Milliseconds since the last heartbeat of a live key whose value ``lv`` was just read.
local function live_age(key, lv)
  return lv.ttl - redis.call('PTTL', key)
end

-- The signature of a consumer: the sum of its dependencies' topology counters (which only
-- grow), so any provider joining, changing or leaving changes it.
local function dep_signature(capver_key, names)
  local sig = 0
  if #names > 0 then
    for _, x in ipairs(redis.call('HMGET', capver_key, unpack(names))) do
      sig = sig + (tonumber(x) or 0)
    end
  end
  return sig
end

-- Split the liveness value's "c" field back into capability names.
local function split_caps(caps)
  local names = {}
  for c in string.gmatch(caps, '[^,]+') do names[#names + 1] = c end
  return names
end

-- Append one registry event to a namespace stream: t = type, a = agent id, d = detail.
local function event(events_key, maxlen, kind, id, detail)
  redis.call('XADD', events_key, 'MAXLEN', '~', maxlen, '*', 't', kind, 'a', id, 'd', detail or '')
end

-- The [capability, field] pairs of every provider entry agent ``id`` holds in the namespace,
-- found by reading the field names of each capability in the capability index. It costs
-- O(provider entries of the namespace), so it only stands in for an undecodable record's
-- "prov": the entries must still go, or they would come back to life when the id registers
-- again.
local function agent_entries(id, capindex_key, prov_prefix)
  local want, prov = id .. ':', {}
  for _, cap in ipairs(redis.call('ZRANGE', capindex_key, 0, -1)) do
    for _, f in ipairs(redis.call('HKEYS', prov_prefix .. cap)) do
      if string.sub(f, 1, #want) == want then prov[#prov + 1] = {cap, f} end
    end
  end
  return prov
end

-- The [capability, field] pairs a stored record (Keys.doc, JSON) lists under "prov"; for an
-- undecodable record, the entries its agent holds (agent_entries).
local function doc_provided(doc_json, id, capindex_key, prov_prefix)
  local od = decode_record(doc_json)
  if od then return od.prov end
  return agent_entries(id, capindex_key, prov_prefix)
end

-- The version named in a runtime assignment (Keys.assignment, JSON {"v": ..., "caps": ...});
-- "(undecodable)" for a corrupted one, which is dropped all the same.
local function assignment_version(raw)
  local asg = decode_object(raw)
  if not asg or type(asg.v) ~= 'string' then return '(undecodable)' end
  return asg.v
end

-- Drop provider-index entries {capability, field} and bump each capability's counter, so
-- consumers of it are rewired at their next heartbeat; a capability left without entries
-- leaves the capability index. ``keep`` (optional) maps "capability\0field" to true for
-- entries that stay.
local function drop_entries(prov, prov_prefix, capver_key, capindex_key, keep)
  for _, p in ipairs(prov) do
    if not (keep and keep[p[1] .. '\0' .. p[2]]) then
      local k = prov_prefix .. p[1]
      redis.call('HDEL', k, p[2])
      redis.call('HINCRBY', capver_key, p[1], 1)
      if redis.call('EXISTS', k) == 0 then redis.call('ZREM', capindex_key, p[1]) end
    end
  end
end

-- The live candidates in one provider HASH (field "agent_id:function" -> entry JSON), as a
-- flat {entry, age_ms, degraded_after_ms, ...}: one liveness check per entry, never a scan.
-- An entry whose liveness key is gone is offered only while mass-expiry protection holds
-- its agent (a member of ``suspect_key``), with age -1 ("suspect"); the check costs
-- nothing for live entries.
local function live_candidates(prov_key, live_prefix, suspect_key)
  local h = redis.call('HGETALL', prov_key)
  local rows = {}
  for j = 1, #h, 2 do
    -- A field that names no agent, or timers that are not numbers, are corrupted values:
    -- skipped, as the reader skips an entry it cannot decode.
    local aid = string.match(h[j], '^([^:]+):')
    local pttl = aid and redis.call('PTTL', live_prefix .. aid) or -2
    if pttl > 0 then
      local v = redis.pcall('HMGET', live_prefix .. aid, 't', 'd')
      local ttl, deg
      if not v.err then ttl, deg = tonumber(v[1]), tonumber(v[2]) end
      if ttl and deg then
        rows[#rows + 1] = h[j + 1]
        rows[#rows + 1] = ttl - pttl
        rows[#rows + 1] = deg
      end
    elseif aid and redis.call('SISMEMBER', suspect_key, aid) == 1 then
      rows[#rows + 1] = h[j + 1]
      rows[#rows + 1] = -1
      rows[#rows + 1] = 0
    end
  end
  return rows
end

-- The namespace's mass-expiry protection (Keys.guard: "since|until|reason[|ended]"):
-- returns since_ms, until_ms, reason, ended (all nil/false when there is none).
local function guard_read(guard_key)
  local g = redis.call('GET', guard_key)
  if not g then return nil, nil, nil, false end
  local since, till, rest = string.match(g, '^(%d+)|(%d+)|(.*)$')
  if not since then return nil, nil, nil, false end
  local ended = false
  if string.sub(rest, -6) == '|ended' then
    ended = true
    rest = string.sub(rest, 1, -7)
  end
  return tonumber(since), tonumber(till), rest, ended
end

-- The change index of one capability (or of the namespace when ``capability`` is ''):
-- "<counter>-<last event id>". Equal indexes mean an equal discovery answer. False when
-- some agent of the namespace is past a status transition the sweeper has not recorded
-- yet: then only a full read tells the truth. Keys: capver HASH, due ZSET, events STREAM.
local function change_index(capver_key, due_key, events_key, capability)
  if #redis.call('ZRANGEBYSCORE', due_key, '-inf', now_ms(), 'LIMIT', 0, 1) > 0 then
    return false
  end
  local counter = '0'
  if capability ~= '' then
    counter = redis.call('HGET', capver_key, capability) or '0'
  end
  local last = redis.call('XREVRANGE', events_key, '+', '-', 'COUNT', 1)
  local id = '0-0'
  if #last > 0 then id = last[1][1] end
  return counter .. '-' .. id
end

-- The config rollout HASH (Keys.rollout): id (hex of the candidate's generation), cand and
-- base (versions), gen and bgen (their generations), step (0-based), since (ms the step
-- began), started (ms), state (running paused complete rolled-back aborted), rev (the
-- candidate's revision), reason (why it ended). Absent fields read as "".
local ROLLOUT_FIELDS = {
  'id', 'cand', 'base', 'gen', 'bgen', 'step', 'since', 'started', 'state', 'rev', 'reason',
}

local function rollout_read(key)
  local v = redis.call('HMGET', key, unpack(ROLLOUT_FIELDS))
  local ro = {}
  for i, f in ipairs(ROLLOUT_FIELDS) do ro[f] = v[i] or '' end
  return ro
end

-- One decision in the rollout log: d = decision, rid, step, why, by.
local function rollout_log(log_key, maxlen, ro, decision, why, by)
  redis.call('XADD', log_key, 'MAXLEN', '~', maxlen, '*', 'd', decision, 'rid', ro.id,
    'cand', ro.cand, 'step', ro.step, 'why', why, 'by', by)
end

-- End a rollout in ``state`` (complete, rolled-back, aborted) and log why; returns it.
local function rollout_end(key, log_key, maxlen, ro, state, why, by)
  ro.state, ro.reason = state, why
  redis.call('HSET', key, 'state', state, 'reason', why)
  rollout_log(log_key, maxlen, ro, state, why, by)
  return ro
end

-- True when the published bundle at ``bundle_key`` has a rollout policy in its manifest.
local function has_policy(bundle_key)
  local m = decode_object(redis.call('HGET', bundle_key, 'manifest.json') or '')
  return m ~= nil and type(m.defaults) == 'table' and type(m.defaults.rollout) == 'table'
end
