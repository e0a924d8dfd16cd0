-- Checks and takes everything one request needs, all or nothing, on Redis server time.
--
-- KEYS: four per scope: its rpm, rpd and tpm windows and its leases (a sorted set of
--       lease -> expiry in ms); then, when the request is charged to an account, the account
--       (a hash: credit, spent, res, and r:<lease> -> micro-USD each running request holds)
--       and its reservations (a sorted set of lease -> expiry in ms).
-- ARGV: tokens to reserve, the lease's name, the lease's time to live (ms), the account's
--       budget in micro-USD ('' when not charged), the micro-USD to reserve, then four limits
--       per scope: rpm, rpd, concurrency, tpm (0: no such limit).
-- Returns {1, rpm bucket, rpd bucket, tpm bucket, then per scope: requests used, ms until the
-- oldest leaves, tokens used, ms until the oldest leaves (-1 where the scope has no such
-- limit)}, or {0, scope (1-based), kind (1 rpm, 2 rpd, 3 concurrency, 4 tpm), limit, wait ms},
-- or {0, 0, 5, micro-USD available} when the account cannot cover the reserve.
--
-- A window is SLOTS buckets; a check counts the current one and the SLOTS before it, so all
-- that was taken within the window is counted (src/limits/window.rs is the same, in process).
-- A window is a hash: bucket -> amount, plus `s`, the sum of the buckets still in it, and `l`,
-- the oldest of them that holds something. Keeping both makes a check cost the buckets that
-- left the window since the last one, not the whole window.

local SLOTS = 60
local MINUTE = 1000
local DAY = 1440000

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tokens = tonumber(ARGV[1])
local lease = ARGV[2]
local ttl = tonumber(ARGV[3])
local charged = ARGV[4] ~= ''
local n = charged and (#KEYS - 2) / 4 or #KEYS / 4
local account, reservations = KEYS[#KEYS - 1], KEYS[#KEYS]

-- What a replica that stopped renewing (crashed) left reserved is freed first.
if charged then
  local gone = redis.call('ZRANGEBYSCORE', reservations, '-inf', now)
  for _, l in ipairs(gone) do
    local held = tonumber(redis.call('HGET', account, 'r:' .. l) or '0')
    redis.call('HINCRBY', account, 'res', -held)
    redis.call('HDEL', account, 'r:' .. l)
    redis.call('ZREM', reservations, l)
  end
  local a = redis.call('HMGET', account, 'credit', 'spent', 'res')
  local available = tonumber(ARGV[4]) + (tonumber(a[1]) or 0) - (tonumber(a[2]) or 0)
    - (tonumber(a[3]) or 0)
  local reserve = tonumber(ARGV[5])
  if available <= 0 or available < reserve then return {0, 0, 5, available} end
end

local function amount(key, b)
  return tonumber(redis.call('HGET', key, b) or '0')
end

-- Brings a window up to now; returns what it holds and its oldest bucket holding something.
local function window(key, width)
  local nowb = math.floor(now / width)
  local d = redis.call('HMGET', key, 's', 'l')
  local sum, low = tonumber(d[1]) or 0, tonumber(d[2])
  if sum <= 0 or not low then return 0, nowb end
  if low < nowb - 2 * SLOTS then
    redis.call('DEL', key)
    return 0, nowb
  end
  local moved = false
  while low < nowb - SLOTS do
    sum = sum - amount(key, low)
    redis.call('HDEL', key, low)
    low, moved = low + 1, true
  end
  -- Buckets settled or refunded down to nothing go too, or a busy key's hash would grow.
  while sum > 0 and low < nowb and amount(key, low) <= 0 do
    redis.call('HDEL', key, low)
    low, moved = low + 1, true
  end
  if sum <= 0 then sum, low = 0, nowb end
  if moved then redis.call('HSET', key, 's', sum, 'l', low) end
  return sum, low
end

local function leaves(b, width)
  return (b + SLOTS + 1) * width - now
end

-- Milliseconds until `need` more fits under `limit` (only when it does not fit now).
local function wait(key, width, low, sum, need, limit)
  local nowb = math.floor(now / width)
  for b = low, nowb do
    local v = amount(key, b)
    if v > 0 then
      sum = sum - v
      if sum + need <= limit then return leaves(b, width) end
    end
  end
  return leaves(nowb, width)
end

local function add(key, width, sum, value, keep)
  local nowb = math.floor(now / width)
  if sum <= 0 then redis.call('HSET', key, 'l', nowb) end
  redis.call('HINCRBY', key, nowb, value)
  redis.call('HINCRBY', key, 's', value)
  redis.call('PEXPIRE', key, keep)
end

local seen = {}
for i = 1, n do
  local k, a = (i - 1) * 4, 5 + (i - 1) * 4
  local rpm, rpd = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local conc, tpm = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  local s = {-1, -1, -1, -1, 0, 0, 0}
  if rpm > 0 then
    local used, low = window(KEYS[k + 1], MINUTE)
    if used + 1 > rpm then return {0, i, 1, rpm, wait(KEYS[k + 1], MINUTE, low, used, 1, rpm)} end
    s[1], s[2], s[5] = used + 1, leaves(low, MINUTE), used
  end
  if rpd > 0 then
    local used, low = window(KEYS[k + 2], DAY)
    if used + 1 > rpd then return {0, i, 2, rpd, wait(KEYS[k + 2], DAY, low, used, 1, rpd)} end
    s[6] = used
  end
  if conc > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[k + 4], '-inf', now)
    if redis.call('ZCARD', KEYS[k + 4]) >= conc then return {0, i, 3, conc, 1000} end
  end
  if tpm > 0 then
    local used, low = window(KEYS[k + 3], MINUTE)
    -- A request larger than the whole limit runs alone, in an empty window.
    local need = math.min(tokens, tpm)
    if used > 0 and used + need > tpm then
      return {0, i, 4, tpm, wait(KEYS[k + 3], MINUTE, low, used, need, tpm)}
    end
    s[3], s[4], s[7] = used + tokens, leaves(low, MINUTE), used
  end
  seen[i] = s
end

local mb, db = math.floor(now / MINUTE), math.floor(now / DAY)
local out = {1, mb, db, mb}
for i = 1, n do
  local k, a = (i - 1) * 4, 5 + (i - 1) * 4
  local s = seen[i]
  if tonumber(ARGV[a + 1]) > 0 then add(KEYS[k + 1], MINUTE, s[5], 1, (SLOTS + 2) * MINUTE) end
  if tonumber(ARGV[a + 2]) > 0 then add(KEYS[k + 2], DAY, s[6], 1, (SLOTS + 2) * DAY) end
  if tonumber(ARGV[a + 3]) > 0 then
    redis.call('ZADD', KEYS[k + 4], now + ttl, lease)
    redis.call('PEXPIRE', KEYS[k + 4], ttl * 2)
  end
  if tonumber(ARGV[a + 4]) > 0 then add(KEYS[k + 3], MINUTE, s[7], tokens, (SLOTS + 2) * MINUTE) end
  for j = 1, 4 do out[#out + 1] = s[j] end
end
if charged then
  local reserve = tonumber(ARGV[5])
  redis.call('HINCRBY', account, 'res', reserve)
  redis.call('HSET', account, 'r:' .. lease, reserve)
  redis.call('ZADD', reservations, now + ttl, lease)
end
return out
