package cache

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stout-go/stout/cache/internal/l2"
	"github.com/stout-go/stout/internal/redistest"
)

// redisBackends runs f against a standalone server and a 3-node Cluster.
func redisBackends(t *testing.T, f func(t *testing.T, newClient func() RedisClient, prefix string)) {
	t.Run("standalone", func(t *testing.T) {
		t.Parallel()
		srv := redistest.Start(t)
		f(t, func() RedisClient { return srv.Client(t) }, srv.Prefix)
	})
	t.Run("cluster", func(t *testing.T) {
		t.Parallel()
		cl := redistest.StartCluster(t)
		f(t, func() RedisClient { return cl.Client(t) }, cl.Prefix)
	})
}

// newRedisCache returns a Cache[string] on client, closed in Cleanup, that knows the
// namespace version and listens for invalidations before it is returned.
func newRedisCache(t *testing.T, client RedisClient, prefix string, o Options) *Cache[string] {
	t.Helper()
	if o.Namespace == "" {
		o.Namespace = "user"
	}
	ro := RedisOptions{}
	if o.Redis != nil {
		ro = *o.Redis
	}
	ro.Client = client
	if ro.Budget == 0 {
		// Generous, so that a slow moment of a loaded test machine does not fail a
		// call open to the loader; outage tests set their own.
		ro.Budget = 5 * time.Second
	}
	if ro.Prefix == "" {
		ro.Prefix = prefix + "stout"
	}
	o.Redis = &ro
	c := newTest[string](t, o)
	r := c.l2.(*redisLevel)
	require.Eventually(t, func() bool { return r.s.Stats().Version != 0 }, 20*time.Second, time.Millisecond)
	waitListeners(t, client, r.s.Channel())
	require.Eventually(t, r.listened.Load, 20*time.Second, time.Millisecond)
	return c
}

// waitListeners waits until the channel has one more subscriber than before the
// cache was made (PUBSUB NUMSUB, summed over the nodes of a Cluster).
func waitListeners(t *testing.T, client RedisClient, channel string) {
	t.Helper()
	ctx := context.Background()
	count := func() int64 {
		var total atomic.Int64
		numsub := func(ctx context.Context, c *redis.Client) error {
			m, err := c.PubSubNumSub(ctx, channel).Result()
			total.Add(m[channel])
			return err
		}
		var err error
		switch c := client.(type) {
		case *redis.ClusterClient:
			err = c.ForEachShard(ctx, numsub)
		case *redis.Client:
			err = numsub(ctx, c)
		}
		if err != nil {
			return 0
		}
		return total.Load()
	}
	require.Eventually(t, func() bool { return count() > 0 }, 20*time.Second, time.Millisecond)
}

// heard waits until c has heard n invalidations from other instances.
func heard(t *testing.T, c *Cache[string], n uint64) {
	t.Helper()
	require.Eventually(t, func() bool { return c.Stats().Redis.InvalidationsHeard >= n }, 10*time.Second, time.Millisecond)
}

// waitFilled waits until c's write-back of key reached Redis: the data key holds a
// value, not a lease (the write-back happens after the callers are answered).
func waitFilled(t *testing.T, c *Cache[string], key string) {
	t.Helper()
	r := c.l2.(*redisLevel)
	require.Eventually(t, func() bool {
		st := r.s.Stats()
		raw, err := r.client.Get(context.Background(), r.s.DataKey(st.Version, key)).Bytes()
		return err == nil && len(raw) > 1 && raw[1] != 'L'
	}, 10*time.Second, time.Millisecond)
}

// waitClosed waits for ch to be closed, failing the test after a while instead of
// hanging.
func waitClosed(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatal("timed out")
	}
}

// serverTime returns the Redis server's clock, truncated to the millisecond as the
// server's own expiry times are.
func serverTime(t *testing.T, cmd redis.Cmdable) time.Time {
	t.Helper()
	now, err := cmd.Time(context.Background()).Result()
	require.NoError(t, err)
	return now.Truncate(time.Millisecond)
}

// source is a source of truth whose value changes.
type source struct {
	val   atomic.Value
	loads atomic.Int64
}

func newSource(v string) *source {
	s := &source{}
	s.val.Store(v)
	return s
}

func (s *source) load(ctx context.Context, key string) (string, error) {
	s.loads.Add(1)
	return key + "=" + s.val.Load().(string), nil
}

