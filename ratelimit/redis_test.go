package ratelimit

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/stout-go/stout/internal/redistest"
)

// pinned is a settable Redis clock in µs for the script's test hook.
type pinned struct{ us atomic.Int64 }

const pinBase = int64(1_790_000_000_000_000) // a Unix time in µs

func (p *pinned) now() int64 { return pinBase + p.us.Load() }

// newRedis returns a Redis limiter closed at the end of the test. Options
// that leave Budget unset are tests of decisions, not of failures: they get
// a budget a loaded machine cannot exceed and FailClosed, so that a slow
// Redis shows up as an error instead of a silent fail-open decision.
func newRedis(t *testing.T, c RedisClient, l Limit, o *RedisOptions) *Redis {
	t.Helper()
	if o != nil && o.Budget == 0 {
		o.Budget = 10 * time.Second
		if o.OnError == FailOpen {
			o.OnError = FailClosed
		}
	}
	r := NewRedis(c, l, o)
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func TestRedisBasics(t *testing.T) {
	s := redistest.Start(t)
	c := s.Client(t)
	ctx := context.Background()

	t.Run("remaining is exact on Redis time", func(t *testing.T) {
		// go-redis/redis_rate answers 8 here: its float time truncates.
		for _, l := range []Limit{PerSecond(10), PerMinute(100), {Rate: 7, Burst: 3}} {
			r := newRedis(t, c, l, &RedisOptions{Prefix: s.Key("exact")})
			for i := range 5 {
				d, err := r.Allow(ctx, "k"+strconv.Itoa(i)+l.String())
				require.NoError(t, err)
				assert.True(t, d.Allowed)
				assert.Equal(t, l.Burst-1, d.Remaining, "%v", l)
			}
		}
	})

	t.Run("table on a pinned clock", func(t *testing.T) {
		var clk pinned
		l := Limit{Rate: 10, Burst: 10}
		r := newRedis(t, c, l, &RedisOptions{Prefix: s.Key("table"), now: clk.now})
		steps := []struct {
			at      time.Duration
			n       int
			allowed bool
			rem     int
			retry   time.Duration
			reset   time.Duration
		}{
			{0, 0, true, 10, 0, 0},
			{0, 10, true, 0, 0, time.Second},
			{0, 1, false, 0, 100 * time.Millisecond, time.Second},
			{99 * time.Millisecond, 1, false, 0, time.Millisecond, 901 * time.Millisecond},
			{100 * time.Millisecond, 1, true, 0, 0, time.Second},
			{650 * time.Millisecond, 6, false, 5, 50 * time.Millisecond, 450 * time.Millisecond},
			{700 * time.Millisecond, 6, true, 0, 0, time.Second},
		}
		for i, st := range steps {
			clk.us.Store(int64(st.at / time.Microsecond))
			d, err := r.AllowN(ctx, "k", st.n)
			require.NoError(t, err)
			assert.Equal(t, Decision{Allowed: st.allowed, Limit: l, Remaining: st.rem, RetryAfter: st.retry, ResetAfter: st.reset}, d, "step %d", i)
		}
	})

	t.Run("cost above burst is never retryable", func(t *testing.T) {
		r := newRedis(t, c, PerSecond(5), &RedisOptions{Prefix: s.Key("cost")})
		d, err := r.AllowN(ctx, "k", 6)
		require.ErrorIs(t, err, ErrCostExceedsBurst)
		assert.False(t, d.Allowed)
		assert.Equal(t, RetryNever, d.RetryAfter)
		assert.Equal(t, 5, d.Remaining)
		assert.ErrorIs(t, r.WaitN(ctx, "k", 6), ErrCostExceedsBurst)
	})

	t.Run("keys are hashed and expire when full", func(t *testing.T) {
		prefix := s.Key("ttl")
		r := newRedis(t, c, PerSecond(10), &RedisOptions{Prefix: prefix})
		d, err := r.AllowN(ctx, "secret-api-key", 3)
		require.NoError(t, err)
		require.True(t, d.Allowed)
		keys, err := c.Keys(ctx, prefix+"*").Result()
		require.NoError(t, err)
		require.Len(t, keys, 1)
		assert.NotContains(t, keys[0], "secret")
		assert.Regexp(t, `^`+prefix+`:\{[A-Za-z0-9_-]{22}\}:0$`, keys[0])
		pttl, err := c.PTTL(ctx, keys[0]).Result()
		require.NoError(t, err)
		assert.Greater(t, pttl, 200*time.Millisecond)
		assert.LessOrEqual(t, pttl, 301*time.Millisecond, "expires when the bucket is full again")
	})

	t.Run("script flush", func(t *testing.T) {
		r := newRedis(t, c, PerSecond(100), &RedisOptions{Prefix: s.Key("flush")})
		d, err := r.Allow(ctx, "k")
		require.NoError(t, err)
		require.Equal(t, 99, d.Remaining)
		require.NoError(t, c.ScriptFlush(ctx).Err())
		d, err = r.Allow(ctx, "k")
		require.NoError(t, err, "NOSCRIPT falls back to EVAL")
		assert.True(t, d.Allowed)
		assert.InDelta(t, 98, d.Remaining, 1)
		assert.Zero(t, r.Stats().Failures)
	})

	t.Run("inf", func(t *testing.T) {
		r := newRedis(t, c, Limit{Rate: rate.Inf, Burst: 1}, &RedisOptions{Prefix: s.Key("inf")})
		d, err := r.AllowN(ctx, "k", 1000)
		require.NoError(t, err)
		assert.True(t, d.Allowed)
		// An unlimited limit next to a real one: only the real one binds.
		mctx := WithLimits(ctx, Limit{Rate: rate.Inf, Burst: 1, Name: "inf"}, Limit{Rate: 1, Burst: 2, Name: "real"})
		mem := NewMemory(PerSecond(1), nil)
		for i := range 3 {
			d, err := r.Allow(mctx, "m")
			require.NoError(t, err)
			md, err := mem.Allow(mctx, "m")
			require.NoError(t, err)
			assert.Equal(t, i < 2, d.Allowed, "call %d", i)
			assert.Equal(t, md.Allowed, d.Allowed)
			assert.Equal(t, "real", d.Limit.Name)
		}
	})
}

func TestRedisReserve(t *testing.T) {
	s := redistest.Start(t)
	c := s.Client(t)
	ctx := context.Background()
	var clk pinned
	r := newRedis(t, c, Limit{Rate: 1, Burst: 2}, &RedisOptions{Prefix: s.Key("res"), now: clk.now})

	first, err := r.ReserveN(ctx, "k", 2)
	require.NoError(t, err)
	require.True(t, first.OK())
	assert.Zero(t, first.Delay())
	a, err := r.ReserveN(ctx, "k", 2) // acts at +2s
	require.NoError(t, err)
	assert.InDelta(t, float64(2*time.Second), float64(a.Delay()), float64(50*time.Millisecond))
	b, err := r.Reserve(ctx, "k") // acts at +3s
	require.NoError(t, err)
	assert.InDelta(t, float64(3*time.Second), float64(b.Delay()), float64(50*time.Millisecond))
	a.Cancel()
	d, err := r.Peek(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, 4*time.Second, d.ResetAfter, "one of a's two tokens comes back; b keeps its slot")
	b.Cancel()
	d, err = r.Peek(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, 3*time.Second, d.ResetAfter)

	t.Run("wait", func(t *testing.T) {
		r := newRedis(t, c, Limit{Rate: 20, Burst: 1}, &RedisOptions{Prefix: s.Key("wait")})
		start := time.Now()
		for range 4 {
			require.NoError(t, r.Wait(ctx, "k"))
		}
		assert.GreaterOrEqual(t, time.Since(start), 140*time.Millisecond, "3 waits of 50ms")
		slow := newRedis(t, c, Limit{Rate: 1, Burst: 1}, &RedisOptions{Prefix: s.Key("wait")})
		require.NoError(t, slow.Wait(ctx, "s"))
		dl, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		start = time.Now()
		require.ErrorIs(t, slow.Wait(dl, "s"), ErrWouldExceedDeadline)
		assert.Less(t, time.Since(start), 300*time.Millisecond, "fails at once")
		d, err := slow.Peek(ctx, "s")
		require.NoError(t, err)
		assert.LessOrEqual(t, d.ResetAfter, time.Second, "nothing booked")
	})
	t.Run("wait cancelled refunds", func(t *testing.T) {
		r := newRedis(t, c, Limit{Rate: 1, Burst: 1}, &RedisOptions{Prefix: s.Key("waitc")})
		require.NoError(t, r.Wait(ctx, "k"))
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error)
		go func() { done <- r.Wait(cctx, "k") }()
		// The waiter has booked +1s; cancel it once that booking is visible.
		require.Eventually(t, func() bool {
			d, err := r.Peek(ctx, "k")
			return err == nil && d.ResetAfter > time.Second
		}, 5*time.Second, time.Millisecond)
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
		d, err := r.Peek(ctx, "k")
		require.NoError(t, err)
		assert.LessOrEqual(t, d.ResetAfter, time.Second, "refunded")
	})
}

