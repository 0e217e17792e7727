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
// where act is the delay before a reservation may act; now and newTAT are 0
// for a plain decision (maxWait < 0).
var decideScript = redis.NewScript(`
-- fdiv is exact floor division of integers held in doubles.
local function fdiv(a, b)
  local q = math.floor(a / b)
  if q * b > a then q = q - 1 elseif (q + 1) * b <= a then q = q + 1 end
  return q
end
if redis.replicate_commands then redis.replicate_commands() end
local n = tonumber(ARGV[1])
local wait = tonumber(ARGV[2])
if wait < 0 then wait = 0 end
local now
local pinSlack = 0
if ARGV[3] ~= '' then
  now = tonumber(ARGV[3])
  pinSlack = 3600000 -- a pinned clock does not follow real time: keep keys
else
  local t = redis.call('TIME')
  now = t[1] * 1000000 + t[2]
end
local m = #KEYS
local out = {now, 1, 0}
local act = now
local all = 1
for i = 1, m do
  local T = tonumber(ARGV[2 + 2 * i])
  local tau = tonumber(ARGV[3 + 2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  local x, ok, retry, nt = tat, 1, 0, 0
  if n > 0 then
    nt = tat + n * T
    local at = nt - tau
    if at <= now + wait then
      x = nt
      if at > act then act = at end
    else
      ok, all, retry, nt = 0, 0, at - now, 0
    end
  end
  local free = tau - (x - now)
  local rem = 0
  if free > 0 then rem = fdiv(free, T) end
  local j = 5 * i - 1
  out[j], out[j + 1], out[j + 2], out[j + 3], out[j + 4] = ok, rem, retry, x - now, nt
end
if n > 0 and all == 1 then
  for i = 1, m do
    local j = 5 * i - 1
    redis.call('SET', KEYS[i], string.format('%d', out[j + 4]), 'PX', math.ceil(out[j + 3] / 1000) + pinSlack)
  end
elseif n > 0 then
  -- Denied by some limit: nothing is charged, so report the others as they
  -- stand.
  out[2] = 0
  for i = 1, m do
    local j = 5 * i - 1
    if out[j] == 1 then
      local T = tonumber(ARGV[2 + 2 * i])
      local tau = tonumber(ARGV[3 + 2 * i])
      local base = out[j + 4] - n * T
      local free = tau - (base - now)
      local rem = 0
      if free > 0 then rem = fdiv(free, T) end
      out[j + 1], out[j + 3], out[j + 4] = rem, base - now, 0
    end
  end
end
out[3] = act - now
if tonumber(ARGV[2]) < 0 then
  -- A plain decision needs neither the clock nor the new TATs: zeros
  -- cost the client nothing to decode.
  out[1] = 0
  for i = 1, m do out[5 * i + 3] = 0 end
end
return out
`)

// refundScript gives back a cancelled reservation.
//
// KEYS: the reservation's keys.
// ARGV[1] the time (µs) the reservation acts at; nothing is refunded after it
// ARGV[2] the time in µs to use instead of TIME (tests only), or ""
// ARGV[1+2i], ARGV[2+2i]: the TAT the reservation set and its cost n·T.
var refundScript = redis.NewScript(`
local function fdiv(a, b)
  local q = math.floor(a / b)
  if q * b > a then q = q - 1 elseif (q + 1) * b <= a then q = q + 1 end
  return q
end
if redis.replicate_commands then redis.replicate_commands() end
local now
local pinSlack = 0
if ARGV[2] ~= '' then
  now = tonumber(ARGV[2])
  pinSlack = 3600000
else
  local t = redis.call('TIME')
  now = t[1] * 1000000 + t[2]
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
