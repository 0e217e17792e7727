package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"golang.org/x/time/rate"
)

// Limit is a token bucket: Burst tokens at most, refilled at Rate tokens per
// second. A new key starts with a full bucket. In any interval of length d a
// key is admitted at most Burst + Rate·d units of cost.
//
// Use [rate.Every] to say "one per interval" and [rate.Inf] for "no limit".
// Rate must be positive (or [rate.Inf]) and Burst at least 1; anything else
// is [ErrInvalidLimit].
type Limit struct {
	// Rate is the refill rate in tokens per second.
	Rate rate.Limit
	// Burst is the size of the bucket: the most cost admitted at one instant.
	Burst int
	// Name identifies the limit when a key has several (for example
	// "second" and "day"): it names the policy in the RateLimit headers and
	// keeps each limit's state apart even if the order of the limits
	// changes. Optional; the empty name is "default" in headers and the
	// limit's position among the key's limits ("0", "1", ...) otherwise.
	// The limits of one key must have distinct names ([ErrInvalidLimit]).
	Name string
}

// PerSecond returns a Limit of n per second with a burst of n.
func PerSecond(n int) Limit { return Limit{Rate: rate.Limit(n), Burst: n} }

// PerMinute returns a Limit of n per minute with a burst of n.
func PerMinute(n int) Limit { return Limit{Rate: rate.Limit(float64(n) / 60), Burst: n} }

// PerHour returns a Limit of n per hour with a burst of n.
func PerHour(n int) Limit { return Limit{Rate: rate.Limit(float64(n) / 3600), Burst: n} }

// String formats the limit as "burst=B rate=R/s".
func (l Limit) String() string {
	if l.Name != "" {
		return fmt.Sprintf("%s: burst=%d rate=%g/s", l.Name, l.Burst, float64(l.Rate))
	}
	return fmt.Sprintf("burst=%d rate=%g/s", l.Burst, float64(l.Rate))
}

// Window is the time a fully drained bucket takes to refill: Burst/Rate,
// rounded up to whole seconds and at least one second. It is the "w" of the
// RateLimit-Policy header.
func (l Limit) Window() time.Duration {
	if l.Rate == rate.Inf || l.Rate <= 0 {
		return time.Second
	}
	s := math.Ceil(float64(l.Burst) / float64(l.Rate))
	if s < 1 {
		s = 1
	}
	if s > float64(math.MaxInt64/int64(time.Second)) {
		return time.Duration(math.MaxInt64 / int64(time.Second) * int64(time.Second))
	}
	return time.Duration(s) * time.Second
}

// maxBurst is the largest Burst accepted.
const maxBurst = 1 << 31

func (l Limit) validate() error {
	if math.IsNaN(float64(l.Rate)) || l.Rate <= 0 {
		return fmt.Errorf("%w: rate %v must be positive", ErrInvalidLimit, float64(l.Rate))
	}
	if l.Burst < 1 || l.Burst > maxBurst {
		return fmt.Errorf("%w: burst %d must be between 1 and %d", ErrInvalidLimit, l.Burst, maxBurst)
	}
	return nil
}

// Decision is the answer to one request for cost.
type Decision struct {
	// Allowed reports whether the cost was admitted (and consumed).
	Allowed bool
	// Limit is the limit that decided: the only one, or, when a key has
	// several, the binding one: of those that deny, the one with the longest
	// RetryAfter; otherwise the one with the fewest tokens left (and of
	// those, the one whose next token is furthest away).
	Limit Limit
	// Remaining is the number of unit-cost requests that would be admitted
	// right now, after this decision, by all of the key's limits. It is
	// exact: that many requests of cost 1 at this instant succeed and one
	// more fails.
	Remaining int
	// RetryAfter is how long to wait before the same request can succeed,
	// when it was denied: retrying at exactly now+RetryAfter succeeds (with
	// no other traffic on the key) and retrying any earlier fails. It is 0
	// when the request was allowed and [RetryNever] when the cost can never
	// be admitted ([ErrCostExceedsBurst]).
	RetryAfter time.Duration
	// ResetAfter is how long until the bucket of Limit is full again with
	// no more traffic.
	ResetAfter time.Duration
}

// RetryNever is [Decision.RetryAfter] for a cost that can never be admitted.
const RetryNever time.Duration = -1

// Limiter is a keyed rate limiter. Both [Memory] and [Redis] implement it; so
// does [Shadow]. All methods are safe for concurrent use.
//
// Every method resolves the limits for key: limits attached to ctx with
// [WithLimits] first, then the limiter's [Resolver], then its default
// limit. With several limits a request is admitted only if every limit
// admits it, and then all of them are charged (all or nothing).
type Limiter interface {
	// Allow is AllowN(ctx, key, 1).
	Allow(ctx context.Context, key string) (Decision, error)
	// AllowN reports whether n units may be spent now and spends them if
	// so. n > Burst is [ErrCostExceedsBurst]; n == 0 is the same as Peek.
	AllowN(ctx context.Context, key string, n int) (Decision, error)
	// Reserve is ReserveN(ctx, key, 1).
	Reserve(ctx context.Context, key string) (*Reservation, error)
	// ReserveN books n units at the earliest time they are available and
	// returns a Reservation whose Delay says how long to wait before
	// acting; Cancel gives the units back if the caller will not act.
	ReserveN(ctx context.Context, key string, n int) (*Reservation, error)
	// Wait is WaitN(ctx, key, 1).
	Wait(ctx context.Context, key string) error
	// WaitN blocks until n units are available for key and spends them. It
	// returns at once, without spending anything, if ctx's deadline would
	// pass before that time ([ErrWouldExceedDeadline], which matches
	// context.DeadlineExceeded too). If ctx ends while waiting the units are
	// given back and ctx.Err() is returned.
	WaitN(ctx context.Context, key string, n int) error
	// Peek reports the state of key without spending anything.
	Peek(ctx context.Context, key string) (Decision, error)
}