// TestRedisDifferential runs identical random traces through Memory (fake
// clock) and Redis (pinned script clock): every decision is the same.
func TestRedisDifferential(t *testing.T) {
	s := redistest.Start(t)
	c := s.Client(t)
	ctx := context.Background()
	for seed := range uint64(6) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 3))
			mk := func() Limit {
				tus := 100 + rng.Int64N(50_000) // whole µs per token
				return Limit{Rate: rate.Limit(1e6 / float64(tus)), Burst: 1 + rng.IntN(15)}
			}
			l1, l2 := mk(), mk()
			l2.Name = "slow"
			l2.Rate /= 10
			var clk pinned
			fc := newFakeClock()
			mem := NewMemory(l1, &MemoryOptions{Now: fc.Now})
			red := newRedis(t, c, l1, &RedisOptions{Prefix: s.Key("diff", fmt.Sprint(seed)), now: clk.now})
			keys := []string{"a", "b", "c"}
			for i := range 600 {
				step := rng.Int64N(int64(l1.Burst) * int64(1e6/float64(l1.Rate)) / 2)
				clk.us.Add(step)
				fc.Add(time.Duration(step) * time.Microsecond)
				key := keys[rng.IntN(len(keys))]
				cctx := ctx
				if rng.IntN(3) == 0 {
					cctx = WithLimits(ctx, l1, l2)
				}
				n := rng.IntN(l1.Burst + 2)
				if n > 0 && n <= l1.Burst && rng.IntN(5) == 0 {
					// Reservations book the same slots, and cancelling one
					// refunds the same amount on both.
					mr, merr := mem.ReserveN(cctx, key, n)
					rr, rerr := red.ReserveN(cctx, key, n)
					require.NoError(t, merr)
					require.NoError(t, rerr)
					require.Equal(t, mr.Decision(), rr.Decision(), "step %d reserve", i)
					if rng.IntN(2) == 0 {
						mr.Cancel()
						rr.Cancel()
					}
					continue
				}
				md, merr := mem.AllowN(cctx, key, n)
				rd, rerr := red.AllowN(cctx, key, n)
				require.Equal(t, merr == nil, rerr == nil, "step %d: %v vs %v", i, merr, rerr)
				require.Equal(t, md, rd, "step %d key %s n %d", i, key, n)
			}
		})
	}
}

