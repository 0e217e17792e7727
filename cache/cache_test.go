package cache

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gate is a loader that reports each call on started and returns only when released.
type gate struct {
	calls   atomic.Int64
	started chan string
	release chan struct{}
	val     func(n int64) (string, error)
}

func newGate(val func(n int64) (string, error)) *gate {
	return &gate{started: make(chan string, 100), release: make(chan struct{}), val: val}
}

func (g *gate) load(ctx context.Context, key string) (string, error) {
	n := g.calls.Add(1)
	g.started <- key
	<-g.release
	return g.val(n)
}

func version(n int64) (string, error) { return "v" + strconv.FormatInt(n, 10), nil }

func TestNewValidatesOptions(t *testing.T) {
	for name, o := range map[string]Options{
		"namespace with colon": {Namespace: "a:b"},
		"namespace with brace": {Namespace: "{a}"},
		"jitter of 1":          {Jitter: 1},
		"negative size":        {MaxEntries: -5},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := New[int](o)
			require.ErrorIs(t, err, ErrInvalidOptions)
			assert.Nil(t, c)
		})
	}
	t.Run("zero options", func(t *testing.T) {
		c := newTest[int](t, Options{})
		assert.Equal(t, int64(DefaultTTL), c.cfg.ttl)
		assert.Equal(t, int64(DefaultTTL/10), c.cfg.negTTL)
		assert.InDelta(t, DefaultJitter, c.cfg.jitter, 0)
		assert.InDelta(t, DefaultBeta, c.cfg.beta, 0)
		assert.Equal(t, DefaultLoadTimeout, c.cfg.loadTimeout)
		assert.Equal(t, DefaultMaxEntries, c.cfg.maxEntries)
		assert.Equal(t, JSONCodec{}, c.cfg.codec)
	})
}

func TestGetLoadsOnceThenHits(t *testing.T) {
	c := newTest[string](t, Options{})
	var calls atomic.Int64
	load := func(ctx context.Context, key string) (string, error) {
		calls.Add(1)
		return "value of " + key, nil
	}
	for range 3 {
		v, err := c.Get(t.Context(), "k", load)
		require.NoError(t, err)
		assert.Equal(t, "value of k", v)
	}
	assert.Equal(t, int64(1), calls.Load())
	s := c.Stats()
	assert.Equal(t, uint64(2), s.Hits)
	assert.Equal(t, uint64(1), s.Misses)
	assert.Equal(t, uint64(1), s.Loads)
}

func TestStampedeOneLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newTest[string](t, Options{Clock: newFakeClock()})
		g := newGate(version)
		const n = 1000
		var wg sync.WaitGroup
		vals := make([]string, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { vals[i], errs[i] = c.Get(t.Context(), "cold", g.load) })
		}
		synctest.Wait() // every caller is waiting for the one load
		assert.Equal(t, int64(1), g.calls.Load())
		assert.Equal(t, uint64(n-1), c.Stats().Coalesced)
		close(g.release)
		wg.Wait()
		for i := range n {
			require.NoError(t, errs[i])
			require.Equal(t, "v1", vals[i])
		}
		assert.Equal(t, int64(1), g.calls.Load())
		assert.Equal(t, uint64(1), c.Stats().Loads)
	})
}

func TestStampedeUnderRace(t *testing.T) {
	// The same claim without synctest: goroutines start while the load runs and after it.
	c := newTest[int](t, Options{})
	var calls atomic.Int64
	load := func(ctx context.Context, key string) (int, error) {
		calls.Add(1)
		runtime.Gosched()
		return 42, nil
	}
	var wg sync.WaitGroup
	for range 1000 {
		wg.Go(func() {
			v, err := c.Get(t.Context(), "k", load)
			assert.NoError(t, err)
			assert.Equal(t, 42, v)
		})
	}
	wg.Wait()
	assert.Equal(t, int64(1), calls.Load())
}

