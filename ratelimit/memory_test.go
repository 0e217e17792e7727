package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"
)

// fakeClock is a settable clock for tests.
type fakeClock struct{ ns atomic.Int64 }

var clockBase = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newFakeClock() *fakeClock { return &fakeClock{} }

func (c *fakeClock) Now() time.Time         { return clockBase.Add(time.Duration(c.ns.Load())) }
func (c *fakeClock) Add(d time.Duration)    { c.ns.Add(int64(d)) }
func (c *fakeClock) Set(d time.Duration)    { c.ns.Store(int64(d)) }
func (c *fakeClock) Elapsed() time.Duration { return time.Duration(c.ns.Load()) }
func newMem(l Limit, c *fakeClock) *Memory  { return NewMemory(l, &MemoryOptions{Now: c.Now}) }

func TestMemoryTable(t *testing.T) {
	ctx := context.Background()
	l := Limit{Rate: 10, Burst: 10} // one token per 100ms
	type step struct {
		at      time.Duration
		n       int
		allowed bool
		rem     int
		retry   time.Duration
		reset   time.Duration
		err     error
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"fresh key peek", []step{{0, 0, true, 10, 0, 0, nil}}},
		{"one", []step{{0, 1, true, 9, 0, 100 * time.Millisecond, nil}}},
		{"whole burst then denied", []step{
			{0, 10, true, 0, 0, time.Second, nil},
			{0, 1, false, 0, 100 * time.Millisecond, time.Second, nil},
			{99 * time.Millisecond, 1, false, 0, time.Millisecond, 901 * time.Millisecond, nil},
			{100 * time.Millisecond, 1, true, 0, 0, time.Second, nil},
		}},
		{"refill", []step{
			{0, 10, true, 0, 0, time.Second, nil},
			{550 * time.Millisecond, 0, true, 5, 0, 450 * time.Millisecond, nil},
			{550 * time.Millisecond, 6, false, 5, 50 * time.Millisecond, 450 * time.Millisecond, nil},
			{600 * time.Millisecond, 6, true, 0, 0, time.Second, nil},
		}},
		{"full again after idle", []step{
			{0, 3, true, 7, 0, 300 * time.Millisecond, nil},
			{time.Hour, 0, true, 10, 0, 0, nil},
		}},
		{"cost above burst is never retryable", []step{
			{0, 11, false, 10, RetryNever, 0, ErrCostExceedsBurst},
			{time.Hour, 11, false, 10, RetryNever, 0, ErrCostExceedsBurst},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newFakeClock()
			m := newMem(l, c)
			for i, s := range tc.steps {
				c.Set(s.at)
				d, err := m.AllowN(ctx, "k", s.n)
				if s.err != nil {
					require.ErrorIs(t, err, s.err, "step %d", i)
				} else {
					require.NoError(t, err, "step %d", i)
				}
				want := Decision{Allowed: s.allowed, Limit: l, Remaining: s.rem, RetryAfter: s.retry, ResetAfter: s.reset}
				assert.Equal(t, want, d, "step %d", i)
			}
		})
	}
}

