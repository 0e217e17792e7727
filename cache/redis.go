package cache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/stout-go/stout/cache/internal/l2"
)

// RedisClient is the part of go-redis the Redis level calls. *redis.Client,
// *redis.ClusterClient and *redis.Ring implement it, as does any
// redis.UniversalClient.
type RedisClient interface {
	Get(ctx context.Context, key string) *redis.StringCmd
	Set(ctx context.Context, key string, value any, expiration time.Duration) *redis.StatusCmd
	SetNX(ctx context.Context, key string, value any, expiration time.Duration) *redis.BoolCmd
	Del(ctx context.Context, keys ...string) *redis.IntCmd
	Ping(ctx context.Context) *redis.StatusCmd
	Pipeline() redis.Pipeliner
	Subscribe(ctx context.Context, channels ...string) *redis.PubSub
	redis.Scripter
}

// Defaults of [RedisOptions].
const (
	DefaultRedisPrefix      = l2.DefaultPrefix
	DefaultVersionStaleness = l2.DefaultVersionStaleness
	DefaultRedisBudget      = l2.DefaultBudget
	DefaultLeaseTTL         = l2.DefaultLeaseTTL
	DefaultLeaseWait        = l2.DefaultLeaseWait
)

// ErrRedis is wrapped by the errors of the Redis level: a failed or timed-out call, or
// a call refused at once while the circuit breaker is open. Get and GetMany return it
// only with [RedisOptions.FailClosed]; Set and the invalidations always do (after
// changing process memory).
var ErrRedis = errors.New("cache: redis")

// RedisOptions add the level shared by every instance of a service (L2) below process
// memory (L1). Zero fields take the defaults named in their comments; durations take -1
// for off where allowed.
type RedisOptions struct {
	// Client is the Redis client. Required. The cache does not close it. Create it with
	// ContextTimeoutEnabled (or Read/WriteTimeout no longer than Budget) so that a server
	// that stops answering cannot hold a call past the budget.
	Client RedisClient

	// Prefix starts every key and channel name the cache uses in Redis. Default
	// [DefaultRedisPrefix] ("stout"). It may not contain whitespace or braces.
	Prefix string

	// VersionStaleness bounds how long this instance uses the namespace version it holds
	// without reading it from Redis again. InvalidateAll by another instance is normally
	// heard at once over pub/sub; the bound covers a lost message. Default
	// [DefaultVersionStaleness] (250 ms); -1 reads the version with every L2 read (still
	// one round trip: a pipeline of two commands).
	VersionStaleness time.Duration

	// Budget bounds each step of a call that goes to Redis (a read, a lease, a write; a
	// step is one round trip, or two when the namespace version must be read first).
	// Default [DefaultRedisBudget] (250 ms).
	Budget time.Duration

	// LeaseTTL is how long a fill lease outlives a crashed holder. On an L2 miss the
	// instance takes the key's lease before it loads, and writes only while it still
	// holds it: an Invalidate or Set by any instance meanwhile deletes the lease and
	// rejects the write. Other instances wait for the value instead of loading it too.
	// Default [DefaultLeaseTTL] (5 s); -1 turns leases off (writes are then fenced by
	// the namespace version only, and each instance loads a cold key once).
	LeaseTTL time.Duration

	// LeaseWait bounds how long a miss waits for another instance's fill before it
	// loads itself, without writing. Default [DefaultLeaseWait] (2 s).
	LeaseWait time.Duration

	// CompressAt is the encoded size from which values are flate-compressed in Redis.
	// Default 0: never.
	CompressAt int

	// BreakerFailures is the number of consecutive Redis failures that open the circuit
	// breaker; while it is open, calls skip Redis at once and a PING every
	// BreakerProbeInterval finds out when it is back. Defaults 5 and 500 ms.
	BreakerFailures      int
	BreakerProbeInterval time.Duration

	// FailClosed makes Get and GetMany return an error wrapping [ErrRedis] when Redis
	// fails, instead of answering from the loader (fail-open, the default). Use it when
	// the source of truth must not take the load of every instance at once.
	FailClosed bool
}

