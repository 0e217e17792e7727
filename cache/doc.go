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
// keys they touch. Precisely: once one of them has returned, in the process that called it
// (for other instances, see Consistency per mode),
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
//     served until the bound and the next Get after it loads in the foreground. With Redis
//     this holds across instances and in an L2-only cache too (see below).
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
// fencing as Get. With Redis, a second call can follow (see below).
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
// instances. *redis.Client, *redis.ClusterClient and *redis.Ring all fit [RedisClient].
//
//	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379", ContextTimeoutEnabled: true})
//	users, err := cache.New[User](cache.Options{
//		Namespace: "user",
//		TTL:       10 * time.Minute,
//		Redis:     &cache.RedisOptions{Client: rdb},
//	})
//
// Modes: L1 only (Redis nil), L1 and L2 (the usual), or L2 only ([Options.MaxEntries] -1:
// every Get that is not answered by a read already in flight reads Redis; nothing is held
// in process memory).
//
// A hit in Redis costs one round trip, one GET, version included: each instance keeps the
// namespace version it last read for up to [RedisOptions.VersionStaleness] (a read that
// finds it older than half of that re-reads it in the background). Past the bound the version is read in
// the same pipeline as the value, still one round trip. Two round trips are paid only by
// the first read of a new process (before its background read of the version has
// finished) and by a read that finds the version moved (the value is then read again under
// the new one).
//
// Reads are batched under concurrency. The GET of a Get that finds fewer than GOMAXPROCS
// of the Cache's single-key GETs on the wire goes out at once, alone: an idle cache adds
// no latency. A GET that finds GOMAXPROCS there queues, and when one of them returns, the
// queued GET with the latest deadline sends every GET queued by then in one round trip
// (one pipeline), bounded by that deadline, so no caller waits past its own budget. Under
// load, hits thus share round trips, and the write and read system calls that go with
// them, instead of taking one each. Reads of the version, lease waits and GetMany's MGETs
// are not queued.
//
// The budget of a step is a context with the step's deadline, as context.WithTimeout
// would make, but without a runtime timer per call: one goroutine per cache, running
// only while some step waits on a deadline, closes the expired ones (within Budget/16 of
// the deadline, never before it). go-redis turns the deadline into socket deadlines
// (with ContextTimeoutEnabled), so a server that stops answering costs one budget.
//
// [Cache.GetMany] reads its Redis misses with one MGET per Cluster slot (per hash tag on a
// Ring, a single MGET on one server), in one pipeline, and takes the leases of the keys
// still missing in one more. It loads and writes back the keys whose leases it took first
// (the writes, fenced like a Get's, and the release of the leases of failed or detached
// loads are one round trip), and only then waits, as Get does (up to
// [RedisOptions.LeaseWait]), for the keys other instances are filling: waiting while
// holding leases would let two batches that share keys wait for each other. The keys whose
// wait did not produce a value (the other instance gave up, the wait ran out, or Redis
// failed and the cache fails open) go to a second call of the BatchLoader. So GetMany
// calls the loader at most once without Redis and at most twice with it (background
// refreshes aside, which load one key each); instances that GetMany the same cold keys
// at once load each key once in total.
//
// # Consistency per mode
//
// L1 only: the guarantees above hold within the process. Instances do not hear of each
// other: a write or an invalidation made elsewhere is seen only when the value expires,
// after up to TTL (plus Stale).
//
// L1 and L2: the no-stale-set guarantee holds in Redis across instances, and process
// memory follows Redis over pub/sub.
//
//   - Invalidate and Set are fenced per key by leases. On an L2 miss an instance takes the
//     key's lease (SET NX PX of a placeholder holding a random token, in the data key
//     itself) before it loads, and writes its value with a single-key Lua compare-and-set
//     that succeeds only while its lease is still there. Invalidate deletes the key and so
//     the lease, Set overwrites it: a load that started before either is never written to
//     Redis after it, by any instance. [RedisOptions.LeaseTTL] (5 s) is how long the lease
//     lives: a holder that crashed blocks the key's fill for at most that long, and a load
//     that takes longer loses its lease and is not written. [RedisOptions.LeaseWait] (2 s)
//     bounds how long the other instances wait for the holder's value before they load
//     themselves, without writing; a waiter that sees the lease go without a value takes
//     it over.
//   - InvalidateAll: one INCR of the namespace version plus a PUBLISH (one script). Data
//     keys carry the version they were loaded under, read before the load, so a load that
//     started before the bump writes into a generation nobody reads.
//   - Another instance's Invalidate, Set or InvalidateAll reaches this instance's memory
//     over pub/sub: the key (or everything) is dropped as soon as the message is delivered.
//     Until then this instance's L1 can serve the old value, including the instance whose
//     load straddled the invalidation: its write to Redis is rejected, but its L1 keeps the
//     loaded value until the message arrives.
//   - An InvalidateAll message that is lost (sent while the subscription was down) is
//     covered by the version: reads of Redis use the version held for at most
//     VersionStaleness (250 ms), and a read that finds it raised drops process memory (a
//     load in flight at that moment may still cache its value).
//   - Redis pub/sub keeps no messages: one sent while the subscription is down is lost for
//     this instance. So while the subscription is down, nothing is kept in process memory:
//     every Get reads Redis, which is current. Memory is dropped when the loss is noticed
//     and again when the subscription is back (and the version is then re-read). A
//     half-open connection (dropped by a peer or a firewall without a reset) is noticed by
//     a PING after each quiet second: when nothing, not even its PONG, is heard for three
//     seconds, the subscription is reported lost and made again on a new connection.
//     During those seconds, invalidations are not heard, and L1 can serve what they
//     invalidated.
//   - The exception is an open circuit breaker (see Failure behaviour): values are then
//     kept in process memory even with the subscription down, because Redis cannot be read
//     and L1 spares the loader. L1 serves them, and what other instances invalidate
//     meanwhile is not heard: invalidations sent while this instance could not hear them
//     are lost for its memory until the subscription is back, when memory is dropped. Until
//     then a value can be served, invalidated or not, for up to TTL (plus Stale).
//   - With [RedisOptions.LeaseTTL] -1 (leases off), per-key invalidation in Redis is fenced
//     only by the namespace version: a load that straddles an Invalidate can write its old
//     value back, as in most caches. Keep leases on unless the loader is very slow.
//
// L2 only: nothing is kept in process memory, so nothing there can be stale; what a Get
// returns is what Redis holds, fenced as above, or what a read already in flight returns
// (a Get that starts after this instance's Invalidate or Set, or after another instance's
// message was delivered, never joins a read that started before it). The only lag is a
// namespace bump whose message is lost: reads use the old version for up to
// VersionStaleness.
//
// Early refresh and stale-while-revalidate work across instances: a background refresh
// that finds in Redis the value it refreshes recomputes it and replaces it with a
// compare-and-set over exactly those bytes, taking no lease, so the other instances keep
// reading the current value meanwhile. With [Options.Stale], a value past its soft expiry
// in Redis (the key lives on until soft expiry plus Stale) is served stale by every
// instance, by Get and GetMany, in an L2-only cache too, without waiting; it is kept in
// L1 as a stale entry,
// and one background refresh is started per instance (in an L2-only cache, callers that
// come while it runs are answered the stale value by it). Of those refreshes, the one that
// takes the key's refresh lock (SET NX PX LeaseTTL of a key next to the data key, in one
// script that first checks the key still holds the stale bytes, so a value refreshed in
// between is not refreshed again) loads and writes with the compare-and-set above, which
// also gives the lock up and publishes the key's invalidation; the others end without a
// load and keep serving the stale entry until that message drops it (their next Get then
// reads the new value from Redis), or, if it never comes (the refreshing instance failed
// or died), refresh it themselves once the lock's LeaseTTL has passed. So the loader runs once across the instances, and an
// invalidation during the refresh makes its write fail like any other. Negative entries
// are never served stale: past their soft expiry they are misses whose lease holder
// refills them while the others wait for it, as is any value past its soft expiry
// without Stale. An instance keeps nothing in
// process memory until its invalidation subscription is first up (unless the breaker is
// open), so an invalidation sent while it starts is not lost for it.
//
// Stampedes across instances: the instance holding a key's lease loads it; the others
// wait for its value, polling with backoff (2 ms doubling to 50 ms), for up to LeaseWait.
// So N instances with M goroutines each on one cold key run the loader once.
//
// # Key layout in Redis
//
//	<prefix>:<ns>:version          namespace version: no TTL, created with SET NX at the
//	                               current Unix time in µs, INCR by InvalidateAll
//	<prefix>:<ns>:v<ver>:{<key>}   data key: the value's envelope under version <ver>, PX
//	                               its TTL plus Stale (none if it never expires); or,
//	                               while an instance loads the key, the lease placeholder
//	                               (0xB7, 'L', the holder's token), PX LeaseTTL
//	<prefix>:<ns>:v<ver>:{<key>}:r refresh lock of a stale value: the refreshing
//	                               instance's token, PX LeaseTTL
//	<prefix>:<ns>:inv              pub/sub channel: "<instance id> k <key>" for Invalidate
//	                               and Set, "<instance id> v <version>" for InvalidateAll
//
// <prefix> is [RedisOptions.Prefix] ("stout"), <ns> [Options.Namespace]; neither may
// contain whitespace or braces. Cluster hashes the text between a key's first { and the
// next } when that text is not empty, so the hash tag is the entity key (up to its first
// }, if it has one; a key that is empty or starts with } is hashed whole): different keys
// spread over every slot, never one tag for the whole namespace, and a value and its
// lease are one Redis key. GetMany groups its MGETs by the slot the server computes (by
// tag on a Ring), so it never meets a CROSSSLOT error. Every script touches one key. The
// version key must never be evicted: use a volatile-* maxmemory policy (data keys have a
// TTL unless [Options.TTL] is -1; the version key has none). A version key recreated after
// a flush starts at the current time, above every version handed out before, so old
// generations cannot come back. TTLs are set in milliseconds (PX): sub-second TTLs are
// honoured.
//
// # Failure behaviour
//
// Redis is optional at run time. [New] does not wait for it: the subscription and the
// first read of the version are made in the background, retried until Redis answers, and
// a Cache made while Redis is down works meanwhile. Each step that calls Redis (a read, a
// lease attempt, a write, a release; one round trip, rarely more) is bounded by
// [RedisOptions.Budget] (250 ms): a Get spends a few budgets at most on Redis before it
// loads (its read, its lease attempt), plus up to LeaseWait when it waits for another
// instance's fill. After [RedisOptions.BreakerFailures] (5) consecutive failures a
// circuit breaker opens and calls skip Redis at once, while one background PING every
// BreakerProbeInterval (500 ms) finds out when it is back: an outage costs a few
// timeouts, not one per request.
//
// When Redis fails, by default (fail-open) Get and GetMany answer from L1 or the loader,
// without error and without writing to Redis; with [RedisOptions.FailClosed] an L1 miss
// returns an error wrapping [ErrRedis] instead, to protect the source of truth. Set,
// Invalidate and InvalidateAll change process memory and return an error wrapping
// [ErrRedis]: the caller knows the other instances were not told.
//
// Leases are given up, best effort, rather than left to LeaseTTL for the other instances
// to wait on. A lease attempt whose reply was lost (the caller's context or the budget
// ended while the SET NX was on the wire; for GetMany, any failure of its lease pipeline)
// is released at once, under a budget of its own. A load that fails, panics, is cut short
// by [Options.LoadTimeout] or [Cache.Close], or whose value the codec cannot encode gives
// up its lease. Bytes in Redis that cannot be read (another format, corrupt bytes, another
// codec's value) are a miss whose fill overwrites them, never an error. After
// [Cache.Close], hits in process memory are still served, and a Get or GetMany that misses
// returns [ErrClosed] without touching Redis.
//
// The Redis field of [Stats] ([RedisStats]) counts L2 hits and misses, lease waits,
// rejected fills, unreadable values, Redis errors, invalidations heard, subscription
// losses and the breaker state.
//
// # Statistics and lifetime
//
// [Cache.Stats] returns a [Stats] snapshot of atomic counters: hits, misses, loads, load
// errors, coalesced misses, stale values served, early refreshes and evictions. The Cache
// owns every goroutine it starts (loads, background refreshes, the store's maintenance,
// and with Redis the invalidation subscriber and the version re-reader); [Cache.Close]
// cancels the loads in flight and waits for all of them.
//
// A Cache is safe for concurrent use by multiple goroutines.
package cache
