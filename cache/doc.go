// Package cache provides a typed cache-aside cache that stays correct under concurrent
// misses and invalidations: [Cache.Get] returns a cached value or loads it once for every
// caller that wants it, and [Cache.Invalidate] guarantees that a value loaded before the
// invalidation is never cached after it.
//
// The one recommended way to use it: one [Cache] per kind of value, created at start-up,
// a loader that reads the source of truth, and an invalidation after every write to it.
//
//	users, err := cache.New[User](cache.Options{Namespace: "user", TTL: 10 * time.Minute})
//	...
//	defer users.Close()
//
//	loadUser := func(ctx context.Context, id string) (User, error) {
//		u, err := db.User(ctx, id)
//		if errors.Is(err, sql.ErrNoRows) {
//			return User{}, cache.ErrNotFound // remembered for Options.NegativeTTL
//		}
//		return u, err
//	}
//	u, err := users.Get(ctx, id, loadUser)
//
//	// After a write to the database:
//	err = users.Invalidate(ctx, id)
//
// Values are kept decoded in process memory (an otter W-TinyLFU store bounded by
// [Options.MaxEntries]); a hit takes no lock and allocates nothing. A loader that does not
// capture variables (as loadUser above, which gets the key as an argument) keeps the call
// itself free of allocations too. Values are handed out as stored: treat them as immutable.
//
// # Loads: one per key, on nobody's context
//
// Concurrent Gets (and GetMany keys) that miss the same key share one load. The load runs
// on a goroutine of the Cache, under [context.WithoutCancel] of the context of the call that
// started it (its values are kept), bounded by [Options.LoadTimeout] and ended by
// [Cache.Close]. Each caller waits on its own context: a caller whose context ends gets
// ctx.Err() at once, and the load goes on for the others and is cached. A loader error is
// returned to every waiting caller and not cached; a panic in the loader is recovered and
// returned to every waiting caller as a [*PanicError], which unwraps to the panic value
// when it is an error.
//
// # Invalidation: no stale set
//
// [Cache.Invalidate], [Cache.Set] and [Cache.InvalidateAll] fence the loads in flight of the
// keys they touch. Precisely: once one of them has returned,
//
//   - no Get or GetMany that starts afterwards returns a value loaded by a load that started
//     before it (after Set, it returns the value set, until a later change);
//   - such a load is detached: the callers already waiting for it still get its value (they
//     asked before the change), but the value is never cached;
//   - a Get that misses afterwards starts a new load; it does not join the detached one.
//
// The check that a load is still attached and the store of its value happen under the
// same lock as the invalidation, so there is no window between them. InvalidateAll is O(1):
// it moves the cache to a new generation, and entries and loads of older generations are
// never served or cached again.
//
// # Expiry, and the staleness each feature allows
//
// Without invalidations, a cached value can lag behind the source of truth by:
//
//   - [Options.TTL]: up to TTL after the value was cached. [Options.Jitter] makes each
//     entry's TTL up to that fraction shorter, so that entries cached together do not expire
//     together; it never makes one longer.
//   - [Options.NegativeTTL]: a key the loader reported as [ErrNotFound] is reported so for
//     up to NegativeTTL, even if it is created meanwhile (unless Set or Invalidate is called
//     after the creation).
//   - [Options.Stale] (stale-while-revalidate, off by default): for up to Stale past the
//     TTL, Get returns the expired value at once and starts exactly one background refresh of
//     the key; so values can be up to TTL+Stale old. If the refresh fails, the value is
//     served until the bound and the next Get after it loads in the foreground.
//   - [Options.Beta] (XFetch early refresh, on by default): no extra staleness. As expiry
//     nears, a hit starts a background refresh with probability exp(−gap/(delta·Beta)), where
//     gap is the time left and delta the measured duration of the load that produced the
//     value (Vattani, Chierichetti and Lowenstein, "Optimal Probabilistic Cache Stampede
//     Prevention", VLDB 2015). At most one such refresh runs per entry, and the current
//     value is served meanwhile: popular keys are reloaded before they expire, without a
//     stampede at expiry.
//
// None of these outlive an invalidation: an invalidated value is never served, stale or not.
//
// # Batches
//
// [Cache.GetMany] answers what it can from memory and loads the rest with one call of a
// [BatchLoader], with exactly the keys that are neither cached nor already being loaded by
// another call (it waits for those). Each value is cached under its own key, with the same
// fencing as Get.
//
// # Statistics and lifetime
//
// [Cache.Stats] returns a [Stats] snapshot of atomic counters: hits, misses, loads, load
// errors, coalesced misses, stale values served, early refreshes and evictions. The Cache
// owns every goroutine it starts (loads, background refreshes, the store's maintenance);
// [Cache.Close] cancels the loads in flight and waits for all of them.
//
// A Cache is safe for concurrent use by multiple goroutines.
package cache
