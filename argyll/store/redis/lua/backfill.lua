-- KEYS: flows (the shard's rows), then the label, goal and parent sets of each row, in the
--       order of the rows
-- ARGV: the number of rows, then per row: flow id, labels and goals (the JSON texts the row
--       keeps), parent ('' for none), how many sets the row joins
-- A row written before the query sets existed has no `goals`: it gets its labels, goals
-- and parent and joins their sets at its own score. A row that has `goals` is already in
-- them and is left alone, and a row removed meanwhile (retention) is not made again, so
-- running this twice, or in two processes at once, changes nothing more.
local rows, at, key = tonumber(ARGV[1]), 2, 2
local filled = 0
for _ = 1, rows do
  local flow, labels, goals, parent = ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3]
  local joins = tonumber(ARGV[at + 4])
  local raw = redis.call('HGET', KEYS[1], flow)
  if raw then
    local row = cjson.decode(raw)
    if row.goals == nil then
      row.labels, row.goals = labels, goals
      if parent ~= '' then row.parent = parent end
      for n = key, key + joins - 1 do redis.call('ZADD', KEYS[n], row.score, flow) end
      redis.call('HSET', KEYS[1], flow, cjson.encode(row))
      filled = filled + 1
    end
  end
  at, key = at + 5, key + joins
end
return filled
