package cache

import (
	"context"
	"errors"
	"hash/maphash"
	"runtime/debug"
	"sync"
)

// flight is one load of one key, shared by every caller that wants the key meanwhile.
//
// A flight is attached while its shard's map holds it under its key. Invalidate, Set and a
// Get that finds it from an older generation detach it (remove it from the map). When the
// load ends, the flight stores its result only if it is still attached and the generation
// has not moved, and it decides that under the shard's lock, the lock Invalidate and Set
// take: so a value loaded before an invalidation is never cached after it. Its waiters get
// the result either way.
type flight[V any] struct {
	// done is made by the first caller that waits for the flight and closed by finish,
	// both under the shard lock: a flight nobody waits for (the common L2 hit, answered
	// by its leader) costs no channel.
	done chan struct{}
	over bool      // set by finish, under the shard lock; e and err are final then
	gen  uint64    // generation read before the load started
	bg   bool      // a background refresh: no caller reports its error
	made int64     // for a refresh: when the entry it refreshes was made
	e    *entry[V] // the answer when err is nil (stored in L1 or not)
	err  error

	// serve is, for a refresh, the entry it refreshes: a caller that finds the flight
	// gets it (stale within its bound) instead of waiting, as a hit in L1 would. It is
	// what spares the waits in an L2-only cache, where no L1 entry holds the value.
	serve *entry[V]
}

// result is the flight's answer; it may be read once finish has run.
func (f *flight[V]) result() (V, error) {
	if f.err != nil || f.e == nil {
		var zero V
		return zero, f.err
	}
	return f.e.value, nil
}

// flightShard holds the flights of the keys that hash to it.
type flightShard[V any] struct {
	mu sync.Mutex // guards m, and every store of a key of this shard into L1
	m  map[string]*flight[V]
}

func (c *Cache[V]) shard(key string) *flightShard[V] {
	return &c.shards[maphash.String(c.seed, key)&(numShards-1)]
}

// usable reports whether an L1 entry of generation gen answers a Get at now.
func usable[V any](e *entry[V], gen uint64, now int64) bool {
	return e.gen == gen && now < e.fresh
}

// join returns the flight a caller of key should wait for, starting one when none of the
// current generation is in flight. With an answer already in L1 (stored by a flight that
// ended since the caller looked), it returns that entry instead. started reports a new
// flight, which the caller must run.
func (c *Cache[V]) join(key string) (f *flight[V], e *entry[V], started bool) {
	sh := c.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	gen := c.gen.Load()
	if f = sh.m[key]; f != nil && f.gen == gen {
		if e := f.serve; e != nil && !e.neg {
			if now := c.now(); now < e.stale {
				if now >= e.fresh {
					c.stats.staleServed.Add(1)
				}
				return nil, e, false
			}
		}
		c.stats.coalesced.Add(1)
		return f, nil, false
	}
	if e, ok := c.l1.GetIfPresent(key); ok && usable(e, gen, c.now()) {
		return nil, e, false
	}
	f = &flight[V]{gen: gen}
	sh.m[key] = f // replaces (detaches) a flight of an older generation
	return f, nil, true
}

// load answers a miss of key: it joins or starts the key's flight and waits for it.
func (c *Cache[V]) load(ctx context.Context, key string, load Loader[V]) (V, error) {
	var zero V
	if load == nil {
		return zero, ErrNilLoader
	}
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	f, e, started := c.join(key)
	if e != nil {
		return e.result()
	}
	if !started {
		return c.wait(ctx, key, f)
	}
	if c.closing.Err() != nil {
		// Closed: no load would be run, so the shared level is not read either.
		c.finish(key, f, nil, ErrClosed)
		return f.result()
	}
	var pre *firstRead
	if sl, ok := c.l2.(splitLevel); ok {
		// The leader makes the bounded first read of the shared level itself: an L2 hit,
		// the common case, then costs no hand-off to another goroutine.
		l, more := sl.first(ctx, key)
		if l.err == nil || ctx.Err() == nil {
			if e := c.sharedHit(l); e != nil && !more {
				e.gen = f.gen
				if l.rec.stale {
					c.finishStale(ctx, key, f, e, load)
				} else {
					_, err := e.result()
					c.finish(key, f, e, err)
				}
				return f.result()
			}
			if err := c.failClosedErr(l); err != nil {
				c.finish(key, f, nil, err)
				return f.result()
			}
			pre = &firstRead{l: l, more: more}
		} // else the leader's ctx ended the read: the flight reads again on its own.
	}
	if !c.spawn(func() { c.runOne(ctx, key, f, load, pre) }) {
		if pre != nil && pre.l.fill != nil {
			_ = pre.l.fill.release(context.WithoutCancel(ctx))
		}
		c.finish(key, f, nil, ErrClosed)
	}
	return c.wait(ctx, key, f)
}