func TestRedisAcrossInstances(t *testing.T) {
	t.Parallel()
	redisBackends(t, func(t *testing.T, newClient func() RedisClient, prefix string) {
		ctx := context.Background()

		t.Run("L2 hit, Invalidate and InvalidateAll seen by the other instance", func(t *testing.T) {
			src := newSource("v1")
			a := newRedisCache(t, newClient(), prefix+"a:", Options{})
			b := newRedisCache(t, newClient(), prefix+"a:", Options{})

			v, err := a.Get(ctx, "42", src.load)
			require.NoError(t, err)
			assert.Equal(t, "42=v1", v)
			waitFilled(t, a, "42")
			v, err = b.Get(ctx, "42", src.load)
			require.NoError(t, err)
			assert.Equal(t, "42=v1", v)
			assert.Equal(t, int64(1), src.loads.Load(), "b is answered by Redis")
			assert.Equal(t, uint64(1), b.Stats().Redis.Hits)

			src.val.Store("v2")
			require.NoError(t, a.Invalidate(ctx, "42"))
			heard(t, b, 1)
			v, err = b.Get(ctx, "42", src.load)
			require.NoError(t, err)
			assert.Equal(t, "42=v2", v, "b's next Get sees a's Invalidate")

			src.val.Store("v3")
			require.NoError(t, b.InvalidateAll(ctx))
			heard(t, a, 1)
			for _, c := range []*Cache[string]{a, b} {
				v, err = c.Get(ctx, "42", src.load)
				require.NoError(t, err)
				assert.Equal(t, "42=v3", v)
			}
			assert.Equal(t, int64(3), src.loads.Load())

			src.val.Store("v4")
			require.NoError(t, b.Set(ctx, "42", "42=set"))
			heard(t, a, 2)
			v, err = a.Get(ctx, "42", src.load)
			require.NoError(t, err)
			assert.Equal(t, "42=set", v, "a's next Get sees b's Set")
		})

		t.Run("stale set across instances", func(t *testing.T) {
			for _, change := range []string{"Invalidate", "Set", "InvalidateAll"} {
				t.Run(change, func(t *testing.T) {
					ns := prefix + "b" + change + ":"
					a := newRedisCache(t, newClient(), ns, Options{})
					b := newRedisCache(t, newClient(), ns, Options{})
					entered := make(chan struct{})
					release := make(chan struct{})
					var released sync.Once
					t.Cleanup(func() { released.Do(func() { close(release) }) }) // before the caches' Close
					var current atomic.Value
					current.Store("old")
					slow := func(ctx context.Context, key string) (string, error) {
						v := current.Load().(string) // the read of the source of truth
						close(entered)
						<-release
						return v, nil
					}
					done := make(chan string, 1)
					go func() {
						v, err := a.Get(ctx, "k", slow)
						assert.NoError(t, err)
						done <- v
					}()
					waitClosed(t, entered) // A missed (L1 and L2), holds the lease and has read "old"

					current.Store("new")
					switch change {
					case "Invalidate":
						require.NoError(t, b.Invalidate(ctx, "k"))
					case "Set":
						require.NoError(t, b.Set(ctx, "k", "new"))
					case "InvalidateAll":
						require.NoError(t, b.InvalidateAll(ctx))
					}
					heard(t, a, 1)
					released.Do(func() { close(release) })
					assert.Equal(t, "old", <-done, "A's caller asked before the change")

					fresh := func(ctx context.Context, key string) (string, error) { return current.Load().(string), nil }
					c := newRedisCache(t, newClient(), ns, Options{})
					for name, x := range map[string]*Cache[string]{"a": a, "b": b, "c": c} {
						v, err := x.Get(ctx, "k", fresh)
						require.NoError(t, err)
						assert.Equal(t, "new", v, "%s read the value loaded before %s", name, change)
					}
				})
			}
		})

		t.Run("stale fill rejected in Redis", func(t *testing.T) {
			// The fill's write reaches Redis after B's Invalidate deleted its lease: the
			// compare-and-set rejects it, whether or not A heard the message yet.
			ns := prefix + "c:"
			a := newRedisCache(t, newClient(), ns, Options{})
			b := newRedisCache(t, newClient(), ns, Options{})
			release := make(chan struct{})
			var released sync.Once
			t.Cleanup(func() { released.Do(func() { close(release) }) })
			entered := make(chan struct{})
			var current atomic.Value
			current.Store("old")
			go func() {
				_, _ = a.Get(ctx, "k", func(ctx context.Context, key string) (string, error) {
					v := current.Load().(string)
					close(entered)
					<-release
					return v, nil
				})
			}()
			waitClosed(t, entered)
			current.Store("new")
			require.NoError(t, b.Invalidate(ctx, "k"))
			released.Do(func() { close(release) })
			// Whichever way A ended (write rejected, or lease released after the
			// message detached its flight), Redis does not hold "old".
			require.Eventually(t, func() bool {
				st := a.Stats()
				return st.Loads == 1 && st.Redis.InvalidationsHeard == 1
			}, 10*time.Second, time.Millisecond)
			c := newRedisCache(t, newClient(), ns, Options{})
			v, err := c.Get(ctx, "k", func(ctx context.Context, key string) (string, error) { return current.Load().(string), nil })
			require.NoError(t, err)
			assert.Equal(t, "new", v)
		})

		t.Run("4 instances x 250 goroutines load a cold key once", func(t *testing.T) {
			ns := prefix + "d:"
			const instances, goroutines = 4, 250
			var caches []*Cache[string]
			for range instances {
				caches = append(caches, newRedisCache(t, newClient(), ns, Options{
					Redis: &RedisOptions{LeaseWait: 30 * time.Second},
				}))
			}
			var loads atomic.Int64
			gate := make(chan struct{})
			var opened sync.Once
			open := func() { opened.Do(func() { close(gate) }) }
			t.Cleanup(open) // runs before the caches' Close, which waits for the loader
			load := func(ctx context.Context, key string) (string, error) {
				loads.Add(1)
				<-gate
				return "value", nil
			}
			var wg sync.WaitGroup
			for _, c := range caches {
				for range goroutines {
					wg.Go(func() {
						v, err := c.Get(ctx, "cold", load)
						assert.NoError(t, err)
						assert.Equal(t, "value", v)
					})
				}
			}
			// Every goroutine missed, and the three instances without the lease wait
			// for the one that has it.
			require.Eventually(t, func() bool {
				var misses, waits uint64
				for _, c := range caches {
					st := c.Stats()
					misses += st.Misses
					waits += st.Redis.LeaseWaits
				}
				return misses == instances*goroutines && waits == instances-1
			}, 20*time.Second, time.Millisecond)
			open()
			wg.Wait()
			assert.Equal(t, int64(1), loads.Load(), "one load in total")
			var waitHits uint64
			for _, c := range caches {
				waitHits += c.Stats().Redis.LeaseWaitHits
			}
			assert.Equal(t, uint64(instances-1), waitHits)
		})

		t.Run("GetMany shares values through Redis", func(t *testing.T) {
			ns := prefix + "e:"
			a := newRedisCache(t, newClient(), ns, Options{})
			b := newRedisCache(t, newClient(), ns, Options{})
			keys := make([]string, 50)
			for i := range keys {
				keys[i] = "id-" + strconv.Itoa(i)
			}
			var calls atomic.Int64
			batch := func(ctx context.Context, missing []string) (map[string]string, error) {
				calls.Add(1)
				m := map[string]string{}
				for _, k := range missing {
					if k != "id-7" { // id-7 does not exist
						m[k] = "v-" + k
					}
				}
				return m, nil
			}
			m, err := a.GetMany(ctx, keys, batch)
			require.NoError(t, err)
			assert.Len(t, m, 49)
			assert.Equal(t, int64(1), calls.Load())
			for _, k := range keys {
				waitFilled(t, a, k)
			}
			m, err = b.GetMany(ctx, keys, batch)
			require.NoError(t, err)
			assert.Len(t, m, 49)
			assert.Equal(t, "v-id-3", m["id-3"])
			assert.Equal(t, int64(1), calls.Load(), "b is answered by Redis, the missing key by its negative entry")
			assert.Equal(t, uint64(50), b.Stats().Redis.Hits)
		})

		t.Run("one round trip per L2 hit", func(t *testing.T) {
			ns := prefix + "f:"
			clock := newFakeClock()
			a := newRedisCache(t, newClient(), ns, Options{Clock: clock})
			client := newClient()
			hook := &redistest.Counter{}
			client.(interface{ AddHook(redis.Hook) }).AddHook(hook)
			b := newRedisCache(t, client, ns, Options{Clock: clock})
			src := newSource("v")
			_, err := a.Get(ctx, "k", src.load)
			require.NoError(t, err)
			waitFilled(t, a, "k")
			hook.Reset()
			v, err := b.Get(ctx, "k", src.load)
			require.NoError(t, err)
			assert.Equal(t, "k=v", v)
			trips, cmds := hook.Counts()
			assert.Equal(t, int64(1), trips, "an L1 miss answered by L2 is one round trip")
			assert.Equal(t, int64(1), cmds)
			hook.Reset()
			_, err = b.Get(ctx, "k", src.load)
			require.NoError(t, err)
			trips, _ = hook.Counts()
			assert.Zero(t, trips, "an L1 hit does not touch Redis")
		})

		t.Run("TTLs: sub-second data keys, version key without TTL", func(t *testing.T) {
			// The expiry is checked against the server's clock read before the Get and
			// after the write-back, not against what is left of the TTL when it is
			// read: a slow moment of the test machine in between does not matter. A
			// TTL in whole seconds would be rounded to a full second away from either.
			const ttl = 900 * time.Millisecond
			client := newClient()
			cmd := client.(redis.Cmdable)
			c := newRedisCache(t, client, prefix+"g:", Options{TTL: ttl, Jitter: -1}) // exact TTL
			before := serverTime(t, cmd)
			_, err := c.Get(ctx, "k", newSource("v").load)
			require.NoError(t, err)
			waitFilled(t, c, "k")
			r := c.l2.(*redisLevel)
			at, err := cmd.PExpireTime(ctx, r.s.DataKey(r.s.Stats().Version, "k")).Result()
			require.NoError(t, err)
			require.Positive(t, at, "the data key has an expiry (-1: none, -2: gone)")
			assert.WithinRange(t, time.UnixMilli(at.Milliseconds()), before.Add(ttl), serverTime(t, cmd).Add(ttl))
			require.NoError(t, c.InvalidateAll(ctx))
			pttl, err := cmd.PTTL(ctx, r.s.VersionKey()).Result()
			require.NoError(t, err)
			assert.Equal(t, time.Duration(-1), pttl, "the version key never expires")
		})

		t.Run("a value the codec cannot read is a miss that gets overwritten", func(t *testing.T) {
			ns := prefix + "i:"
			a := newRedisCache(t, newClient(), ns, Options{})
			r := a.l2.(*redisLevel)
			for _, key := range []string{"one", "many"} {
				// Another codec (or a bug) wrote bytes that are a valid envelope but not JSON.
				require.NoError(t, r.s.Set(ctx, key, l2.Entry{Payload: []byte("\x81\xa2id\x01")}, time.Minute))
			}
			src := newSource("v")
			v, err := a.Get(ctx, "one", src.load)
			require.NoError(t, err, "undecodable bytes are a miss, not an error")
			assert.Equal(t, "one=v", v)
			m, err := a.GetMany(ctx, []string{"many"}, func(ctx context.Context, keys []string) (map[string]string, error) {
				return map[string]string{"many": "many=v"}, nil
			})
			require.NoError(t, err)
			assert.Equal(t, map[string]string{"many": "many=v"}, m)
			waitFilled(t, a, "one")
			waitFilled(t, a, "many")
			b := newRedisCache(t, newClient(), ns, Options{})
			m, err = b.GetMany(ctx, []string{"one", "many"}, func(ctx context.Context, keys []string) (map[string]string, error) {
				t.Errorf("loaded %v: the fills should have replaced the bad bytes", keys)
				return nil, nil
			})
			require.NoError(t, err)
			assert.Equal(t, map[string]string{"one": "one=v", "many": "many=v"}, m)
			assert.Equal(t, uint64(2), a.Stats().Redis.Corrupt)
		})

		t.Run("an early refresh recomputes the shared value", func(t *testing.T) {
			ns := prefix + "j:"
			clock := newFakeClock()
			a := newRedisCache(t, newClient(), ns, Options{Clock: clock, TTL: 10 * time.Second, Jitter: -1})
			a.rand = func() float64 { return 0.99 } // XFetch draws u = 1-0.99: it fires well before expiry
			var n atomic.Int64
			load := func(ctx context.Context, key string) (string, error) {
				clock.Advance(time.Second) // the load takes a second: XFetch's delta
				return "v" + strconv.FormatInt(n.Add(1), 10), nil
			}
			v, err := a.Get(ctx, "k", load)
			require.NoError(t, err)
			assert.Equal(t, "v1", v)
			waitFilled(t, a, "k")
			clock.Advance(9500 * time.Millisecond) // half a second before expiry
			v, err = a.Get(ctx, "k", load)
			require.NoError(t, err)
			assert.Equal(t, "v1", v, "the current value is served while the refresh runs")
			// Read the raw bytes: a Store.Get here would itself be a reader that
			// finds the value past its soft expiry on the fake clock and takes the
			// key's lease, so the refresh's write would rightly be refused.
			r := a.l2.(*redisLevel)
			require.Eventually(t, func() bool {
				raw, err := r.client.Get(ctx, r.s.DataKey(r.s.Stats().Version, "k")).Bytes()
				if err != nil {
					return false
				}
				e, ok := l2.Decode(raw)
				return ok && string(e.Payload) == `"v2"`
			}, 20*time.Second, 5*time.Millisecond, "the refresh replaced the value in Redis")
			assert.Equal(t, int64(2), n.Load())
			assert.Equal(t, uint64(1), a.Stats().EarlyRefreshes)
		})

		t.Run("L2 only", func(t *testing.T) {
			ns := prefix + "h:"
			c := newRedisCache(t, newClient(), ns, Options{MaxEntries: -1})
			src := newSource("v")
			for range 3 {
				v, err := c.Get(ctx, "k", src.load)
				require.NoError(t, err)
				assert.Equal(t, "k=v", v)
			}
			assert.Equal(t, int64(1), src.loads.Load())
			st := c.Stats()
			assert.Zero(t, st.Hits, "nothing is kept in process memory")
			// The fill is written after the first caller is answered: the second Get may
			// find its lease and wait for it.
			assert.Equal(t, uint64(2), st.Redis.Hits+st.Redis.LeaseWaitHits)
		})
	})
}

