package l2

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stout-go/stout/internal/redistest"
)

// newStore returns a Store over c in a namespace unique to the test, closed in
// Cleanup. Unless o.Now is set it runs on a fake clock that does not move, so
// the version stays fresh and no background re-read disturbs round-trip counts.
func newStore(t *testing.T, c Client, prefix string, o Options) *Store {
	t.Helper()
	o.Client = c
	if o.Prefix == "" {
		o.Prefix = prefix + "stout"
	}
	if o.Namespace == "" {
		o.Namespace = "ns"
	}
	if o.Now == nil {
		o.Now = newFakeClock().Now
	}
	if o.Budget == 0 {
		o.Budget = 5 * time.Second // a loaded test machine must not fail calls; outage tests set their own
	}
	s, err := New(o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// ready waits until s knows the namespace version and is subscribed, so that
// later Gets are one round trip and invalidations are heard.
func ready(t *testing.T, s *Store) {
	t.Helper()
	// The refresher's own first read (retried until it succeeds) has finished once
	// the version is known: no background call disturbs what the test counts.
	require.Eventually(t, func() bool { return s.Stats().Version != 0 }, 20*time.Second, time.Millisecond)
	waitSubscribed(t, s, 1)
}

// waitSubscribed waits until n subscribers listen on s's channel (counted on
// every node of a Cluster: PUBSUB NUMSUB is per node).
func waitSubscribed(t *testing.T, s *Store, n int64) {
	t.Helper()
	ctx := context.Background()
	count := func() int64 {
		var total atomic.Int64
		numsub := func(ctx context.Context, c *redis.Client) error {
			m, err := c.PubSubNumSub(ctx, s.ks.channel).Result()
			total.Add(m[s.ks.channel])
			return err
		}
		var err error
		switch c := s.c.(type) {
		case *redis.ClusterClient:
			err = c.ForEachShard(ctx, numsub)
		case *redis.Client:
			err = numsub(ctx, c)
		default:
			t.Fatalf("waitSubscribed: %T", c)
		}
		if err != nil {
			return -1
		}
		return total.Load()
	}
	require.Eventually(t, func() bool { return count() >= n }, 20*time.Second, time.Millisecond)
}

func entry(payload string) Entry {
	return Entry{Created: 1, Delta: 3, Payload: []byte(payload)}
}

// backends runs f against a standalone server and a 3-node Cluster.
func backends(t *testing.T, f func(t *testing.T, newClient func() Client, prefix string)) {
	t.Run("standalone", func(t *testing.T) {
		t.Parallel()
		srv := redistest.Start(t)
		f(t, func() Client { return srv.Client(t) }, srv.Prefix)
	})
	t.Run("cluster", func(t *testing.T) {
		t.Parallel()
		cl := redistest.StartCluster(t)
		f(t, func() Client { return cl.Client(t) }, cl.Prefix)
	})
}

func TestStore(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, newClient func() Client, prefix string) {
		ctx := context.Background()

		t.Run("miss, fill, hit", func(t *testing.T) {
			s := newStore(t, newClient(), prefix+"a:", Options{})
			ready(t, s)
			_, hit, f, err := s.Get(ctx, "k")
			require.NoError(t, err)
			require.False(t, hit)
			require.True(t, f.Leased())
			require.True(t, f.Writes())
			ok, err := s.Put(ctx, f, entry(`"v1"`), time.Minute)
			require.NoError(t, err)
			require.True(t, ok)
			e, hit, _, err := s.Get(ctx, "k")
			require.NoError(t, err)
			require.True(t, hit)
			assert.Equal(t, `"v1"`, string(e.Payload))
			assert.Equal(t, f.Version(), e.Gen)
			st := s.Stats()
			assert.Equal(t, uint64(1), st.Hits)
			assert.Equal(t, uint64(1), st.Misses)
		})

		t.Run("version key has no TTL and a time-based start", func(t *testing.T) {
			before := uint64(time.Now().UnixMicro())
			c := newClient()
			s := newStore(t, c, prefix+"b:", Options{})
			ready(t, s)
			v, err := c.Get(ctx, s.VersionKey()).Uint64()
			require.NoError(t, err)
			assert.GreaterOrEqual(t, v, before)
			assert.Equal(t, v, s.Stats().Version)
			ttl, err := c.(redis.Cmdable).PTTL(ctx, s.VersionKey()).Result()
			require.NoError(t, err)
			assert.Equal(t, time.Duration(-1), ttl, "the version key must not expire")
			nv, err := s.InvalidateAll(ctx)
			require.NoError(t, err)
			assert.Equal(t, v+1, nv)
			ttl, err = c.(redis.Cmdable).PTTL(ctx, s.VersionKey()).Result()
			require.NoError(t, err)
			assert.Equal(t, time.Duration(-1), ttl)
		})

		t.Run("sub-second TTL uses PX", func(t *testing.T) {
			// The expiry is checked against the server's clock read before and after
			// the write, not against what is left of the TTL when it is read: a slow
			// moment of the test machine between the two does not matter. A TTL in
			// whole seconds would be rounded to a full second away from either.
			c := newClient()
			s := newStore(t, c, prefix+"c:", Options{})
			ready(t, s)
			_, _, f, err := s.Get(ctx, "k")
			require.NoError(t, err)
			before := serverTime(t, c)
			ok, err := s.Put(ctx, f, entry("x"), 900*time.Millisecond)
			require.NoError(t, err)
			require.True(t, ok)
			at := expiresAt(t, c, s.DataKey(f.Version(), "k"))
			assert.WithinRange(t, at, before.Add(900*time.Millisecond), serverTime(t, c).Add(900*time.Millisecond))
			before = serverTime(t, c)
			require.NoError(t, s.Set(ctx, "k2", entry("y"), 1500*time.Millisecond))
			at = expiresAt(t, c, s.DataKey(f.Version(), "k2"))
			assert.WithinRange(t, at, before.Add(1500*time.Millisecond), serverTime(t, c).Add(1500*time.Millisecond))
		})

		t.Run("stale set across stores is rejected", func(t *testing.T) {
			a := newStore(t, newClient(), prefix+"d:", Options{})
			b := newStore(t, newClient(), prefix+"d:", Options{})
			ready(t, a)
			ready(t, b)
			// A misses and holds the lease while it "loads" the old row.
			_, hit, fa, err := a.Get(ctx, "k")
			require.NoError(t, err)
			require.False(t, hit)
			require.True(t, fa.Leased())
			// The row changes; B invalidates.
			require.NoError(t, b.Invalidate(ctx, "k"))
			// A's load finishes: its write must be rejected.
			ok, err := a.Put(ctx, fa, entry("old"), time.Minute)
			require.NoError(t, err)
			assert.False(t, ok, "a fill that started before Invalidate must not be stored")
			assert.Equal(t, uint64(1), a.Stats().FillsRejected)
			// Nobody reads the old value: the next Get misses and fills afresh.
			_, hit, fb, err := b.Get(ctx, "k")
			require.NoError(t, err)
			require.False(t, hit)
			ok, err = b.Put(ctx, fb, entry("new"), time.Minute)
			require.NoError(t, err)
			require.True(t, ok)
			e, hit, _, err := a.Get(ctx, "k")
			require.NoError(t, err)
			require.True(t, hit)
			assert.Equal(t, "new", string(e.Payload))
		})

		t.Run("Set fences a fill in flight", func(t *testing.T) {
			a := newStore(t, newClient(), prefix+"e:", Options{})
			b := newStore(t, newClient(), prefix+"e:", Options{})
			ready(t, a)
			ready(t, b)
			_, _, fa, err := a.Get(ctx, "k")
			require.NoError(t, err)
			require.NoError(t, b.Set(ctx, "k", entry("set"), time.Minute))
			ok, err := a.Put(ctx, fa, entry("loaded"), time.Minute)
			require.NoError(t, err)
			assert.False(t, ok)
			e, hit, _, err := a.Get(ctx, "k")
			require.NoError(t, err)
			require.True(t, hit)
			assert.Equal(t, "set", string(e.Payload))
		})

		t.Run("InvalidateAll fences by version", func(t *testing.T) {
			a := newStore(t, newClient(), prefix+"f:", Options{})
			b := newStore(t, newClient(), prefix+"f:", Options{})
			ready(t, a)
			ready(t, b)
			_, _, fa, err := a.Get(ctx, "k")
			require.NoError(t, err)
			_, err = b.InvalidateAll(ctx)
			require.NoError(t, err)
			// A's write lands in the dead generation (it still holds that lease).
			_, err = a.Put(ctx, fa, entry("old"), time.Minute)
			require.NoError(t, err)
			// B reads under the new version: miss.
			_, hit, _, err := b.Get(ctx, "k")
			require.NoError(t, err)
			assert.False(t, hit)
		})

		t.Run("invalidations reach other stores", func(t *testing.T) {
			var mu sync.Mutex
			var keys []string
			var versions []uint64
			heard := make(chan struct{}, 10)
			c := newClient()
			a := newStore(t, c, prefix+"g:", Options{})
			b := newStore(t, newClient(), prefix+"g:", Options{
				OnInvalidate: func(k string) {
					mu.Lock()
					keys = append(keys, k)
					mu.Unlock()
					heard <- struct{}{}
				},
				OnInvalidateAll: func(v uint64) {
					mu.Lock()
					versions = append(versions, v)
					mu.Unlock()
					heard <- struct{}{}
				},
			})
			ready(t, a)
			ready(t, b)
			waitSubscribed(t, a, 2)
			require.NoError(t, a.Invalidate(ctx, "k1"))
			require.NoError(t, a.Set(ctx, "k2", entry("x"), time.Minute))
			v, err := a.InvalidateAll(ctx)
			require.NoError(t, err)
			for range 3 {
				select {
				case <-heard:
				case <-time.After(5 * time.Second):
					t.Fatal("invalidation not heard")
				}
			}
			mu.Lock()
			assert.ElementsMatch(t, []string{"k1", "k2"}, keys, "order may differ on a Cluster")
			assert.Equal(t, []uint64{v}, versions)
			mu.Unlock()
			assert.Equal(t, v, b.Stats().Version, "the pushed version is used at once")
			// B's own invalidations are not echoed back to B.
			require.NoError(t, b.Invalidate(ctx, "k3"))
			require.NoError(t, a.Invalidate(ctx, "k4"))
			<-heard
			mu.Lock()
			assert.ElementsMatch(t, []string{"k1", "k2", "k4"}, keys)
			mu.Unlock()
		})

		t.Run("waiters get the lease holder's value", func(t *testing.T) {
			a := newStore(t, newClient(), prefix+"h:", Options{})
			b := newStore(t, newClient(), prefix+"h:", Options{})
			ready(t, a)
			ready(t, b)
			_, _, fa, err := a.Get(ctx, "k")
			require.NoError(t, err)
			require.True(t, fa.Leased())
			type res struct {
				e   Entry
				hit bool
				f   Fill
				err error
			}
			done := make(chan res, 1)
			go func() {
				e, hit, f, err := b.Get(ctx, "k")
				done <- res{e, hit, f, err}
			}()
			require.Eventually(t, func() bool { return b.Stats().LeaseWaits == 1 }, 5*time.Second, time.Millisecond)
			ok, err := a.Put(ctx, fa, entry("filled"), time.Minute)
			require.NoError(t, err)
			require.True(t, ok)
			r := <-done
			require.NoError(t, r.err)
			require.True(t, r.hit)
			assert.Equal(t, "filled", string(r.e.Payload))
			assert.Equal(t, uint64(1), b.Stats().LeaseWaitHits)
		})

		t.Run("wait is bounded, then load without writing", func(t *testing.T) {
			a := newStore(t, newClient(), prefix+"i:", Options{})
			b := newStore(t, newClient(), prefix+"i:", Options{LeaseWait: 30 * time.Millisecond})
			ready(t, a)
			ready(t, b)
			_, _, fa, err := a.Get(ctx, "k")
			require.NoError(t, err)
			_, hit, fb, err := b.Get(ctx, "k")
			require.NoError(t, err)
			assert.False(t, hit)
			assert.False(t, fb.Writes())
			ok, err := b.Put(ctx, fb, entry("b"), time.Minute)
			require.NoError(t, err)
			assert.False(t, ok)
			assert.Equal(t, uint64(1), b.Stats().LeaseTimeouts)
			// A still holds its lease and fills.
			ok, err = a.Put(ctx, fa, entry("a"), time.Minute)
			require.NoError(t, err)
			assert.True(t, ok)
		})

		t.Run("released lease lets the next caller fill", func(t *testing.T) {
			a := newStore(t, newClient(), prefix+"j:", Options{})
			b := newStore(t, newClient(), prefix+"j:", Options{})
			ready(t, a)
			ready(t, b)
			_, _, fa, err := a.Get(ctx, "k")
			require.NoError(t, err)
			require.NoError(t, a.Release(ctx, fa))
			_, hit, fb, err := b.Get(ctx, "k")
			require.NoError(t, err)
			assert.False(t, hit)
			assert.True(t, fb.Leased())
			assert.Zero(t, b.Stats().LeaseWaits)
			// A's stale lease cannot release B's.
			require.NoError(t, a.Release(ctx, fa))
			ok, err := b.Put(ctx, fb, entry("b"), time.Minute)
			require.NoError(t, err)
			assert.True(t, ok)
		})

		t.Run("corrupt bytes are a miss that gets overwritten", func(t *testing.T) {
			c := newClient()
			s := newStore(t, c, prefix+"k:", Options{})
			ready(t, s)
			v := s.Stats().Version
			for i, junk := range []string{"garbage", string([]byte{magic, 9, 0}), string(Encode(nil, Entry{Gen: v + 5}, 0))} {
				key := "k" + strconv.Itoa(i)
				require.NoError(t, c.Set(ctx, s.DataKey(v, key), junk, 0).Err())
				_, hit, f, err := s.Get(ctx, key)
				require.NoError(t, err)
				require.False(t, hit)
				require.True(t, f.Leased())
				ok, err := s.Put(ctx, f, entry("fixed"), time.Minute)
				require.NoError(t, err)
				require.True(t, ok)
				e, hit, _, err := s.Get(ctx, key)
				require.NoError(t, err)
				require.True(t, hit)
				assert.Equal(t, "fixed", string(e.Payload))
			}
			assert.Equal(t, uint64(3), s.Stats().Corrupt)
		})

		t.Run("a value past its soft expiry is a miss that gets replaced", func(t *testing.T) {
			clock := newFakeClock()
			s := newStore(t, newClient(), prefix+"o:", Options{Now: clock.Now})
			ready(t, s)
			soon := clock.Now().Add(time.Second).UnixNano()
			require.NoError(t, s.Set(ctx, "k", Entry{SoftExpiry: soon, Payload: []byte("old")}, time.Minute))
			require.NoError(t, s.Set(ctx, "m", Entry{SoftExpiry: soon, Payload: []byte("old")}, time.Minute))
			_, hit, _, err := s.Get(ctx, "k")
			require.NoError(t, err)
			require.True(t, hit)
			clock.Advance(time.Second)
			_, hit, f, err := s.Get(ctx, "k")
			require.NoError(t, err)
			require.False(t, hit)
			require.True(t, f.Leased(), "the fill's lease replaces the expired value")
			ok, err := s.Put(ctx, f, entry("new"), time.Minute)
			require.NoError(t, err)
			require.True(t, ok)
			ls, err := s.GetMany(ctx, []string{"k", "m"})
			require.NoError(t, err)
			require.True(t, ls[0].Hit)
			assert.Equal(t, "new", string(ls[0].Entry.Payload))
			require.False(t, ls[1].Hit)
			require.True(t, ls[1].Fill.Leased())
			stored, err := s.PutMany(ctx, []Put{{Fill: ls[1].Fill, Entry: entry("new"), TTL: time.Minute}})
			require.NoError(t, err)
			assert.Equal(t, []bool{true}, stored)
		})

		t.Run("leases off: plain fill", func(t *testing.T) {
			s := newStore(t, newClient(), prefix+"l:", Options{LeaseTTL: -1})
			ready(t, s)
			_, hit, f, err := s.Get(ctx, "k")
			require.NoError(t, err)
			require.False(t, hit)
			assert.False(t, f.Leased())
			assert.True(t, f.Writes())
			ok, err := s.Put(ctx, f, entry("v"), time.Minute)
			require.NoError(t, err)
			assert.True(t, ok)
			_, hit, _, err = s.Get(ctx, "k")
			require.NoError(t, err)
			assert.True(t, hit)
		})

		t.Run("GetMany and PutMany", func(t *testing.T) {
			c := newClient()
			s := newStore(t, c, prefix+"m:", Options{})
			ready(t, s)
			keys := make([]string, 40)
			for i := range keys {
				keys[i] = fmt.Sprintf("key-%d", i)
			}
			for _, k := range keys[:10] {
				require.NoError(t, s.Set(ctx, k, entry("pre-"+k), time.Minute))
			}
			got, err := s.GetMany(ctx, keys)
			require.NoError(t, err)
			require.Len(t, got, len(keys))
			var puts []Put
			for i, l := range got {
				if i < 10 {
					require.True(t, l.Hit, keys[i])
					assert.Equal(t, "pre-"+keys[i], string(l.Entry.Payload))
					continue
				}
				require.False(t, l.Hit)
				require.True(t, l.Fill.Leased())
				puts = append(puts, Put{Fill: l.Fill, Entry: entry("new-" + keys[i]), TTL: time.Minute})
			}
			// Invalidate one missed key before the fill: its write is rejected.
			require.NoError(t, s.Invalidate(ctx, keys[20]))
			stored, err := s.PutMany(ctx, puts)
			require.NoError(t, err)
			for j, ok := range stored {
				assert.Equal(t, j+10 != 20, ok, keys[j+10])
			}
			got, err = s.GetMany(ctx, keys)
			require.NoError(t, err)
			for i, l := range got {
				switch {
				case i < 10:
					assert.True(t, l.Hit)
				case i == 20:
					assert.False(t, l.Hit)
				default:
					require.True(t, l.Hit, keys[i])
					assert.Equal(t, "new-"+keys[i], string(l.Entry.Payload))
				}
			}
		})

		t.Run("concurrent use", func(t *testing.T) {
			s := newStore(t, newClient(), prefix+"n:", Options{})
			ready(t, s)
			var wg sync.WaitGroup
			for g := range 16 {
				wg.Go(func() {
					for i := range 30 {
						key := strconv.Itoa((g + i) % 5)
						e, hit, f, err := s.Get(ctx, key)
						if !assert.NoError(t, err) {
							return
						}
						if hit {
							assert.Equal(t, "v"+key, string(e.Payload))
							continue
						}
						if i%7 == 0 {
							assert.NoError(t, s.Invalidate(ctx, key))
						}
						_, err = s.Put(ctx, f, entry("v"+key), time.Minute)
						assert.NoError(t, err)
					}
				})
			}
			wg.Wait()
		})
	})
}

