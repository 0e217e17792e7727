// Package l2 provides the Redis level of package cache: a byte-level store shared by
// every instance of a service. It knows nothing about Go types; package cache
// encodes values with its Codec, wraps them in an [Entry] and hands them here.
//
// # What it provides
//
//   - [Client]: the narrow set of go-redis methods it calls, so *redis.Client,
//     *redis.ClusterClient and *redis.Ring all fit.
//   - The envelope ([Entry], [Encode], [Decode]): a self-describing binary value
//     (magic, format version, flags negative/compressed, generation, created-at,
//     soft expiry, recompute time, payload). Bytes of an unknown format or corrupt
//     bytes decode as a miss, never as an error.
//   - Versioned keys: data lives at <prefix>:<ns>:v<ver>:{<key>}. The hash tag is
//     the entity key, so different entities spread over the whole Cluster, and a
//     value and its lease are one Redis key. The namespace version lives at
//     <prefix>:<ns>:version with no TTL, created with SET NX at the current Unix
//     time in microseconds; [Store.InvalidateAll] is one INCR plus a PUBLISH (one
//     single-key script). Invalidations go out on <prefix>:<ns>:inv as
//     "<instance id> k <key>" or "<instance id> v <version>".
//   - One round trip per hit: the version is kept locally for at most
//     [Options.VersionStaleness] (pushed over pub/sub meanwhile; a read finding it
//     older than half the bound re-reads it in the background), so a hit is one
//     GET. A version older than the bound is re-read in the same pipeline as the
//     value: still one round trip. A read that finds the version raised reports it
//     through [Options.OnVersionRaised] (the bump's message was lost, or Redis
//     re-created the key).
//   - Read batching: the single-key GET of a read goes out at once while fewer
//     than GOMAXPROCS such GETs of the store are on the wire, so an idle store adds
//     no latency; beyond that, GETs queue, and when one on the wire returns, the
//     queued GET with the latest deadline sends the whole queue as one pipeline,
//     bounded by that deadline. A queued GET whose context ends leaves the queue,
//     unless it was already picked to send the batch: it then sends it for the
//     others.
//   - Leases: on a miss [Store.Get] takes a lease (SET NX PX of a placeholder,
//     0xB7 'L' and a token, in the data key itself); [Store.Put] writes with a
//     single-key Lua compare-and-set that succeeds only while the lease is still
//     there. [Store.Invalidate] deletes the key, and so the lease, and publishes;
//     [Store.Set] overwrites it. Other processes that find a lease wait for the
//     value, up to [Options.LeaseWait], then load without writing; one that sees
//     the lease go without a value takes it over. A lease attempt whose reply was
//     lost (the caller's context or the budget ended while it was on the wire) is
//     released at once, under a budget of its own. [Store.Begin] and [Store.Wait]
//     split a Get into its bounded first read and the wait; [Store.Reclaim] takes
//     over a value the caller's codec cannot decode, so that its fill replaces it;
//     [Store.Refill] replaces a value a refresh recomputed, only while the key
//     still holds exactly its bytes, without a lease.
//   - Stale-while-revalidate: with [Options.ServeStale], Begin and Wait answer a
//     value past its soft expiry (within the bound; never a negative entry) as a
//     hit flagged [Entry.Stale] instead of taking its lease, and
//     [Store.TryRefresh] elects the one process that refreshes it (SET NX PX of
//     a lock key in the data key's slot); its fill is a Refill whose Put also
//     deletes the lock, in the same script.
//   - Batches: [Store.GetMany] reads with one MGET per Cluster slot (per hash tag
//     on a Ring, one MGET on a single server), pipelined, never a CROSSSLOT error,
//     and takes the misses' leases in one more pipeline (releasing every lease it
//     tried if that pipeline fails). It does not wait: a key another caller holds
//     is marked [Lookup].Wait, for [Store.WaitMany] to poll once the caller has
//     loaded the keys it holds. [Store.FinishMany] writes a batch's values (each
//     fenced by its lease) and releases the rest of its leases in one pipeline;
//     [Store.PutMany] and [Store.ReleaseMany] are its two halves.
//   - Outages: a time budget per step that calls Redis (budget.go: a context with
//     the step's deadline whose Done is closed by one clock goroutine per store,
//     running only while some budget waits, instead of a runtime timer per call),
//     a circuit breaker (internal/breaker) with a PING probe, construction while
//     Redis is down, errors wrapped and returned so the cache can fail open.
//   - The invalidation subscriber: callbacks for invalidations heard from other
//     instances ([Options.OnInvalidate], [Options.OnInvalidateAll]) and for a
//     subscription lost or back ([Options.OnSubscription]; the cache drops its
//     memory on each edge). A connection that goes half-open is found by a PING
//     after each quiet [Options.SubscriberHealth]: when nothing, not even a PONG,
//     is heard for three periods, the subscription is reported lost and made again
//     on a new connection.
//   - [Stats]: hits, misses, lease waits, rejected fills, unreadable values, Redis
//     errors, subscription losses and returns, breaker state, the version held.
package l2