// heldSubscribe is a client whose SUBSCRIBE waits until release is closed.
type heldSubscribe struct {
	*redis.Client
	release chan struct{}
}

func (h heldSubscribe) Subscribe(ctx context.Context, channels ...string) *redis.PubSub {
	select {
	case <-h.release:
	case <-ctx.Done():
	}
	return h.Client.Subscribe(ctx, channels...)
}

// TestRedisBeforeSubscription holds an instance between New and its subscription: an
// invalidation sent then cannot reach it, so it keeps nothing in memory until it
// listens, and drops what raced in when it starts to.
func TestRedisBeforeSubscription(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ctx := context.Background()
	held := heldSubscribe{Client: srv.Client(t), release: make(chan struct{})}
	a, err := New[string](Options{Namespace: "user", Redis: &RedisOptions{Client: held, Prefix: srv.Prefix + "stout", Budget: 5 * time.Second}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })
	t.Cleanup(func() {
		select {
		case <-held.release:
		default:
			close(held.release)
		}
	})
	b := newRedisCache(t, srv.Client(t), srv.Prefix, Options{})
	src := newSource("v1")

	v, err := a.Get(ctx, "k", src.load)
	require.NoError(t, err)
	assert.Equal(t, "k=v1", v)
	waitFilled(t, a, "k")
	src.val.Store("v2")
	require.NoError(t, b.Invalidate(ctx, "k")) // a cannot hear this
	v, err = a.Get(ctx, "k", src.load)
	require.NoError(t, err)
	assert.Equal(t, "k=v2", v, "a kept nothing in memory while it could not hear invalidations")
	assert.Zero(t, a.Stats().Hits)

	close(held.release)
	r := a.l2.(*redisLevel)
	require.Eventually(t, r.listened.Load, 20*time.Second, time.Millisecond)
	waitFilled(t, a, "k")
	for range 2 {
		v, err = a.Get(ctx, "k", src.load)
		require.NoError(t, err)
		assert.Equal(t, "k=v2", v)
	}
	assert.Equal(t, uint64(1), a.Stats().Hits, "once listening, memory is used again")
}

