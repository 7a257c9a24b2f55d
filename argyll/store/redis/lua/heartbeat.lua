-- KEYS: instances; ARGV: instance, ttl in ms. Scored by expiry on the server's clock.
redis.call('ZADD', KEYS[1], now_ms() + tonumber(ARGV[2]), ARGV[1])
return 1
