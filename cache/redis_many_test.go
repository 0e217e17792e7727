package cache

import (
	"context"
	"errors"
	"runtime"
	"slices"
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

// hooker is a client that takes go-redis hooks.
type hooker interface{ AddHook(redis.Hook) }

// manyKeys returns n keys named prefix0, prefix1, ...
func manyKeys(prefix string, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = prefix + strconv.Itoa(i)
	}
	return keys
}

// leaseLeft reports whether c's data key of key holds a fill lease.
func leaseLeft(t *testing.T, c *Cache[string], key string) bool {
	t.Helper()
	r := c.l2.(*redisLevel)
	raw, err := r.client.Get(context.Background(), r.s.DataKey(r.s.Stats().Version, key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return false
	}
	require.NoError(t, err)
	return len(raw) > 1 && raw[1] == 'L'
}

// Instances that GetMany the same cold keys at once load each key once in total: a key
// another instance is loading is waited for, not loaded again.
func TestRedisGetManyLoadsEachKeyOnce(t *testing.T) {
	t.Parallel()
	redisBackends(t, func(t *testing.T, newClient func() RedisClient, prefix string) {
		ctx := context.Background()
		const instances, goroutines, n = 4, 8, 12
		var caches []*Cache[string]
		for range instances {
			caches = append(caches, newRedisCache(t, newClient(), prefix, Options{
				Redis: &RedisOptions{LeaseWait: 30 * time.Second},
			}))
		}
		keys := manyKeys("cold-", n)
		var mu sync.Mutex
		loads := map[string]int{}
		gate := make(chan struct{})
		var opened sync.Once
		open := func() { opened.Do(func() { close(gate) }) }
		t.Cleanup(open) // runs before the caches' Close, which waits for the loader
		batch := func(ctx context.Context, missing []string) (map[string]string, error) {
			mu.Lock()
			for _, k := range missing {
				loads[k]++
			}
			mu.Unlock()
			<-gate
			m := make(map[string]string, len(missing))
			for _, k := range missing {
				m[k] = "v-" + k
			}
			return m, nil
		}
		var wg sync.WaitGroup
		for _, c := range caches {
			for g := range goroutines {
				wg.Go(func() {
					// Each goroutine asks in its own order, so that the instances'
					// batches take the keys' leases in different orders.
					ks := slices.Clone(keys)
					for i := range g {
						ks[i%n], ks[(i*5+g)%n] = ks[(i*5+g)%n], ks[i%n]
					}
					m, err := c.GetMany(ctx, ks, batch)
					assert.NoError(t, err)
					assert.Len(t, m, n)
					for _, k := range keys {
						assert.Equal(t, "v-"+k, m[k])
					}
				})
			}
		}
		// Every goroutine missed every key, and every instance read every key from
		// Redis (and took its lease, or found another instance's) before any load ends.
		require.Eventually(t, func() bool {
			var misses, redisMisses uint64
			for _, c := range caches {
				st := c.Stats()
				misses += st.Misses
				redisMisses += st.Redis.Misses
			}
			return misses == instances*goroutines*n && redisMisses == instances*n
		}, 20*time.Second, time.Millisecond)
		open()
		wg.Wait()
		mu.Lock()
		for _, k := range keys {
			assert.Equal(t, 1, loads[k], "loads of %s", k)
		}
		mu.Unlock()
		var waits, waitHits, timeouts uint64
		for _, c := range caches {
			st := c.Stats().Redis
			waits += st.LeaseWaits
			waitHits += st.LeaseWaitHits
			timeouts += st.LeaseTimeouts
		}
		assert.Equal(t, uint64((instances-1)*n), waits, "every instance but the key's holder waited")
		assert.Equal(t, waits, waitHits)
		assert.Zero(t, timeouts)
	})
}

// tripRecorder is a go-redis hook that records the command names of each round trip.
type tripRecorder struct {
	mu    sync.Mutex
	trips [][]string
}

func (h *tripRecorder) record(cmds ...redis.Cmder) {
	names := make([]string, len(cmds))
	for i, c := range cmds {
		names[i] = c.Name()
	}
	h.mu.Lock()
	h.trips = append(h.trips, names)
	h.mu.Unlock()
}

func (h *tripRecorder) take() [][]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.trips
	h.trips = nil
	return t
}

