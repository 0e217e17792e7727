package cache

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stout-go/stout/cache/internal/l2"
)

// blockedLoader is a loader that blocks until release is closed, counting its calls.
type blockedLoader struct {
	started, release chan struct{}
	once             sync.Once
	n                atomic.Int64
}

func newBlockedLoader() *blockedLoader {
	return &blockedLoader{started: make(chan struct{}), release: make(chan struct{})}
}

func (g *blockedLoader) load(ctx context.Context, key string) (string, error) {
	n := g.n.Add(1)
	g.once.Do(func() { close(g.started) })
	select {
	case <-g.release:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return key + "=v" + strconv.FormatInt(n, 10), nil
}

// constant is a loader of v that fails the test when called with fail set.
func constant(t *testing.T, v string, fail bool) Loader[string] {
	return func(context.Context, string) (string, error) {
		if fail {
			t.Errorf("loaded, but the value should have been served")
		}
		return v, nil
	}
}

// getNow is c.Get that must answer well before a blocked loader would let it.
func getNow(t *testing.T, c *Cache[string], key string, load Loader[string]) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	v, err := c.Get(ctx, key, load)
	require.NoError(t, err, "the Get waited")
	return v
}

// redisValue is the payload Redis holds for key, "" when it holds no value.
func redisValue(t *testing.T, c *Cache[string], key string) string {
	t.Helper()
	r := c.l2.(*redisLevel)
	raw, err := r.client.Get(context.Background(), r.s.DataKey(r.s.Stats().Version, key)).Bytes()
	if err != nil {
		return ""
	}
	e, ok := l2.Decode(raw)
	if !ok {
		return ""
	}
	return string(e.Payload)
}

// inFlight reports whether c has a flight of key.
func inFlight(c *Cache[string], key string) bool {
	sh := c.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.m[key] != nil
}

