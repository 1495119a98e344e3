-- publish_bundle.lua: publish a verified bundle under its content version, once. The copy in
-- Redis is immutable: a second publish of the same version (every replica of a deployment
-- does one at start-up) changes nothing.
--
-- KEYS[1] bundle    HASH  relative path -> exact bytes of the bundle's files
-- KEYS[2] versions  ZSET  version -> ms when first published
-- ARGV[1] version ("sha256:<hex>")
-- ARGV[2 ..] path, bytes, path, bytes, ...
-- Returns 1 when this call published the bundle, 0 when it was already there.
local bundle_key, versions_key, version = KEYS[1], KEYS[2], ARGV[1]
if redis.call('EXISTS', bundle_key) == 1 then
  redis.call('ZADD', versions_key, 'NX', 0, version)
  return 0
end
local now = now_ms()
for i = 2, #ARGV, 2 do
  redis.call('HSET', bundle_key, ARGV[i], ARGV[i + 1])
end
redis.call('ZADD', versions_key, now, version)
return 1
