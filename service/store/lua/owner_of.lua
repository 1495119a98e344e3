-- owner_of.lua: the owner tag an agent id is bound to in one namespace (the check a
-- registration in another namespace makes: ownership covers an id across namespaces).
--
-- KEYS[1] live  HASH    liveness (prelude live_read)
-- KEYS[2] doc   STRING  the agent's stored record (JSON, "own" = the owner)
-- Returns the owner tag ("" when the id is unknown there or unowned).
return stored_owner(live_read(KEYS[1]), redis.call('GET', KEYS[2]))
