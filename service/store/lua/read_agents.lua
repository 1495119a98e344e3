-- read_agents.lua: a page of agents with their records and liveness, in one round trip.
--
-- KEYS[1] ids ZSET (lexical)  KEYS[2] suspect SET (held by mass-expiry protection)
-- ARGV[1] doc prefix  ARGV[2] live prefix
-- ARGV[3] mode: "range" (ARGV[4] exclusive lower bound id or "", ARGV[5] count)
--               or "ids" (ARGV[4 ..] explicit agent ids)
-- Returns {now_ms, {id, doc or false, {ttl, deg, ret} or false, pttl, suspect 0/1}, ...}.
local doc_prefix, live_prefix = ARGV[1], ARGV[2]
local out = {now_ms()}
local ids
if ARGV[3] == 'range' then
  local lo = ARGV[4] == '' and '-' or ('(' .. ARGV[4])
  ids = redis.call('ZRANGE', KEYS[1], lo, '+', 'BYLEX', 'LIMIT', 0, tonumber(ARGV[5]))
else
  ids = {}
  for i = 4, #ARGV do ids[#ids + 1] = ARGV[i] end
end
for _, id in ipairs(ids) do
  local lk = live_prefix .. id
  local doc = redis.call('GET', doc_prefix .. id)
  local lv = live_read(lk)
  local live = lv and {lv.ttl, lv.deg, lv.ret} or false
  local held = 0
  if not lv then held = redis.call('SISMEMBER', KEYS[2], id) end
  out[#out + 1] = {id, doc or false, live, lv and redis.call('PTTL', lk) or -2, held}
end
return out