// finishStale is finish for e, a stale value of key read from the shared level:
// stale-while-revalidate across instances. Under the same hold of the shard lock it
// stores e (when f is still attached and current) and attaches the one background refresh
// of key, so that no invalidation can fall between them: an Invalidate or Set before it
// detaches f, and then neither happens; one after it detaches the refresh. It then starts
// the refresh and answers f's waiters with e.
func (c *Cache[V]) finishStale(ctx context.Context, key string, f *flight[V], e *entry[V], load Loader[V]) {
	c.stats.staleServed.Add(1)
	sh := c.shard(key)
	sh.mu.Lock()
	if f.over {
		sh.mu.Unlock()
		return
	}
	var r *flight[V]
	if sh.m[key] == f {
		delete(sh.m, key)
		if f.gen == c.gen.Load() {
			if c.keepL1() {
				c.l1.Set(key, e)
			}
			if load != nil && e.refreshing.CompareAndSwap(false, true) {
				r = &flight[V]{gen: f.gen, bg: true, made: e.made, serve: e}
				sh.m[key] = r
			}
		}
	}
	f.e, f.err, f.over = e, nil, true
	if f.done != nil {
		close(f.done)
	}
	sh.mu.Unlock()
	if r != nil && !c.spawn(func() { c.runOne(ctx, key, r, load, nil) }) {
		c.finish(key, r, nil, ErrClosed)
	}
}

// refresh starts a background load of key under generation gen to replace old, unless a
// load of the key is in flight or the generation has moved. It reports whether it started
// one.
func (c *Cache[V]) refresh(ctx context.Context, key string, gen uint64, old *entry[V], load Loader[V]) bool {
	sh := c.shard(key)
	sh.mu.Lock()
	if f := sh.m[key]; (f != nil && f.gen == gen) || c.gen.Load() != gen {
		sh.mu.Unlock()
		return false
	}
	if cur, ok := c.l1.GetIfPresent(key); !ok || cur != old {
		// old, read from L1 by the caller, was dropped or replaced since (an Invalidate
		// or a Set): no refresh, and above all no flight that would serve old.
		sh.mu.Unlock()
		return false
	}
	f := &flight[V]{gen: gen, bg: true, made: old.made, serve: old}
	sh.m[key] = f
	sh.mu.Unlock()
	if !c.spawn(func() { c.runOne(ctx, key, f, load, nil) }) {
		c.finish(key, f, nil, ErrClosed)
		return false
	}
	return true
}