func TestRedisOutage(t *testing.T) {
	t.Parallel()
	for _, failClosed := range []bool{false, true} {
		t.Run("FailClosed="+strconv.FormatBool(failClosed), func(t *testing.T) {
			t.Parallel()
			srv := redistest.StartOwned(t)
			// While Redis is down a Get may spend on it at most two budgets: its first
			// read is at most two round trips (the read, the lease), each bounded by the
			// budget. It must never wait for anything slower. The client's timeouts and
			// LeaseWait, the slower waits it could fall into, are set to slowWait, so a
			// Get that waited for one of them takes at least that long. The rest of the
			// bound is scheduling allowance: on a loaded machine under the race detector
			// a goroutine can be kept off a CPU for a good part of a second, and that is
			// not the cache's doing. The bound stays well below slowWait. The budget is
			// large enough that the round trips to the restarted server (a new
			// connection each) do not miss it on such a machine either.
			const (
				budget   = time.Second
				slowWait = 10 * time.Second
				limit    = 2*budget + 2*time.Second
			)
			client := redis.NewClient(&redis.Options{
				Addr:                  srv.Addr,
				ContextTimeoutEnabled: true,
				DialTimeout:           slowWait,
				ReadTimeout:           slowWait,
				WriteTimeout:          slowWait,
			})
			t.Cleanup(func() { _ = client.Close() })
			c := newRedisCache(t, client, srv.Prefix, Options{Redis: &RedisOptions{
				Budget:               budget,
				LeaseWait:            slowWait,
				BreakerFailures:      3,
				BreakerProbeInterval: 20 * time.Millisecond,
				FailClosed:           failClosed,
			}})
			ctx := context.Background()
			src := newSource("v")
			_, err := c.Get(ctx, "before", src.load)
			require.NoError(t, err)

			srv.Stop(t)
			for i := range 20 {
				start := time.Now()
				key := "k" + strconv.Itoa(i)
				v, err := c.Get(ctx, key, src.load)
				assert.Less(t, time.Since(start), limit, "Get %d waited for more than its budget", i)
				if failClosed {
					assert.ErrorIs(t, err, ErrRedis)
					continue
				}
				require.NoError(t, err, "fail-open: the loader answers")
				assert.Equal(t, key+"=v", v)
			}
			st := c.Stats()
			assert.True(t, st.Redis.BreakerOpen)
			assert.Positive(t, st.Redis.Unavailable, "calls skip Redis while the breaker is open")
			assert.Less(t, st.Redis.Errors, uint64(10), "an outage costs a few timeouts, not one per call")
			assert.ErrorIs(t, c.Invalidate(ctx, "k0"), ErrRedis)

			srv.Restart(t)
			require.Eventually(t, func() bool { return !c.Stats().Redis.BreakerOpen }, 10*time.Second, 5*time.Millisecond)
			require.Eventually(t, func() bool { return c.Stats().Redis.Resubscribes == 1 }, 10*time.Second, 5*time.Millisecond)
			// L2 is used again, without a new process: a second instance is answered by it.
			v, err := c.Get(ctx, "after", src.load)
			require.NoError(t, err)
			other := newRedisCache(t, srv.Client(t), srv.Prefix, Options{})
			loads := src.loads.Load()
			require.Eventually(t, func() bool {
				// The fill is written after the caller is answered.
				got, err := other.Get(ctx, "after", src.load)
				if err != nil || got != v {
					return false
				}
				st := other.Stats().Redis
				return st.Hits+st.LeaseWaitHits == 1
			}, 10*time.Second, 5*time.Millisecond)
			assert.Equal(t, loads, src.loads.Load())
		})
	}
}