// TestRedisMultiInstance: 4 clients with many goroutines each, offering 10×
// the rate, never exceed burst + rate·elapsed in total, on one server and on
// a 3-node Cluster.
func TestRedisMultiInstance(t *testing.T) {
	run := func(t *testing.T, clients []RedisClient, prefix string, dur time.Duration) {
		l := Limit{Rate: 10, Burst: 5}
		ctx := context.Background()
		keys := []string{"tenant-a", "tenant-b", "tenant-c"}
		var admitted, offered [3]atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for _, c := range clients {
			r := newRedis(t, c, l, &RedisOptions{Prefix: prefix, OnError: FailClosed})
			for g := range 8 {
				wg.Go(func() {
					for time.Since(start) < dur {
						k := g % len(keys)
						offered[k].Add(1)
						d, err := r.Allow(ctx, keys[k])
						if err != nil {
							t.Error(err)
							return
						}
						if d.Allowed {
							admitted[k].Add(1)
						}
					}
				})
			}
		}
		wg.Wait()
		elapsed := time.Since(start)
		bound := float64(l.Burst) + float64(l.Rate)*elapsed.Seconds()
		for k := range keys {
			got := admitted[k].Load()
			t.Logf("%s: admitted %d, bound %.0f, offered %d over %v", keys[k], got, bound, offered[k].Load(), elapsed)
			assert.LessOrEqual(t, float64(got), bound, keys[k])
			assert.Greater(t, float64(got), 0.5*bound, "the limit is reached under overload")
			assert.Greater(t, float64(offered[k].Load()), 10*float64(l.Rate)*elapsed.Seconds(), "offered load is ≥ 10× the rate")
		}
	}
	t.Run("server", func(t *testing.T) {
		s := redistest.Start(t)
		var clients []RedisClient
		for range 4 {
			clients = append(clients, s.Client(t))
		}
		run(t, clients, s.Key("multi"), 2*time.Second)
	})
	t.Run("cluster", func(t *testing.T) {
		cl := redistest.StartCluster(t)
		var clients []RedisClient
		for range 4 {
			clients = append(clients, cl.Client(t))
		}
		run(t, clients, cl.Key("multi"), 1500*time.Millisecond)
		// Several limits per key are one script on one slot.
		r := newRedis(t, clients[0], PerSecond(5), &RedisOptions{Prefix: cl.Key("multi2")})
		mctx := WithLimits(context.Background(), Limit{Rate: 5, Burst: 5, Name: "s"}, Limit{Rate: 1, Burst: 3, Name: "m"})
		for i := range 4 {
			d, err := r.Allow(mctx, "user-"+strconv.Itoa(i%2))
			require.NoError(t, err)
			assert.True(t, d.Allowed)
		}
		d, err := r.AllowN(mctx, "user-0", 2)
		require.NoError(t, err)
		assert.False(t, d.Allowed)
		assert.Equal(t, "m", d.Limit.Name)
		d, err = r.Peek(WithLimits(context.Background(), Limit{Rate: 5, Burst: 5, Name: "s"}), "user-0")
		require.NoError(t, err)
		assert.Equal(t, 3, d.Remaining, "the denied request charged neither limit")
	})
}

