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
// [Options.MaxEntries], with no timer sweeping expired entries: the next load replaces
// them, or the policy evicts them); a hit takes no lock and allocates nothing. A loader
// that does not capture variables (as loadUser above, which gets the key as an argument)
// keeps the call itself free of allocations too. Values are handed out as stored: treat
// them as immutable.
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
// # Redis: a level shared by every instance
//
// With [Options.Redis] set, a Redis level (L2) sits below process memory (L1). An L1 miss
// reads Redis before it loads; a loaded value is written to Redis for the other
// instances; [Cache.Invalidate], [Cache.Set] and [Cache.InvalidateAll] act on Redis first
// and are pushed to the other instances over pub/sub, which drop the key (or everything)
// from their L1. Values are stored in Redis encoded by [Options.Codec] inside a small
// binary envelope (format version, flags, namespace version, created-at, soft expiry, load
// time), so that negative entries, stale-while-revalidate and XFetch work across
// instances; bytes that cannot be read are a miss and get overwritten, never an error.
// *redis.Client, *redis.ClusterClient and *redis.Ring all fit [RedisClient].
//
//	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379", ContextTimeoutEnabled: true})
//	users, err := cache.New[User](cache.Options{
//		Namespace: "user",
//		TTL:       10 * time.Minute,
//		Redis:     &cache.RedisOptions{Client: rdb},
//	})
//
// Modes: L1 only (Redis nil), L1 and L2 (the usual), or L2 only ([Options.MaxEntries] -1:
// every Get reads Redis, nothing is held in process memory).
//
// A hit in Redis costs one round trip, one GET, version included: each instance keeps the
// namespace version it last read (see below) for up to [RedisOptions.VersionStaleness].
// Past that bound the version is read in the same pipeline as the value, still one round
// trip. Only the first read of a new process, before its background read of the version
// has finished, costs two.
//
// # Consistency per mode
//
// The no-stale-set guarantee above holds across instances, in Redis as in memory:
//
//   - Invalidate and Set: on an L2 miss an instance takes the key's lease (SET NX PX of a
//     placeholder holding a random token, in the data key itself) before it loads, and
//     writes its value with a single-key Lua compare-and-set that succeeds only while its
//     lease is still there. Invalidate deletes the key and so the lease, Set overwrites
//     it: a load that started before either is never written to Redis after it. The
//     instance that loaded drops it from its own L1 when the invalidation message arrives
//     (normally before its load ends; if not, its L1 holds the loaded value until the
//     message arrives, a pub/sub delay).
//   - InvalidateAll: one INCR of the namespace version plus a PUBLISH (one script). Data
//     keys carry the version they were loaded under, read before the load, so a load that
//     started before the bump writes into a generation nobody reads.
//   - Another instance's L1 sees an invalidation as soon as its pub/sub message arrives.
//     If the subscription is lost, L1 is dropped at once and again when it is back, since
//     messages may have been missed.
//   - A namespace bump whose message is lost (the subscription dropped) is picked up from
//     Redis within [RedisOptions.VersionStaleness] (250 ms by default) by every read of
//     Redis; -1 makes every read check the version, with no extra round trip.
//   - With [RedisOptions.LeaseTTL] -1 (leases off), per-key invalidation in Redis is fenced
//     only by the namespace version: a load that straddles an Invalidate can write its old
//     value back, as in most caches. Keep leases on unless the loader is very slow.
//
// Early refresh and stale-while-revalidate work across instances: a background refresh
// that finds in Redis the value it refreshes recomputes it and replaces it with a
// compare-and-set over exactly those bytes, taking no lease, so the other instances keep
// reading the current value meanwhile. A value past its soft expiry in Redis is a miss
// whose lease holder refills it while the others wait for it. An instance keeps nothing in
// process memory until its invalidation subscription is up (unless Redis is unavailable),
// so an invalidation sent while it starts is not lost for it.
//
// Stampedes across instances: the instance holding a key's lease loads it; the others
// wait for its value, polling with backoff, for up to [RedisOptions.LeaseWait], then load
// it themselves without writing. So N instances with M goroutines each on one cold key run
// the loader once. A lease of a crashed holder expires after LeaseTTL.
//
// # Key layout in Redis
//
//	<prefix>:<ns>:version           namespace version: no TTL, created with SET NX at the
//	                                current Unix time in µs, INCR by InvalidateAll
//	<prefix>:<ns>:v<ver>:{<key>}    value (the envelope) or a fill lease; PX hard expiry
//	<prefix>:<ns>:inv               pub/sub channel of invalidations
//
// <prefix> is [RedisOptions.Prefix] ("stout"), <ns> [Options.Namespace]. The hash tag is
// the entity key: one key's generations and its lease share a Cluster slot, while
// different keys spread over every slot (never one tag for the whole namespace). GetMany
// groups its MGETs per slot (per tag on a Ring), so it never meets a CROSSSLOT error.
// Every script touches one key. The version key must never be evicted: use a volatile-*
// maxmemory policy (data keys always have a TTL; the version key has none). A version key
// recreated after a flush starts at the current time, above every version handed out
// before, so old generations cannot come back. TTLs are set in milliseconds (PX):
// sub-second TTLs are honoured.
//
// # Failure behaviour
//
// Redis is optional at run time. [New] does not wait for it. Each Redis round trip is
// bounded by [RedisOptions.Budget]; after [RedisOptions.BreakerFailures] consecutive
// failures a circuit breaker opens and calls skip Redis at once, while one background
// PING every BreakerProbeInterval finds out when it is back: an outage costs a few
// timeouts, not one per request. Meanwhile, by default (fail-open), Get and GetMany answer
// from L1 or the loader, without error; with [RedisOptions.FailClosed] they return an
// error wrapping [ErrRedis] instead, to protect the source of truth. Set, Invalidate and
// InvalidateAll change process memory and return an error wrapping [ErrRedis]: the caller
// knows the other instances were not told. The Redis field of [Stats] ([RedisStats])
// counts L2 hits and misses, lease waits, rejected fills, Redis errors and the breaker
// state.
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
