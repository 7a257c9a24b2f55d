-- KEYS: stream, feed; ARGV: after (a seq). The aggregate's feed entries after that seq.
local events = {}
for i, entry in ipairs(redis.call('XRANGE', KEYS[1], '(0-' .. ARGV[1], '+')) do
  local id = entry[2][2]
  events[i] = redis.call('XRANGE', KEYS[2], id, id)[1]
end
return events
