-- KEYS: held, queue, waiting; ARGV: item, limit. Free the item's slot or its place in the
-- queue, then hand the free slots to the first in line: pairs of item, instance granted.
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
local granted = {}
local free = tonumber(ARGV[2]) - redis.call('HLEN', KEYS[1])
if free > 0 then
  for _, item in ipairs(redis.call('ZRANGE', KEYS[2], 0, free - 1)) do
    local instance = redis.call('HGET', KEYS[3], item)
    redis.call('ZREM', KEYS[2], item)
    redis.call('HDEL', KEYS[3], item)
    redis.call('HSET', KEYS[1], item, instance)
    granted[#granted + 1] = item
    granted[#granted + 1] = instance
  end
end
return granted