func TestRedisStaleWhileRevalidate(t *testing.T) {
	redisBackends(t, func(t *testing.T, newClient func() RedisClient, prefix string) {
		ctx := context.Background()
		opts := func(clock Clock, l1 bool) Options {
			o := Options{Clock: clock, TTL: 10 * time.Second, Stale: time.Minute, NegativeTTL: 10 * time.Second, Jitter: -1}
			if !l1 {
				o.MaxEntries = -1
			}
			return o
		}

		t.Run("L2 only: the stale value is served at once and refreshed once", func(t *testing.T) {
			clock := newFakeClock()
			c := newRedisCache(t, newClient(), prefix+"a:", opts(clock, false))
			require.Equal(t, "old", getNow(t, c, "k", constant(t, "old", false)))
			waitFilled(t, c, "k")
			clock.Advance(11 * time.Second) // past the soft expiry, within Stale
			g := newBlockedLoader()
			assert.Equal(t, "old", getNow(t, c, "k", g.load))
			waitClosed(t, g.started)
			assert.Equal(t, "old", getNow(t, c, "k", g.load), "a caller during the refresh is served too")
			close(g.release)
			require.Eventually(t, func() bool { return redisValue(t, c, "k") == `"k=v1"` }, 10*time.Second, time.Millisecond)
			require.Eventually(t, func() bool { return !inFlight(c, "k") }, 10*time.Second, time.Millisecond)
			assert.Equal(t, int64(1), g.n.Load(), "one background load")
			assert.Equal(t, "k=v1", getNow(t, c, "k", constant(t, "", true)))
			assert.Equal(t, uint64(2), c.Stats().StaleServed)
		})

		t.Run("GetMany serves stale values at once and refreshes each once", func(t *testing.T) {
			clock := newFakeClock()
			a := newRedisCache(t, newClient(), prefix+"m:", opts(clock, false))
			b := newRedisCache(t, newClient(), prefix+"m:", opts(clock, true))
			require.Equal(t, "old", getNow(t, a, "k1", constant(t, "old", false)))
			require.Equal(t, "old", getNow(t, a, "k2", constant(t, "old", false)))
			waitFilled(t, a, "k1")
			waitFilled(t, a, "k2")
			clock.Advance(11 * time.Second)
			g := newBlockedLoader()
			batch := func(ctx context.Context, keys []string) (map[string]string, error) {
				m := make(map[string]string, len(keys))
				for _, k := range keys {
					v, err := g.load(ctx, k)
					if err != nil {
						return nil, err
					}
					m[k] = v
				}
				return m, nil
			}
			for _, c := range []*Cache[string]{a, b} {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				got, err := c.GetMany(ctx, []string{"k1", "k2"}, batch)
				cancel()
				require.NoError(t, err, "GetMany waited")
				assert.Equal(t, map[string]string{"k1": "old", "k2": "old"}, got)
			}
			waitClosed(t, g.started)
			close(g.release)
			require.Eventually(t, func() bool {
				return redisValue(t, a, "k1") != `"old"` && redisValue(t, a, "k2") != `"old"`
			}, 10*time.Second, time.Millisecond)
			require.Eventually(t, func() bool {
				return !inFlight(a, "k1") && !inFlight(a, "k2") && !inFlight(b, "k1") && !inFlight(b, "k2")
			}, 10*time.Second, time.Millisecond)
			assert.Equal(t, int64(2), g.n.Load(), "one background load per key across both instances")
			assert.Equal(t, uint64(2), a.Stats().StaleServed)
			assert.Equal(t, uint64(2), b.Stats().StaleServed)
		})

		t.Run("two instances serve the stale value and load it once", func(t *testing.T) {
			clock := newFakeClock()
			a := newRedisCache(t, newClient(), prefix+"b:", opts(clock, true))
			b := newRedisCache(t, newClient(), prefix+"b:", opts(clock, true))
			require.Equal(t, "old", getNow(t, a, "k", constant(t, "old", false)))
			waitFilled(t, a, "k")
			clock.Advance(11 * time.Second)
			g := newBlockedLoader()
			assert.Equal(t, "old", getNow(t, a, "k", g.load), "a serves its L1 value stale")
			waitClosed(t, g.started)
			assert.Equal(t, "old", getNow(t, b, "k", g.load), "b serves Redis's value stale")
			// b's refresh finds a's refresh lock and ends without a load.
			require.Eventually(t, func() bool { return !inFlight(b, "k") }, 10*time.Second, time.Millisecond)
			close(g.release)
			require.Eventually(t, func() bool { return redisValue(t, a, "k") == `"k=v1"` }, 10*time.Second, time.Millisecond)
			assert.Equal(t, int64(1), g.n.Load(), "one load across both instances")
			// a's write is published: b drops the stale value it holds and reads v1.
			require.Eventually(t, func() bool { return b.Stats().Redis.InvalidationsHeard >= 1 }, 10*time.Second, time.Millisecond)
			assert.Equal(t, "k=v1", getNow(t, b, "k", constant(t, "", true)))
			require.Eventually(t, func() bool { return !inFlight(a, "k") }, 10*time.Second, time.Millisecond)
			assert.Equal(t, "k=v1", getNow(t, a, "k", constant(t, "", true)))
			assert.Equal(t, uint64(1), a.Stats().StaleServed)
			assert.Equal(t, uint64(1), b.Stats().StaleServed)
		})

		t.Run("past the hard expiry a Get loads", func(t *testing.T) {
			clock := newFakeClock()
			a := newRedisCache(t, newClient(), prefix+"c:", opts(clock, false))
			require.Equal(t, "old", getNow(t, a, "k", constant(t, "old", false)))
			waitFilled(t, a, "k")
			clock.Advance(11*time.Second + time.Minute)
			assert.Equal(t, "new", getNow(t, a, "k", constant(t, "new", false)))
			assert.Zero(t, a.Stats().StaleServed)
			assert.Zero(t, a.Stats().Redis.Corrupt, "a plain miss, not a value the cache could not use")

			// On the real clock, the Redis key is gone at the hard expiry.
			b := newRedisCache(t, newClient(), prefix+"c2:", Options{TTL: 50 * time.Millisecond, Stale: 100 * time.Millisecond, Jitter: -1})
			require.Equal(t, "old", getNow(t, b, "k", constant(t, "old", false)))
			waitFilled(t, b, "k")
			require.Eventually(t, func() bool { return redisValue(t, b, "k") == "" }, 10*time.Second, time.Millisecond)
			assert.Equal(t, "new", getNow(t, b, "k", constant(t, "new", false)))
			assert.Zero(t, b.Stats().StaleServed)
		})

		t.Run("an invalidation during the refresh rejects its write", func(t *testing.T) {
			clock := newFakeClock()
			c := newRedisCache(t, newClient(), prefix+"d:", opts(clock, false))
			require.Equal(t, "old", getNow(t, c, "k", constant(t, "old", false)))
			waitFilled(t, c, "k")
			clock.Advance(11 * time.Second)
			g := newBlockedLoader()
			assert.Equal(t, "old", getNow(t, c, "k", g.load))
			waitClosed(t, g.started)
			// Delete the key in Redis only (the store ignores its own message): the
			// flight stays attached, and only the fill's compare-and-set keeps its
			// value out.
			require.NoError(t, c.l2.(*redisLevel).s.Invalidate(ctx, "k"))
			close(g.release)
			require.Eventually(t, func() bool { return !inFlight(c, "k") }, 10*time.Second, time.Millisecond)
			require.Eventually(t, func() bool { return c.Stats().Redis.FillsRejected == 1 }, 10*time.Second, time.Millisecond)
			assert.Empty(t, redisValue(t, c, "k"), "nothing was written")
		})

		t.Run("negative entries are not served stale", func(t *testing.T) {
			clock := newFakeClock()
			a := newRedisCache(t, newClient(), prefix+"e:", opts(clock, true))
			b := newRedisCache(t, newClient(), prefix+"e:", opts(clock, true))
			_, err := a.Get(ctx, "k", func(context.Context, string) (string, error) { return "", ErrNotFound })
			require.ErrorIs(t, err, ErrNotFound)
			waitFilled(t, a, "k")
			clock.Advance(11 * time.Second)
			assert.Equal(t, "new", getNow(t, a, "k", constant(t, "new", false)))
			assert.Equal(t, "new", getNow(t, b, "k", constant(t, "new", false)))
			assert.Zero(t, a.Stats().StaleServed+b.Stats().StaleServed)
		})
	})
}

