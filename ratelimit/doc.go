// Package ratelimit provides exact keyed token-bucket rate limits (GCRA), in
// process or shared through Redis, with blocking waits, reservations and
// HTTP middleware.
//
// Say a limit with x/time/rate's types, pick a backend, and ask per key:
//
//	lim := ratelimit.NewMemory(ratelimit.Limit{Rate: rate.Every(100 * time.Millisecond), Burst: 20}, nil)
//	d, err := lim.Allow(ctx, userID)
//	if !d.Allowed { /* 429, retry after d.RetryAfter */ }
//
// [Memory] keeps the buckets in the process; [Redis] shares them between
// instances with one round trip per decision. Both implement [Limiter]:
// Allow/AllowN, Reserve/ReserveN (with a refunding Cancel), Wait/WaitN (which
// fail at once if ctx's deadline would pass first), Peek. [Middleware] puts a
// Limiter in front of an http.Handler.
//
// # Guarantees
//
// A [Limit] is a token bucket of Burst tokens refilled at Rate per second,
// full for a new key. Both backends run the generic cell rate algorithm
// (GCRA) in integers: the state of a bucket is one int64, the time at which
// it is full again. So:
//
//   - In every interval of length d, a key is admitted at most
//     Burst + Rate·d units of cost, under any concurrency, on one instance
//     or (with Redis) across any number of them. The emission interval is
//     rounded up, never down. (The one exception keeps the arithmetic in
//     int64: a limit whose drained bucket would take more than about 36
//     years to refill, Burst/Rate, refills in that time instead.)
//   - [Decision.Remaining] is exact: that many unit requests succeed at once,
//     one more fails. [Decision.RetryAfter] is exact: the same request
//     retried at now+RetryAfter succeeds (with no other traffic on the key),
//     and one retried any earlier fails.
//   - A cost above Burst fails with [ErrCostExceedsBurst] and RetryAfter
//     [RetryNever]: it can never succeed, so no finite wait is promised.
//   - Time never runs backwards: a decision made with a stale clock reading
//     never credits a bucket (the x/time/rate bug golang/go#65508).
//   - Several limits for one key (per second and per day) are checked all or
//     nothing: a request denied by one limit is charged to none.
//
// # Limits per call
//
// The limit given to the constructor applies to every key unless a
// [Resolver] (MemoryOptions.Resolver, RedisOptions.Resolver) or the context
// ([WithLimits]) says otherwise, so per-tenant limits change without a
// restart. When a limit changes, a bucket keeps the time at which it is full
// again, and the new limit applies to what comes after.
//
// # Memory
//
// [Memory] is sharded and lock-free on the hot path (a compare-and-swap on
// the bucket), stores about 33 bytes per bucket, and bounds its size by
// [MemoryOptions.MaxKeys]. Only full buckets are ever dropped: a full bucket
// decides exactly like a new key, so dropping it changes no decision, and a
// client cannot reset its own bucket by flooding the table with new keys.
// Dropping happens a few buckets at a time inside normal calls; there is no
// goroutine to stop.
//
// # Redis
//
// [Redis] runs one single-key Lua script per decision (EVALSHA, falling back
// to EVAL), on Redis's own clock in integer microseconds; the key expires
// when the bucket is full. User keys are hashed, so secrets never reach Redis
// and key length is bounded. A key with several limits uses one hash tag per
// key, so it works on Redis Cluster without pinning every key to one slot.
// When Redis fails the limiter follows its [Policy] within a time budget,
// and a circuit breaker stops paying timeouts until a background probe sees
// Redis back. Construction never needs Redis to be up.
//
// # HTTP
//
// [Middleware] answers 429 with Retry-After (whole seconds, rounded up) and
// sends the IETF draft RateLimit-Policy and RateLimit headers (or the legacy
// X-RateLimit-* ones). [KeyByIP] takes the client address from
// X-Forwarded-For only when the peer is a trusted proxy.
//
// [Shadow] wraps any Limiter in a dry run that reports what it would deny.
package ratelimit