func TestRoundTrips(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, newClient func() Client, prefix string) {
		ctx := context.Background()
		type hooker interface{ AddHook(redis.Hook) }
		c := newClient()
		hook := &redistest.Counter{}
		c.(hooker).AddHook(hook)
		clock := newFakeClock()
		s := newStore(t, c, prefix, Options{Now: clock.Now, VersionStaleness: 100 * time.Millisecond})
		ready(t, s)
		require.NoError(t, s.Set(ctx, "k", entry("v"), time.Minute))

		hook.Reset()
		_, hit, _, err := s.Get(ctx, "k")
		require.NoError(t, err)
		require.True(t, hit)
		trips, cmds := hook.Counts()
		assert.Equal(t, int64(1), trips, "a hit with a known version is one round trip")
		assert.Equal(t, int64(1), cmds, "... and one command")

		// The version is older than the bound: version and value in one pipeline.
		clock.Advance(101 * time.Millisecond)
		hook.Reset()
		_, hit, _, err = s.Get(ctx, "k")
		require.NoError(t, err)
		require.True(t, hit)
		trips, cmds = hook.Counts()
		assert.Equal(t, int64(1), trips, "a hit with a stale version is one pipeline")
		assert.Equal(t, int64(2), cmds)

		// The version was just confirmed: one command again.
		hook.Reset()
		_, hit, _, err = s.Get(ctx, "k")
		require.NoError(t, err)
		require.True(t, hit)
		trips, _ = hook.Counts()
		assert.Equal(t, int64(1), trips)

		// Another instance bumped the version and the message was lost: the
		// staleness bound still catches it within one pipeline plus one GET.
		other := newStore(t, newClient(), prefix, Options{})
		ready(t, other)
		vOld := s.Stats().Version
		require.NoError(t, c.(redis.Cmdable).Incr(ctx, s.VersionKey()).Err())
		clock.Advance(101 * time.Millisecond)
		_, hit, f, err := s.Get(ctx, "k")
		require.NoError(t, err)
		assert.False(t, hit, "a value of the old generation is not served past the bound")
		assert.Equal(t, vOld+1, f.Version())

		// GetMany with a known version: one pipeline.
		hook.Reset()
		_, err = s.GetMany(ctx, []string{"a", "b", "c", "d", "e", "f"})
		require.NoError(t, err)
		trips, _ = hook.Counts()
		assert.Equal(t, int64(2), trips, "one pipeline of MGETs plus one of lease SETNXs")
	})
}

