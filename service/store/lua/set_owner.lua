-- set_owner.lua: an admin binds an agent id to another identity, or releases it ("").
-- The record keeps its TTL; the liveness hash, when the agent is live, gets the new tag.
--
-- KEYS[1] live  HASH    liveness (prelude live_read)
-- KEYS[2] doc   STRING  the agent's stored record
-- ARGV[1] the record with its new "own" (JSON, written by records.StoredAgent)
-- ARGV[2] the new owner tag ("" releases the id: the next registration binds it)
-- Returns 1 when the record existed, 0 otherwise.
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('SET', KEYS[2], ARGV[1], 'KEEPTTL')
if live_read(KEYS[1]) then redis.call('HSET', KEYS[1], 'o', ARGV[2]) end
return 1
