-- KEYS: a lease; ARGV: holder, milliseconds (0: give it up). Takes the lease if it is free,
-- renews it if the holder has it; gives it up only if the holder has it. 1 if the holder
-- has it now (or gave it up), 0 if someone else does.
local holder, ms = ARGV[1], tonumber(ARGV[2])
local current = redis.call('GET', KEYS[1])
if current and current ~= holder then return 0 end
if ms == 0 then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], holder, 'PX', ms)
end
return 1
