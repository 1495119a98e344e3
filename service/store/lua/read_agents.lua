-- read_agents.lua: a page of agents with their records and liveness, in one round trip.
--
-- KEYS[1] ids ZSET (lexical)
-- ARGV[1] doc prefix  ARGV[2] live prefix
-- ARGV[3] mode: "range" (ARGV[4] exclusive lower bound id or "", ARGV[5] count)
--               or "ids" (ARGV[4 ..] explicit agent ids)
-- Returns {now_ms, {id, doc or false, live value or false, pttl}, ...}.
local t = redis.call('TIME')
local out = {tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)}
local ids
if ARGV[3] == 'range' then
  local lo = ARGV[4] == '' and '-' or ('(' .. ARGV[4])
  ids = redis.call('ZRANGE', KEYS[1], lo, '+', 'BYLEX', 'LIMIT', 0, tonumber(ARGV[5]))
else
  ids = {}
  for i = 4, #ARGV do ids[#ids + 1] = ARGV[i] end
end
for _, id in ipairs(ids) do
  local lk = ARGV[2] .. id
  local doc = redis.call('GET', ARGV[1] .. id)
  local lv = redis.call('GET', lk)
  out[#out + 1] = {id, doc or false, lv or false, lv and redis.call('PTTL', lk) or -2}
end
return out
