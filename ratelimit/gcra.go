package ratelimit

import (
	"math"
	"time"

	"golang.org/x/time/rate"
)

// GCRA in integer ticks (nanoseconds in memory, microseconds in Redis).
//
// A bucket's whole state is its theoretical arrival time TAT. With emission
// interval T (ticks per token) and tolerance tau = Burst·T, a request of
// cost n at time now is admitted iff max(TAT, now) + n·T − tau ≤ now, and
// then TAT becomes max(TAT, now) + n·T. A TAT at or before now is a full
// bucket, the same as no state at all.

// params are a limit converted to ticks.
type params struct {
	t     int64 // emission interval: ticks per token, ≥ 1
	tau   int64 // burst · t
	burst int64
	inf   bool
}

const (
	// spanNanos bounds every tick value the memory backend computes: with
	// T ≤ spanNanos/(2·burst), sums of a TAT, tau and a cost stay well
	// inside int64.
	spanNanos int64 = 1 << 61
	// spanMicros is the same bound for the Redis script, whose Lua numbers
	// are doubles exact up to 2^53; Unix time in µs is about 2^50.7.
	spanMicros int64 = 1 << 51
)

// newParams converts l to ticks of the given length (time.Nanosecond or
// time.Microsecond). T is rounded up, so rounding can only make the limit
// stricter, except that a value within float error of an integer is taken
// as that integer (rate.Every(3*time.Second) is 3e9 ns, not 3e9+1).
func newParams(l Limit, tick time.Duration, span int64) (params, error) {
	if l.Rate == rate.Inf {
		if l.Burst < 0 || l.Burst > maxBurst {
			return params{}, l.validate()
		}
		return params{inf: true, burst: int64(l.Burst)}, nil
	}
	if err := l.validate(); err != nil {
		return params{}, err
	}
	b := int64(l.Burst)
	maxT := span / (2 * b)
	x := float64(time.Second/tick) / float64(l.Rate)
	var t int64
	switch {
	case x >= float64(maxT):
		t = maxT
	default:
		r := math.Round(x)
		if math.Abs(x-r) <= x*1e-12 {
			t = int64(r)
		} else {
			t = int64(math.Ceil(x))
		}
	}
	if t < 1 {
		t = 1
	}
	return params{t: t, tau: b * t, burst: b}, nil
}

// outcome is one limit's decision.
type outcome struct {
	allowed   bool
	newTAT    int64 // state to store when allowed (and n > 0)
	remaining int64
	retry     int64 // ticks until the request can succeed; 0 if allowed
	reset     int64 // ticks until full
	allowAt   int64 // earliest time the request can be admitted
}

// decide applies GCRA to state tat at time now for cost n (0 ≤ n ≤ burst).
// maxWait ≥ 0 turns it into a reservation: a request that can be admitted
// within maxWait ticks is booked (allowed, with allowAt in the future).
func (p params) decide(tat, now, n, maxWait int64) outcome {
	if p.inf {
		return outcome{allowed: true, newTAT: tat, remaining: p.burst, allowAt: now}
	}
	base := max(tat, now)
	if n == 0 {
		return outcome{allowed: true, newTAT: tat, remaining: p.avail(base, now), reset: base - now, allowAt: now}
	}
	newTAT := base + n*p.t
	allowAt := newTAT - p.tau
	if allowAt <= now+max(maxWait, 0) {
		return outcome{
			allowed:   true,
			newTAT:    newTAT,
			remaining: p.avail(newTAT, now),
			reset:     newTAT - now,
			allowAt:   allowAt,
		}
	}
	return outcome{
		remaining: p.avail(base, now),
		retry:     allowAt - now,
		reset:     base - now,
		allowAt:   allowAt,
	}
}

// uncharged is the outcome of a limit that would have admitted the request
// but is not charged because another limit of the key denied it.
func (p params) uncharged(tat, now int64) outcome {
	if p.inf {
		return outcome{allowed: true, remaining: p.burst, allowAt: now}
	}
	base := max(tat, now)
	return outcome{allowed: true, remaining: p.avail(base, now), reset: base - now, allowAt: now}
}

// avail is the number of tokens in a bucket whose TAT is tat, at now.
func (p params) avail(tat, now int64) int64 {
	free := p.tau - (tat - now)
	if free <= 0 {
		return 0
	}
	return free / p.t
}

// refund is how far back a TAT moves when a reservation that set it to
// booked (for cost·t ticks) is cancelled while the bucket's TAT is cur.
// Reservations made after it keep their times, so only the part of the
// booking not overtaken by them comes back: as if the reservation had been
// smaller, which can never admit more than the limit.
func refund(cur, booked, cost int64) int64 {
	r := cost - (cur - booked)
	return min(max(r, 0), cost)
}

// tickDur converts ticks to a Duration, saturating.
func tickDur(ticks int64, tick time.Duration) time.Duration {
	if ticks <= 0 {
		return 0
	}
	if tick == time.Nanosecond {
		return time.Duration(ticks)
	}
	if ticks > math.MaxInt64/int64(tick) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(ticks) * tick
}

// fold combines the outcomes of a key's limits into one Decision: allowed
// only if every limit allows; Remaining is the least of them (so it stays
// exact); Limit, RetryAfter and ResetAfter are those of the binding limit:
// among limits that deny, the one with the longest RetryAfter; otherwise the
// one with the fewest tokens left, and of those the one whose next token is
// furthest away.
type fold struct {
	d      Decision
	n      int
	inf    bool          // every limit so far is rate.Inf (which never binds)
	denied bool          // the binding limit denies
	rem    int           // the binding limit's remaining
	next   time.Duration // the binding limit's time until its next token
}

func (f *fold) add(l Limit, p params, o outcome, tick time.Duration) {
	if p.inf && f.n > 0 {
		f.n++ // allows everything and says nothing about what is left
		return
	}
	if f.inf && !p.inf {
		f.n = 0 // the first real limit replaces the unlimited ones
	}
	f.inf = p.inf
	rem := int(min(o.remaining, maxBurst))
	retry := tickDur(o.retry, tick)
	reset := tickDur(o.reset, tick)
	replace := f.n == 0
	var next time.Duration
	if !p.inf && (replace || rem <= f.rem) {
		next = tickDur(o.reset-p.tau+p.t, tick)
	}
	switch {
	case replace:
	case !o.allowed:
		replace = !f.denied || retry > f.d.RetryAfter
	case f.denied:
	default:
		replace = rem < f.rem || (rem == f.rem && next > f.next)
	}
	if replace {
		f.d.Limit, f.d.ResetAfter, f.d.RetryAfter = l, reset, retry
		f.denied, f.rem, f.next = !o.allowed, rem, next
	}
	if f.n == 0 {
		f.d.Allowed, f.d.Remaining = o.allowed, rem
	} else {
		f.d.Allowed = f.d.Allowed && o.allowed
		f.d.Remaining = min(f.d.Remaining, rem)
	}
	f.n++
}