func TestRedisNewWhileDown(t *testing.T) {
	t.Parallel()
	srv := redistest.StartOwned(t)
	srv.Stop(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = client.Close() })
	c, err := New[string](Options{Namespace: "user", Redis: &RedisOptions{Client: client, Prefix: srv.Prefix + "stout", Budget: 50 * time.Millisecond}})
	require.NoError(t, err, "New works while Redis is down")
	t.Cleanup(func() { _ = c.Close() })
	v, err := c.Get(context.Background(), "k", newSource("v").load)
	require.NoError(t, err)
	assert.Equal(t, "k=v", v)
}

func TestRedisOptionsValidated(t *testing.T) {
	_, err := New[string](Options{Redis: &RedisOptions{}})
	assert.ErrorIs(t, err, ErrInvalidOptions)
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = client.Close() })
	_, err = New[string](Options{Redis: &RedisOptions{Client: client, Prefix: "a{b"}})
	assert.ErrorIs(t, err, ErrInvalidOptions)
	_, err = New[string](Options{MaxEntries: -1})
	assert.ErrorIs(t, err, ErrInvalidOptions, "no level at all")
}

// panicCodec is JSONCodec whose Unmarshal (and, when marshal is set, Marshal) panics, as a
// hand-written codec may on bytes it does not expect.
type panicCodec struct{ marshal bool }

