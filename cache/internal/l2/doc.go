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
//     the entity key, so one entity's generations and its lease share a slot while
//     different entities spread over the whole Cluster. The namespace version lives
//     at <prefix>:<ns>:version with no TTL, created with SET NX at the current Unix
//     time in microseconds; [Store.InvalidateAll] is one INCR plus a PUBLISH (one
//     single-key script).
//   - One round trip per hit: the version is kept locally for at most
//     [Options.VersionStaleness] (pushed over pub/sub meanwhile), so a hit is one
//     GET. A version older than the bound is re-read in the same pipeline as the
//     value: still one round trip.
//   - Leases: on a miss [Store.Get] takes a lease (SET NX PX of a placeholder with
//     a token in the data key itself); [Store.Put] writes with a single-key Lua
//     compare-and-set that succeeds only while the lease is still there.
//     [Store.Invalidate] deletes the key, and so the lease, and publishes. Other
//     processes that find a lease wait for the value, up to [Options.LeaseWait],
//     then load without writing. [Store.Begin] and [Store.Wait] split a Get into
//     its bounded first read and the wait; [Store.Reclaim] takes over a value the
//     caller's codec cannot decode, so that its fill replaces it.
//   - [Store.GetMany]: MGET grouped per Cluster slot (per hash tag on a Ring),
//     pipelined, never a CROSSSLOT error.
//   - Outages: a per-call time budget, a circuit breaker (internal/breaker) with a
//     PING probe, construction while Redis is down, errors wrapped and returned so
//     the cache can fail open, and callbacks for invalidations heard from other
//     instances and for a lost-then-restored subscription (clear L1).
//   - [Stats]: hits, misses, lease waits, rejected fills, Redis errors, breaker
//     state.
package l2