func TestOutage(t *testing.T) {
	t.Parallel()
	srv := redistest.StartOwned(t)
	// While Redis is down a Get may spend on it at most two budgets: the read and
	// the lease, each bounded by the budget. It must never wait for anything
	// slower: the client's timeouts and LeaseWait are set to slowWait, so a Get
	// that waited for one of them takes at least that long. The rest of the bound is scheduling
	// allowance: on a loaded machine under the race detector a goroutine can be
	// kept off a CPU for a good part of a second, and that is not the store's
	// doing. The bound stays well below slowWait. The budget is large enough that
	// the round trips to the restarted server (a new connection each) do not miss
	// it on such a machine either.
	const (
		budget   = time.Second
		slowWait = 10 * time.Second
		limit    = 2*budget + 2*time.Second
	)
	c := redis.NewClient(&redis.Options{
		Addr:                  srv.Addr,
		ContextTimeoutEnabled: true,
		DialTimeout:           slowWait,
		ReadTimeout:           slowWait,
		WriteTimeout:          slowWait,
	})
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()
	var lost, back sync.WaitGroup
	lost.Add(1)
	back.Add(1)
	var onceLost, onceBack sync.Once
	var wasLost atomic.Bool
	s := newStore(t, c, srv.Prefix, Options{
		Budget:               budget,
		LeaseWait:            slowWait,
		BreakerFailures:      3,
		BreakerProbeInterval: 20 * time.Millisecond,
		OnSubscription: func(up bool) {
			switch {
			case !up:
				wasLost.Store(true)
				onceLost.Do(lost.Done)
			case wasLost.Load():
				onceBack.Do(back.Done)
			}
		},
	})
	ready(t, s)
	require.NoError(t, s.Set(ctx, "k", entry("v"), time.Minute))

	srv.Stop(t)
	lost.Wait() // the lost subscription is reported at once: the cache drops memory
	for i := range 10 {
		start := time.Now()
		_, _, _, err := s.Get(ctx, "k")
		require.Error(t, err)
		assert.Less(t, time.Since(start), limit, "call %d waited for more than its budget", i)
		if i >= 3 {
			assert.ErrorIs(t, err, ErrUnavailable, "call %d: the breaker is open", i)
		}
	}
	st := s.Stats()
	assert.True(t, st.BreakerOpen)
	assert.Equal(t, uint64(3), st.Errors, "an outage costs Failures errors, not one per call")
	assert.GreaterOrEqual(t, st.Unavailable, uint64(7))
	for _, err := range []error{
		s.Set(ctx, "k", entry("v"), time.Minute),
		s.Invalidate(ctx, "k"),
		func() error { _, err := s.InvalidateAll(ctx); return err }(),
		func() error { _, err := s.GetMany(ctx, []string{"a"}); return err }(),
	} {
		assert.ErrorIs(t, err, ErrUnavailable)
	}

	srv.Restart(t)
	require.Eventually(t, func() bool { return !s.Stats().BreakerOpen }, 10*time.Second, 5*time.Millisecond)
	back.Wait() // the subscription came back and told the cache to drop memory again
	assert.Equal(t, uint64(1), s.Stats().Resubscribes)
	assert.Equal(t, uint64(1), s.Stats().SubscriptionLost)
	_, hit, f, err := s.Get(ctx, "k")
	require.NoError(t, err)
	assert.False(t, hit, "the restarted server lost its data")
	ok, err := s.Put(ctx, f, entry("again"), time.Minute)
	require.NoError(t, err)
	assert.True(t, ok)
	e, hit, _, err := s.Get(ctx, "k")
	require.NoError(t, err)
	require.True(t, hit)
	assert.Equal(t, "again", string(e.Payload))
}