func TestCallerCancelOnlyFailsThatCaller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newTest[string](t, Options{Clock: newFakeClock()})
		g := newGate(version)
		ctx, cancel := context.WithCancel(t.Context())
		var firstErr error
		var wg sync.WaitGroup
		wg.Go(func() { _, firstErr = c.Get(ctx, "k", g.load) })
		<-g.started // the first caller's load runs
		others := make([]string, 5)
		for i := range others {
			wg.Go(func() {
				v, err := c.Get(t.Context(), "k", g.load)
				assert.NoError(t, err)
				others[i] = v
			})
		}
		synctest.Wait()
		cancel()
		synctest.Wait()
		require.ErrorIs(t, firstErr, context.Canceled) // returned before the load ended
		close(g.release)
		wg.Wait()
		for _, v := range others {
			assert.Equal(t, "v1", v)
		}
		assert.Equal(t, int64(1), g.calls.Load())
		v, err := c.Get(t.Context(), "k", g.load) // the load was cached
		require.NoError(t, err)
		assert.Equal(t, "v1", v)
		assert.Equal(t, int64(1), g.calls.Load())
	})
}

func TestCancelledCallerStartsNoLoad(t *testing.T) {
	c := newTest[string](t, Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	called := false
	_, err := c.Get(ctx, "k", func(context.Context, string) (string, error) {
		called = true
		return "", nil
	})
	require.ErrorIs(t, err, context.Canceled)
	assert.False(t, called)
}

func TestLoadContext(t *testing.T) {
	type ctxKey struct{}
	synctest.Test(t, func(t *testing.T) {
		c := newTest[string](t, Options{Clock: newFakeClock(), LoadTimeout: 5 * time.Second})
		ctx, cancel := context.WithCancel(context.WithValue(t.Context(), ctxKey{}, "request-42"))
		defer cancel()
		start := time.Now()
		_, err := c.Get(ctx, "k", func(lctx context.Context, key string) (string, error) {
			assert.Equal(t, "request-42", lctx.Value(ctxKey{}), "the load keeps the caller's values")
			dl, ok := lctx.Deadline()
			assert.True(t, ok)
			assert.Equal(t, start.Add(5*time.Second), dl)
			<-lctx.Done() // a loader that hangs until its deadline
			return "", lctx.Err()
		})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, 5*time.Second, time.Since(start))
		assert.Equal(t, uint64(1), c.Stats().LoadErrors)
	})
}

func TestLoaderPanic(t *testing.T) {
	errBoom := errors.New("boom")
	for name, pv := range map[string]any{"error value": errBoom, "string value": "kaboom"} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newTest[string](t, Options{Clock: newFakeClock()})
				release := make(chan struct{})
				var calls atomic.Int64
				load := func(context.Context, string) (string, error) {
					calls.Add(1)
					<-release
					panic(pv)
				}
				const n = 10
				errs := make([]error, n)
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() { _, errs[i] = c.Get(t.Context(), "k", load) })
				}
				synctest.Wait()
				close(release)
				wg.Wait()
				for _, err := range errs {
					var pe *PanicError
					require.ErrorAs(t, err, &pe)
					assert.Equal(t, pv, pe.Value)
					assert.Contains(t, string(pe.Stack), "TestLoaderPanic")
					if pe, ok := pv.(error); ok && errors.Is(pe, errBoom) {
						assert.ErrorIs(t, err, errBoom)
					}
				}
				assert.Equal(t, int64(1), calls.Load())
				assert.Equal(t, uint64(1), c.Stats().LoadErrors)
				// Not cached: the next Get loads again.
				v, err := c.Get(t.Context(), "k", func(context.Context, string) (string, error) { return "ok", nil })
				require.NoError(t, err)
				assert.Equal(t, "ok", v)
			})
		})
	}
}

func TestLoaderGoexit(t *testing.T) {
	c := newTest[string](t, Options{})
	_, err := c.Get(t.Context(), "k", func(context.Context, string) (string, error) {
		runtime.Goexit()
		return "", nil
	})
	require.ErrorIs(t, err, errGoexit)
}

