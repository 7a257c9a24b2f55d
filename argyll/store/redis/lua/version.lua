-- KEYS: ids, stream (see events.lua). The aggregate's version: how many events it has.
return event_count(KEYS[1], KEYS[2])
