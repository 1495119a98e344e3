-- read_protection.lua: a namespace's mass-expiry protection with the server clock, in one
-- round trip (and one Cluster slot: both keys carry the namespace's hash tag).
--
-- KEYS[1] guard STRING ("since|until|reason[|ended]")  KEYS[2] suspect SET
-- Returns {guard or false, number of held suspects, now_ms}.
return {redis.call('GET', KEYS[1]), redis.call('SCARD', KEYS[2]), now_ms()}
