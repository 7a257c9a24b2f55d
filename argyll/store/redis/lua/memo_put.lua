-- KEYS: entries, owners, uses, clock, the step's keys; ARGV: key, entry (JSON), step id,
-- limit, the prefix of the steps' key sets, the prefix of the flows' key sets, the id of
-- the flow that produced the entry (the sets share KEYS[1]'s hash tag, so every key
-- touched lives in one slot). Keep the entry as the most recently used, first evicting
-- the least recently used while the limit would be exceeded.
local entries, owners, uses = KEYS[1], KEYS[2], KEYS[3]
local function drop(key)
  local owner = redis.call('HGET', owners, key)
  if owner then
    redis.call('SREM', ARGV[5] .. owner, key)
  end
  local entry = redis.call('HGET', entries, key)
  if entry then
    redis.call('SREM', ARGV[6] .. cjson.decode(entry).flow_id, key)
  end
  redis.call('HDEL', entries, key)
  redis.call('HDEL', owners, key)
  redis.call('ZREM', uses, key)
end
drop(ARGV[1])
local excess = redis.call('ZCARD', uses) - tonumber(ARGV[4]) + 1
if excess > 0 then
  for _, old in ipairs(redis.call('ZRANGE', uses, 0, excess - 1)) do
    drop(old)
  end
end
redis.call('HSET', entries, ARGV[1], ARGV[2])
redis.call('HSET', owners, ARGV[1], ARGV[3])
redis.call('ZADD', uses, redis.call('INCR', KEYS[4]), ARGV[1])
redis.call('SADD', KEYS[5], ARGV[1])
redis.call('SADD', ARGV[6] .. ARGV[7], ARGV[1])
