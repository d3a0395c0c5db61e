"""The Redis side of the limiter: four Lua scripts, each one atomic round trip.

``ADMIT`` checks every limit of a call and, only if all pass, counts it everywhere: rate
windows (the buckets of :mod:`turnout.limits.window`, in a hash with a running total ``n``
and the oldest live bucket ``o``), slots in flight (a sorted set of tickets scored by lease
end, so a crashed replica's slots expire), and budgets (the period's spend, plus reservations
in a hash with a running ``_sum``, their leases in a sorted set, so a check costs the
expired reservations only, not every call in flight). Time is Redis's own ``TIME`` so replicas with
skewed clocks still share one window (tests may pass a time instead).

ARGV: now (ms, 0 = Redis time), ticket, lease (ms), then one group of four per check:
kind (``r`` requests, ``t`` tokens, ``p`` parallel, ``b`` budget), index of its first key,
limit, amount. A budget uses three keys: spend, reservation amounts, reservation leases.
Reply: ``{1, second, value per check}`` (remaining, or spend as a string for budgets) or
``{0, check, wait ms, current value}`` (a budget's: spend plus reservations, then spend alone,
so a budget held by calls in flight is told from a spent one).
"""

from __future__ import annotations

import hashlib

_COMMON = """
local now = tonumber(ARGV[1])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"""

ADMIT = (
    _COMMON
    + """
local token = ARGV[2]
local lease = tonumber(ARGV[3])
local second = math.floor(now / 1000)
local first = second - 60
local checks = (#ARGV - 3) / 4

local function expire(key)
  local head = redis.call('HMGET', key, 'n', 'o')
  local total = tonumber(head[1]) or 0
  local oldest = tonumber(head[2])
  if oldest == nil then return 0, nil end
  if oldest >= first then return total, oldest end
  if first - oldest > 60 or total <= 0 then
    redis.call('DEL', key)
    return 0, nil
  end
  local fields = {}
  for i = oldest, first - 1 do fields[#fields + 1] = tostring(i) end
  local counts = redis.call('HMGET', key, unpack(fields))
  for _, c in ipairs(counts) do total = total - (tonumber(c) or 0) end
  redis.call('HDEL', key, unpack(fields))
  redis.call('HSET', key, 'n', total, 'o', first)
  return total, first
end

local function wait_ms(key, total, oldest, amount, limit)
  local fields = {}
  for i = oldest, second do fields[#fields + 1] = tostring(i) end
  local counts = redis.call('HMGET', key, unpack(fields))
  local left = total
  for idx, c in ipairs(counts) do
    left = left - (tonumber(c) or 0)
    if left <= 0 or left + amount <= limit then
      return math.max(1, (oldest + idx - 1 + 61) * 1000 - now)
    end
  end
  return math.max(1, (second + 61) * 1000 - now)
end

local function held(hkey, zkey)
  local gone = redis.call('ZRANGEBYSCORE', zkey, '-inf', now)
  if #gone > 0 then
    local drop = 0
    for i = 1, #gone, 1000 do
      local part = {unpack(gone, i, math.min(i + 999, #gone))}
      for _, v in ipairs(redis.call('HMGET', hkey, unpack(part))) do
        drop = drop + (tonumber(v) or 0)
      end
      redis.call('HDEL', hkey, unpack(part))
    end
    redis.call('ZREMRANGEBYSCORE', zkey, '-inf', now)
    if redis.call('HLEN', hkey) <= 1 then
      redis.call('DEL', hkey)
    else
      redis.call('HINCRBYFLOAT', hkey, '_sum', -drop)
    end
  end
  return math.max(0, tonumber(redis.call('HGET', hkey, '_sum')) or 0)
end

local value, oldest = {}, {}
for j = 1, checks do
  local b = 3 + (j - 1) * 4
  local kind, ki = ARGV[b + 1], tonumber(ARGV[b + 2])
  local limit, amount = tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4])
  local key = KEYS[ki]
  if kind == 'r' or kind == 't' then
    local total, o = expire(key)
    if total > 0 and total + amount > limit then
      return {0, j, wait_ms(key, total, o, amount, limit), tostring(total)}
    end
    value[j], oldest[j] = total, o
  elseif kind == 'p' then
    local busy = redis.call('ZCARD', key)
    if busy >= limit then  -- only then can expired leases (crashed replicas) matter
      redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
      busy = redis.call('ZCARD', key)
      if busy >= limit then return {0, j, 1000, tostring(busy)} end
    end
    value[j] = busy
  else
    local spent = tonumber(redis.call('GET', key) or '0')
    local used = spent + held(KEYS[ki + 1], KEYS[ki + 2])
    if used >= limit then return {0, j, 0, tostring(used), tostring(spent)} end
    value[j] = spent
  end
end

local out = {1, second}
for j = 1, checks do
  local b = 3 + (j - 1) * 4
  local kind, ki = ARGV[b + 1], tonumber(ARGV[b + 2])
  local limit, amount = tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4])
  local key = KEYS[ki]
  if kind == 'r' or kind == 't' then
    if amount ~= 0 then
      local bucket = redis.call('HINCRBY', key, tostring(second), amount)
      redis.call('HINCRBY', key, 'n', amount)
      if oldest[j] == nil then redis.call('HSET', key, 'o', first) end
      if bucket == amount then redis.call('PEXPIRE', key, 62000) end  -- a new second
    end
    out[#out + 1] = limit - value[j] - amount
  elseif kind == 'p' then
    redis.call('ZADD', key, now + lease, token)
    redis.call('PEXPIRE', key, lease + 1000)
    out[#out + 1] = limit - value[j] - 1
  else
    if amount > 0 then
      redis.call('HSET', KEYS[ki + 1], token, ARGV[b + 4])
      redis.call('HINCRBYFLOAT', KEYS[ki + 1], '_sum', ARGV[b + 4])
      redis.call('ZADD', KEYS[ki + 2], now + lease, token)
      redis.call('PEXPIRE', KEYS[ki + 1], lease + 1000)
      redis.call('PEXPIRE', KEYS[ki + 2], lease + 1000)
    end
    out[#out + 1] = tostring(value[j])
  end
end
return out
"""
)

