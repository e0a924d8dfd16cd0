-- Ends a request's leases and corrects what it took: a token reservation settled to the real
-- usage, or a request given back.
--
-- KEYS: four per scope, as admit.lua has them.
-- ARGV: the lease's name ('' when the leases have ended already), then per scope: rpm bucket
--       and change, rpd bucket and change, tpm bucket and change (change 0: nothing).
-- A bucket that has left its window (its field is gone) is left alone; the window's sum `s`
-- follows every change (admit.lua says how a window is kept).

local lease = ARGV[1]
local function adjust(key, field, delta)
  if delta == 0 or redis.call('HEXISTS', key, field) == 0 then return end
  local v = redis.call('HINCRBY', key, field, delta)
  if v < 0 then
    redis.call('HSET', key, field, 0)
    delta = delta - v
  end
  if redis.call('HINCRBY', key, 's', delta) < 0 then redis.call('HSET', key, 's', 0) end
end

for i = 1, #KEYS / 4 do
  local k, a = (i - 1) * 4, 1 + (i - 1) * 6
  if lease ~= '' then redis.call('ZREM', KEYS[k + 4], lease) end
  adjust(KEYS[k + 1], ARGV[a + 1], tonumber(ARGV[a + 2]))
  adjust(KEYS[k + 2], ARGV[a + 3], tonumber(ARGV[a + 4]))
  adjust(KEYS[k + 3], ARGV[a + 5], tonumber(ARGV[a + 6]))
end
return 1
