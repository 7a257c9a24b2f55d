local function parse(id)
  local dash = string.find(id, '-', 1, true)
  return tonumber(string.sub(id, 1, dash - 1)), tonumber(string.sub(id, dash + 1))
end
local function format(ms, seq)
  return string.format('%.0f-%.0f', ms, seq)
end
local function later(ms, seq, other_ms, other_seq)
  if other_ms > ms or (other_ms == ms and other_seq > seq) then return other_ms, other_seq end
  return ms, seq
end
local function now_ms()
  local now = redis.call('TIME')
  return tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
end
-- Raise the shard's clock to at least `fence`; every later entry of the shard lands above it.
local function mark(clock, fence)
  local ms, seq = parse(redis.call('GET', clock) or '0-0')
  local fence_ms, fence_seq = parse(fence)
  if fence_ms > ms or (fence_ms == ms and fence_seq > seq) then
    redis.call('SET', clock, fence)
    return fence
  end
  return format(ms, seq)
end