// TestRedisFailures stops, pauses and restarts a real server and checks
// each failure policy, the budget, the breaker and recovery.
func TestRedisFailures(t *testing.T) {
	ctx := context.Background()
	l := Limit{Rate: 10, Burst: 4}
	for _, policy := range []Policy{FailOpen, FailClosed, FallbackLocal} {
		t.Run(policy.String(), func(t *testing.T) {
			s := redistest.StartOwned(t)
			c := s.Client(t)
			budget := 50 * time.Millisecond
			var logs syncBuffer
			r := newRedis(t, c, l, &RedisOptions{
				Prefix: s.Key("f"), OnError: policy, Budget: budget, Instances: 2,
				Failures: 3, ProbeInterval: 20 * time.Millisecond,
				Logger: slog.New(slog.NewTextHandler(&logs, nil)),
			})
			d, err := r.Allow(ctx, "k")
			require.NoError(t, err)
			require.Equal(t, 3, d.Remaining)

			check := func(t *testing.T, i int, d Decision, err error) {
				t.Helper()
				switch policy {
				case FailOpen:
					require.NoError(t, err)
					assert.True(t, d.Allowed)
				case FailClosed:
					require.ErrorIs(t, err, ErrUnavailable)
					assert.False(t, d.Allowed)
				case FallbackLocal:
					// Local share: burst 4/2 = 2.
					require.NoError(t, err)
					assert.Equal(t, i < 2, d.Allowed, "local call %d", i)
				}
			}

			s.Stop(t)
			for i := range 5 {
				start := time.Now()
				d, err := r.Allow(ctx, "k")
				assert.Less(t, time.Since(start), budget+time.Second, "within the budget")
				check(t, i, d, err)
			}
			assert.True(t, r.Stats().BreakerOpen, "three failures open the breaker")
			if policy == FallbackLocal {
				// Cost 3 fits the real burst of 4 though not the local share
				// of 2: still decided, never ErrCostExceedsBurst.
				d, err := r.AllowN(ctx, "big", 3)
				require.NoError(t, err)
				assert.True(t, d.Allowed)
			}
			assert.Equal(t, int64(3), r.Stats().Failures, "no Redis call while open")
			assert.GreaterOrEqual(t, r.Stats().Fallbacks, int64(5))

			s.Restart(t)
			require.Eventually(t, func() bool { return !r.Stats().BreakerOpen }, 10*time.Second, 5*time.Millisecond, "the probe closes the breaker")
			assert.Contains(t, logs.String(), "Redis unavailable, applying failure policy")
			assert.Contains(t, logs.String(), "policy="+policy.String())
			assert.Contains(t, logs.String(), "Redis available again")
			d, err = r.Allow(ctx, "k")
			require.NoError(t, err)
			assert.True(t, d.Allowed)
			assert.Equal(t, 3, d.Remaining, "decided by Redis again (its data was lost in the restart)")

			// CLIENT PAUSE: Redis is up but does not answer in time.
			admin := redis.NewClient(&redis.Options{Addr: s.Addr})
			defer func() { _ = admin.Close() }()
			require.NoError(t, admin.Do(ctx, "CLIENT", "PAUSE", "1500", "ALL").Err())
			start := time.Now()
			d, err = r.Allow(ctx, "k2")
			assert.Less(t, time.Since(start), budget+900*time.Millisecond, "the budget bounds a server paused for 1.5s")
			check(t, 0, d, err)
			_ = admin.Do(ctx, "CLIENT", "UNPAUSE").Err()
		})
	}
}

