package cache

import (
	"context"
	"errors"
)

// GetMany returns the values of keys: fresh ones from memory, the rest from one call of
// load with exactly the keys that are neither in memory nor already being loaded by another
// Get or GetMany (those it waits for). Each loaded value is cached under its own key, as
// Get would cache it, with the same fencing against invalidation.
//
// With Redis, keys found there are not loaded, and the values loaded are written back in
// one round trip. Keys that another instance is loading are waited for, as Get waits (up
// to [RedisOptions.LeaseWait]), but only once the keys this call holds have been loaded
// and written: those that the wait does not answer (the other instance failed, or the
// wait ran out) go to a second call of load.
//
// The map holds the keys that have a value; keys that do not exist (absent from load's
// answer, or remembered as not found) are left out. Duplicate keys are looked up once. On an
// error (load's, or ctx's when it ends first) GetMany returns the values it has with the
// first error. A background refresh that GetMany starts for a stale or early-refreshed key
// calls load with that key alone.
func (c *Cache[V]) GetMany(ctx context.Context, keys []string, load BatchLoader[V]) (map[string]V, error) {
	out := make(map[string]V, len(keys))
	type pending struct {
		key string
		f   *flight[V]
	}
	var (
		waits   []pending
		own     []string
		ownF    []*flight[V]
		missed  map[string]struct{} // keys that went to a flight, for duplicates
		single  Loader[V]           // load for one key, made when a refresh needs it
		err     error
		started bool
	)
	singleLoader := func() Loader[V] {
		if single == nil {
			single = one(load)
		}
		return single
	}
	for _, key := range keys {
		if _, dup := out[key]; dup {
			continue
		}
		if _, dup := missed[key]; dup {
			continue
		}
		if e, ok := c.l1.GetIfPresent(key); ok {
			now := c.now()
			if now < e.quick && e.gen == c.gen.Load() {
				c.stats.hits.inc()
				if !e.neg {
					out[key] = e.value
				}
				continue
			}
			if v, verr, ok := c.serve(ctx, key, e, now, singleLoader()); ok {
				if verr == nil {
					out[key] = v
				}
				continue
			}
		}
		if missed == nil {
			missed = make(map[string]struct{})
		}
		missed[key] = struct{}{}
		c.stats.misses.Add(1)
		if load == nil {
			err = ErrNilLoader
			continue
		}
		if cerr := ctx.Err(); cerr != nil {
			err = cerr
			continue
		}
		f, e, st := c.join(key)
		switch {
		case e != nil:
			if !e.neg {
				out[key] = e.value
			}
		case st:
			own, ownF = append(own, key), append(ownF, f)
			waits = append(waits, pending{key, f})
			started = true
		default:
			waits = append(waits, pending{key, f})
		}
	}
	if started && !c.spawn(func() { c.runMany(ctx, own, ownF, load) }) {
		for i, key := range own {
			c.finish(key, ownF[i], nil, ErrClosed)
		}
	}
	for _, p := range waits {
		v, werr := c.wait(ctx, p.key, p.f)
		switch {
		case werr == nil:
			out[p.key] = v
		case errors.Is(werr, ErrNotFound):
		case err == nil:
			err = werr
		}
	}
	return out, err
}