func TestLoaderErrorNotCached(t *testing.T) {
	c := newTest[string](t, Options{})
	errDB := errors.New("db down")
	_, err := c.Get(t.Context(), "k", func(context.Context, string) (string, error) { return "ignored", errDB })
	require.ErrorIs(t, err, errDB)
	v, err := c.Get(t.Context(), "k", func(context.Context, string) (string, error) { return "fine", nil })
	require.NoError(t, err)
	assert.Equal(t, "fine", v)
	assert.Equal(t, uint64(1), c.Stats().LoadErrors)
}

func TestNilLoader(t *testing.T) {
	c := newTest[string](t, Options{})
	_, err := c.Get(t.Context(), "k", nil)
	require.ErrorIs(t, err, ErrNilLoader)
	_, err = c.GetMany(t.Context(), []string{"k"}, nil)
	require.ErrorIs(t, err, ErrNilLoader)
}

// TestNoStaleSet forces the stale-set race: a load is blocked, the key is invalidated (or
// set), then the load finishes. Its callers get what it loaded; nobody after the
// invalidation does.
func TestNoStaleSet(t *testing.T) {
	ops := map[string]func(c *Cache[string]) error{
		"Invalidate":    func(c *Cache[string]) error { return c.Invalidate(context.Background(), "k") },
		"InvalidateAll": func(c *Cache[string]) error { return c.InvalidateAll(context.Background()) },
		"Set":           func(c *Cache[string]) error { return c.Set(context.Background(), "k", "set") },
	}
	for name, op := range ops {
		t.Run(name+"/then release", func(t *testing.T) {
			c := newTest[string](t, Options{})
			g := newGate(version)
			var v1 string
			var err1 error
			done := make(chan struct{})
			go func() {
				defer close(done)
				v1, err1 = c.Get(t.Context(), "k", g.load)
			}()
			<-g.started // the load read the old state and is blocked
			require.NoError(t, op(c))
			g.release <- struct{}{}
			<-done
			require.NoError(t, err1)
			assert.Equal(t, "v1", v1, "the caller that asked before gets the value it asked for")

			close(g.release)
			v, err := c.Get(t.Context(), "k", g.load)
			require.NoError(t, err)
			if name == "Set" {
				assert.Equal(t, "set", v)
				assert.Equal(t, int64(1), g.calls.Load())
			} else {
				assert.Equal(t, "v2", v, "the next Get reloads and never sees the old value")
				assert.Equal(t, int64(2), g.calls.Load())
			}
		})
		t.Run(name+"/new get during old load", func(t *testing.T) {
			c := newTest[string](t, Options{})
			g := newGate(version)
			done := make(chan string)
			go func() {
				v, err := c.Get(t.Context(), "k", g.load)
				assert.NoError(t, err)
				done <- v
			}()
			<-g.started
			require.NoError(t, op(c))
			want := "set"
			if name != "Set" {
				// A Get after the invalidation does not join the detached load: it starts its own.
				want = "v2"
				go func() {
					v, err := c.Get(t.Context(), "k", g.load)
					assert.NoError(t, err)
					done <- v
				}()
				<-g.started
				g.release <- struct{}{} // lets one load end: v1's or v2's, both are checked
				g.release <- struct{}{}
				got := []string{<-done, <-done}
				assert.ElementsMatch(t, []string{"v1", "v2"}, got)
			} else {
				v, err := c.Get(t.Context(), "k", g.load)
				require.NoError(t, err)
				assert.Equal(t, "set", v)
				g.release <- struct{}{}
				assert.Equal(t, "v1", <-done)
			}
			for range 3 {
				v, err := c.Get(t.Context(), "k", func(context.Context, string) (string, error) {
					return "", errors.New("must not load")
				})
				require.NoError(t, err)
				assert.Equal(t, want, v)
			}
		})
	}
}

