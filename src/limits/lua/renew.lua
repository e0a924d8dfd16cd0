-- Extends the leases of requests still running on this replica, so that only a replica that
-- stopped renewing (crashed) has its leases expire.
--
-- KEYS: lease sets (a scope's `:conc`, an account's `:res`).
-- ARGV: the time to live (ms), then one lease name per key.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], 'XX', now + ttl, ARGV[i + 1])
  -- A lease set may vanish with its replicas; an account's reservations may not: the account
  -- hash still counts them until admit.lua sweeps the expired ones.
  if string.sub(KEYS[i], -5) == ':conc' then redis.call('PEXPIRE', KEYS[i], ttl * 2) end
end
return 1
