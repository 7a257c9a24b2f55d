-- KEYS: feed, clock; ARGV: start, fence, count. The mark, and the entries from start up to it.
local upto = mark(KEYS[2], ARGV[2])
return {upto, redis.call('XRANGE', KEYS[1], ARGV[1], upto, 'COUNT', ARGV[3])}
