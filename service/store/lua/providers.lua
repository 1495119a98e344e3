-- providers.lua: the live providers of one capability. Costs what the answer costs: one
-- liveness check per provider entry of this capability, never a scan of the registry.
--
-- KEYS[1] provider HASH of the capability  KEYS[2] suspect SET of the namespace
-- KEYS[3..5] (optional) capver, due, events: also read the change index, in the same call
-- ARGV[1] live-key prefix (a provider's liveness key is the prefix plus its agent id)
-- ARGV[2] the capability name (with KEYS[3..5])
-- Returns {entry, age_ms, degraded_after_ms, ...} for each live provider (age -1: a suspect
-- held by mass-expiry protection). With KEYS[3..5]: {index or false, {entry, ...}}, the
-- index of the same snapshot as the entries (a discovery 200 is then one round trip).
local rows = live_candidates(KEYS[1], ARGV[1], KEYS[2])
if #KEYS < 5 then return rows end
return {change_index(KEYS[3], KEYS[4], KEYS[5], ARGV[2]), rows}
