-- read_capabilities.lua: one page of capability names with their live providers, in one
-- round trip (GET /capabilities). Costs what the page costs: one providers read per name.
--
-- KEYS[1] capindex  ZSET (all scores 0)  capability names of the namespace, read by lex
-- KEYS[2] suspect   SET  agents held by mass-expiry protection (offered with age -1)
-- KEYS[3] capver, KEYS[4] due, KEYS[5] events: for the namespace's change index
-- ARGV[1] provider-hash prefix (a capability's providers HASH is the prefix plus its name)
-- ARGV[2] live-key prefix (a provider's liveness key is the prefix plus its agent id)
-- ARGV[3] lex lower bound: '-' for the first page, '(<name>' after a cursor
-- ARGV[4] page size (names)
-- Returns {index or false, name, {entry, age_ms, degraded_after_ms, ...}, name, {...}, ...}
-- in name order; the index (prelude's change_index) is of the same snapshot as the page, so
-- the answer and its ETag come in one round trip.
local capindex_key, suspect_key = KEYS[1], KEYS[2]
local prov_prefix, live_prefix, lower, count = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])

local out = {change_index(KEYS[3], KEYS[4], KEYS[5], '')}
for _, name in ipairs(redis.call('ZRANGE', capindex_key, lower, '+', 'BYLEX', 'LIMIT', 0, count)) do
  out[#out + 1] = name
  out[#out + 1] = live_candidates(prov_prefix .. name, live_prefix, suspect_key)
end
return out
