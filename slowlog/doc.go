// Package slowlog provides slow-operation timers: per-operation latency
// distributions with recent windows, and slow logs that stay readable on a
// bad day.
//
// "This feels slow" becomes "db.getUser's p95 over the last minute is
// 2.3 s", and each slow call is logged with its context, without the timer
// costing more than reading the clock and without a slow day flooding the
// logs.
//
// # Usage
//
// Create one [Recorder], take one [Op] handle per operation name, and time
// calls with [Op.Start] and [Timer.End]:
//
//	rec, err := slowlog.New(&slowlog.Options{Threshold: 200 * time.Millisecond, Logger: logger})
//	defer rec.Close()
//	getUser := rec.Op("db.getUser") // look it up once, keep it
//
//	t := getUser.Start(ctx)
//	u, err := load(ctx, id)
//	t.End(err, slog.String("user", id))
//
// or, in a function with a named error result, defer
// getUser.Start(ctx).Done(&err). [Recorder.Snapshot] returns, per op, the
// count, errors, error rate, p50/p90/p95/p99/p999 and maximum over the last
// minute, the last five minutes and since start; [Recorder.Handler] serves
// them as JSON and as an HTML page, slowest first.
//
// # Guarantees
//
//   - Cost: on a call below its thresholds, Start and End read the
//     monotonic clock twice, do one atomic add and allocate nothing.
//   - Accuracy: each op keeps a log-linear histogram (64 linear buckets per
//     power of two of nanoseconds, atomic counters). Every quantile is
//     within 0.8% of the exact nearest-rank quantile of the observations
//     over the whole range 1 ns … 9 h; the maximum is exact. [Histogram]
//     and [Snapshot] values merge exactly, so stats from several instances
//     can be combined, also across processes: the handler serves them
//     with ?histograms=1 and [DecodeSnapshot] reads them back.
//   - Memory: bounded per op. Counters are allocated per power of two
//     actually used: 256 bytes (32-bit counters) in each of the six
//     10-second and five 1-minute slots, 512 bytes in the since-start
//     histogram; at most about 134 KiB per op, about 30 KiB for an op whose
//     calls span 12 powers of two.
//   - Windows: the last-minute window covers the last 50–60 s, the
//     five-minute window the last 4–5 min; both are empty when the op was
//     idle that long. Rotation is lazy: no goroutine per op.
//   - No lost counts: concurrent calls are never lost from the since-start
//     window; a call that ends exactly while its slot rotates may be
//     counted in the next slot.
//
// # Slow log
//
// Each op has [Thresholds]: calls at or above Hard are always logged,
// calls between Soft and Hard with probability SampleRate (PostgreSQL's
// log_min_duration_sample), and with Adaptive = k the hard threshold
// follows k × the op's own last-minute p99, above a Floor. Thresholds are
// fixed or changed at run time through a [Var], like [slog.LevelVar].
//
// Lines go to the caller's [*slog.Logger] (none by default) with the op,
// duration, threshold, error, the caller's attributes and those that
// [Options.ContextAttrs] takes from the context (trace and request IDs).
// A per-op token bucket bounds the lines ([Options.LogBurst],
// [Options.LogEvery]); suppressed calls are summed up in a periodic
// "slow operations suppressed" line with their number, the worst duration
// and the op's p99. Logging never waits for tokens, and [Recorder.Close]
// logs the summaries still pending, so no suppressed count is lost.
//
// Every slow call also enters a bounded ring of recent entries, like Redis
// SLOWLOG: monotonic IDs, capped attribute counts and sizes
// ([Recorder.Recent]).
//
// # Watchdog
//
// With [Options.Watchdog] set, the Recorder's background goroutine reports
// calls still running past their hard threshold, once each, while they run
// (what PostgreSQL does for lock waits). The goroutine belongs to the
// Recorder; [Recorder.Close] stops it and is idempotent.
//
// # Integrations
//
// [Middleware] times HTTP handlers per route (a 5xx status counts as an
// error), [NewRedisHook] times go-redis commands, pipelines and dials, and [Do]
// wraps database/sql-style calls.
package slowlog
