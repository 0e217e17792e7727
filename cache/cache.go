package cache

import (
	"context"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
)

// Loader loads the value of key from the source of truth. It returns [ErrNotFound] (or an
// error wrapping it) when the key does not exist there.
//
// The cache calls it on behalf of every caller waiting for the key, so ctx is not any
// caller's context: it keeps the values of the context of the call that started the load,
// but not its cancellation, and ends at [Options.LoadTimeout] or at [Cache.Close].
type Loader[V any] func(ctx context.Context, key string) (V, error)

// BatchLoader loads the values of keys in one call. Keys absent from the returned map do not
// exist (as if a Loader had returned [ErrNotFound] for them); keys the cache did not ask
// for are ignored. ctx is as for [Loader].
type BatchLoader[V any] func(ctx context.Context, keys []string) (map[string]V, error)

// Cache is a typed cache-aside cache of values of type V under string keys. Get returns the
// cached value of a key or loads it with the caller's loader, once for all the callers that
// want it at the same time, and keeps it for [Options.TTL].
//
// Values are kept decoded in process memory (a W-TinyLFU cache bounded by
// [Options.MaxEntries]) and handed out as they are: treat them as immutable, or store
// pointers to values nobody changes.
//
// A Cache is safe for concurrent use by multiple goroutines. Create one with [New] and stop
// it with [Cache.Close].
type Cache[V any] struct {
	cfg   config
	l1    *otter.Cache[string, *entry[V]]
	gen   atomic.Uint64 // namespace generation; InvalidateAll bumps it
	l2    shared        // the level shared by instances; nil: process memory only
	stats counters

	seed   maphash.Seed
	shards []flightShard[V] // len is a power of two

	now    func() int64       // the clock, in nanoseconds; the L1 store reads the same time
	coarse *otter.CoarseClock // the clock with Options.ClockResolution, else nil
	rand   func() float64     // uniform in [0, 1): jitter and XFetch draws

	closing     context.Context // done at Close: ends every load
	stopClosing context.CancelFunc
	closeOnce   sync.Once
	mu          sync.Mutex // guards closed and the Add of wg
	closed      bool
	wg          sync.WaitGroup // one per load goroutine
}

// numShards is the number of flight shards (one mutex and map each).
const numShards = 64

// New returns a Cache configured by o. It returns an error wrapping [ErrInvalidOptions]
// when o is invalid.
func New[V any](o Options) (*Cache[V], error) {
	cfg, err := o.config()
	if err != nil {
		return nil, err
	}
	c := &Cache[V]{
		cfg:    cfg,
		seed:   maphash.MakeSeed(),
		shards: make([]flightShard[V], numShards),
		rand:   rand.Float64,
	}
	for i := range c.shards {
		c.shards[i].m = make(map[string]*flight[V])
	}
	c.closing, c.stopClosing = context.WithCancel(context.Background())

	// The L1 store and the cache must read the same time. With the system clock both
	// read the wall time at their start plus the monotonic time since (so a step of the
	// wall clock moves no expiry), and they differ by the microseconds between the two
	// starts; the store reads its own, which is faster than an interface call.
	var clock otter.Clock
	switch {
	case cfg.clock != nil:
		oc := otterClock{cfg.clock}
		clock, c.now = oc, oc.NowNano
	case cfg.resolution > 0:
		c.coarse = otter.NewCoarseClock(cfg.resolution)
		clock, c.now = c.coarse, c.coarse.NowNano
	default:
		start := time.Now()
		startNanos := start.UnixNano()
		c.now = func() int64 { return startNanos + int64(time.Since(start)) }
	}
	l1, err := otter.New(&otter.Options[string, *entry[V]]{
		MaximumSize: cfg.maxEntries,
		// No ExpiryCalculator: the store would read the clock on every read, and the
		// Cache reads it anyway to check freshness, the stale bound and the XFetch
		// window itself. An expired entry is replaced by the next load of its key, or
		// evicted by the size bound like any entry nobody reads.
		OnAtomicDeletion: func(e otter.DeletionEvent[string, *entry[V]]) {
			if e.WasEvicted() {
				c.stats.evictions.Add(1)
			}
		},
		// The store's maintenance runs on goroutines the Cache owns (and Close waits
		// for), or on the caller's after Close.
		Executor: func(fn func()) {
			if !c.spawn(fn) {
				fn()
			}
		},
		Clock: clock,
	})
	if err != nil {
		c.stopClosing()
		if c.coarse != nil {
			c.coarse.Stop()
		}
		return nil, err
	}
	c.l1 = l1
	if cfg.redis != nil {
		if err := c.attachRedis(cfg.redis); err != nil {
			c.stopClosing()
			l1.StopAllGoroutines()
			return nil, err
		}
	}
	return c, nil
}

