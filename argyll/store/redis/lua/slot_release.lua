-- KEYS: held, queue, waiting; ARGV: item. Free the item's slot or its place in the queue.
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