// runMany runs the batch loads of keys and completes each key's flight. With a shared
// level, keys it answers are not loaded. On a [batchLevel], keys that another instance is
// filling are waited for only after the keys this batch holds were loaded and written
// back (so that batches of several instances never wait for each other), and those the
// wait did not answer are loaded by a second call of load.
func (c *Cache[V]) runMany(parent context.Context, keys []string, fs []*flight[V], load BatchLoader[V]) {
	ctx, cancel := c.loadContext(parent)
	defer cancel()
	if c.l2 == nil {
		c.loadMany(ctx, keys, fs, nil, load)
		return
	}
	bl, batched := c.l2.(batchLevel)
	var (
		ls   []lookup
		wait []bool
	)
	if batched {
		ls, wait = bl.beginMany(ctx, keys)
	} else {
		ls = c.l2.getMany(ctx, keys)
	}
	var (
		waitKeys []string
		waitF    []*flight[V]
		waitL    []lookup
		nowKeys  []string
		nowF     []*flight[V]
		nowL     []lookup
	)
	for i, key := range keys {
		if wait != nil && wait[i] {
			waitKeys, waitF, waitL = append(waitKeys, key), append(waitF, fs[i]), append(waitL, ls[i])
		} else {
			nowKeys, nowF, nowL = append(nowKeys, key), append(nowF, fs[i]), append(nowL, ls[i])
		}
	}
	if len(waitKeys) > 0 {
		waited := false
		defer func() {
			if !waited {
				// The loader ended the goroutine (runtime.Goexit) before the wait: the
				// flights waited for must not be left unfinished.
				for i, key := range waitKeys {
					c.finish(key, waitF[i], nil, errGoexit)
				}
			}
		}()
		// First the keys this batch holds (or that nobody holds): load and write them.
		ownKeys, ownF, fills := c.fromShared(ctx, nowKeys, nowF, nowL, load)
		if len(ownKeys) > 0 {
			c.loadMany(ctx, ownKeys, ownF, fills, load)
		}
		// Then wait for the other instances' fills; what they do not answer is loaded.
		waitL = bl.waitMany(ctx, waitL)
		waited = true
		nowKeys, nowF, nowL = waitKeys, waitF, waitL
	}
	keys, fs, fills := c.fromShared(ctx, nowKeys, nowF, nowL, load)
	if len(keys) > 0 {
		c.loadMany(ctx, keys, fs, fills, load)
	}
}

// fromShared completes the flights of keys that the shared level's lookups ls answer (or
// that fail closed) and returns the rest, with their fills, for a load.
func (c *Cache[V]) fromShared(ctx context.Context, keys []string, fs []*flight[V], ls []lookup, load BatchLoader[V]) ([]string, []*flight[V], []filler) {
	var (
		missKeys []string
		missF    []*flight[V]
		fills    []filler
		single   Loader[V]
	)
	for i, key := range keys {
		if e := c.sharedHit(ls[i]); e != nil {
			e.gen = fs[i].gen
			if ls[i].rec.stale {
				// Served stale: one background refresh of the key, as Get starts.
				if single == nil {
					single = one(load)
				}
				c.finishStale(ctx, key, fs[i], e, single)
				continue
			}
			_, err := e.result()
			c.finish(key, fs[i], e, err)
			continue
		}
		if err := c.failClosedErr(ls[i]); err != nil {
			c.finish(key, fs[i], nil, err)
			continue
		}
		missKeys, missF = append(missKeys, key), append(missF, fs[i])
		fill := ls[i].fill
		if fill == nil {
			fill = c.unusable(ctx, key, ls[i]) // a value the codec cannot read: replace it
		}
		fills = append(fills, fill)
	}
	return missKeys, missF, fills
}

// loadMany runs one call of load for keys, completes each key's flight, and then writes
// the results back through fills (nil without a shared level).
func (c *Cache[V]) loadMany(ctx context.Context, keys []string, fs []*flight[V], fills []filler, load BatchLoader[V]) {
	var (
		m        map[string]V
		err      error
		returned bool
	)
	start := c.now()
	defer func() {
		if !returned {
			err = interrupted(recover())
		}
		delta := c.now() - start
		c.stats.loads.Add(1) // counted before any waiter is answered
		if err != nil && !errors.Is(err, ErrNotFound) {
			c.stats.loadErrors.Add(1) // one failed call
		}
		// Answer every waiter first, then write back to the shared level.
		es := make([]*entry[V], len(keys))
		stored := make([]bool, len(keys))
		for i, key := range keys {
			var (
				v    V
				kerr = err
			)
			if err == nil {
				var ok bool
				if v, ok = m[key]; !ok {
					kerr = ErrNotFound
				}
			}
			es[i], stored[i] = c.complete(key, fs[i], v, kerr, delta)
		}
		if fills != nil {
			c.writeBackMany(ctx, keys, fills, es, stored)
		}
	}()
	m, err = load(ctx, keys)
	returned = true
}

// one returns a Loader that loads a single key with load (nil for a nil load): what a
// background refresh that GetMany starts calls.
func one[V any](load BatchLoader[V]) Loader[V] {
	if load == nil {
		return nil
	}
	return func(ctx context.Context, key string) (V, error) {
		m, err := load(ctx, []string{key})
		if err != nil {
			var zero V
			return zero, err
		}
		v, ok := m[key]
		if !ok {
			return v, ErrNotFound
		}
		return v, nil
	}
}
