-- KEYS: held, queue, waiting; ARGV: '1' for the holders, '0' for the queue (in order).
-- Pairs of item, instance.
local pairs_ = {}
if ARGV[1] == '1' then return redis.call('HGETALL', KEYS[1]) end
for _, item in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  pairs_[#pairs_ + 1] = item
  pairs_[#pairs_ + 1] = redis.call('HGET', KEYS[3], item)
end
return pairs_