func TestInvalidateAllGeneration(t *testing.T) {
	c := newTest[int](t, Options{})
	for i := range 100 {
		require.NoError(t, c.Set(t.Context(), strconv.Itoa(i), i))
	}
	require.NoError(t, c.InvalidateAll(t.Context()))
	var calls atomic.Int64
	for i := range 100 {
		v, err := c.Get(t.Context(), strconv.Itoa(i), func(context.Context, string) (int, error) {
			calls.Add(1)
			return -i, nil
		})
		require.NoError(t, err)
		assert.Equal(t, -i, v)
	}
	assert.Equal(t, int64(100), calls.Load())
}

func TestCloseEndsLoadsAndWaits(t *testing.T) {
	c, err := New[string](Options{})
	require.NoError(t, err)
	require.NoError(t, c.Set(t.Context(), "hot", "h"))
	started := make(chan struct{})
	loadEnded := false
	errc := make(chan error, 1)
	go func() {
		_, err := c.Get(t.Context(), "k", func(ctx context.Context, _ string) (string, error) {
			close(started)
			<-ctx.Done() // ends only because Close cancels it
			loadEnded = true
			return "", ctx.Err()
		})
		errc <- err
	}()
	<-started
	require.NoError(t, c.Close())
	assert.True(t, loadEnded, "Close waited for the load") // no race: wg.Wait orders it
	require.ErrorIs(t, <-errc, context.Canceled)
	require.NoError(t, c.Close(), "Close is idempotent")

	v, err := c.Get(t.Context(), "hot", nil)
	require.NoError(t, err, "hits are still served")
	assert.Equal(t, "h", v)
	_, err = c.Get(t.Context(), "cold", func(context.Context, string) (string, error) { return "x", nil })
	require.ErrorIs(t, err, ErrClosed)
	_, err = c.GetMany(t.Context(), []string{"cold"}, func(context.Context, []string) (map[string]string, error) { return nil, nil })
	require.ErrorIs(t, err, ErrClosed)
}

func TestEvictions(t *testing.T) {
	c := newTest[int](t, Options{MaxEntries: 10})
	for i := range 200 {
		require.NoError(t, c.Set(t.Context(), fmt.Sprint(i), i))
	}
	c.l1.CleanUp()
	assert.LessOrEqual(t, c.l1.EstimatedSize(), 10)
	assert.GreaterOrEqual(t, c.Stats().Evictions, uint64(190))
}

func TestJSONCodec(t *testing.T) {
	type user struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	}
	var codec Codec = JSONCodec{}
	b, err := codec.Marshal(user{1, "ann"})
	require.NoError(t, err)
	assert.JSONEq(t, `{"id":1,"name":"ann"}`, string(b))
	var u user
	require.NoError(t, codec.Unmarshal(b, &u))
	assert.Equal(t, user{1, "ann"}, u)
}

func TestClockResolution(t *testing.T) {
	c, err := New[string](Options{ClockResolution: time.Millisecond, TTL: time.Hour})
	require.NoError(t, err)
	require.NotNil(t, c.coarse)
	before := time.Now().UnixNano()
	assert.InDelta(t, before, c.now(), float64(time.Second), "the coarse clock tells the time")
	v, err := c.Get(t.Context(), "k", func(context.Context, string) (string, error) { return "v", nil })
	require.NoError(t, err)
	assert.Equal(t, "v", v)
	v, err = c.Get(t.Context(), "k", nil)
	require.NoError(t, err)
	assert.Equal(t, "v", v)
	require.NoError(t, c.Close()) // stops the clock's goroutine (goleak checks)
	assert.InDelta(t, time.Now().UnixNano(), c.now(), float64(time.Second), "after Close it reads the precise time")

	fake := newTest[string](t, Options{ClockResolution: time.Millisecond, Clock: newFakeClock()})
	assert.Nil(t, fake.coarse, "ignored with a Clock")
}
