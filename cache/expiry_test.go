package cache

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// switchLoader returns "v<n>" for its n-th call; calls block while blocked is set, until
// a value is sent on release.
type switchLoader struct {
	calls   atomic.Int64
	blocked atomic.Bool
	started chan time.Time
	release chan struct{}
	clock   *fakeClock
	took    time.Duration // how far the first call moves the clock: its measured load time
}

func newSwitchLoader(clock *fakeClock) *switchLoader {
	return &switchLoader{started: make(chan time.Time, 100), release: make(chan struct{}), clock: clock}
}

func (l *switchLoader) load(ctx context.Context, key string) (string, error) {
	n := l.calls.Add(1)
	if n == 1 && l.took > 0 {
		l.clock.Advance(l.took)
	}
	if l.blocked.Load() {
		l.started <- l.clock.Now()
		<-l.release
	}
	return "v" + strconv.FormatInt(n, 10), nil
}

func get(t *testing.T, c *Cache[string], load Loader[string]) string {
	t.Helper()
	v, err := c.Get(t.Context(), "k", load)
	require.NoError(t, err)
	return v
}

func TestTTL(t *testing.T) {
	clock := newFakeClock()
	c := newTest[string](t, Options{Clock: clock, TTL: time.Minute, Jitter: -1, Beta: -1})
	l := newSwitchLoader(clock)
	assert.Equal(t, "v1", get(t, c, l.load))
	clock.Advance(59 * time.Second)
	assert.Equal(t, "v1", get(t, c, l.load))
	clock.Advance(time.Second)
	assert.Equal(t, "v2", get(t, c, l.load), "expired at exactly the TTL")
	assert.Equal(t, int64(2), l.calls.Load())
}

func TestNoTTL(t *testing.T) {
	clock := newFakeClock()
	c := newTest[string](t, Options{Clock: clock, TTL: -1})
	l := newSwitchLoader(clock)
	assert.Equal(t, "v1", get(t, c, l.load))
	clock.Advance(10_000 * time.Hour)
	assert.Equal(t, "v1", get(t, c, l.load))
	assert.Equal(t, int64(1), l.calls.Load())
}

func TestSubSecondTTL(t *testing.T) {
	clock := newFakeClock()
	c := newTest[string](t, Options{Clock: clock, TTL: 250 * time.Millisecond, Jitter: -1, Beta: -1})
	l := newSwitchLoader(clock)
	assert.Equal(t, "v1", get(t, c, l.load))
	clock.Advance(249 * time.Millisecond)
	assert.Equal(t, "v1", get(t, c, l.load))
	clock.Advance(time.Millisecond)
	assert.Equal(t, "v2", get(t, c, l.load))
}

func TestJitterSpread(t *testing.T) {
	clock := newFakeClock()
	const ttl = 100 * time.Second
	c := newTest[int](t, Options{Clock: clock, TTL: ttl, Jitter: 0.5})
	var lo, hi int64 = int64(ttl), 0
	seen := map[int64]bool{}
	for i := range 1000 {
		key := strconv.Itoa(i)
		require.NoError(t, c.Set(t.Context(), key, i))
		e, ok := c.l1.GetIfPresent(key)
		require.True(t, ok)
		d := e.fresh - e.made
		require.GreaterOrEqual(t, d, int64(ttl/2), "never shorter than TTL·(1−Jitter)")
		require.LessOrEqual(t, d, int64(ttl), "never longer than TTL")
		lo, hi = min(lo, d), max(hi, d)
		seen[d] = true
	}
	assert.Less(t, lo, int64(55*time.Second), "spread reaches the bottom of the range")
	assert.Greater(t, hi, int64(95*time.Second), "spread reaches the top of the range")
	assert.Greater(t, len(seen), 900, "expiries are spread, not bunched")

	t.Run("off", func(t *testing.T) {
		c := newTest[int](t, Options{Clock: clock, TTL: ttl, Jitter: -1})
		require.NoError(t, c.Set(t.Context(), "k", 1))
		e, _ := c.l1.GetIfPresent("k")
		assert.Equal(t, int64(ttl), e.fresh-e.made)
	})
}