// wait returns the result of f, the flight of key, or ctx.Err() when ctx ends first.
func (c *Cache[V]) wait(ctx context.Context, key string, f *flight[V]) (V, error) {
	sh := c.shard(key)
	sh.mu.Lock()
	if f.over {
		sh.mu.Unlock()
		return f.result()
	}
	if f.done == nil {
		f.done = make(chan struct{})
	}
	done := f.done
	sh.mu.Unlock()
	select {
	case <-done:
		return f.result()
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

// loadContext is the context of a load started by a call with context parent: parent's
// values without its cancellation, bounded by the load timeout and ended by Close.
func (c *Cache[V]) loadContext(parent context.Context) (context.Context, context.CancelFunc) {
	ctx := context.WithoutCancel(parent)
	var cancel context.CancelFunc
	if c.cfg.loadTimeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, c.cfg.loadTimeout)
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	stop := context.AfterFunc(c.closing, cancel)
	return ctx, func() {
		stop()
		cancel()
	}
}

// interrupted is the error of a loader that did not return: it panicked with r, or (r nil)
// called runtime.Goexit. It must be called by the deferred function that recovered r.
func interrupted(r any) error {
	if r == nil {
		return errGoexit
	}
	return &PanicError{Value: r, Stack: debug.Stack()}
}

// runOne runs load for key and completes f with its result. pre, when not nil, is the
// first read of the shared level that the flight's leader already made.
func (c *Cache[V]) runOne(parent context.Context, key string, f *flight[V], load Loader[V], pre *firstRead) {
	ctx, cancel := c.loadContext(parent)
	defer cancel()
	var fill filler
	if c.l2 != nil {
		var l lookup
		switch {
		case pre == nil:
			l = c.l2.get(ctx, key)
		case pre.more:
			l = c.l2.(splitLevel).rest(ctx, key, pre.l)
		default:
			l = pre.l
		}
		e := c.sharedHit(l)
		switch {
		case e != nil && f.bg && l.rec.stale:
			// A refresh that finds a stale value in the shared level: one instance
			// recomputes it, the one that takes its refresh lock, and replaces it only
			// while it is still there. The others end here and keep serving it.
			var ok bool
			if fill, ok = c.lockRefresh(ctx, key, l); !ok || fill == nil {
				c.skip(key, f, e)
				return
			}
			e = nil
		case e != nil && f.bg && e.made <= f.made:
			// A refresh that finds the value it refreshes (or an older one) in the shared
			// level recomputes it, and replaces it only while it is still there.
			if fill = c.refill(key, l); fill != nil {
				e = nil
			}
		}
		if e != nil {
			e.gen = f.gen
			if l.rec.stale {
				c.finishStale(ctx, key, f, e, load)
			} else {
				_, err := e.result()
				c.finish(key, f, e, err)
			}
			return
		}
		if err := c.failClosedErr(l); err != nil {
			c.finish(key, f, nil, err)
			return
		}
		if fill == nil {
			fill = l.fill
		}
		if fill == nil {
			fill = c.unusable(ctx, key, l) // a value the codec cannot read: replace it
		}
	}
	var (
		val      V
		err      error
		returned bool
	)
	start := c.now()
	// Completing happens in a deferred call, which runs after a panic and a Goexit too.
	defer func() {
		if !returned {
			err = interrupted(recover())
		}
		c.stats.loads.Add(1)
		if err != nil && !errors.Is(err, ErrNotFound) {
			c.stats.loadErrors.Add(1)
		}
		e, stored := c.complete(key, f, val, err, c.now()-start)
		c.writeBack(ctx, key, fill, e, stored)
	}()
	val, err = load(ctx, key)
	returned = true
}

// skip ends f, a refresh of key that another instance makes, without a load: its waiters
// get e, the stale value the shared level holds. The entry f refreshes stays in L1 (still
// marked refreshing) and is served stale until the other instance's write, which it
// publishes, drops it, or until its stale bound.
func (c *Cache[V]) skip(key string, f *flight[V], e *entry[V]) {
	sh := c.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if f.over {
		return
	}
	if sh.m[key] == f {
		delete(sh.m, key)
	}
	if f.serve != nil {
		// If the other instance's write never comes (its load failed, or it died), try
		// again once its lock has expired.
		f.serve.retryAt.Store(c.now() + int64(c.refreshLockTTL()))
	}
	e.gen = f.gen
	f.e, f.over = e, true
	if f.done != nil {
		close(f.done)
	}
}

// complete records the result of f's load of key: builds the entry to cache, if any, and
// finishes the flight. It returns the entry and whether it was stored.
func (c *Cache[V]) complete(key string, f *flight[V], val V, err error, delta int64) (*entry[V], bool) {
	var e *entry[V]
	switch {
	case err == nil:
		e = c.newEntry(val, false, f.gen, c.now(), delta)
	case errors.Is(err, ErrNotFound):
		if c.cfg.negTTL != 0 {
			var zero V
			e = c.newEntry(zero, true, f.gen, c.now(), delta)
		}
	default:
		if f.bg {
			c.cfg.logger.Warn("cache: background refresh failed", "namespace", c.cfg.ns, "key", key, "error", err)
		}
	}
	return e, c.finish(key, f, e, err)
}

// finish stores e (if not nil) for key when f is still attached and current, detaches f,
// and hands the answer (e's value, or err when not nil) to f's waiters: all under the shard
// lock that Invalidate and Set take, so that no invalidation can fall between the check and
// the store. It reports whether e was stored. Only the first finish of a flight counts.
func (c *Cache[V]) finish(key string, f *flight[V], e *entry[V], err error) (stored bool) {
	sh := c.shard(key)
	sh.mu.Lock()
	if f.over {
		sh.mu.Unlock()
		return false
	}
	if sh.m[key] == f {
		delete(sh.m, key)
		if e != nil && f.gen == c.gen.Load() {
			if c.keepL1() {
				c.l1.Set(key, e)
			}
			stored = true
		}
	}
	f.e, f.err, f.over = e, err, true
	if f.done != nil {
		close(f.done)
	}
	sh.mu.Unlock()
	return stored
}