func (p panicCodec) Marshal(v any) ([]byte, error) {
	if p.marshal {
		panic("encoder bug")
	}
	return JSONCodec{}.Marshal(v)
}

func (panicCodec) Unmarshal([]byte, any) error { panic("decoder bug") }

// A codec that panics on a value from Redis makes it a miss that the load overwrites, and
// one that panics on encoding makes a failed write: neither reaches the caller or leaves
// the key's flight unfinished.
func TestRedisCodecPanic(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	t.Run("decode", func(t *testing.T) {
		a := newRedisCache(t, srv.Client(t), srv.Prefix+"d:", Options{})
		b := newRedisCache(t, srv.Client(t), srv.Prefix+"d:", Options{Codec: panicCodec{}})
		require.NoError(t, a.Set(ctx, "k", "k=v1"))
		// a's Set also tells b to drop k. Heard after b's first Get, it would rightly drop
		// the value that Get loaded, and the second Get (which cannot decode what is in
		// Redis either) would load again: wait for it first.
		heard(t, b, 1)
		db := newSource("v2")
		for i := range 2 {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			var (
				v   string
				err error
			)
			require.NotPanics(t, func() { v, err = b.Get(cctx, "k", db.load) })
			cancel()
			require.NoError(t, err, "Get %d", i)
			require.Equal(t, "k=v2", v)
		}
		require.Equal(t, int64(1), db.loads.Load(), "the second Get is answered from memory")
		assert.Equal(t, uint64(1), b.Stats().Redis.Corrupt, "the first Get could not decode the value in Redis")
		// The load overwrote the undecodable value: an instance with a working codec gets
		// b's value from Redis without loading.
		waitFilled(t, b, "k")
		c := newRedisCache(t, srv.Client(t), srv.Prefix+"d:", Options{})
		v, err := c.Get(ctx, "k", db.load)
		require.NoError(t, err)
		assert.Equal(t, "k=v2", v)
		assert.Equal(t, int64(1), db.loads.Load())
	})
	t.Run("encode", func(t *testing.T) {
		c := newRedisCache(t, srv.Client(t), srv.Prefix+"e:", Options{Codec: panicCodec{marshal: true}})
		var err error
		require.NotPanics(t, func() { err = c.Set(ctx, "k", "k=v1") })
		require.Error(t, err)
		db := newSource("v2")
		for range 2 {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			var v string
			require.NotPanics(t, func() { v, err = c.Get(cctx, "k", db.load) })
			cancel()
			require.NoError(t, err)
			require.Equal(t, "k=v2", v)
		}
	})
}