func TestMemoryRates(t *testing.T) {
	ctx := context.Background()
	t.Run("tiny rate does not overflow", func(t *testing.T) {
		c := newFakeClock()
		m := newMem(Limit{Rate: 1e-300, Burst: 2}, c)
		d, err := m.AllowN(ctx, "k", 2)
		require.NoError(t, err)
		assert.True(t, d.Allowed)
		c.Add(10 * 365 * 24 * time.Hour)
		d, err = m.Allow(ctx, "k")
		require.NoError(t, err)
		assert.False(t, d.Allowed, "a near-zero rate must not refill within a decade")
		assert.Greater(t, d.RetryAfter, 5*365*24*time.Hour)
		assert.Less(t, d.RetryAfter, 100*365*24*time.Hour)
	})
	t.Run("huge rate", func(t *testing.T) {
		c := newFakeClock()
		m := newMem(Limit{Rate: 1e300, Burst: 3}, c)
		for range 3 {
			d, err := m.Allow(ctx, "k")
			require.NoError(t, err)
			assert.True(t, d.Allowed)
		}
		d, err := m.Allow(ctx, "k")
		require.NoError(t, err)
		assert.False(t, d.Allowed, "resolution is 1ns: no refill without time")
		assert.Equal(t, time.Nanosecond, d.RetryAfter)
		c.Add(time.Nanosecond)
		d, err = m.Allow(ctx, "k")
		require.NoError(t, err)
		assert.True(t, d.Allowed)
	})
	t.Run("inf", func(t *testing.T) {
		m := NewMemory(Limit{Rate: rate.Inf, Burst: 5}, nil)
		for range 100 {
			d, err := m.AllowN(ctx, "k", 50)
			require.NoError(t, err)
			assert.True(t, d.Allowed)
		}
		assert.Zero(t, m.Len())
	})
	t.Run("invalid", func(t *testing.T) {
		for _, l := range []Limit{{Rate: 0, Burst: 1}, {Rate: -1, Burst: 1}, {Rate: rate.Limit(math.NaN()), Burst: 1}, {Rate: 1, Burst: 0}, {Rate: 1, Burst: -3}} {
			_, err := NewMemory(l, nil).Allow(ctx, "k")
			assert.ErrorIs(t, err, ErrInvalidLimit, "%v", l)
		}
		_, err := NewMemory(PerSecond(1), nil).AllowN(ctx, "k", -1)
		assert.ErrorIs(t, err, ErrInvalidLimit)
	})
	t.Run("every", func(t *testing.T) {
		p, err := newParams(Limit{Rate: rate.Every(3 * time.Second), Burst: 1}, time.Nanosecond, spanNanos)
		require.NoError(t, err)
		assert.Equal(t, int64(3e9), p.t)
		p, err = newParams(Limit{Rate: 3, Burst: 1}, time.Nanosecond, spanNanos)
		require.NoError(t, err)
		assert.Equal(t, int64(333333334), p.t, "rounded up: never faster than the rate")
	})
	t.Run("rate change", func(t *testing.T) {
		c := newFakeClock()
		m := newMem(Limit{Rate: 10, Burst: 10}, c)
		d, err := m.AllowN(ctx, "k", 10)
		require.NoError(t, err)
		require.True(t, d.Allowed)
		// The tenant's plan changes to 1/s: the bucket keeps the time at
		// which it is full again (1s from now), read with the new interval.
		slow := WithLimits(ctx, Limit{Rate: 1, Burst: 10})
		d, err = m.Peek(slow, "k")
		require.NoError(t, err)
		assert.Equal(t, 9, d.Remaining)
		assert.Equal(t, time.Second, d.ResetAfter)
		d, err = m.AllowN(slow, "k", 9)
		require.NoError(t, err)
		assert.True(t, d.Allowed)
		d, err = m.Allow(slow, "k")
		require.NoError(t, err)
		assert.False(t, d.Allowed)
		assert.Equal(t, time.Second, d.RetryAfter, "the new, slower rate applies")
		// And back to 10/s: it is full again no later than it would be at 1/s
		// and refills at the new rate from then on.
		d, err = m.Peek(ctx, "k")
		require.NoError(t, err)
		assert.Equal(t, 10*time.Second, d.ResetAfter)
		c.Add(9*time.Second + 100*time.Millisecond)
		d, err = m.Allow(ctx, "k")
		require.NoError(t, err)
		assert.True(t, d.Allowed)
	})
}

// TestStaleClock is golang/go#65508: a decision made with an old time must not
// move the bucket's time backwards and credit the next caller.
func TestStaleClock(t *testing.T) {
	ctx := context.Background()
	c := newFakeClock()
	m := newMem(Limit{Rate: 1, Burst: 2}, c)
	trace := []time.Duration{10 * time.Second, 5 * time.Second, 10*time.Second + 500*time.Millisecond, 10*time.Second + 500*time.Millisecond}
	var got []bool
	for _, s := range trace {
		c.Set(s)
		d, err := m.Allow(ctx, "k")
		require.NoError(t, err)
		got = append(got, d.Allowed)
	}
	// 10s: allowed, 1 left. The stale 5s reading is taken as 10s: allowed,
	// 0 left. 10.5s: half a token, denied twice. Within [10s, 10.5s]: 2 ≤
	// burst + rate·0.5s.
	assert.Equal(t, []bool{true, true, false, false}, got)

	// The same calls through x/time/rate admit 4 in half a second: the stale
	// call rewinds its time and the next caller is credited 5.5s.
	base := time.Unix(0, 0)
	rl := rate.NewLimiter(1, 2)
	var xgot []bool
	for _, s := range trace {
		xgot = append(xgot, rl.AllowN(base.Add(s), 1))
	}
	assert.Equal(t, []bool{true, true, true, true}, xgot, "x/time/rate over-admits after a stale time (golang/go#65508)")
}

