-- KEYS: feed, flows, flows:all, then one set per flow status (its name after the last ':'),
--       then per flow: its ids, its stream (see events.lua), its snapshot, then the label,
--       goal and parent sets its row is in
-- ARGV: the number of status sets, before (timestamp text, as rows keep `completed`),
--       the ended statuses (space-separated), then per flow: its id, how many label, goal
--       and parent sets follow its three keys
-- The retention rule (argyll.retention.expired) is checked here, in the same call as the
-- removal: a flow removed has ended (completed, failed or canceled) before `before`, and
-- its last event is its deactivation, so no compensation of it is still running.
-- Its events leave the feed by XDEL, so every other entry keeps its id; the flow leaves
-- every index set, so the counts (the status sets' sizes) and queries no longer see it.
local statuses = tonumber(ARGV[1])
local ended = {}
for status in string.gmatch(ARGV[3], '%S+') do ended[status] = true end
local function deactivated(ids, stream)
  local version = event_count(ids, stream)
  if version == 0 then return false end
  local last = event_ids(ids, stream, version - 1)[1]
  local entry = redis.call('XRANGE', KEYS[1], last, last)[1]
  return entry ~= nil and entry[2][6] == 'flow_deactivated'
end
local at, removed = 4 + statuses, {}
for n = 4, #ARGV, 2 do
  local flow, joins = ARGV[n], tonumber(ARGV[n + 1])
  local ids, stream, snapshot = KEYS[at], KEYS[at + 1], KEYS[at + 2]
  local raw = redis.call('HGET', KEYS[2], flow)
  local row = raw and cjson.decode(raw)
  if row and ended[row.status] and type(row.completed) == 'string'
      and row.completed < ARGV[2] and deactivated(ids, stream) then
    for _, id in ipairs(event_ids(ids, stream, 0)) do
      redis.call('XDEL', KEYS[1], id)
    end
    redis.call('DEL', ids, stream, snapshot)
    redis.call('HDEL', KEYS[2], flow)
    for set = 3, 3 + statuses do redis.call('ZREM', KEYS[set], flow) end
    for set = at + 3, at + 2 + joins do redis.call('ZREM', KEYS[set], flow) end
    removed[#removed + 1] = flow
  end
  at = at + 3 + joins
end
return removed
