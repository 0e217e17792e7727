package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/stout-go/stout/internal/breaker"
)

// RedisClient is the part of go-redis the Redis limiter uses. *redis.Client,
// *redis.ClusterClient, *redis.Ring and redis.UniversalClient all satisfy it.
type RedisClient interface {
	redis.Scripter
	Ping(ctx context.Context) *redis.StatusCmd
}

// RedisOptions configure a [Redis] limiter. The zero value (or nil) gives the
// defaults.
type RedisOptions struct {
	// Prefix starts every Redis key. Default "rl". It must not contain a
	// Cluster hash tag ("{...}"): that would put every key in one slot.
	Prefix string

	// Resolver, if set, chooses the limits per key and call (see [Limiter]).
	Resolver Resolver

	// OnError is the failure policy: what a decision is when Redis fails,
	// times out or the breaker is open. Default FailOpen.
	OnError Policy

	// Instances is the number of instances expected to share the limit; with
	// FallbackLocal each instance decides locally with Rate/Instances and
	// Burst/Instances (at least 1, and at least the cost asked for), so that
	// together they stay near the limit. Default 1.
	Instances int

	// Budget bounds the time one call spends on Redis, round trip included,
	// before the failure policy applies. Default 100ms; -1 means no budget
	// beyond the caller's context and the client's timeouts. The budget holds for
	// any client; with a client whose options set ContextTimeoutEnabled it
	// costs nothing, with any other each call runs on a goroutine of its own
	// so that it can be abandoned at the budget.
	Budget time.Duration

	// Failures is the number of consecutive Redis failures that open the
	// circuit breaker; while it is open calls apply the failure policy
	// without touching Redis. Default 5; -1 turns the breaker off.
	Failures int

	// ProbeInterval is how often a background PING checks Redis while the
	// breaker is open; the first success closes it. Default 500ms.
	ProbeInterval time.Duration

	// Logger, if set, receives a warning when the breaker opens and an info
	// line when it closes.
	Logger *slog.Logger

	// now, if set, pins the script's clock (µs): a hook for tests.
	now func() int64
}

// Redis is a keyed limiter whose buckets live in Redis, shared by every
// instance that uses the same keys. Each decision is one round trip: a Lua
// script (EVALSHA, EVAL when the script is not cached) that reads Redis's
// TIME, applies GCRA in integer microseconds to the key's one value and
// sets it to expire when the bucket is full again, so idle keys take no
// memory.
//
// Keys are "<prefix>:{<hash>}:<limit>", where hash is 128 bits of SHA-256 of
// the user's key: secrets never reach Redis, key length is bounded, and all
// limits of one key share a Cluster hash slot (so several limits are one
// atomic script) while different keys spread over the cluster.
//
// Decisions are the same as [Memory]'s at microsecond resolution: rates
// above one token per microsecond are treated as that.
//
// When Redis cannot answer within the budget the limiter applies
// [RedisOptions.OnError] and never panics. A Redis is safe for concurrent use
// by multiple goroutines; Close stops its breaker's probe.
type Redis struct {
	client   RedisClient
	def      [1]Limit
	resolver Resolver
	prefix   string
	policy   Policy
	inst     int
	budget   time.Duration
	br       *breaker.Breaker
	local    *Memory
	log      *slog.Logger
	pin      func() int64

	direct bool // the client honours context deadlines
	// inflight counts the calls run on their own goroutine (see run).
	// closeMu orders them with Close: a call takes it for reading to Add,
	// Close for writing to set closed, so that no Add is concurrent with
	// inflight.Wait (which sync.WaitGroup forbids, with a panic).
	inflight sync.WaitGroup
	closeMu  sync.RWMutex
	closed   bool

	failures  atomic.Int64
	fallbacks atomic.Int64

	closeOnce sync.Once
}

