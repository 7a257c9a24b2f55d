-- KEYS: instances, steps; ARGV: the prefix of the slot keys (they share KEYS[2]'s hash tag,
-- so every key touched lives in one slot). Free what instances without a live lease held.
local now, live, freed = now_ms(), {}, 0
local function dead(instance)
  if live[instance] == nil then
    local expires = redis.call('ZSCORE', KEYS[1], instance)
    live[instance] = expires ~= false and tonumber(expires) > now
  end
  return not live[instance]
end
for _, step in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local held = ARGV[1] .. 'held:' .. step
  local queue, waiting = ARGV[1] .. 'queue:' .. step, ARGV[1] .. 'waiting:' .. step
  local holders = redis.call('HGETALL', held)
  for i = 1, #holders, 2 do
    if dead(holders[i + 1]) then
      redis.call('HDEL', held, holders[i])
      freed = freed + 1
    end
  end
  local waiters = redis.call('HGETALL', waiting)
  for i = 1, #waiters, 2 do
    if dead(waiters[i + 1]) then
      redis.call('HDEL', waiting, waiters[i])
      redis.call('ZREM', queue, waiters[i])
      freed = freed + 1
    end
  end
  if redis.call('EXISTS', held) == 0 and redis.call('EXISTS', waiting) == 0 then
    redis.call('SREM', KEYS[2], step)
  end
end
return freed
