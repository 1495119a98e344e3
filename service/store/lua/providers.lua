-- providers.lua: the live providers of one capability. Costs what the answer costs: one
-- liveness check per provider entry of this capability, never a scan of the registry.
--
-- KEYS[1] provider HASH of the capability
-- ARGV[1] live-key prefix (a provider's liveness key is the prefix plus its agent id)
-- Returns {entry, age_ms, degraded_after_ms, ...} for each live provider.
return live_candidates(KEYS[1], ARGV[1])