// pauseCodec is JSON whose Unmarshal, while armed, signals in and waits for out.
type pauseCodec struct {
	armed   atomic.Bool
	in, out chan struct{}
}

func (p *pauseCodec) Marshal(v any) ([]byte, error) { return json.Marshal(v) }
func (p *pauseCodec) Unmarshal(b []byte, v any) error {
	if p.armed.CompareAndSwap(true, false) {
		close(p.in)
		<-p.out
	}
	return json.Unmarshal(b, v)
}

// TestRedisStaleNotServedAfterInvalidate: a Get reads a stale value from Redis, and an
// Invalidate returns before it stores it: no Get that begins after the Invalidate is
// served the invalidated value (the background refresh must not be attached).
func TestRedisStaleNotServedAfterInvalidate(t *testing.T) {
	redisBackends(t, func(t *testing.T, newClient func() RedisClient, prefix string) {
		ctx := context.Background()
		clock := newFakeClock()
		pc := &pauseCodec{in: make(chan struct{}), out: make(chan struct{})}
		c := newRedisCache(t, newClient(), prefix+"nv:", Options{Clock: clock, TTL: 10 * time.Second, Stale: time.Minute, Jitter: -1, MaxEntries: -1, Codec: pc})
		require.Equal(t, "old", getNow(t, c, "k", constant(t, "old", false)))
		waitFilled(t, c, "k")
		clock.Advance(11 * time.Second)
		pc.armed.Store(true)
		g := newBlockedLoader()
		defer close(g.release)
		first := make(chan struct{})
		go func() { _, _ = c.Get(ctx, "k", g.load); close(first) }()
		waitClosed(t, pc.in) // the Get read the stale value from Redis and decodes it
		require.NoError(t, c.Invalidate(ctx, "k"))
		close(pc.out)
		waitClosed(t, first) // that Get returned (the stale value: it began before Invalidate)
		v := getNow(t, c, "k", constant(t, "new", false))
		assert.Equal(t, "new", v, "a Get that began after Invalidate returned was served the invalidated value")
	})
}

// TestRedisStaleRefreshRetried: an instance that left a stale value's refresh to another
// instance refreshes it itself once the other's lock has expired, if no new value came
// (the other's load failed).
func TestRedisStaleRefreshRetried(t *testing.T) {
	redisBackends(t, func(t *testing.T, newClient func() RedisClient, prefix string) {
		clock := newFakeClock()
		o := Options{Clock: clock, TTL: 10 * time.Second, Stale: time.Hour, Jitter: -1}
		a := newRedisCache(t, newClient(), prefix+"rt:", o)
		b := newRedisCache(t, newClient(), prefix+"rt:", o)
		require.Equal(t, "old", getNow(t, a, "k", constant(t, "old", false)))
		waitFilled(t, a, "k")
		require.Equal(t, "old", getNow(t, b, "k", constant(t, "old", true)))
		clock.Advance(11 * time.Second)
		started, release := make(chan struct{}), make(chan struct{})
		failing := func(ctx context.Context, key string) (string, error) {
			close(started)
			<-release
			return "", assert.AnError
		}
		assert.Equal(t, "old", getNow(t, a, "k", failing)) // a takes the refresh lock
		waitClosed(t, started)
		assert.Equal(t, "old", getNow(t, b, "k", constant(t, "new", false))) // b skips
		require.Eventually(t, func() bool { return !inFlight(b, "k") }, 10*time.Second, time.Millisecond)
		close(release) // a's refresh fails: lock released, nothing published
		ra := a.l2.(*redisLevel)
		lock := ra.s.DataKey(ra.s.Stats().Version, "k") + ":r"
		require.Eventually(t, func() bool {
			return !inFlight(a, "k") && errors.Is(ra.client.Get(context.Background(), lock).Err(), redis.Nil)
		}, 10*time.Second, time.Millisecond)
		clock.Advance(10 * time.Minute) // far past any lease TTL, within Stale
		var loads atomic.Int64
		for i := 0; i < 50; i++ {
			getNow(t, b, "k", func(context.Context, string) (string, error) { loads.Add(1); return "new", nil })
			time.Sleep(10 * time.Millisecond)
		}
		assert.NotZero(t, loads.Load(), "b never refreshed again after the instance holding the lock failed: %+v", b.Stats())
	})
}
