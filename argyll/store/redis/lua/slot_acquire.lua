-- KEYS: held, queue, waiting, steps, arrivals
-- ARGV: item (flow, unit separator, token), instance, limit, join ('1' or '0'), step
-- held: hash item -> instance; queue: sorted set of items by arrival; waiting: hash item ->
-- instance. A slot goes to the first `free` items of the queue, so none overtakes another.
local item, instance, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local owner = redis.call('HGET', KEYS[1], item)
if owner then
  if owner == instance then return 'granted' end
  return 'elsewhere'
end
local queued = redis.call('HGET', KEYS[3], item)
if queued and queued ~= instance then return 'elsewhere' end
if not queued then
  if ARGV[4] ~= '1' then return 'absent' end
  redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[5]), item)
  redis.call('HSET', KEYS[3], item, instance)
  redis.call('SADD', KEYS[4], ARGV[5])
end
local free = limit - redis.call('HLEN', KEYS[1])
if free > 0 and redis.call('ZRANK', KEYS[2], item) < free then
  redis.call('ZREM', KEYS[2], item)
  redis.call('HDEL', KEYS[3], item)
  redis.call('HSET', KEYS[1], item, instance)
  return 'granted'
end
return 'waiting'
