-- KEYS: entries, owners, uses; ARGV: the prefix of the steps' key sets, the prefix of the
-- flows' key sets, then flow ids. Drop every entry those flows produced; how many.
local entries, owners, uses = KEYS[1], KEYS[2], KEYS[3]
local dropped = 0
for n = 3, #ARGV do
  local produced = ARGV[2] .. ARGV[n]
  for _, key in ipairs(redis.call('SMEMBERS', produced)) do
    local entry = redis.call('HGET', entries, key)
    if entry and cjson.decode(entry).flow_id == ARGV[n] then
      local owner = redis.call('HGET', owners, key)
      if owner then redis.call('SREM', ARGV[1] .. owner, key) end
      redis.call('HDEL', entries, key)
      redis.call('HDEL', owners, key)
      redis.call('ZREM', uses, key)
      dropped = dropped + 1
    end
  end
  redis.call('DEL', produced)
end
return dropped