# ARGV: ticket, then groups of four: kind, key index, a, b.
#   t: correct a token window by a (delta) in bucket b, if that bucket still counts
#   p: free the ticket's slot
#   b: add a USD to the spend (which expires at b ms), drop the ticket's reservation
SETTLE = """
local token = ARGV[1]
local groups = (#ARGV - 1) / 4
for j = 1, groups do
  local b = 1 + (j - 1) * 4
  local kind, ki = ARGV[b + 1], tonumber(ARGV[b + 2])
  local key = KEYS[ki]
  if kind == 't' then
    local delta, bucket = tonumber(ARGV[b + 3]), ARGV[b + 4]
    local o = tonumber(redis.call('HGET', key, 'o'))
    if delta ~= 0 and o ~= nil and tonumber(bucket) >= o
        and redis.call('HEXISTS', key, bucket) == 1 then
      redis.call('HINCRBY', key, bucket, delta)
      redis.call('HINCRBY', key, 'n', delta)
    end
  elseif kind == 'p' then
    redis.call('ZREM', key, token)
  else
    if tonumber(ARGV[b + 3]) > 0 then
      redis.call('INCRBYFLOAT', key, ARGV[b + 3])
      redis.call('PEXPIREAT', key, ARGV[b + 4])
    end
    local amount = redis.call('HGET', KEYS[ki + 1], token)
    if amount then
      if redis.call('HLEN', KEYS[ki + 1]) <= 2 then
        redis.call('DEL', KEYS[ki + 1])
      else
        redis.call('HDEL', KEYS[ki + 1], token)
        redis.call('HINCRBYFLOAT', KEYS[ki + 1], '_sum', '-' .. amount)
      end
    end
    redis.call('ZREM', KEYS[ki + 2], token)
  end
end
return 1
"""

# Renew the leases of calls still running (every key of one hash tag). ARGV: now (ms, 0 =
# Redis time), lease (ms), then pairs: index of a lease sorted set (slots in flight, budget
# reservations), ticket. Only a ticket still there is renewed (XX): a slot freed by its call's
# end, whose release may overtake this renewal, is not brought back. Every key named (the
# reservation hashes too) lives another lease.
RENEW = (
    _COMMON
    + """
local lease = tonumber(ARGV[2])
for i = 3, #ARGV, 2 do
  redis.call('ZADD', KEYS[tonumber(ARGV[i])], 'XX', now + lease, ARGV[i + 1])
end
for i = 1, #KEYS do redis.call('PEXPIRE', KEYS[i], lease + 1000) end
return 1
"""
)

# KEYS[1] spend; ARGV: USD from the request log, expiry (ms). Never lowers a live counter.
SEED = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1])
end
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 1
"""


def sha(source: str) -> str:
    return hashlib.sha1(source.encode()).hexdigest()