// syncBuffer is a bytes.Buffer safe for the breaker's goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRedisNoBudgetNoBreaker(t *testing.T) {
	s := redistest.Start(t)
	c := s.Client(t)
	r := newRedis(t, c, PerSecond(2), &RedisOptions{Prefix: s.Key("nb"), Budget: -1, Failures: -1})
	d, err := r.Allow(context.Background(), "k")
	require.NoError(t, err)
	assert.Equal(t, 1, d.Remaining)

	down := newRedis(t, unreachable(t), PerSecond(2), &RedisOptions{Budget: -1, Failures: -1, OnError: FailClosed})
	for range 10 {
		_, err := down.Allow(context.Background(), "k")
		require.ErrorIs(t, err, ErrUnavailable)
	}
	assert.False(t, down.Stats().BreakerOpen, "Failures: -1 never opens the breaker")
	assert.Equal(t, int64(10), down.Stats().Failures)
}

func TestRedisDownAtStart(t *testing.T) {
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer func() { _ = c.Close() }()
	r := NewRedis(c, PerSecond(1), &RedisOptions{Budget: 20 * time.Millisecond, Failures: 1, ProbeInterval: time.Hour})
	d, err := r.Allow(ctx, "k")
	require.NoError(t, err)
	assert.True(t, d.Allowed, "fail open by default")
	require.True(t, r.Stats().BreakerOpen)
	require.NoError(t, r.Wait(ctx, "k"))
	res, err := r.Reserve(ctx, "k")
	require.NoError(t, err)
	assert.True(t, res.OK())
	require.NoError(t, r.Close())
	require.NoError(t, r.Close())
	var _ RedisClient = (*redis.ClusterClient)(nil)
	var _ RedisClient = (*redis.Ring)(nil)
	var _ RedisClient = redis.UniversalClient(nil)
	var _ Limiter = r
	var _ Limiter = (*Memory)(nil)
	assert.True(t, strings.HasPrefix(r.redisKey(hashTag("x"), 0, Limit{}), "rl:{"))
}

func TestRedisDuplicateLimitNames(t *testing.T) {
	s := redistest.Start(t)
	r := newRedis(t, s.Client(t), PerSecond(1), &RedisOptions{Prefix: s.Key("dup"), OnError: FailClosed})
	ctx := WithLimits(context.Background(), Limit{Rate: 1, Burst: 5}, Limit{Rate: 2, Burst: 3, Name: "0"})
	_, err := r.Allow(ctx, "k")
	require.ErrorIs(t, err, ErrInvalidLimit)
	_, err = r.Reserve(ctx, "k")
	require.ErrorIs(t, err, ErrInvalidLimit)
	assert.Zero(t, r.Stats().Failures, "refused before Redis is asked")
}

// TestRedisClusterNodeDown stops one master of a 3-node Cluster: keys whose
// slot it served follow the failure policy within the budget, keys on the
// other masters are still decided by Redis, exactly, and once the node is
// back the same limiter decides its keys again, without a restart. The
// breaker is per limiter, so it is off here to show the per-key behaviour.
func TestRedisClusterNodeDown(t *testing.T) {
	cl := redistest.StartCluster(t)
	cc := cl.Client(t)
	ctx := context.Background()
	l := Limit{Rate: rate.Every(time.Hour), Burst: 10} // no refill during the test
	budget := 2 * time.Second
	r := newRedis(t, cc, l, &RedisOptions{Prefix: cl.Key("down"), OnError: FailClosed, Budget: budget, Failures: -1})

	// A user key on node 1 and one on another node.
	var onDead, onLive string
	for i := 0; onDead == "" || onLive == ""; i++ {
		require.Less(t, i, 10_000)
		k := "user-" + strconv.Itoa(i)
		node, err := cc.MasterForKey(ctx, r.redisKey(hashTag(k), 0, l))
		require.NoError(t, err)
		if node.Options().Addr == cl.Addrs[1] {
			onDead = cmp.Or(onDead, k)
		} else {
			onLive = cmp.Or(onLive, k)
		}
	}
	for _, k := range []string{onDead, onLive} {
		d, err := r.Allow(ctx, k)
		require.NoError(t, err)
		require.Equal(t, 9, d.Remaining)
	}

	cl.StopNode(t, 1)
	start := time.Now()
	_, err := r.Allow(ctx, onDead)
	require.ErrorIs(t, err, ErrUnavailable, "the key's node is down: FailClosed")
	assert.Less(t, time.Since(start), budget+time.Second, "within the budget")
	for want := 8; want >= 6; want-- {
		d, err := r.Allow(ctx, onLive)
		require.NoError(t, err, "other nodes still decide")
		assert.Equal(t, want, d.Remaining)
	}
	assert.GreaterOrEqual(t, r.Stats().Failures, int64(1))

	cl.RestartNode(t, 1)
	var d Decision
	require.Eventually(t, func() bool {
		d, err = r.Allow(ctx, onDead)
		return err == nil
	}, 20*time.Second, 50*time.Millisecond, "the node's keys are decided again")
	assert.True(t, d.Allowed)
	assert.Less(t, d.Remaining, 10)
}