// RedisStats are the counters of the Redis level.
type RedisStats struct {
	// Hits and Misses count L2 reads (L1 misses) that found a fresh value, or not.
	Hits, Misses uint64
	// LeaseWaits counts misses that found another instance filling the key and waited;
	// LeaseWaitHits those that got its value, LeaseTimeouts those that gave up after
	// [RedisOptions.LeaseWait] and loaded themselves.
	LeaseWaits, LeaseWaitHits, LeaseTimeouts uint64
	// FillsRejected counts writes fenced out because the key was invalidated or set
	// after the miss.
	FillsRejected uint64
	// Corrupt counts values that could not be read (another format, corrupt bytes): each
	// is a miss, overwritten by its fill.
	Corrupt uint64
	// Errors counts failed Redis calls; Unavailable counts calls skipped while the
	// breaker was open.
	Errors, Unavailable uint64
	// InvalidationsHeard counts invalidations (of one key or of all) received from other
	// instances, each once process memory has applied it.
	InvalidationsHeard uint64
	// SubscriptionLost and Resubscribes count losses and returns of the invalidation
	// subscription; process memory is dropped at each.
	SubscriptionLost, Resubscribes uint64
	// BreakerOpen reports whether the breaker is open now.
	BreakerOpen bool
	// Version is the namespace version this instance holds (0: not known yet).
	Version uint64
}

// validate checks o and applies nothing: l2 applies the defaults.
func (o *RedisOptions) validate() error {
	if o.Client == nil {
		return fmt.Errorf("%w: Redis.Client is nil", ErrInvalidOptions)
	}
	if strings.ContainsAny(o.Prefix, " \t\r\n{}") {
		return fmt.Errorf("%w: Redis.Prefix %q contains whitespace or braces", ErrInvalidOptions, o.Prefix)
	}
	return nil
}

// redisLevel is the [shared] level on Redis.
type redisLevel struct {
	// listened is set while the invalidation subscription is up: before it is
	// made and after it is lost, an invalidation by another instance would not
	// reach this process, so nothing is kept in process memory (unless Redis is
	// unavailable anyway).
	listened   atomic.Bool
	s          *l2.Store
	client     RedisClient
	failClosed bool
	heard      atomic.Uint64 // invalidations heard from other instances
	lockTTL    time.Duration // how long a refresh lock lives
}

// refreshLockTTL is how long another instance's refresh lock of a key may live: once it
// has, a stale value whose refresh that instance took over may be refreshed here.
func (c *Cache[V]) refreshLockTTL() time.Duration {
	if r, ok := c.l2.(*redisLevel); ok {
		return r.lockTTL
	}
	return DefaultLeaseTTL
}

