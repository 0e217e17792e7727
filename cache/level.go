package cache

import (
	"context"
	"fmt"
	"time"
)

// This file is the seam where a level shared by every instance of a service (Redis) slots
// in below process memory (L1), without changing the public API. The Cache calls it:
//
//   - in a flight's goroutine, on an L1 miss, before the loader: [shared.get] (or
//     [shared.getMany] for GetMany). A hit answers the flight without a load. A miss hands
//     back a [filler], which holds what the level read before the load (the namespace
//     version, a lease), so that the value is written under that version and only while
//     nobody invalidated the key meanwhile;
//   - after the load: [filler.put] with the encoded result (a value or a remembered
//     ErrNotFound), or [filler.release] when the load failed or its flight was detached;
//   - in Set, Invalidate and InvalidateAll, before the change in process memory, so that
//     a flight that reads the level afterwards cannot bring the old value back into L1.
//
// Invalidations heard from other instances come back through [Cache.invalidateLocal]
// and [Cache.invalidateAllLocal]. An error from the level is not fatal: a Get then
// answers from the loader without writing (fail-open), and Set and the invalidations
// return the error after changing process memory.

// record is an entry as a shared level keeps it: the fields of its envelope, with the
// value encoded by [Options.Codec]. Times are Unix nanoseconds on the cache's clock.
type record struct {
	gen        uint64 // namespace version the value was loaded under (set by the level)
	negative   bool   // a remembered ErrNotFound; payload is empty
	created    int64  // when the value was made
	softExpiry int64  // when it stops being fresh; 0: never
	delta      int64  // how long the load took (XFetch's recompute time)
	payload    []byte
	raw        []byte // the bytes the level read, for replacing exactly them (nil: not read)
	stale      bool   // a hit past its soft expiry, which the level serves stale
}

// lookup is the answer of a shared level for one key: a record, or a filler for a miss.
type lookup struct {
	rec  record
	hit  bool
	fill filler // nil: do not write (for example when the level failed)
	err  error
}

// filler writes back the value of a key that missed in the shared level.
type filler interface {
	// put writes rec, to live for ttl (0: no expiry). stored is false when the write was
	// fenced out: the key was invalidated or set after the miss.
	put(ctx context.Context, rec record, ttl time.Duration) (stored bool, err error)
	// release gives up the fill (and its lease) without writing.
	release(ctx context.Context) error
}

// shared is a level below process memory, shared by every instance of a service.
type shared interface {
	get(ctx context.Context, key string) lookup
	getMany(ctx context.Context, keys []string) []lookup
	set(ctx context.Context, key string, rec record, ttl time.Duration) error
	invalidate(ctx context.Context, key string) error
	invalidateAll(ctx context.Context) error
	close() error
}

// splitLevel is a shared level whose get can be made in two parts: a bounded first read
// (at most a couple of round trips, honouring ctx), which the leader of a flight makes on
// its own goroutine so that a hit costs no hand-off, and the rest (waiting for another
// instance's fill), which the flight's goroutine does.
type splitLevel interface {
	shared
	// first reads key. more reports that the answer is not final: rest must follow.
	first(ctx context.Context, key string) (l lookup, more bool)
	// rest finishes a get whose first part answered l with more.
	rest(ctx context.Context, key string, l lookup) lookup
}

// reclaimer is a shared level that can take over a record it returned as a hit but
// that the cache cannot use (its payload does not decode): the fill replaces it.
type reclaimer interface {
	reclaim(ctx context.Context, key string, rec record) filler
}

// refiller is a shared level that can replace a record it returned as a hit with a
// recomputed one, only while the record is still there, without holding back other
// readers meanwhile: what a background refresh of a value needs.
type refiller interface {
	refill(key string, rec record) filler
}

// staleRefresher is a shared level that serves values past their soft expiry (as hits
// flagged stale) and elects the one instance that refreshes such a value: tryRefresh
// takes the key's refresh lock and returns a filler that replaces rec only while it is
// still there, without holding back other readers; ok is false when another instance
// holds the lock.
type staleRefresher interface {
	tryRefresh(ctx context.Context, key string, rec record) (f filler, ok bool)
}

// lockRefresh returns the filler of the refresh of the stale hit l, with ok false when
// another instance refreshes it. When the level cannot tell (it failed), the refresh
// goes on with a plain refill.
func (c *Cache[V]) lockRefresh(ctx context.Context, key string, l lookup) (filler, bool) {
	if r, ok := c.l2.(staleRefresher); ok {
		return r.tryRefresh(ctx, key, l.rec)
	}
	return c.refill(key, l), true
}

// refill returns the filler that replaces the hit l after a refresh, or nil.
func (c *Cache[V]) refill(key string, l lookup) filler {
	r, ok := c.l2.(refiller)
	if !ok || !l.hit || l.err != nil {
		return nil
	}
	return r.refill(key, l.rec)
}

