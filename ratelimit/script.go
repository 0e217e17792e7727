package ratelimit

import "github.com/redis/go-redis/v9"

// The Redis side of GCRA, the same integer arithmetic as params.decide in
// microseconds. Lua numbers are doubles, exact for integers below 2^53;
// every value here stays below 2^52 (Unix time in µs is about 2^50.7 and
// limits are clamped so that tau + n·T ≤ 2^51).
//
// KEYS: one key per limit, all with the same {hash tag}.
// ARGV[1] cost n (0 = peek)
// ARGV[2] maxWait in µs for a reservation, or -1 for a plain decision
// ARGV[3] the time in µs to use instead of TIME (tests only), or ""
// ARGV[2+2i], ARGV[3+2i]: T and tau of limit i, in µs
//
// Reply: {now, all, act, (allowed, remaining, retry, reset, newTAT) per limit}
// where act is the delay before a reservation may act.
var decideScript = redis.NewScript(`
local function fdiv(a, b)
  local q = math.floor(a / b)
  if q * b > a then q = q - 1 elseif (q + 1) * b <= a then q = q + 1 end
  return q
end
local n = tonumber(ARGV[1])
local maxWait = tonumber(ARGV[2])
local now
local pinSlack = 0
if ARGV[3] ~= '' then
  now = tonumber(ARGV[3])
  pinSlack = 3600000 -- a pinned clock does not follow real time: keep keys
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local slack = 0
if maxWait > 0 then slack = maxWait end
local m = #KEYS
local out = {now, 1, 0}
local base, newt, T, tau = {}, {}, {}, {}
local all = true
local act = now
for i = 1, m do
  T[i] = tonumber(ARGV[2 + 2 * i])
  tau[i] = tonumber(ARGV[3 + 2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  local b = math.max(tat, now)
  base[i] = b
  local function avail(x)
    local free = tau[i] - (x - now)
    if free <= 0 then return 0 end
    return fdiv(free, T[i])
  end
  local j = 4 + 5 * (i - 1)
  if n == 0 then
    out[j], out[j + 1], out[j + 2], out[j + 3], out[j + 4] = 1, avail(b), 0, b - now, 0
  else
    local nt = b + n * T[i]
    local at = nt - tau[i]
    if at <= now + slack then
      newt[i] = nt
      if at > act then act = at end
      out[j], out[j + 1], out[j + 2], out[j + 3], out[j + 4] = 1, avail(nt), 0, nt - now, nt
    else
      all = false
      out[j], out[j + 1], out[j + 2], out[j + 3], out[j + 4] = 0, avail(b), at - now, b - now, 0
    end
  end
end
if n > 0 and all then
  for i = 1, m do
    redis.call('SET', KEYS[i], string.format('%d', newt[i]), 'PX', fdiv(newt[i] - now + 999, 1000) + pinSlack)
  end
elseif n > 0 then
  out[2] = 0
  for i = 1, m do
    local j = 4 + 5 * (i - 1)
    if out[j] == 1 then
      local free = tau[i] - (base[i] - now)
      local r = 0
      if free > 0 then r = fdiv(free, T[i]) end
      out[j + 1], out[j + 2], out[j + 3], out[j + 4] = r, 0, base[i] - now, 0
    end
  end
end
out[3] = act - now
return out
`)

// refundScript gives back a cancelled reservation.
//
// KEYS: the reservation's keys.
// ARGV[1] the time (µs) the reservation acts at; nothing is refunded after it
// ARGV[2] the time in µs to use instead of TIME (tests only), or ""
// ARGV[1+2i], ARGV[2+2i]: the TAT the reservation set and its cost n·T
var refundScript = redis.NewScript(`
local function fdiv(a, b)
  local q = math.floor(a / b)
  if q * b > a then q = q - 1 elseif (q + 1) * b <= a then q = q + 1 end
  return q
end
local now
local pinSlack = 0
if ARGV[2] ~= '' then
  now = tonumber(ARGV[2])
  pinSlack = 3600000
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
if now > tonumber(ARGV[1]) then return 0 end
for i = 1, #KEYS do
  local cur = tonumber(redis.call('GET', KEYS[i]) or '')
  if cur then
    local booked = tonumber(ARGV[1 + 2 * i])
    local cost = tonumber(ARGV[2 + 2 * i])
    local r = cost - (cur - booked)
    if r > cost then r = cost end
    if r > 0 then
      local nt = cur - r
      if nt <= now then
        redis.call('DEL', KEYS[i])
      else
        redis.call('SET', KEYS[i], string.format('%d', nt), 'PX', fdiv(nt - now + 999, 1000) + pinSlack)
      end
    end
  end
end
return 1
`)