func (h *tripRecorder) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *tripRecorder) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.record(cmd)
		return next(ctx, cmd)
	}
}
func (h *tripRecorder) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.record(cmds...)
		return next(ctx, cmds)
	}
}

// A GetMany that misses N keys in Redis writes them back in one round trip, and another
// instance then reads them from Redis.
func TestRedisGetManyWritesBackInOneTrip(t *testing.T) {
	t.Parallel()
	redisBackends(t, func(t *testing.T, newClient func() RedisClient, prefix string) {
		ctx := context.Background()
		clock := newFakeClock() // the namespace version stays fresh: no version reads
		client := newClient()
		rec := &tripRecorder{}
		client.(hooker).AddHook(rec)
		a := newRedisCache(t, client, prefix, Options{Clock: clock})
		b := newRedisCache(t, newClient(), prefix, Options{Clock: clock})
		keys := append(manyKeys("id-", 24), "absent")
		batch := func(ctx context.Context, missing []string) (map[string]string, error) {
			m := map[string]string{}
			for _, k := range missing {
				if k != "absent" {
					m[k] = "v-" + k
				}
			}
			return m, nil
		}
		rec.take()
		m, err := a.GetMany(ctx, keys, batch)
		require.NoError(t, err)
		assert.Len(t, m, len(keys)-1)
		for _, k := range keys {
			waitFilled(t, b, k) // through b's client: a's records only a's trips
		}
		trips := rec.take()
		var writes [][]string
		for _, names := range trips {
			if slices.Contains(names, "eval") || slices.Contains(names, "evalsha") {
				writes = append(writes, names)
			}
		}
		require.Len(t, writes, 1, "the write-back is one round trip: %v", trips)
		assert.Len(t, writes[0], len(keys), "one fenced write per key")
		assert.Len(t, trips, 3, "read, leases, write-back: %v", trips)

		m, err = b.GetMany(ctx, keys, func(context.Context, []string) (map[string]string, error) {
			return nil, errors.New("must not load")
		})
		require.NoError(t, err)
		assert.Len(t, m, len(keys)-1)
		assert.Equal(t, "v-id-3", m["id-3"])
		assert.Equal(t, uint64(len(keys)), b.Stats().Redis.Hits, "every key, the absent one too, from Redis")
	})
}

// cutLeasePipeline makes, once armed, the pipeline that takes a batch's leases look to
// the client as if its budget ran out after the server ran it.
type cutLeasePipeline struct{ armed atomic.Bool }

func (h *cutLeasePipeline) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *cutLeasePipeline) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *cutLeasePipeline) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if !slices.ContainsFunc(cmds, func(c redis.Cmder) bool {
			args := c.Args()
			return c.Name() == "set" && len(args) > 0 && args[len(args)-1] == "nx"
		}) || !h.armed.CompareAndSwap(true, false) {
			return err
		}
		for _, c := range cmds {
			c.SetErr(context.DeadlineExceeded)
		}
		return context.DeadlineExceeded
	}
}

// A batch whose lease pipeline ran on the server but timed out on the client leaves no
// lease behind: another instance loads the keys at once instead of waiting for a fill
// nobody makes.
func TestRedisGetManyCutLeasesNotOrphaned(t *testing.T) {
	t.Parallel()
	redisBackends(t, func(t *testing.T, newClient func() RedisClient, prefix string) {
		ctx := context.Background()
		client := newClient()
		hook := &cutLeasePipeline{}
		client.(hooker).AddHook(hook)
		a := newRedisCache(t, client, prefix, Options{})
		b := newRedisCache(t, newClient(), prefix, Options{Redis: &RedisOptions{LeaseWait: 5 * time.Second}})
		keys := manyKeys("k", 8)
		batch := func(ctx context.Context, missing []string) (map[string]string, error) {
			m := map[string]string{}
			for _, k := range missing {
				m[k] = "v-" + k
			}
			return m, nil
		}
		hook.armed.Store(true)
		m, err := a.GetMany(ctx, keys, batch)
		require.NoError(t, err, "fail-open: the keys are loaded")
		assert.Len(t, m, len(keys))
		require.False(t, hook.armed.Load(), "the lease pipeline did not run")
		for _, k := range keys {
			assert.False(t, leaseLeft(t, a, k), "lease of %s left behind", k)
		}
		start := time.Now()
		m, err = b.GetMany(ctx, keys, batch)
		require.NoError(t, err)
		assert.Len(t, m, len(keys))
		assert.Zero(t, b.Stats().Redis.LeaseWaits, "b waited for a lease nobody fills")
		assert.Less(t, time.Since(start), 4*time.Second)
	})
}