// attachRedis creates the Redis level of c from o and wires invalidations heard from
// other instances into process memory.
func (c *Cache[V]) attachRedis(o *RedisOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	now := time.Now
	if c.cfg.clock != nil {
		now = c.cfg.clock.Now
	}
	r := &redisLevel{client: o.Client, failClosed: o.FailClosed, lockTTL: o.LeaseTTL}
	if r.lockTTL <= 0 {
		r.lockTTL = DefaultLeaseTTL
	}
	s, err := l2.New(l2.Options{
		Client:               o.Client,
		Prefix:               o.Prefix,
		Namespace:            c.cfg.ns,
		VersionStaleness:     o.VersionStaleness,
		Budget:               o.Budget,
		LeaseTTL:             o.LeaseTTL,
		LeaseWait:            o.LeaseWait,
		CompressAt:           o.CompressAt,
		ServeStale:           time.Duration(c.cfg.stale),
		BreakerFailures:      o.BreakerFailures,
		BreakerProbeInterval: o.BreakerProbeInterval,
		// Counted once applied: whoever sees the count must not read what it dropped.
		OnInvalidate: func(key string) {
			c.invalidateLocal(key)
			r.heard.Add(1)
		},
		OnInvalidateAll: func(uint64) {
			c.invalidateAllLocal()
			r.heard.Add(1)
		},
		// A version raised as learnt from a read (the InvalidateAll message was
		// lost, or Redis re-created the version key): what L1 holds was loaded
		// under the old version. It is dropped, but the generation is not moved:
		// that would detach every flight, the one that made the read included,
		// whose value (read or loaded under the new version) could then not be
		// stored, in L1 or in Redis. A flight that read the old version before
		// this and ends after it may still store its value: the window is one load.
		OnVersionRaised: func(uint64) { c.l1.InvalidateAll() },
		OnSubscription: func(up bool) {
			if c.closing.Err() != nil {
				// The end of the subscription at Close: hits are still served from
				// memory after Close, and nothing can be heard any more anyway.
				return
			}
			// Up: drop L1 first, then say the subscription is up: whoever sees
			// listened must not have its later values dropped by this call.
			// Down: stop keeping values first, then drop L1: a value stored in
			// between is dropped, and none stored after is kept while
			// invalidations by other instances cannot be heard.
			if !up {
				r.listened.Store(false)
			}
			c.invalidateAllLocal()
			if up {
				r.listened.Store(true)
			}
		},
		OnBreaker: func(open bool) {
			if open {
				c.cfg.logger.Warn("cache: redis circuit breaker opened", "namespace", c.cfg.ns)
			} else {
				c.cfg.logger.Info("cache: redis circuit breaker closed", "namespace", c.cfg.ns)
			}
		},
		Now: now,
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	r.s = s
	c.l2 = r
	return nil
}

// keepL1 reports whether a value may be kept in process memory: not in an L2-only
// cache, and with Redis not while the invalidation subscription is down,
// unless Redis is unavailable (then nothing could be heard anyway, and L1 spares
// the loader; it is dropped when the subscription comes up).
func (c *Cache[V]) keepL1() bool {
	if c.cfg.noL1 {
		return false
	}
	r, ok := c.l2.(*redisLevel)
	return !ok || r.listened.Load() || !r.s.Available()
}

// redisErr wraps an error of the level so that it matches ErrRedis and the cause.
func redisErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrRedis, err)
}

func toRecord(e l2.Entry) record {
	return record{gen: e.Gen, negative: e.Negative, created: e.Created, softExpiry: e.SoftExpiry, delta: e.Delta, payload: e.Payload, raw: e.Raw, stale: e.Stale}
}

func (r *redisLevel) refill(key string, rec record) filler {
	if rec.raw == nil {
		return nil
	}
	f := r.s.Refill(key, fromRecordEntry(rec))
	if !f.Writes() {
		return nil
	}
	return redisFill{s: r.s, f: f}
}

func (r *redisLevel) tryRefresh(ctx context.Context, key string, rec record) (filler, bool) {
	if rec.raw == nil {
		return nil, true
	}
	f, ok, err := r.s.TryRefresh(ctx, key, fromRecordEntry(rec))
	if err != nil {
		// Redis failed: refresh without the lock, replacing the value only while it is
		// still there (a write that fails with Redis writes nothing).
		return r.refill(key, rec), true
	}
	if !ok {
		return nil, false
	}
	return redisFill{s: r.s, f: f}, true
}

func (r *redisLevel) reclaim(ctx context.Context, key string, rec record) filler {
	if rec.raw == nil {
		return nil
	}
	f, err := r.s.Reclaim(ctx, key, fromRecordEntry(rec))
	if err != nil || !f.Writes() {
		return nil
	}
	return redisFill{s: r.s, f: f}
}

// fromRecordEntry is the entry of a record the level read, raw bytes included.
func fromRecordEntry(r record) l2.Entry {
	e := toEntry(r)
	e.Raw = r.raw
	return e
}

