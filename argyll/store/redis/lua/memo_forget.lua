-- KEYS: entries, owners, uses, the step's keys; ARGV: the prefix of the flows' key sets.
-- Drop every entry of the step; how many.
local keys = redis.call('SMEMBERS', KEYS[4])
for _, key in ipairs(keys) do
  local entry = redis.call('HGET', KEYS[1], key)
  if entry then
    redis.call('SREM', ARGV[1] .. cjson.decode(entry).flow_id, key)
  end
  redis.call('HDEL', KEYS[1], key)
  redis.call('HDEL', KEYS[2], key)
  redis.call('ZREM', KEYS[3], key)
end
redis.call('DEL', KEYS[4])
return #keys
