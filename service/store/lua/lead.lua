-- lead.lua: take or keep a leader lease for one background task, so only one replica does
-- fleet-wide work (the drift pass reads every agent) while the others read its result.
--
-- KEYS[1] lock  STRING  the holder's id, with a TTL
-- ARGV[1] this replica's id
-- ARGV[2] lease ms
-- Returns 1 when this replica holds the lease (taken or renewed), 0 otherwise.
local lock, me, ttl = KEYS[1], ARGV[1], ARGV[2]
if redis.call('SET', lock, me, 'NX', 'PX', ttl) then return 1 end
if redis.call('GET', lock) == me then
  redis.call('PEXPIRE', lock, ttl)
  return 1
end
return 0