// unusable returns the filler for a hit the cache could not use, or nil.
func (c *Cache[V]) unusable(ctx context.Context, key string, l lookup) filler {
	r, ok := c.l2.(reclaimer)
	if !ok || !l.hit || l.err != nil {
		return nil
	}
	return r.reclaim(ctx, key, l.rec)
}

// firstRead is the first part of a get that the leader of a flight made.
type firstRead struct {
	l    lookup
	more bool
}

// toRecord encodes an L1 entry for the shared level.
func (c *Cache[V]) toRecord(e *entry[V]) (record, time.Duration, error) {
	rec := record{gen: e.gen, negative: e.neg, created: e.made, delta: e.delta}
	if e.fresh != noExpiry {
		rec.softExpiry = e.fresh
	}
	var ttl time.Duration
	if e.stale != noExpiry {
		ttl = time.Duration(e.life())
	}
	if !e.neg {
		b, err := c.encode(e.value)
		if err != nil {
			return rec, 0, err
		}
		rec.payload = b
	}
	return rec, ttl, nil
}

// encode runs the codec's Marshal; a panic in it is an error, so that a failed encoding is
// a failed write and never ends the caller or a flight.
func (c *Cache[V]) encode(v V) (b []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("cache: codec Marshal panicked: %v", r)
		}
	}()
	return c.cfg.codec.Marshal(v)
}

// decode runs the codec's Unmarshal of bytes read from the shared level. It reports false
// when they cannot be decoded, a panic of the codec included: such a value is a miss that
// the fill overwrites, never a panic up a Get or a flight left unfinished.
func (c *Cache[V]) decode(b []byte, v *V) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			ok = false
		}
	}()
	return c.cfg.codec.Unmarshal(b, v) == nil
}

// fromRecord decodes a record of the shared level into an L1 entry of generation gen.
// ok is false for a record that cannot be decoded or is no longer fresh at now (or, for a
// record the level serves stale, past the stale bound): both are misses (the first is
// then overwritten by the fill). A stale record keeps its windows, so that L1 serves it
// stale too.
func (c *Cache[V]) fromRecord(rec record, gen uint64, now int64) (*entry[V], bool) {
	fresh := int64(noExpiry)
	if rec.softExpiry != 0 {
		fresh = rec.softExpiry
	}
	if now >= fresh && (!rec.stale || rec.negative || now >= addSat(fresh, c.cfg.stale)) {
		return nil, false
	}
	e := &entry[V]{neg: rec.negative, gen: gen, made: rec.created, delta: rec.delta, fresh: fresh}
	if !rec.negative {
		if !c.decode(rec.payload, &e.value) {
			return nil, false
		}
	}
	c.setWindows(e)
	return e, true
}

// sharedHit is the L1 entry of a usable hit, else nil.
func (c *Cache[V]) sharedHit(l lookup) *entry[V] {
	if l.err != nil || !l.hit {
		return nil
	}
	e, ok := c.fromRecord(l.rec, 0, c.now())
	if !ok {
		return nil
	}
	return e
}

// writeBack hands the entry a load produced (nil after a failed load) to fill, unless the
// flight was detached or the entry cannot be encoded: the fill is then released. It runs
// under ctx without its cancellation (the level bounds each round trip): a load cut short
// by its timeout or by Close must still give up its lease, or other instances wait for it.
func (c *Cache[V]) writeBack(ctx context.Context, key string, fill filler, e *entry[V], attached bool) {
	if fill == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	var (
		rec record
		ttl time.Duration
		err error
	)
	if e != nil && attached {
		if rec, ttl, err = c.toRecord(e); err == nil {
			if _, err = fill.put(ctx, rec, ttl); err != nil {
				c.cfg.logger.Warn("cache: write to shared level failed", "namespace", c.cfg.ns, "key", key, "error", err)
			}
			return
		}
		c.cfg.logger.Warn("cache: write to shared level failed", "namespace", c.cfg.ns, "key", key, "error", err)
	}
	if err := fill.release(ctx); err != nil {
		c.cfg.logger.Debug("cache: release of shared fill failed", "namespace", c.cfg.ns, "key", key, "error", err)
	}
}

// invalidateLocal drops key from process memory and detaches its flight: what an
// invalidation of key by another instance does here.
func (c *Cache[V]) invalidateLocal(key string) {
	sh := c.shard(key)
	sh.mu.Lock()
	delete(sh.m, key)
	c.l1.Invalidate(key)
	sh.mu.Unlock()
}

// invalidateAllLocal moves process memory to a new generation: what InvalidateAll by
// another instance, or a lost subscription to invalidations, does here.
func (c *Cache[V]) invalidateAllLocal() { c.gen.Add(1) }