func TestNegativeCaching(t *testing.T) {
	clock := newFakeClock()
	var calls atomic.Int64
	missing := func(ctx context.Context, key string) (string, error) {
		calls.Add(1)
		return "", fmt.Errorf("user %s: %w", key, ErrNotFound)
	}
	t.Run("remembered for NegativeTTL", func(t *testing.T) {
		calls.Store(0)
		c := newTest[string](t, Options{Clock: clock, TTL: time.Hour, NegativeTTL: 10 * time.Second})
		_, err := c.Get(t.Context(), "7", missing)
		require.ErrorIs(t, err, ErrNotFound)
		clock.Advance(9 * time.Second)
		v, err := c.Get(t.Context(), "7", missing)
		require.ErrorIs(t, err, ErrNotFound)
		assert.Empty(t, v)
		assert.Equal(t, int64(1), calls.Load())
		assert.Equal(t, uint64(1), c.Stats().Hits)
		assert.Equal(t, uint64(0), c.Stats().LoadErrors, "not found is not a load error")
		clock.Advance(time.Second)
		_, err = c.Get(t.Context(), "7", missing)
		require.ErrorIs(t, err, ErrNotFound)
		assert.Equal(t, int64(2), calls.Load())
	})
	t.Run("off", func(t *testing.T) {
		calls.Store(0)
		c := newTest[string](t, Options{Clock: clock, NegativeTTL: -1})
		for range 3 {
			_, err := c.Get(t.Context(), "7", missing)
			require.ErrorIs(t, err, ErrNotFound)
		}
		assert.Equal(t, int64(3), calls.Load())
	})
	t.Run("set replaces", func(t *testing.T) {
		c := newTest[string](t, Options{Clock: clock})
		_, err := c.Get(t.Context(), "7", missing)
		require.ErrorIs(t, err, ErrNotFound)
		require.NoError(t, c.Set(t.Context(), "7", "created"))
		v, err := c.Get(t.Context(), "7", missing)
		require.NoError(t, err)
		assert.Equal(t, "created", v)
	})
}

func TestStaleWhileRevalidate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := newFakeClock()
		c := newTest[string](t, Options{Clock: clock, TTL: time.Minute, Stale: 30 * time.Second, Jitter: -1, Beta: -1})
		l := newSwitchLoader(clock)
		assert.Equal(t, "v1", get(t, c, l.load))

		clock.Advance(70 * time.Second) // expired 10 s ago, within the stale bound
		l.blocked.Store(true)
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				v, err := c.Get(t.Context(), "k", l.load)
				assert.NoError(t, err)
				assert.Equal(t, "v1", v, "the old value is served at once")
			})
		}
		wg.Wait() // none waited for the refresh
		<-l.started
		synctest.Wait()
		assert.Equal(t, int64(2), l.calls.Load(), "exactly one background refresh")
		assert.Equal(t, uint64(50), c.Stats().StaleServed)

		l.release <- struct{}{}
		synctest.Wait() // the refresh stored its value
		l.blocked.Store(false)
		assert.Equal(t, "v2", get(t, c, l.load))
		assert.Equal(t, int64(2), l.calls.Load())

		// Past the bound is a miss.
		clock.Advance(time.Minute + 30*time.Second)
		assert.Equal(t, "v3", get(t, c, l.load))
		assert.Equal(t, uint64(50), c.Stats().StaleServed)

		// Invalidated values are never served stale.
		clock.Advance(70 * time.Second)
		require.NoError(t, c.Invalidate(t.Context(), "k"))
		assert.Equal(t, "v4", get(t, c, l.load))
		clock.Advance(70 * time.Second)
		require.NoError(t, c.InvalidateAll(t.Context()))
		assert.Equal(t, "v5", get(t, c, l.load))
		assert.Equal(t, uint64(50), c.Stats().StaleServed)
	})
}

