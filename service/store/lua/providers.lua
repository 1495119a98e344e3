-- providers.lua: the live providers of one capability, and its change index. Costs what the
-- answer costs: one liveness check per provider entry of this capability, never a scan of
-- the registry.
--
-- KEYS[1] provider HASH of the capability  KEYS[2] suspect SET of the namespace
-- KEYS[3] capver, KEYS[4] due, KEYS[5] events: for the capability's change index
-- ARGV[1] live-key prefix (a provider's liveness key is the prefix plus its agent id)
-- ARGV[2] the capability name
-- Returns {index or false, {entry, age_ms, degraded_after_ms, ...}}: each live provider (age
-- -1: a suspect held by mass-expiry protection), and the index (prelude's change_index) of
-- the same snapshot, so a discovery answer and its ETag come in one round trip.
local index = change_index(KEYS[3], KEYS[4], KEYS[5], ARGV[2])
return {index, live_candidates(KEYS[1], ARGV[1], KEYS[2])}