func TestNewWhileRedisDown(t *testing.T) {
	t.Parallel()
	srv := redistest.StartOwned(t)
	srv.Stop(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	resubscribed := make(chan struct{})
	var once sync.Once
	s := newStore(t, c, srv.Prefix, Options{
		Budget:               50 * time.Millisecond,
		BreakerProbeInterval: 20 * time.Millisecond,
		OnSubscription: func(up bool) {
			if up {
				once.Do(func() { close(resubscribed) })
			}
		},
	})
	ctx := context.Background()
	_, _, _, err := s.Get(ctx, "k")
	require.Error(t, err)
	var ne interface{ Timeout() bool }
	assert.False(t, errors.As(err, &ne) && !ne.Timeout() && errors.Is(err, ErrUnavailable))
	srv.Restart(t)
	require.Eventually(t, func() bool {
		_, _, _, err := s.Get(ctx, "k")
		return err == nil
	}, 10*time.Second, 10*time.Millisecond)
	select {
	case <-resubscribed:
	case <-time.After(10 * time.Second):
		t.Fatal("no OnResubscribe after Redis came up")
	}
}

func TestOptions(t *testing.T) {
	_, err := New(Options{})
	assert.ErrorIs(t, err, ErrInvalidOptions)
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = c.Close() })
	_, err = New(Options{Client: c, Namespace: "a{b}"})
	assert.ErrorIs(t, err, ErrInvalidOptions)
	s, err := New(Options{Client: c})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")
}

// serverTime returns the Redis server's clock, truncated to the millisecond as
// the server's own expiry times are.
func serverTime(t *testing.T, c Client) time.Time {
	t.Helper()
	now, err := c.(redis.Cmdable).Time(context.Background()).Result()
	require.NoError(t, err)
	return now.Truncate(time.Millisecond)
}

// expiresAt returns when key expires on the server (PEXPIRETIME). It fails the
// test if the key is gone or has no expiry.
func expiresAt(t *testing.T, c Client, key string) time.Time {
	t.Helper()
	at, err := c.(redis.Cmdable).PExpireTime(context.Background(), key).Result()
	require.NoError(t, err)
	require.Positive(t, at, "%s has an expiry (-1: none, -2: gone)", key)
	return time.UnixMilli(at.Milliseconds())
}
