-- KEYS: entries, uses, clock; ARGV: key. The entry kept under the key (its JSON), or false;
-- a hit makes it the most recently used.
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if entry then
  redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[1])
end
return entry
