-- providers.lua: the live providers of one capability. Costs what the answer costs: one
-- liveness check per provider entry of this capability, never a scan of the registry.
--
-- KEYS[1] provider HASH of the capability  KEYS[2] suspect SET of the namespace
-- ARGV[1] live-key prefix (a provider's liveness key is the prefix plus its agent id)
-- Returns {entry, age_ms, degraded_after_ms, ...} for each live provider (age -1: a suspect
-- held by mass-expiry protection).
return live_candidates(KEYS[1], ARGV[1], KEYS[2])