// TestCASRace forces the interleaving: caller A loads the bucket and reads the
// clock, then caller B decides and stores before A's compare-and-swap. A must
// retry on the new state rather than overwrite it.
func TestCASRace(t *testing.T) {
	ctx := context.Background()
	var paused, resume chan struct{}
	var armed atomic.Bool
	c := newFakeClock()
	now := func() time.Time {
		if armed.CompareAndSwap(true, false) {
			close(paused)
			<-resume
		}
		return c.Now()
	}
	m := NewMemory(Limit{Rate: 1, Burst: 2}, &MemoryOptions{Now: now})
	d, err := m.Allow(ctx, "k") // create the bucket: one token left
	require.NoError(t, err)
	require.Equal(t, 1, d.Remaining)

	paused, resume = make(chan struct{}), make(chan struct{})
	armed.Store(true)
	var a Decision
	done := make(chan struct{})
	go func() {
		a, _ = m.Allow(ctx, "k")
		close(done)
	}()
	<-paused // A has loaded TAT and is inside the clock read
	b, err := m.Allow(ctx, "k")
	require.NoError(t, err)
	close(resume)
	<-done
	assert.True(t, b.Allowed, "B takes the last token")
	assert.False(t, a.Allowed, "A's CAS fails and it re-decides on B's state")
}

// window checks the token-bucket bound on a list of admitted (time, cost):
// for every window [t_j-w, t_j] ending at an admission, the cost admitted in
// it is at most burst + w/T, i.e. cost·T ≤ burst·T + w.
func checkWindows(t *testing.T, adm []admission, p params, windows []int64) {
	t.Helper()
	for _, w := range windows {
		lo, sum := 0, int64(0)
		for j := range adm {
			sum += adm[j].cost
			for adm[lo].at < adm[j].at-w {
				sum -= adm[lo].cost
				lo++
			}
			if sum*p.t > p.tau+w {
				t.Fatalf("window %v ending at %v admitted %d > burst %d + %v/%v", time.Duration(w), time.Duration(adm[j].at), sum, p.burst, time.Duration(w), time.Duration(p.t))
			}
		}
	}
}

type admission struct{ at, cost int64 }

// TestPropertyRandomTraces drives random traces through a fake clock and
// checks the bucket bound in windows of 1/r, b/r and 10·b/r, the exactness
// of RetryAfter and Remaining, and that stale clock readings never add
// admissions.
func TestPropertyRandomTraces(t *testing.T) {
	ctx := context.Background()
	for seed := range uint64(40) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			burst := 1 + rng.IntN(20)
			l := Limit{Rate: rate.Limit(0.5 + rng.Float64()*200), Burst: burst}
			p, err := newParams(l, time.Nanosecond, spanNanos)
			require.NoError(t, err)
			var now atomic.Int64 // true time
			var seen int64       // the latest reading the limiter was given
			stale := seed%2 == 1 // odd seeds read a jittered, sometimes stale clock
			clock := func() time.Time {
				n := now.Load()
				if stale && rng.IntN(3) == 0 {
					n -= rng.Int64N(3 * p.t)
				}
				seen = max(seen, n)
				return clockBase.Add(time.Duration(n))
			}
			m := NewMemory(l, &MemoryOptions{Now: clock})
			var adm []admission
			admit := func(d Decision, n int) {
				// Stale readings count at the latest time seen: they must not
				// let anything through that the bound at that time forbids.
				if d.Allowed && n > 0 {
					adm = append(adm, admission{seen, int64(n)})
				}
			}
			for range 3000 {
				now.Add(rng.Int64N(2 * p.t))
				n := rng.IntN(burst + 1)
				d, err := m.AllowN(ctx, "k", n)
				require.NoError(t, err)
				admit(d, n)
				if stale {
					continue // exact timing checks need an exact clock
				}
				switch {
				case !d.Allowed && rng.IntN(2) == 0:
					// Retry exactly at RetryAfter: one nanosecond early fails,
					// on time succeeds.
					require.Positive(t, d.RetryAfter)
					now.Add(int64(d.RetryAfter) - 1)
					early, err := m.AllowN(ctx, "k", n)
					require.NoError(t, err)
					require.False(t, early.Allowed, "retry 1ns before RetryAfter must fail")
					now.Add(1)
					onTime, err := m.AllowN(ctx, "k", n)
					require.NoError(t, err)
					require.True(t, onTime.Allowed, "retry at RetryAfter must succeed")
					admit(onTime, n)
				case rng.IntN(8) == 0:
					// Remaining is exact: that many unit requests succeed now
					// and the next one fails.
					if d.Remaining > 0 {
						all, err := m.AllowN(ctx, "k", d.Remaining)
						require.NoError(t, err)
						require.True(t, all.Allowed, "Remaining=%d must be admitted", d.Remaining)
						require.Zero(t, all.Remaining)
						admit(all, d.Remaining)
					}
					next, err := m.Allow(ctx, "k")
					require.NoError(t, err)
					require.False(t, next.Allowed, "one more than Remaining must fail")
				}
			}
			checkWindows(t, adm, p, []int64{p.t, p.tau, 10 * p.tau})
			// Tightness: under this demand the limiter admits close to the bound.
			total := int64(0)
			for _, a := range adm {
				total += a.cost
			}
			require.Positive(t, total)
		})
	}
}

