package cache

import (
	"math"
	"sync/atomic"
)

// xfetchSpan bounds -ln(u) for the u in (0, 1] that XFetch draws: u is at least 2^-53, so
// -ln(u) ≤ 53·ln 2 < 37. An entry further than 37·delta·beta from its expiry can never be
// picked for early refresh, so a hit before then skips the draw.
const xfetchSpan = 37

// noExpiry is the time of an entry that never expires.
const noExpiry = math.MaxInt64

// entry is one cached answer: a value or a remembered ErrNotFound. Entries are immutable
// once stored, apart from the refresh flag, and carry what the shared (Redis) level keeps in
// its envelope: the generation the load started under, when it was made, its soft expiry
// and the measured load time. Times are nanoseconds on the cache's clock.
type entry[V any] struct {
	value V
	neg   bool   // a remembered ErrNotFound
	gen   uint64 // namespace generation read before the load that produced the value
	made  int64  // when the entry was stored
	delta int64  // how long the load took (0 for Set): XFetch's recompute time
	quick int64  // before this, a hit needs no other check: min(fresh, start of the XFetch window)
	fresh int64  // soft expiry: fresh until then
	stale int64  // hard expiry: may be served stale until then (== fresh without Options.Stale)

	// refreshing is set by the one Get that starts a background refresh (stale or early)
	// from this entry; it makes the refresh once per entry, and so once per key and value.
	refreshing atomic.Bool
	// retryAt, when not 0, is when a refresh may be started again although refreshing is
	// set: another instance took the refresh over, and its write may never come.
	retryAt atomic.Int64
}

// claimRefresh reports whether the caller at now is the one to start a background
// refresh of e: the first caller, or the first after retryAt.
func (e *entry[V]) claimRefresh(now int64) bool {
	if e.refreshing.CompareAndSwap(false, true) {
		return true
	}
	r := e.retryAt.Load()
	return r != 0 && now >= r && e.retryAt.CompareAndSwap(r, 0)
}

// life is how long the entry stays in memory: until its hard expiry.
func (e *entry[V]) life() int64 {
	if e.stale == noExpiry {
		return noExpiry
	}
	return max(e.stale-e.made, 1)
}

// result is the answer the entry gives.
func (e *entry[V]) result() (V, error) {
	if e.neg {
		var zero V
		return zero, ErrNotFound
	}
	return e.value, nil
}

// addSat adds without overflow past noExpiry.
func addSat(a, b int64) int64 {
	if b > 0 && a > noExpiry-b {
		return noExpiry
	}
	return a + b
}

// newEntry builds the entry for a value (or, with neg, a remembered ErrNotFound) loaded
// under generation gen, stored at now, whose load took delta.
func (c *Cache[V]) newEntry(v V, neg bool, gen uint64, now, delta int64) *entry[V] {
	e := &entry[V]{value: v, neg: neg, gen: gen, made: now, delta: delta}
	ttl := c.cfg.ttl
	if neg {
		ttl = c.cfg.negTTL
	}
	if ttl <= 0 {
		e.quick, e.fresh, e.stale = noExpiry, noExpiry, noExpiry
		return e
	}
	if !neg && c.cfg.jitter > 0 {
		ttl -= int64(float64(ttl) * c.cfg.jitter * c.rand())
	}
	e.fresh = addSat(now, ttl)
	c.setWindows(e)
	return e
}

// setWindows sets the times that follow from e's soft expiry: the hard expiry (after the
// stale bound) and the start of the XFetch window.
func (c *Cache[V]) setWindows(e *entry[V]) {
	e.stale, e.quick = e.fresh, e.fresh
	if e.neg || e.fresh == noExpiry {
		return
	}
	e.stale = addSat(e.fresh, c.cfg.stale)
	if c.cfg.beta > 0 && e.delta > 0 {
		w := float64(e.delta) * c.cfg.beta * xfetchSpan
		if w >= float64(e.fresh-e.made) {
			e.quick = e.made
		} else {
			e.quick = e.fresh - int64(w)
		}
	}
}

// earlyRefresh is XFetch's decision for a fresh entry read at now:
// refresh when now − delta·beta·ln(u) ≥ expiry, u uniform in (0, 1].
func (c *Cache[V]) earlyRefresh(e *entry[V], now int64) bool {
	if e.neg || e.delta <= 0 || c.cfg.beta <= 0 || e.fresh == noExpiry {
		return false
	}
	u := 1 - c.rand() // (0, 1]
	return float64(now)-float64(e.delta)*c.cfg.beta*math.Log(u) >= float64(e.fresh)
}
