-- KEYS: feed, clock; ARGV: fence, bound ('' = the mark). The mark, and the last id up to bound.
local upto = mark(KEYS[2], ARGV[1])
local bound = upto
if ARGV[2] ~= '' then bound = ARGV[2] end
local last = redis.call('XREVRANGE', KEYS[1], bound, '-', 'COUNT', 1)[1]
if last then return {upto, last[1]} end
return {upto, ''}