// TestRedisCloseUnderTraffic closes a limiter whose client does not honour
// context deadlines (so calls run on goroutines the limiter tracks) while
// many goroutines keep using it, as a server does while shutting down. Close
// must not race with the calls (sync.WaitGroup panics on an Add concurrent
// with Wait), and the limiter keeps deciding after Close.
func TestRedisCloseUnderTraffic(t *testing.T) {
	s := redistest.Start(t)
	c := s.Client(t)
	require.False(t, honoursContext(c))
	ctx := context.Background()
	for round := range 20 {
		r := NewRedis(c, PerSecond(1_000_000), &RedisOptions{Prefix: s.Key("close", strconv.Itoa(round)), OnError: FailClosed, Budget: 10 * time.Second})
		var wg, started sync.WaitGroup
		stop := make(chan struct{})
		for g := range 8 {
			started.Add(1)
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					_, err := r.Allow(ctx, "k"+strconv.Itoa(g*1000+i%50))
					assert.NoError(t, err)
					if i == round%4 {
						started.Done() // Close while every goroutine is busy
					}
				}
			})
		}
		started.Wait()
		require.NoError(t, r.Close())
		require.NoError(t, r.Close(), "idempotent")
		close(stop)
		wg.Wait()
		d, err := r.Allow(ctx, "after")
		require.NoError(t, err)
		assert.True(t, d.Allowed)
	}
}

// cancelAtReply is a client whose caller gives up just as Redis answers a
// script: the script ran, but a client that honours ctx reports ctx's
// error.
type cancelAtReply struct {
	*redis.Client
	cancel context.CancelFunc
}

func (c cancelAtReply) at(ctx context.Context, cmd *redis.Cmd) *redis.Cmd {
	c.cancel()
	if ctx.Err() != nil {
		cmd.SetErr(ctx.Err())
	}
	return cmd
}

func (c cancelAtReply) EvalSha(ctx context.Context, sha string, keys []string, args ...any) *redis.Cmd {
	return c.at(ctx, c.Client.EvalSha(ctx, sha, keys, args...))
}

func (c cancelAtReply) Eval(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	return c.at(ctx, c.Client.Eval(ctx, script, keys, args...))
}

// TestRedisWaitCancelledDuringBooking: a Wait whose ctx ends while its
// booking is on the wire gives the booking back. Abandoning the round trip
// left the slot spent (TestRedisReserve/wait_cancelled_refunds caught it as
// a flake).
func TestRedisWaitCancelledDuringBooking(t *testing.T) {
	s := redistest.Start(t)
	c := s.Client(t)
	ctx := context.Background()
	l := Limit{Rate: 1, Burst: 1}
	plain := newRedis(t, c, l, &RedisOptions{Prefix: s.Key("wcb")})
	require.NoError(t, plain.Wait(ctx, "k"))
	cctx, cancel := context.WithCancel(ctx)
	r := newRedis(t, cancelAtReply{Client: c, cancel: cancel}, l, &RedisOptions{Prefix: s.Key("wcb")})
	require.ErrorIs(t, r.Wait(cctx, "k"), context.Canceled)
	d, err := plain.Peek(ctx, "k")
	require.NoError(t, err)
	assert.LessOrEqual(t, d.ResetAfter, time.Second, "the booking made as ctx ended was refunded")
}