// Errors returned by the package. Match them with [errors.Is].
var (
	// ErrCostExceedsBurst means the cost asked for is larger than a
	// limit's Burst: the request can never succeed, however long one waits.
	ErrCostExceedsBurst = errors.New("ratelimit: cost exceeds burst")
	// ErrInvalidLimit means a limit had a non-positive rate or a burst
	// outside [1, 2^31], two limits of a key had the same name, or a cost
	// was negative.
	ErrInvalidLimit = errors.New("ratelimit: invalid limit")
	// ErrNoLimits means a Resolver returned no limits for a key.
	ErrNoLimits = errors.New("ratelimit: no limits for key")
	// ErrWouldExceedDeadline means WaitN would have to wait past ctx's
	// deadline. It also matches context.DeadlineExceeded.
	ErrWouldExceedDeadline error = deadlineError{}
	// ErrTooManyKeys means a Memory limiter is at MaxKeys with every bucket
	// in use, and its policy is FailClosed.
	ErrTooManyKeys = errors.New("ratelimit: too many active keys")
	// ErrUnavailable means the Redis backend could not decide (an error, a
	// timeout, or an open circuit breaker) and the failure policy is
	// FailClosed. The cause is wrapped.
	ErrUnavailable = errors.New("ratelimit: backend unavailable")
)

type deadlineError struct{}

func (deadlineError) Error() string { return "ratelimit: wait would exceed context deadline" }

func (deadlineError) Is(target error) bool { return target == context.DeadlineExceeded }

// Resolver chooses the limits of a key per call, so that per-tenant limits
// can change without a restart. It must return at least one limit.
type Resolver interface {
	Limits(ctx context.Context, key string) ([]Limit, error)
}

// ResolverFunc adapts a function to [Resolver].
type ResolverFunc func(ctx context.Context, key string) ([]Limit, error)

// Limits calls f.
func (f ResolverFunc) Limits(ctx context.Context, key string) ([]Limit, error) { return f(ctx, key) }

type limitsKey struct{}

// WithLimits returns a context that makes every Limiter call made with it
// use limits instead of the limiter's Resolver or default limit.
func WithLimits(ctx context.Context, limits ...Limit) context.Context {
	return context.WithValue(ctx, limitsKey{}, limits)
}

// Policy says what a limiter does when it cannot decide.
type Policy int

const (
	// FailOpen admits the request (the availability choice).
	FailOpen Policy = iota
	// FailClosed denies the request and returns an error wrapping
	// [ErrUnavailable] (or [ErrTooManyKeys]).
	FailClosed
	// FallbackLocal decides with an in-process [Memory] limiter whose rate
	// and burst are the limit's divided by the expected number of
	// instances. Memory limiters treat it as FailOpen.
	FallbackLocal
)

// String returns the policy's name.
func (p Policy) String() string {
	switch p {
	case FailOpen:
		return "fail-open"
	case FailClosed:
		return "fail-closed"
	case FallbackLocal:
		return "fallback-local"
	}
	return fmt.Sprintf("Policy(%d)", int(p))
}

// resolve returns the limits for one call. def is the default limit, kept by
// the caller in an array so that the common case does not allocate.
func resolve(ctx context.Context, key string, r Resolver, def []Limit) ([]Limit, error) {
	if v, ok := ctx.Value(limitsKey{}).([]Limit); ok {
		if len(v) == 0 {
			return nil, ErrNoLimits
		}
		return v, distinct(v)
	}
	if r != nil {
		ls, err := r.Limits(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("ratelimit: resolving limits: %w", err)
		}
		if len(ls) == 0 {
			return nil, ErrNoLimits
		}
		return ls, distinct(ls)
	}
	return def, nil
}

// limitID is what keeps the state of limit i of a key apart from the key's
// other limits: its Name, or else its position.
func limitID(ls []Limit, i int) string {
	if ls[i].Name != "" {
		return ls[i].Name
	}
	return strconv.Itoa(i)
}

// distinct reports an error if two of a key's limits would share state (the
// same Name, or a Name that is another unnamed limit's position): they
// would charge one bucket twice.
func distinct(ls []Limit) error {
	for i := 1; i < len(ls); i++ {
		for j := range i {
			if limitID(ls, i) == limitID(ls, j) {
				return fmt.Errorf("%w: limits %d and %d of a key share the name %q", ErrInvalidLimit, j, i, limitID(ls, i))
			}
		}
	}
	return nil
}
