-- Checks and takes everything one request needs, all or nothing, on Redis server time.
--
-- KEYS: four per scope: its rpm, rpd and tpm windows (hashes of bucket -> amount) and its
--       leases (a sorted set of lease -> expiry in ms).
-- ARGV: tokens to reserve, the lease's name, the lease's time to live (ms), then four limits
--       per scope: rpm, rpd, concurrency, tpm (0: no such limit).
-- Returns {1, rpm bucket, rpd bucket, tpm bucket, then per scope: requests used, ms until the
-- oldest leaves, tokens used, ms until the oldest leaves (-1 where the scope has no such
-- limit)}, or {0, scope (1-based), kind (1 rpm, 2 rpd, 3 concurrency, 4 tpm), limit, wait ms}.
--
-- A window is SLOTS buckets; a check counts the current one and the SLOTS before it, so all
-- that was taken within the window is counted (src/limits/window.rs is the same, in process).

local SLOTS = 60
local MINUTE = 1000
local DAY = 1440000

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tokens = tonumber(ARGV[1])
local lease = ARGV[2]
local ttl = tonumber(ARGV[3])
local n = #KEYS / 4

-- The window's counted buckets, oldest first, and their sum; buckets out of it are removed.
local function live(key, width)
  local nowb = math.floor(now / width)
  local raw = redis.call('HGETALL', key)
  local out, sum = {}, 0
  for i = 1, #raw, 2 do
    local b, v = tonumber(raw[i]), tonumber(raw[i + 1])
    if b + SLOTS < nowb then
      redis.call('HDEL', key, raw[i])
    elseif b <= nowb and v > 0 then
      out[#out + 1] = {b, v}
      sum = sum + v
    end
  end
  table.sort(out, function(x, y) return x[1] < y[1] end)
  return out, sum
end

local function leaves(b, width)
  return (b + SLOTS + 1) * width - now
end

-- Milliseconds until `need` more fits under `limit`.
local function wait(buckets, sum, need, limit, width)
  for _, bv in ipairs(buckets) do
    sum = sum - bv[2]
    if sum + need <= limit then return leaves(bv[1], width) end
  end
  local last = buckets[#buckets]
  if last then return leaves(last[1], width) end
  return 1
end

local function oldest(buckets, width)
  if #buckets == 0 then return 0 end
  return leaves(buckets[1][1], width)
end

local seen = {}
for i = 1, n do
  local k, a = (i - 1) * 4, 3 + (i - 1) * 4
  local rpm, rpd = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local conc, tpm = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  local s = {-1, -1, -1, -1}
  if rpm > 0 then
    local b, used = live(KEYS[k + 1], MINUTE)
    if used + 1 > rpm then return {0, i, 1, rpm, wait(b, used, 1, rpm, MINUTE)} end
    s[1], s[2] = used + 1, oldest(b, MINUTE)
    if s[2] == 0 then s[2] = leaves(math.floor(now / MINUTE), MINUTE) end
  end
  if rpd > 0 then
    local b, used = live(KEYS[k + 2], DAY)
    if used + 1 > rpd then return {0, i, 2, rpd, wait(b, used, 1, rpd, DAY)} end
  end
  if conc > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[k + 4], '-inf', now)
    if redis.call('ZCARD', KEYS[k + 4]) >= conc then return {0, i, 3, conc, 1000} end
  end
  if tpm > 0 then
    local b, used = live(KEYS[k + 3], MINUTE)
    -- A request larger than the whole limit runs alone, in an empty window.
    local need = math.min(tokens, tpm)
    if used > 0 and used + need > tpm then
      return {0, i, 4, tpm, wait(b, used, need, tpm, MINUTE)}
    end
    s[3], s[4] = used + tokens, oldest(b, MINUTE)
    if s[4] == 0 then s[4] = leaves(math.floor(now / MINUTE), MINUTE) end
  end
  seen[i] = s
end

local mb, db = math.floor(now / MINUTE), math.floor(now / DAY)
local out = {1, mb, db, mb}
for i = 1, n do
  local k, a = (i - 1) * 4, 3 + (i - 1) * 4
  if tonumber(ARGV[a + 1]) > 0 then
    redis.call('HINCRBY', KEYS[k + 1], mb, 1)
    redis.call('PEXPIRE', KEYS[k + 1], (SLOTS + 2) * MINUTE)
  end
  if tonumber(ARGV[a + 2]) > 0 then
    redis.call('HINCRBY', KEYS[k + 2], db, 1)
    redis.call('PEXPIRE', KEYS[k + 2], (SLOTS + 2) * DAY)
  end
  if tonumber(ARGV[a + 3]) > 0 then
    redis.call('ZADD', KEYS[k + 4], now + ttl, lease)
    redis.call('PEXPIRE', KEYS[k + 4], ttl * 2)
  end
  if tonumber(ARGV[a + 4]) > 0 then
    redis.call('HINCRBY', KEYS[k + 3], mb, tokens)
    redis.call('PEXPIRE', KEYS[k + 3], (SLOTS + 2) * MINUTE)
  end
  for _, v in ipairs(seen[i]) do out[#out + 1] = v end
end
return out
