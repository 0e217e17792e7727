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
		if single == nil && load != nil {
			single = func(ctx context.Context, key string) (V, error) {
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
		var zero V
		for i, key := range own {
			c.finish(key, ownF[i], nil, zero, ErrClosed)
		}
	}
	for _, p := range waits {
		v, werr := c.wait(ctx, p.f)
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

// runMany runs one batch load for keys and completes each key's flight.
func (c *Cache[V]) runMany(parent context.Context, keys []string, fs []*flight[V], load BatchLoader[V]) {
	ctx, cancel := c.loadContext(parent)
	defer cancel()
	var fills []filler
	if c.l2 != nil {
		ls := c.l2.getMany(ctx, keys)
		var missKeys []string
		var missF []*flight[V]
		for i, key := range keys {
			if e := c.sharedHit(ls[i]); e != nil {
				e.gen = fs[i].gen
				v, err := e.result()
				c.finish(key, fs[i], e, v, err)
				continue
			}
			if err := c.failClosedErr(ls[i]); err != nil {
				var zero V
				c.finish(key, fs[i], nil, zero, err)
				continue
			}
			missKeys, missF = append(missKeys, key), append(missF, fs[i])
			fill := ls[i].fill
			if fill == nil {
				fill = c.unusable(ctx, key, ls[i]) // a value the codec cannot read: replace it
			}
			fills = append(fills, fill)
		}
		keys, fs = missKeys, missF
		if len(keys) == 0 {
			return
		}
	}
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
		for i, key := range keys {
			if fills != nil {
				c.writeBack(ctx, key, fills[i], es[i], stored[i])
			}
		}
	}()
	m, err = load(ctx, keys)
	returned = true
}
