-- note_corrupt.lua: record a "corrupt" event the first time a stored value that does not
-- decode is read, atomically, so that of every replica and request reading it exactly one
-- records it; the same place holding other garbage later is recorded again. Values are
-- named by a digest (16 hex of sha1, as corrupt.value_digest computes it), and only a
-- value still in place is recorded: one rewritten since it was read is not reported.
--
-- KEYS[1] noted   HASH    agent_id -> JSON {place: digest} of the values already recorded
-- KEYS[2] events  STREAM
-- KEYS[3] where the value is: a record or an assignment (STRING), or a provider HASH
-- ARGV[1] kind: "doc" or "assignment" (KEYS[3] is ARGV[2]'s), or "entry" (the fields of
--         KEYS[3] that hold the value name the agents)
-- ARGV[2] agent_id ("" for an entry)
-- ARGV[3] digest of the value
-- ARGV[4] why it does not decode (for the event detail)
-- ARGV[5] events stream maxlen (approximate)
-- ARGV[6] live-key prefix: the agent of a record or an entry is marked "stale" (as
--         assign_capabilities.lua does), so its next HEAD asks for the full POST that
--         rewrites the value. Nothing an agent sends rewrites an assignment: not marked.
-- Returns the number of events recorded.
local noted_key, events_key, value_key = KEYS[1], KEYS[2], KEYS[3]
local kind, id, digest, why, maxlen, live_prefix =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]

local function digest_of(value)
  return string.sub(redis.sha1hex(value), 1, 16)
end

local function note(agent, place)
  local seen = decode_object(redis.call('HGET', noted_key, agent) or '{}') or {}
  if seen[place] == digest then return 0 end
  seen[place] = digest
  redis.call('HSET', noted_key, agent, cjson.encode(seen))
  event(events_key, maxlen, 'corrupt', agent,
    kind .. ' ' .. place .. ' does not decode (' .. why .. '); sha1 ' .. digest)
  if kind ~= 'assignment' and live_read(live_prefix .. agent) then
    redis.call('HSET', live_prefix .. agent, 'e', 'stale')  -- a field write keeps the TTL
  end
  return 1
end

local recorded = 0
if kind == 'entry' then
  local h = redis.pcall('HGETALL', value_key)
  if h.err then return 0 end
  for j = 1, #h, 2 do
    local agent = string.match(h[j], '^([^:]+):')
    if agent and digest_of(h[j + 1]) == digest then
      recorded = recorded + note(agent, value_key .. ' ' .. h[j])
    end
  end
else
  local value = redis.pcall('GET', value_key)
  if type(value) == 'string' and digest_of(value) == digest then
    recorded = note(id, value_key)
  end
end
return recorded