// TestConcurrentBound hammers one key from many goroutines while the fake
// clock advances, and checks the total against burst + elapsed/T.
func TestConcurrentBound(t *testing.T) {
	ctx := context.Background()
	c := newFakeClock()
	l := Limit{Rate: 1000, Burst: 50}
	m := newMem(l, c)
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for range 2000 {
				c.Add(5 * time.Microsecond)
				if d, _ := m.Allow(ctx, "k"); d.Allowed {
					admitted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	bound := int64(l.Burst) + int64(c.Elapsed()/time.Millisecond)
	assert.LessOrEqual(t, admitted.Load(), bound)
	assert.Greater(t, admitted.Load(), bound/2, "the bound is nearly reached under 10x demand")

	// With the real clock, too.
	m = NewMemory(l, nil)
	admitted.Store(0)
	start := time.Now()
	for range 16 {
		wg.Go(func() {
			for time.Since(start) < 100*time.Millisecond {
				if d, _ := m.Allow(ctx, "k"); d.Allowed {
					admitted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	assert.LessOrEqual(t, float64(admitted.Load()), float64(l.Burst)+float64(l.Rate)*elapsed.Seconds()+1)
}

func TestMultiLimit(t *testing.T) {
	ctx := context.Background()
	c := newFakeClock()
	sec := Limit{Rate: 10, Burst: 10, Name: "second"}
	day := Limit{Rate: rate.Limit(20.0 / 86400), Burst: 20, Name: "day"}
	m := NewMemory(sec, &MemoryOptions{Now: c.Now, Resolver: ResolverFunc(func(context.Context, string) ([]Limit, error) {
		return []Limit{sec, day}, nil
	})})
	d, err := m.AllowN(ctx, "u", 10)
	require.NoError(t, err)
	assert.True(t, d.Allowed)
	assert.Equal(t, sec, d.Limit, "per-second bucket is the tighter now")
	assert.Equal(t, 0, d.Remaining)

	d, err = m.Allow(ctx, "u")
	require.NoError(t, err)
	assert.False(t, d.Allowed)
	assert.Equal(t, sec, d.Limit)
	assert.Equal(t, 100*time.Millisecond, d.RetryAfter)

	c.Add(time.Second)
	d, err = m.AllowN(ctx, "u", 10)
	require.NoError(t, err)
	require.True(t, d.Allowed)
	c.Add(time.Second)
	// The day has 0 left; the second has 10. Denied by the day, and the
	// second is not charged (all or nothing).
	d, err = m.AllowN(ctx, "u", 5)
	require.NoError(t, err)
	assert.False(t, d.Allowed)
	assert.Equal(t, day, d.Limit)
	assert.Equal(t, 0, d.Remaining)
	assert.InDelta(t, float64(5*86400/20*time.Second-2*time.Second), float64(d.RetryAfter), float64(time.Second))
	p, err := m.Peek(WithLimits(ctx, sec), "u")
	require.NoError(t, err)
	assert.Equal(t, 10, p.Remaining, "second limit untouched by the denied request")

	_, err = m.AllowN(ctx, "u", 11)
	assert.ErrorIs(t, err, ErrCostExceedsBurst)

	// Order of named limits does not matter.
	m2 := NewMemory(sec, &MemoryOptions{Now: c.Now})
	_, err = m2.AllowN(WithLimits(ctx, sec, day), "v", 4)
	require.NoError(t, err)
	p, err = m2.Peek(WithLimits(ctx, day, sec), "v")
	require.NoError(t, err)
	assert.Equal(t, 6, p.Remaining)
	assert.Equal(t, sec, p.Limit)
}

func TestReserveCancel(t *testing.T) {
	ctx := context.Background()
	c := newFakeClock()
	m := newMem(Limit{Rate: 1, Burst: 2}, c)

	r1, err := m.ReserveN(ctx, "k", 2)
	require.NoError(t, err)
	require.True(t, r1.OK())
	assert.Zero(t, r1.Delay())

	r2, err := m.Reserve(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, time.Second, r2.Delay())
	c.Add(400 * time.Millisecond)
	assert.Equal(t, 600*time.Millisecond, r2.Delay())
	r2.Cancel()
	r2.Cancel() // idempotent
	d, _ := m.Peek(ctx, "k")
	assert.Equal(t, 0, d.Remaining)
	assert.Equal(t, 1600*time.Millisecond, d.ResetAfter, "refund gives back r2's second")

	// A later reservation keeps its slot: cancelling an earlier one only
	// gives back what was not overtaken.
	c.Set(time.Hour)
	_, _ = m.ReserveN(ctx, "x", 2)  // drained; TAT = +2s
	a, _ := m.ReserveN(ctx, "x", 2) // acts at +2s; TAT = +4s
	b, _ := m.ReserveN(ctx, "x", 1) // acts at +3s; TAT = +5s
	require.Equal(t, 2*time.Second, a.Delay())
	require.Equal(t, 3*time.Second, b.Delay())
	a.Cancel()
	d, _ = m.Peek(ctx, "x")
	assert.Equal(t, 4*time.Second, d.ResetAfter, "only 1 of a's 2 tokens comes back")
	next, _ := m.Reserve(ctx, "x")
	assert.Equal(t, 3*time.Second, next.Delay(), "never together with b beyond the burst")

	// Cancel after the reserved time does nothing.
	c.Set(2 * time.Hour)
	_, _ = m.ReserveN(ctx, "y", 2)
	late, _ := m.Reserve(ctx, "y")
	c.Add(time.Second + time.Nanosecond)
	late.Cancel()
	d, _ = m.Peek(ctx, "y")
	assert.Equal(t, 0, d.Remaining)

	_, err = m.ReserveN(ctx, "k", 3)
	assert.ErrorIs(t, err, ErrCostExceedsBurst)
}

func TestShadow(t *testing.T) {
	ctx := context.Background()
	c := newFakeClock()
	var reports atomic.Int64
	s := Shadow(newMem(Limit{Rate: 1, Burst: 1}, c), func(_ context.Context, key string, d Decision, err error) {
		assert.Equal(t, "k", key)
		assert.False(t, d.Allowed)
		reports.Add(1)
	})
	for range 5 {
		d, err := s.Allow(ctx, "k")
		require.NoError(t, err)
		assert.True(t, d.Allowed)
	}
	require.NoError(t, s.Wait(ctx, "k"))
	r, err := s.Reserve(ctx, "k")
	require.NoError(t, err)
	assert.Zero(t, r.Delay())
	assert.Equal(t, int64(6), reports.Load())
}

func TestErrors(t *testing.T) {
	assert.ErrorIs(t, ErrWouldExceedDeadline, context.DeadlineExceeded)
	assert.NotErrorIs(t, ErrWouldExceedDeadline, context.Canceled)
	e := fmt.Errorf("x: %w", ErrWouldExceedDeadline)
	assert.True(t, errors.Is(e, ErrWouldExceedDeadline))
	assert.Equal(t, "fail-closed", FailClosed.String())
	assert.Equal(t, 60*time.Second, PerMinute(60).Window())
	assert.Equal(t, time.Second, PerSecond(100).Window())
	_, err := NewMemory(PerSecond(1), &MemoryOptions{Resolver: ResolverFunc(func(context.Context, string) ([]Limit, error) {
		return nil, nil
	})}).Allow(context.Background(), "k")
	assert.ErrorIs(t, err, ErrNoLimits)
	_, err = NewMemory(PerSecond(1), &MemoryOptions{Resolver: ResolverFunc(func(context.Context, string) ([]Limit, error) {
		return nil, errors.New("db down")
	})}).Allow(context.Background(), "k")
	assert.ErrorContains(t, err, "db down")
}

// TestPropertyMultiLimit: with two limits on a key, every window bound holds
// for each limit, Remaining is exact across both, and RetryAfter is exact.
func TestPropertyMultiLimit(t *testing.T) {
	ctx := context.Background()
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 11))
			fast := Limit{Name: "fast", Rate: rate.Limit(5 + rng.Float64()*100), Burst: 2 + rng.IntN(10)}
			slow := Limit{Name: "slow", Rate: fast.Rate / rate.Limit(3+rng.IntN(20)), Burst: fast.Burst + rng.IntN(30)}
			pf, err := newParams(fast, time.Nanosecond, spanNanos)
			require.NoError(t, err)
			ps, err := newParams(slow, time.Nanosecond, spanNanos)
			require.NoError(t, err)
			c := newFakeClock()
			m := newMem(fast, c)
			lctx := WithLimits(ctx, fast, slow)
			var adm []admission
			for range 2000 {
				c.Add(time.Duration(rng.Int64N(pf.t)))
				n := rng.IntN(fast.Burst + 1)
				d, err := m.AllowN(lctx, "k", n)
				require.NoError(t, err)
				if d.Allowed && n > 0 {
					adm = append(adm, admission{int64(c.Elapsed()), int64(n)})
				}
				if !d.Allowed && rng.IntN(4) == 0 {
					c.Add(d.RetryAfter - 1)
					early, err := m.AllowN(lctx, "k", n)
					require.NoError(t, err)
					require.False(t, early.Allowed, "1ns before RetryAfter")
					c.Add(1)
					onTime, err := m.AllowN(lctx, "k", n)
					require.NoError(t, err)
					require.True(t, onTime.Allowed, "at RetryAfter")
					adm = append(adm, admission{int64(c.Elapsed()), int64(n)})
				} else if rng.IntN(10) == 0 {
					if d.Remaining > 0 {
						all, err := m.AllowN(lctx, "k", d.Remaining)
						require.NoError(t, err)
						require.True(t, all.Allowed)
						adm = append(adm, admission{int64(c.Elapsed()), int64(d.Remaining)})
					}
					next, err := m.Allow(lctx, "k")
					require.NoError(t, err)
					require.False(t, next.Allowed)
				}
			}
			checkWindows(t, adm, pf, []int64{pf.t, pf.tau, 10 * pf.tau})
			checkWindows(t, adm, ps, []int64{ps.t, ps.tau, 10 * ps.tau})
		})
	}
}

// TestDuplicateLimitNames: two limits of a key that would share state (the
// same Name, or a Name equal to another unnamed limit's position) are
// refused. Before, Memory leaked a bucket per call and charged one bucket
// twice, and Redis read and wrote one key twice.
func TestDuplicateLimitNames(t *testing.T) {
	ctx := context.Background()
	cases := map[string][]Limit{
		"same name":            {{Rate: 1, Burst: 5, Name: "a"}, {Rate: 2, Burst: 3, Name: "a"}},
		"name is a position":   {{Rate: 1, Burst: 5}, {Rate: 2, Burst: 3, Name: "0"}},
		"three, last repeated": {{Rate: 1, Burst: 5, Name: "x"}, {Rate: 1, Burst: 5, Name: "y"}, {Rate: 9, Burst: 9, Name: "x"}},
	}
	for name, ls := range cases {
		t.Run(name, func(t *testing.T) {
			m := NewMemory(PerSecond(1), nil)
			for range 3 {
				_, err := m.Allow(WithLimits(ctx, ls...), "k")
				require.ErrorIs(t, err, ErrInvalidLimit)
				_, err = m.Peek(WithLimits(ctx, ls...), "k")
				require.ErrorIs(t, err, ErrInvalidLimit)
				_, err = m.Reserve(WithLimits(ctx, ls...), "k")
				require.ErrorIs(t, err, ErrInvalidLimit)
			}
			assert.Zero(t, m.Len(), "nothing stored")
			res := NewMemory(PerSecond(1), &MemoryOptions{Resolver: ResolverFunc(func(context.Context, string) ([]Limit, error) {
				return ls, nil
			})})
			_, err := res.Allow(ctx, "k")
			require.ErrorIs(t, err, ErrInvalidLimit)
		})
	}
	t.Run("distinct names and positions are fine", func(t *testing.T) {
		m := NewMemory(PerSecond(1), nil)
		d, err := m.Allow(WithLimits(ctx, Limit{Rate: 1, Burst: 5}, Limit{Rate: 2, Burst: 3, Name: "1x"}, Limit{Rate: 2, Burst: 2}), "k")
		require.NoError(t, err)
		assert.True(t, d.Allowed)
		assert.Equal(t, 1, d.Remaining)
		assert.Equal(t, 3, m.Len())
	})
}
