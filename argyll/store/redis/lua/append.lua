-- KEYS: feed, clock, flows, flows:all, then one set per flow status (its name after the
--       last ':'), then the ids and stream keys of each append (see events.lua), then the
--       label, goal and parent sets of the rows the appends open, in the order of those rows
-- ARGV: floor, the number of status sets, the number of appends, then per append:
--       expected, aggregate, count, indexed, count x (timestamp, type, version, data),
--       indexed x (change, status, flow id, score, timestamp, error, labels and goals: the
--       JSON texts a new row keeps, parent: the parent flow a new child flow's row names,
--       or '', how many label, goal and parent sets the row joins)
-- Each append is checked and written on its own: a stale one is refused alone.
-- A row change (argyll.flow_index.RowChange) opens a row, moves its status, or closes it;
-- an opened row joins flows:all and its label, goal and parent sets, which it never leaves.
local statuses, appends = tonumber(ARGV[2]), tonumber(ARGV[3])
local sets = {}
for n = 5, 4 + statuses do sets[string.match(KEYS[n], ':([a-z_]+)$')] = KEYS[n] end
local joined = 5 + statuses + 2 * appends
local function index(change, status, flow, score, at, err, labels, goals, parent, joins)
  local row
  if change == 'open' then
    row = {status = status, created = at, score = score, labels = labels, goals = goals}
    if parent ~= '' then row.parent = parent end
    redis.call('ZADD', KEYS[4], score, flow)
    for n = joined, joined + joins - 1 do redis.call('ZADD', KEYS[n], score, flow) end
  else
    local raw = redis.call('HGET', KEYS[3], flow)
    if not raw then return end
    row = cjson.decode(raw)
    row.status, row.completed, row.error = status, nil, nil
    if change == 'close' then row.completed = at end
    if err ~= '' then row.error = err end
  end
  for _, set in pairs(sets) do redis.call('ZREM', set, flow) end
  redis.call('ZADD', sets[status], row.score, flow)
  redis.call('HSET', KEYS[3], flow, cjson.encode(row))
end

local ms, seq = now_ms(), 0
local clock_ms, clock_seq = parse(redis.call('GET', KEYS[2]) or '0-0')
local floor_ms, floor_seq = parse(ARGV[1])
ms, seq = later(ms, seq, clock_ms, clock_seq + 1)
ms, seq = later(ms, seq, floor_ms, floor_seq + 1)
local results, at, wrote = {}, 4, false
for n = 5 + statuses, 3 + statuses + 2 * appends, 2 do
  local expected, aggregate = tonumber(ARGV[at]), ARGV[at + 1]
  local count, indexed = tonumber(ARGV[at + 2]), tonumber(ARGV[at + 3])
  at = at + 4
  local version = event_count(KEYS[n], KEYS[n + 1])
  if version ~= expected then
    results[#results + 1] = {0, version}
    at = at + 4 * count
    for _ = 1, indexed do
      joined, at = joined + tonumber(ARGV[at + 9]), at + 10
    end
  else
    results[#results + 1] = {1, format(ms, seq)}
    local feed_ids = {}
    for i = 1, count do
      -- 'v' comes last: entries written before events carried versions end at 'd'.
      redis.call('XADD', KEYS[1], format(ms, seq), 'a', aggregate, 'n', version + i,
                 't', ARGV[at + 1], 'ts', ARGV[at], 'd', ARGV[at + 3], 'v', ARGV[at + 2])
      feed_ids[i] = {ms, seq}
      seq, at, wrote = seq + 1, at + 4, true
    end
    add_events(KEYS[n], KEYS[n + 1], version, feed_ids)
    for _ = 1, indexed do
      local joins = tonumber(ARGV[at + 9])
      index(ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3], ARGV[at + 4], ARGV[at + 5],
            ARGV[at + 6], ARGV[at + 7], ARGV[at + 8], joins)
      joined, at = joined + joins, at + 10
    end
  end
end
if wrote then redis.call('SET', KEYS[2], format(ms, seq - 1)) end
return results
