-- An aggregate's events are entries of its shard's feed; which ones, in seq order, is kept
-- in one of two layouts, told apart by which key exists. Now: a string `ids:<aggregate>`
-- of 16 bytes per event, its feed id's ms and seq big-endian (struct '>I8I8'), so the
-- aggregate's version is the string's length / 16 and the key costs 16 bytes an event.
-- Before (argyll up to 2026-12): a stream `stream:<aggregate>` whose entry 0-<seq> holds
-- the feed id in field `p`, some 700 bytes an event; an aggregate that has one keeps it
-- (reads and appends use it), so history written before reads on. Each function takes
-- (ids key, stream key).
local ID_BYTES = 16
-- APPEND allocates ahead (it doubles a growing string); setting the whole string keeps a
-- short list at its size. Past this many bytes, appending costs less than copying.
local EXACT_BELOW = 1024
local function legacy(stream)
  return redis.call('EXISTS', stream) == 1
end
local function event_count(ids, stream)
  if legacy(stream) then return redis.call('XLEN', stream) end
  return redis.call('STRLEN', ids) / ID_BYTES
end
-- Record feed ids (a list of {ms, seq}) as the aggregate's next events, after `version`.
local function add_events(ids, stream, version, feed_ids)
  if legacy(stream) then
    for i, id in ipairs(feed_ids) do
      redis.call('XADD', stream, '0-' .. (version + i), 'p', format(id[1], id[2]))
    end
    return
  end
  local packed = {}
  for i, id in ipairs(feed_ids) do packed[i] = struct.pack('>I8I8', id[1], id[2]) end
  if version * ID_BYTES < EXACT_BELOW then
    redis.call('SET', ids, (redis.call('GET', ids) or '') .. table.concat(packed))
  else
    redis.call('APPEND', ids, table.concat(packed))
  end
end
-- The feed ids (text) of the aggregate's events with seq > after.
local function event_ids(ids, stream, after)
  local found = {}
  if legacy(stream) then
    for i, entry in ipairs(redis.call('XRANGE', stream, '(0-' .. after, '+')) do
      found[i] = entry[2][2]
    end
    return found
  end
  local packed = redis.call('GETRANGE', ids, after * ID_BYTES, -1)
  for at = 1, #packed - ID_BYTES + 1, ID_BYTES do
    local ms, seq = struct.unpack('>I8I8', string.sub(packed, at, at + ID_BYTES - 1))
    found[#found + 1] = format(ms, seq)
  end
  return found
end
