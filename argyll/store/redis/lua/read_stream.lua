-- KEYS: ids, stream (see events.lua), feed; ARGV: after (a seq). The aggregate's feed
-- entries after that seq.
local events = {}
for i, id in ipairs(event_ids(KEYS[1], KEYS[2], tonumber(ARGV[1]))) do
  events[i] = redis.call('XRANGE', KEYS[3], id, id)[1]
end
return events