// NewRedis returns a Redis limiter over client with limit as the default
// limit for every key. It does not contact Redis, so it works while Redis is
// down.
func NewRedis(client RedisClient, limit Limit, opts *RedisOptions) *Redis {
	var o RedisOptions
	if opts != nil {
		o = *opts
	}
	r := &Redis{
		client:   client,
		resolver: o.Resolver,
		prefix:   o.Prefix,
		policy:   o.OnError,
		inst:     max(o.Instances, 1),
		budget:   o.Budget,
		log:      o.Logger,
		pin:      o.now,
		direct:   honoursContext(client),
	}
	r.def[0] = limit
	if r.prefix == "" {
		r.prefix = "rl"
	}
	if r.budget == 0 {
		r.budget = 100 * time.Millisecond
	}
	failures, probeTimeout := o.Failures, r.budget
	if failures < 0 {
		failures = math.MaxInt
	}
	if probeTimeout < 0 {
		probeTimeout = 0 // the breaker's default
	}
	r.local = NewMemory(limit, nil)
	r.br = breaker.New(breaker.Options{
		Failures:      failures,
		ProbeInterval: o.ProbeInterval,
		ProbeTimeout:  probeTimeout,
		Probe:         func(ctx context.Context) error { return client.Ping(ctx).Err() },
		OnChange: func(open bool) {
			if r.log == nil {
				return
			}
			if open {
				r.log.Warn("ratelimit: Redis unavailable, applying failure policy", "policy", r.policy.String())
			} else {
				r.log.Info("ratelimit: Redis available again")
			}
		},
	})
	return r
}

// Close stops the circuit breaker's background probe and waits for it and
// for Redis calls still running past their budget. It is idempotent and
// safe to call while other goroutines use the limiter, which keeps working
// after Close: without the probe, and, for a client without
// ContextTimeoutEnabled, bounded by the client's own timeouts instead of
// the budget (nothing is left running in the background).
func (r *Redis) Close() error {
	r.closeOnce.Do(func() {
		r.br.Close()
		r.closeMu.Lock()
		r.closed = true
		r.closeMu.Unlock()
	})
	r.inflight.Wait()
	return nil
}

// RedisStats counts what a Redis limiter has done.
type RedisStats struct {
	// Failures is the number of calls on which Redis failed or timed out.
	Failures int64
	// Fallbacks is the number of decisions made by the failure policy
	// (failures plus calls skipped while the breaker was open).
	Fallbacks int64
	// BreakerOpen reports whether the breaker is open now.
	BreakerOpen bool
}

// Stats returns a snapshot of the limiter's counters.
func (r *Redis) Stats() RedisStats {
	return RedisStats{Failures: r.failures.Load(), Fallbacks: r.fallbacks.Load(), BreakerOpen: r.br.IsOpen()}
}

// Allow is AllowN(ctx, key, 1).
func (r *Redis) Allow(ctx context.Context, key string) (Decision, error) {
	d, _, err := r.take(ctx, key, 1, -1)
	return d, err
}

// AllowN reports whether n units may be spent now for key and spends them
// if so. See [Limiter].
func (r *Redis) AllowN(ctx context.Context, key string, n int) (Decision, error) {
	d, _, err := r.take(ctx, key, n, -1)
	return d, err
}

// Peek reports the state of key without spending anything.
func (r *Redis) Peek(ctx context.Context, key string) (Decision, error) {
	d, _, err := r.take(ctx, key, 0, -1)
	return d, err
}

// Reserve is ReserveN(ctx, key, 1).
func (r *Redis) Reserve(ctx context.Context, key string) (*Reservation, error) {
	return r.ReserveN(ctx, key, 1)
}

// ReserveN books n units for key at the earliest time they are available,
// in one round trip. See [Limiter] and [Reservation].
func (r *Redis) ReserveN(ctx context.Context, key string, n int) (*Reservation, error) {
	return r.reserve(ctx, key, n, maxReserve)
}

// Wait is WaitN(ctx, key, 1).
func (r *Redis) Wait(ctx context.Context, key string) error { return r.WaitN(ctx, key, 1) }

// WaitN blocks until n units are available for key and spends them: one
// round trip books the slot, then it sleeps locally. See [Limiter]. The
// booking round trip (and ReserveN's) runs to the budget even if ctx ends
// during it, so that a slot booked at that moment is given back rather than
// left spent.
func (r *Redis) WaitN(ctx context.Context, key string, n int) error {
	return waitN(ctx, key, n, r.reserve)
}

func (r *Redis) reserve(ctx context.Context, key string, n int, maxWait time.Duration) (*Reservation, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if r.budget >= 0 {
		// A booking made as ctx ends must still come back, so that WaitN
		// can refund it: abandoning the round trip would leave it spent.
		// The budget still bounds the call.
		ctx = context.WithoutCancel(ctx)
	}
	d, b, err := r.take(ctx, key, n, max(int64(maxWait/time.Microsecond), 0))
	if err != nil {
		return nil, err
	}
	if b.local != nil {
		return b.local, nil
	}
	res := &Reservation{ok: d.Allowed, d: d, clock: time.Now}
	if d.Allowed && b.keys != nil {
		res.actAt = time.Now().Add(time.Duration(b.delay) * time.Microsecond)
		res.cancel = func() { r.refund(b) }
	}
	return res, nil
}