// Get returns the value of key: from memory when a fresh one is there, else from load,
// which runs once for all the concurrent callers of Get (and GetMany) that miss the key.
//
// Get waits for the load until ctx is done and then returns ctx.Err(); the load goes on for
// the other callers and its value is cached. A loader error is returned to every waiting
// caller and not cached, except [ErrNotFound], which is remembered for
// [Options.NegativeTTL]. A panic in the loader reaches every waiting caller as a
// [*PanicError].
//
// A hit takes no lock and allocates nothing. Near expiry a hit may start one background
// refresh (see [Options.Beta]), and past it a stale value may be served while one runs
// (see [Options.Stale]); both run load.
func (c *Cache[V]) Get(ctx context.Context, key string, load Loader[V]) (V, error) {
	if e, ok := c.l1.GetIfPresent(key); ok {
		now := c.now()
		if now < e.quick && e.gen == c.gen.Load() {
			c.stats.hits.inc()
			if e.neg {
				var zero V
				return zero, ErrNotFound
			}
			return e.value, nil
		}
		if v, err, ok := c.serve(ctx, key, e, now, load); ok {
			return v, err
		}
	}
	c.stats.misses.Add(1)
	return c.load(ctx, key, load)
}

// serve answers from an entry that is not a plain fresh hit: fresh in the XFetch window,
// stale within the bound, or not usable (ok false).
func (c *Cache[V]) serve(ctx context.Context, key string, e *entry[V], now int64, load Loader[V]) (v V, err error, ok bool) {
	gen := c.gen.Load()
	if e.gen != gen {
		return v, nil, false
	}
	if now < e.fresh {
		if load != nil && c.earlyRefresh(e, now) && e.claimRefresh(now) {
			if c.refresh(ctx, key, gen, e, load) {
				c.stats.earlyRefreshes.Add(1)
			}
		}
		c.stats.hits.inc()
		v, err = e.result()
		return v, err, true
	}
	if now < e.stale && !e.neg && load != nil {
		if e.claimRefresh(now) {
			c.refresh(ctx, key, gen, e, load)
		}
		c.stats.staleServed.Add(1)
		return e.value, nil, true
	}
	return v, nil, false
}

// Set stores v as the fresh value of key. A load of key in flight is detached: its callers
// get the value it loads, but that value is not cached over v.
func (c *Cache[V]) Set(ctx context.Context, key string, v V) error {
	e := c.newEntry(v, false, 0, c.now(), 0)
	sh := c.shard(key)
	if c.l2 == nil {
		sh.mu.Lock()
		delete(sh.m, key)
		e.gen = c.gen.Load()
		if c.keepL1() {
			c.l1.Set(key, e)
		}
		sh.mu.Unlock()
		return nil
	}
	rec, ttl, encErr := c.toRecord(e)
	if encErr != nil {
		return fmt.Errorf("cache: encode value of %q: %w", key, encErr)
	}
	// The write to the shared level is fenced like a load: a marker flight (which Gets of
	// key meanwhile join, and which hands them v) detaches any load in flight, and v goes
	// into L1 only while the marker is still attached and the generation has not moved.
	// An invalidation heard from another instance during the write therefore wins.
	sh.mu.Lock()
	f := &flight[V]{gen: c.gen.Load()}
	sh.m[key] = f
	sh.mu.Unlock()
	e.gen = f.gen
	defer func() {
		sh.mu.Lock()
		if sh.m[key] == f {
			delete(sh.m, key)
			if f.gen == c.gen.Load() && c.keepL1() {
				c.l1.Set(key, e)
			}
		} else {
			c.l1.Invalidate(key) // whatever L1 holds predates the invalidation
		}
		f.e, f.over = e, true
		if f.done != nil {
			close(f.done)
		}
		sh.mu.Unlock()
	}()
	return c.l2.set(ctx, key, rec, ttl)
}

// Invalidate removes key. A load of key in flight is detached: its callers get the value it
// loads, but that value is never cached, and the next Get of key loads afresh.
func (c *Cache[V]) Invalidate(ctx context.Context, key string) error {
	var err error
	if c.l2 != nil {
		err = c.l2.invalidate(ctx, key)
	}
	c.invalidateLocal(key)
	return err
}

// InvalidateAll removes every key, in O(1): it moves the cache to a new generation, and
// entries and loads of older generations are never served or cached again. Loads in flight
// are detached as by [Cache.Invalidate]. Memory held by old entries is reclaimed as they
// expire or are evicted.
func (c *Cache[V]) InvalidateAll(ctx context.Context) error {
	var err error
	if c.l2 != nil {
		err = c.l2.invalidateAll(ctx)
	}
	c.invalidateAllLocal()
	return err
}

// Stats returns a snapshot of the cache's counters.
func (c *Cache[V]) Stats() Stats {
	s := c.stats.snapshot()
	s.Redis = c.redisStats()
	return s
}

// Close ends the loads in flight (their contexts are cancelled) and waits for every
// goroutine of the cache, background refreshes included. After Close, hits are still
// served from memory, and calls that would need a load return [ErrClosed]. Close may be
// called more than once.
func (c *Cache[V]) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		c.stopClosing()
		c.l1.StopAllGoroutines()
		c.wg.Wait()
		if c.coarse != nil {
			c.coarse.Stop() // the clock then reads the precise time
		}
		if c.l2 != nil {
			err = c.l2.close()
		}
	})
	return err
}

// spawn runs fn on a goroutine of the cache, which Close waits for. It returns false after
// Close, without running fn.
func (c *Cache[V]) spawn(fn func()) bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		fn()
	}()
	return true
}

// otterClock adapts a Clock for the L1 store. It does not tick: the store then cleans up
// during reads and writes only.
type otterClock struct{ c Clock }

func (o otterClock) NowNano() int64                    { return o.c.Now().UnixNano() }
func (otterClock) Tick(time.Duration) <-chan time.Time { return nil }
