-- KEYS: feed, flows, flows:all, then one set per flow status (its name after the last ':'),
--       then per flow: its ids, its stream (see events.lua), its snapshot
-- ARGV: the number of status sets, before (timestamp text, as rows keep `completed`),
--       the ended statuses (space-separated), then the flow ids, one per three flow keys
-- The retention rule (argyll.retention.expired) is checked here, in the same call as the
-- removal: a flow removed has ended (completed, failed or canceled) before `before`.
-- Its events leave the feed by XDEL, so every other entry keeps its id.
local statuses = tonumber(ARGV[1])
local ended = {}
for status in string.gmatch(ARGV[3], '%S+') do ended[status] = true end
local first = 4 + statuses
local removed = {}
for n = 4, #ARGV do
  local flow = ARGV[n]
  local at = first + 3 * (n - 4)
  local ids, stream, snapshot = KEYS[at], KEYS[at + 1], KEYS[at + 2]
  local raw = redis.call('HGET', KEYS[2], flow)
  local row = raw and cjson.decode(raw)
  if row and ended[row.status] and type(row.completed) == 'string'
      and row.completed < ARGV[2] then
    for _, id in ipairs(event_ids(ids, stream, 0)) do
      redis.call('XDEL', KEYS[1], id)
    end
    redis.call('DEL', ids, stream, snapshot)
    redis.call('HDEL', KEYS[2], flow)
    for set = 3, 3 + statuses do redis.call('ZREM', KEYS[set], flow) end
    removed[#removed + 1] = flow
  end
end
return removed