// holdSet blocks, once armed, the pipeline of a Set (SET + PUBLISH) after it ran, until
// release is closed.
type holdSet struct {
	armed   atomic.Bool
	reached chan struct{}
	release chan struct{}
}

func (h *holdSet) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *holdSet) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *holdSet) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if len(cmds) == 2 && cmds[0].Name() == "set" && cmds[1].Name() == "publish" && h.armed.CompareAndSwap(true, false) {
			close(h.reached)
			<-h.release
		}
		return err
	}
}

// An invalidation by another instance that lands after a Set reached Redis but before the
// Set stored its value in L1 wins: the instance does not keep serving the value from L1.
func TestRedisSetFencedAgainstRemoteInvalidation(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		invalidate func(c *Cache[string]) error
	}{
		{"Invalidate", func(c *Cache[string]) error { return c.Invalidate(ctx, "k") }},
		{"InvalidateAll", func(c *Cache[string]) error { return c.InvalidateAll(ctx) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := srv.Prefix + tc.name + ":"
			hook := &holdSet{reached: make(chan struct{}), release: make(chan struct{})}
			ca := srv.Client(t)
			ca.AddHook(hook)
			a := newRedisCache(t, ca, prefix, Options{})
			b := newRedisCache(t, srv.Client(t), prefix, Options{})
			db := newSource("v3")

			hook.armed.Store(true)
			done := make(chan error, 1)
			go func() { done <- a.Set(ctx, "k", "k=v2") }()
			waitClosed(t, hook.reached) // a's SET is in Redis, its L1 not yet written
			require.NoError(t, tc.invalidate(b))
			heard(t, a, 1)
			close(hook.release)
			require.NoError(t, <-done)

			v, err := b.Get(ctx, "k", db.load)
			require.NoError(t, err)
			require.Equal(t, "k=v3", v)
			v, err = a.Get(ctx, "k", db.load)
			require.NoError(t, err)
			require.Equal(t, "k=v3", v, "a serves the value its Set wrote before b's invalidation")
		})
	}
}