// redisBooking is what a reservation needs to refund.
type redisBooking struct {
	keys  []string
	args  []any
	delay int64        // µs until the reservation acts
	local *Reservation // set when the failure policy decided locally
}

func (r *Redis) refund(b redisBooking) {
	ctx, cancel := r.budgeted(context.Background())
	defer cancel()
	if r.pin != nil {
		b.args[1] = r.pin()
	}
	if !r.br.Allow() {
		return
	}
	_, err := r.run(ctx, refundScript, b.keys, b.args)
	r.br.Record(err)
}

// run runs a script within the budget. A client that honours context
// deadlines (ContextTimeoutEnabled) is called directly; any other is called
// on a goroutine that the limiter waits for in Close, so that the budget
// holds even when the socket would block until the client's ReadTimeout.
func (r *Redis) run(ctx context.Context, s *redis.Script, keys []string, args []any) ([]int64, error) {
	cctx, cancel := r.budgeted(ctx)
	defer cancel()
	if r.direct || r.budget < 0 {
		return int64s(s.Run(cctx, r.client, keys, args...))
	}
	r.closeMu.RLock()
	if r.closed {
		// After Close nothing may be left running: call directly, bounded
		// by the client's own timeouts.
		r.closeMu.RUnlock()
		return int64s(s.Run(cctx, r.client, keys, args...))
	}
	r.inflight.Add(1)
	r.closeMu.RUnlock()
	type result struct {
		v   []int64
		err error
	}
	ch := make(chan result, 1)
	go func() {
		defer r.inflight.Done()
		v, err := int64s(s.Run(cctx, r.client, keys, args...))
		ch <- result{v, err}
	}()
	select {
	case res := <-ch:
		return res.v, res.err
	case <-cctx.Done():
		return nil, cctx.Err()
	}
}

// budgeted bounds ctx by the call budget, if there is one.
func (r *Redis) budgeted(ctx context.Context) (context.Context, context.CancelFunc) {
	if r.budget < 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, r.budget)
}

func int64s(c *redis.Cmd) ([]int64, error) {
	v, err := c.Result()
	if err != nil {
		return nil, err
	}
	switch v := v.(type) {
	case int64:
		return []int64{v}, nil
	case []any:
		out := make([]int64, len(v))
		for i, x := range v {
			n, ok := x.(int64)
			if !ok {
				return nil, fmt.Errorf("ratelimit: unexpected script reply %T", x)
			}
			out[i] = n
		}
		return out, nil
	}
	return nil, fmt.Errorf("ratelimit: unexpected script reply %T", v)
}

// honoursContext reports whether c bounds socket waits by context deadlines.
func honoursContext(c RedisClient) bool {
	switch c := c.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		return c.Options().ContextTimeoutEnabled
	}
	return false
}

// redisKey is the Redis key of limit i of a user key.
func (r *Redis) redisKey(tag string, i int, l Limit) string {
	id := l.Name
	if id == "" {
		id = strconv.Itoa(i)
	}
	return r.prefix + ":{" + tag + "}:" + id
}