func toEntry(r record) l2.Entry {
	return l2.Entry{Gen: r.gen, Negative: r.negative, Created: r.created, SoftExpiry: r.softExpiry, Delta: r.delta, Payload: r.payload}
}

func (r *redisLevel) get(ctx context.Context, key string) lookup {
	e, hit, f, err := r.s.Get(ctx, key)
	if err != nil {
		return lookup{err: redisErr(err)}
	}
	if hit {
		return lookup{rec: toRecord(e), hit: true}
	}
	return lookup{fill: redisFill{s: r.s, f: f}}
}

func (r *redisLevel) first(ctx context.Context, key string) (lookup, bool) {
	e, hit, f, wait, err := r.s.Begin(ctx, key)
	switch {
	case err != nil:
		return lookup{err: redisErr(err)}, false
	case hit:
		return lookup{rec: toRecord(e), hit: true}, false
	case wait:
		return lookup{fill: redisFill{s: r.s, f: f}}, true
	}
	return lookup{fill: redisFill{s: r.s, f: f}}, false
}

func (r *redisLevel) rest(ctx context.Context, key string, l lookup) lookup {
	e, hit, f, err := r.s.Wait(ctx, l.fill.(redisFill).f)
	switch {
	case err != nil:
		return lookup{err: redisErr(err)}
	case hit:
		return lookup{rec: toRecord(e), hit: true}
	}
	return lookup{fill: redisFill{s: r.s, f: f}}
}

// getMany is beginMany without the waits (GetMany calls beginMany: the level is a
// [batchLevel]); a key another instance fills gets a filler that writes nothing.
func (r *redisLevel) getMany(ctx context.Context, keys []string) []lookup {
	out, _ := r.beginMany(ctx, keys)
	return out
}

func (r *redisLevel) set(ctx context.Context, key string, rec record, ttl time.Duration) error {
	return redisErr(r.s.Set(ctx, key, toEntry(rec), ttl))
}

func (r *redisLevel) invalidate(ctx context.Context, key string) error {
	return redisErr(r.s.Invalidate(ctx, key))
}

func (r *redisLevel) invalidateAll(ctx context.Context) error {
	_, err := r.s.InvalidateAll(ctx)
	return redisErr(err)
}

func (r *redisLevel) close() error { return r.s.Close() }

// redisFill is the [filler] of an L2 miss.
type redisFill struct {
	s *l2.Store
	f l2.Fill
}

func (f redisFill) put(ctx context.Context, rec record, ttl time.Duration) (bool, error) {
	ok, err := f.s.Put(ctx, f.f, toEntry(rec), ttl)
	return ok, redisErr(err)
}

func (f redisFill) release(ctx context.Context) error {
	return redisErr(f.s.Release(ctx, f.f))
}

// failClosedErr returns the error a Get must return for lookup l under the failure
// policy: nil when the loader should answer.
func (c *Cache[V]) failClosedErr(l lookup) error {
	if r, ok := c.l2.(*redisLevel); ok && r.failClosed && l.err != nil {
		return l.err
	}
	return nil
}

// redisStats returns the counters of the Redis level, zero without one.
func (c *Cache[V]) redisStats() RedisStats {
	r, ok := c.l2.(*redisLevel)
	if !ok {
		return RedisStats{}
	}
	st := r.s.Stats()
	return RedisStats{
		Hits:               st.Hits,
		Misses:             st.Misses,
		LeaseWaits:         st.LeaseWaits,
		LeaseWaitHits:      st.LeaseWaitHits,
		LeaseTimeouts:      st.LeaseTimeouts,
		FillsRejected:      st.FillsRejected,
		Corrupt:            st.Corrupt,
		Errors:             st.Errors,
		Unavailable:        st.Unavailable,
		InvalidationsHeard: r.heard.Load(),
		SubscriptionLost:   st.SubscriptionLost,
		Resubscribes:       st.Resubscribes,
		BreakerOpen:        st.BreakerOpen,
		Version:            st.Version,
	}
}