func TestStaleRefreshFencedByInvalidate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := newFakeClock()
		c := newTest[string](t, Options{Clock: clock, TTL: time.Minute, Stale: time.Minute, Jitter: -1, Beta: -1})
		l := newSwitchLoader(clock)
		assert.Equal(t, "v1", get(t, c, l.load))
		clock.Advance(90 * time.Second)
		l.blocked.Store(true)
		assert.Equal(t, "v1", get(t, c, l.load)) // starts the refresh
		<-l.started
		require.NoError(t, c.Invalidate(t.Context(), "k"))
		l.release <- struct{}{}
		synctest.Wait()
		l.blocked.Store(false)
		assert.Equal(t, "v3", get(t, c, l.load), "the refresh that started before the invalidation was not stored")
	})
}

func TestXFetchEarlyRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := newFakeClock()
		c := newTest[string](t, Options{Clock: clock, TTL: time.Minute, Jitter: -1, Beta: 1})
		var draws atomic.Int64
		c.rand = func() float64 { draws.Add(1); return 0.5 } // -ln(1−0.5) = ln 2 ≈ 0.693
		l := newSwitchLoader(clock)
		l.took = time.Second // the measured load time (delta)
		t0 := clock.Now()
		assert.Equal(t, "v1", get(t, c, l.load))
		expiry := t0.Add(time.Second + time.Minute)

		clock.Advance(20 * time.Second) // 40 s before expiry: beyond 37·delta, no draw at all
		assert.Equal(t, "v1", get(t, c, l.load))
		assert.Equal(t, int64(0), draws.Load())

		clock.Advance(30 * time.Second) // 11 s before expiry: drawn, too early
		assert.Equal(t, "v1", get(t, c, l.load))
		assert.Equal(t, int64(1), draws.Load())
		assert.Equal(t, int64(1), l.calls.Load())

		clock.Advance(9*time.Second + 500*time.Millisecond) // 0.5 s before expiry < 0.693·delta
		l.blocked.Store(true)
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() { assert.Equal(t, "v1", get(t, c, l.load), "the current value is served meanwhile") })
		}
		wg.Wait()
		startedAt := <-l.started
		assert.True(t, startedAt.Before(expiry), "refreshed before expiry")
		synctest.Wait()
		assert.Equal(t, int64(2), l.calls.Load(), "one early refresh per key")
		assert.Equal(t, uint64(1), c.Stats().EarlyRefreshes)

		l.release <- struct{}{}
		synctest.Wait()
		l.blocked.Store(false)
		assert.Equal(t, "v2", get(t, c, l.load))
		assert.Equal(t, int64(2), l.calls.Load())
		assert.Equal(t, uint64(0), c.Stats().StaleServed)
	})
}

func TestXFetchProbability(t *testing.T) {
	// With u uniform, XFetch refreshes at gap g before expiry with probability exp(−g/(delta·beta)).
	clock := newFakeClock()
	c := newTest[string](t, Options{Clock: clock, TTL: time.Minute, Jitter: -1, Beta: 2})
	e := c.newEntry("v", false, 0, clock.Now().UnixNano(), int64(time.Second))
	for _, gap := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		now := e.fresh - int64(gap)
		const n = 20000
		hits := 0
		for range n {
			if c.earlyRefresh(e, now) {
				hits++
			}
		}
		want := map[time.Duration]float64{time.Second: 0.6065, 2 * time.Second: 0.3679, 4 * time.Second: 0.1353}[gap]
		assert.InDelta(t, want, float64(hits)/n, 0.02, "gap %v", gap)
	}
	assert.False(t, c.earlyRefresh(e, e.fresh-int64(40*time.Second)*2), "far from expiry")
}