// cancelAfterSetNX makes, once armed, a SET NX that ran on the server look to the client as
// if its caller's context ended before the reply.
type cancelAfterSetNX struct {
	armed  atomic.Bool
	cancel context.CancelFunc
}

func (h *cancelAfterSetNX) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *cancelAfterSetNX) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		args := cmd.Args()
		if cmd.Name() == "set" && len(args) > 0 && args[len(args)-1] == "nx" && h.armed.CompareAndSwap(true, false) {
			h.cancel()
			cmd.SetErr(context.Canceled)
			return context.Canceled
		}
		return err
	}
}
func (h *cancelAfterSetNX) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// A caller whose context ends while its flight takes the key's lease does not leave a
// lease nobody fills: another instance does not wait LeaseWait for it.
func TestRedisCancelledLeaseNotOrphaned(t *testing.T) {
	srv := redistest.Start(t)
	hook := &cancelAfterSetNX{}
	ca := srv.Client(t)
	ca.AddHook(hook)
	a := newRedisCache(t, ca, srv.Prefix, Options{Redis: &RedisOptions{LeaseWait: 2 * time.Second}})
	b := newRedisCache(t, srv.Client(t), srv.Prefix, Options{Redis: &RedisOptions{LeaseWait: 2 * time.Second}})
	src := newSource("v1")

	ctx1, cancel := context.WithCancel(context.Background())
	hook.cancel = cancel
	hook.armed.Store(true)
	_, err := a.Get(ctx1, "k", src.load)
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, hook.armed.Load(), "the SET NX did not run")

	v, err := b.Get(context.Background(), "k", src.load)
	require.NoError(t, err)
	require.Equal(t, "k=v1", v)
	require.Zero(t, b.Stats().Redis.LeaseTimeouts, "b waited for a lease nobody holds")
	require.Zero(t, a.Stats().Redis.LeaseTimeouts, "a's flight waited for its own lease")
}

// TestRedisInvalidationHeardAfterApplied pins that an invalidation from another instance
// is counted in InvalidationsHeard only once process memory has dropped the key: a caller
// that sees the count (as the cross-instance tests do) must not read the value it
// replaced. a's subscriber is held inside the invalidation (on the shard lock it takes)
// while the count is checked. Not parallel, so that the only goroutine in
// invalidateLocal is a's subscriber.
func TestRedisInvalidationHeardAfterApplied(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	a := newRedisCache(t, srv.Client(t), srv.Prefix, Options{})
	b := newRedisCache(t, srv.Client(t), srv.Prefix, Options{})
	v, err := a.Get(ctx, "k", func(context.Context, string) (string, error) { return "old", nil })
	require.NoError(t, err)
	require.Equal(t, "old", v)

	sh := a.shard("k")
	sh.mu.Lock()
	var unlock sync.Once
	t.Cleanup(func() { unlock.Do(sh.mu.Unlock) })
	require.NoError(t, b.Set(ctx, "k", "new"))
	require.Eventually(t, func() bool {
		buf := make([]byte, 1<<20)
		return strings.Contains(string(buf[:runtime.Stack(buf, true)]), ").invalidateLocal(")
	}, 20*time.Second, time.Millisecond, "a's subscriber reaches the invalidation of k")
	assert.Zero(t, a.Stats().Redis.InvalidationsHeard, "counted before memory dropped k")
	unlock.Do(sh.mu.Unlock)

	heard(t, a, 1)
	v, err = a.Get(ctx, "k", func(context.Context, string) (string, error) { return "loaded", nil })
	require.NoError(t, err)
	assert.Equal(t, "new", v, "a's Get after the count sees b's Set")
}