func hashTag(key string) string {
	sum := sha256.Sum256([]byte(key))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

func (r *Redis) take(ctx context.Context, key string, n int, maxWait int64) (Decision, redisBooking, error) {
	if n < 0 {
		return Decision{}, redisBooking{}, fmt.Errorf("%w: negative cost %d", ErrInvalidLimit, n)
	}
	limits, err := resolve(ctx, key, r.resolver, r.def[:])
	if err != nil {
		return Decision{}, redisBooking{}, err
	}
	var pbuf [4]params
	ps := pbuf[:0]
	if len(limits) > len(pbuf) {
		ps = make([]params, 0, len(limits))
	}
	ps = ps[:len(limits)]
	allInf := true
	var costErr error
	for i, l := range limits {
		if ps[i], err = newParams(l, time.Microsecond, spanMicros); err != nil {
			return Decision{}, redisBooking{}, err
		}
		allInf = allInf && ps[i].inf
		if !ps[i].inf && int64(n) > ps[i].burst && costErr == nil {
			costErr = fmt.Errorf("%w: cost %d, burst %d", ErrCostExceedsBurst, n, ps[i].burst)
		}
	}
	if allInf {
		return Decision{Allowed: true, Limit: limits[0], Remaining: int(ps[0].burst)}, redisBooking{}, nil
	}
	if costErr != nil {
		d, _, err := r.take(ctx, key, 0, -1)
		d.Allowed, d.RetryAfter = false, RetryNever
		return d, redisBooking{}, errors.Join(costErr, err)
	}
	if err := ctx.Err(); err != nil {
		return Decision{}, redisBooking{}, err
	}
	if !r.br.Allow() {
		return r.fail(ctx, key, n, maxWait, limits, errBreakerOpen)
	}

	tag := hashTag(key)
	keys := make([]string, 0, len(limits))
	args := make([]any, 3, 3+2*len(limits))
	args[0], args[1], args[2] = n, maxWait, ""
	if r.pin != nil {
		args[2] = r.pin()
	}
	for i, l := range limits {
		if ps[i].inf {
			continue
		}
		keys = append(keys, r.redisKey(tag, i, l))
		args = append(args, ps[i].t, ps[i].tau)
	}

	res, err := r.run(ctx, decideScript, keys, args)
	if err == nil && len(res) != 3+5*len(keys) {
		err = fmt.Errorf("ratelimit: unexpected script reply of %d values", len(res))
	}
	if err != nil {
		if ctx.Err() != nil {
			// The caller gave up: not Redis's fault.
			return Decision{}, redisBooking{}, ctx.Err()
		}
		r.br.Record(err)
		r.failures.Add(1)
		return r.fail(ctx, key, n, maxWait, limits, err)
	}
	r.br.Record(nil)

	now, all := res[0], res[1] == 1
	var f fold
	booking := redisBooking{delay: res[2]}
	if all && n > 0 && maxWait >= 0 {
		booking.keys = keys
		booking.args = make([]any, 2, 2+2*len(keys))
		booking.args[0], booking.args[1] = now+res[2], ""
	}
	j := 0
	for i, l := range limits {
		var o outcome
		if ps[i].inf {
			o = ps[i].uncharged(0, 0)
		} else {
			v := res[3+5*j : 8+5*j]
			o = outcome{allowed: v[0] == 1, remaining: v[1], retry: v[2], reset: v[3], newTAT: v[4]}
			if booking.keys != nil {
				booking.args = append(booking.args, v[4], int64(n)*ps[i].t)
			}
			j++
		}
		f.add(l, ps[i], o, time.Microsecond)
	}
	f.d.Allowed = all
	return f.d, booking, nil
}

var errBreakerOpen = errors.New("circuit breaker open")

// fail applies the failure policy to a call Redis could not decide.
func (r *Redis) fail(ctx context.Context, key string, n int, maxWait int64, limits []Limit, cause error) (Decision, redisBooking, error) {
	r.fallbacks.Add(1)
	switch r.policy {
	case FailClosed:
		return Decision{Limit: limits[0], RetryAfter: time.Second}, redisBooking{}, fmt.Errorf("%w: %w", ErrUnavailable, cause)
	case FallbackLocal:
		local := make([]Limit, len(limits))
		for i, l := range limits {
			local[i] = l
			if l.Rate != rate.Inf {
				local[i].Rate = l.Rate / rate.Limit(r.inst)
				// A cost the real limit admits is never impossible locally.
				local[i].Burst = min(l.Burst, max(1, l.Burst/r.inst, n))
			}
		}
		lctx := WithLimits(ctx, local...)
		if maxWait < 0 {
			d, err := r.local.AllowN(lctx, key, n)
			return d, redisBooking{}, err
		}
		res, err := r.local.reserve(lctx, key, n, time.Duration(maxWait)*time.Microsecond)
		if err != nil {
			return Decision{}, redisBooking{}, err
		}
		return res.d, redisBooking{local: res}, nil
	default:
		// FailOpen: decide as for a key with a full bucket.
		var f fold
		for _, l := range limits {
			p, _ := newParams(l, time.Microsecond, spanMicros)
			f.add(l, p, p.decide(0, 0, int64(n), -1), time.Microsecond)
		}
		f.d.Allowed = true
		return f.d, redisBooking{}, nil
	}
}
