-- Settles what a request cost: frees what it reserved in its account and adds the cost to
-- what the account spent. A reservation already gone (expired) leaves the cost to add.
--
-- KEYS: the account and its reservations (admit.lua says how they are kept).
-- ARGV: the request's lease name, its cost in micro-USD.

local account, reservations = KEYS[1], KEYS[2]
local lease, cost = ARGV[1], tonumber(ARGV[2])
local held = redis.call('HGET', account, 'r:' .. lease)
if held then
  redis.call('HINCRBY', account, 'res', -tonumber(held))
  redis.call('HDEL', account, 'r:' .. lease)
  redis.call('ZREM', reservations, lease)
end
if cost ~= 0 then redis.call('HINCRBY', account, 'spent', cost) end
return 1