// A batch's write-back is fenced key by key: a key invalidated between the miss and the
// write is not written (its lease is gone), while the rest of the batch is.
func TestRedisGetManyWriteBackFenced(t *testing.T) {
	t.Parallel()
	redisBackends(t, func(t *testing.T, newClient func() RedisClient, prefix string) {
		ctx := context.Background()
		a := newRedisCache(t, newClient(), prefix, Options{})
		b := newRedisCache(t, newClient(), prefix, Options{})
		entered, release := make(chan struct{}), make(chan struct{})
		var released sync.Once
		t.Cleanup(func() { released.Do(func() { close(release) }) })
		done := make(chan error, 1)
		go func() {
			_, err := a.GetMany(ctx, []string{"dropped", "heard", "kept"}, func(ctx context.Context, missing []string) (map[string]string, error) {
				close(entered)
				<-release
				return map[string]string{"dropped": "old", "heard": "old", "kept": "old"}, nil
			})
			done <- err
		}()
		waitClosed(t, entered)
		// "dropped" loses its lease without a's hearing of it (as an invalidation whose
		// message is still on the way); "heard" is invalidated by another instance.
		r := a.l2.(*redisLevel)
		require.NoError(t, r.client.Del(ctx, r.s.DataKey(r.s.Stats().Version, "dropped")).Err())
		require.NoError(t, b.Invalidate(ctx, "heard"))
		released.Do(func() { close(release) })
		require.NoError(t, <-done)
		waitFilled(t, a, "kept") // the write-back (one pipeline) has run
		require.Eventually(t, func() bool { return a.Stats().Redis.FillsRejected >= 1 }, 10*time.Second, time.Millisecond,
			"the write of dropped was rejected")
		for _, k := range []string{"dropped", "heard"} {
			raw, err := r.client.Get(ctx, r.s.DataKey(r.s.Stats().Version, k)).Result()
			assert.ErrorIs(t, err, redis.Nil, "%s holds %q", k, raw)
		}
		m, err := b.GetMany(ctx, []string{"dropped", "heard", "kept"}, func(ctx context.Context, missing []string) (map[string]string, error) {
			slices.Sort(missing)
			assert.Equal(t, []string{"dropped", "heard"}, missing)
			return map[string]string{"dropped": "new", "heard": "new"}, nil
		})
		require.NoError(t, err)
		assert.Equal(t, map[string]string{"dropped": "new", "heard": "new", "kept": "old"}, m)
	})
}

// A loader that ends its goroutine (runtime.Goexit) while the batch still has keys to wait
// for does not leave those keys' callers waiting forever.
func TestRedisGetManyGoexitBeforeWait(t *testing.T) {
	srv := redistest.Start(t)
	a := newRedisCache(t, srv.Client(t), srv.Prefix, Options{})
	b := newRedisCache(t, srv.Client(t), srv.Prefix, Options{})
	// b holds the lease of "held" (and never fills it) before a's batch reads it.
	held, err := b.l2.(*redisLevel).s.GetMany(t.Context(), []string{"held"})
	require.NoError(t, err)
	require.True(t, held[0].Fill.Leased())

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err = a.GetMany(ctx, []string{"held", "own"}, func(context.Context, []string) (map[string]string, error) {
		runtime.Goexit()
		return nil, nil
	})
	require.ErrorIs(t, err, errGoexit, "the caller of held got its flight's error, not its own timeout")
}
