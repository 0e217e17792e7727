package l2

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Defaults of [Options].
const (
	DefaultPrefix           = "stout"
	DefaultVersionStaleness = 250 * time.Millisecond
	DefaultBudget           = 250 * time.Millisecond
	DefaultLeaseTTL         = 5 * time.Second
	DefaultLeaseWait        = 2 * time.Second
	DefaultSubscriberHealth = time.Second
)

// ErrInvalidOptions is wrapped by the error [New] returns for bad [Options].
var ErrInvalidOptions = errors.New("l2: invalid options")

// ErrUnavailable is returned, without calling Redis, while the circuit breaker
// is open after repeated Redis failures.
var ErrUnavailable = errors.New("l2: redis unavailable (circuit open)")

// Options configure a [Store]. Zero fields take the defaults named in their
// comments; for durations -1 (any negative value) means off where allowed.
type Options struct {
	// Client is the Redis client. Required. For the time budget to bound a call
	// on a server that stops answering (rather than refusing connections), create
	// it with ContextTimeoutEnabled (or Read/WriteTimeout no longer than Budget).
	Client Client

	// Prefix starts every Redis key and channel name. Default [DefaultPrefix].
	Prefix string
	// Namespace separates caches sharing a Redis. Neither Prefix nor Namespace may
	// contain whitespace or hash-tag braces.
	Namespace string

	// VersionStaleness bounds how long a locally held namespace version is used
	// without reading it from Redis again. Bumps by other instances normally arrive
	// sooner over pub/sub; the bound covers lost messages. A Get finding the version
	// older than half the bound starts a background re-read; older than the bound,
	// the Get reads version and value in one pipeline. Default
	// [DefaultVersionStaleness]; -1 reads the version with every call (strict).
	VersionStaleness time.Duration

	// Budget bounds each step of a call that goes to Redis (one round trip, or two
	// when the version must be read first). Default [DefaultBudget].
	Budget time.Duration

	// LeaseTTL is how long a fill lease lives if its holder never writes or
	// releases it (a crashed process). Default [DefaultLeaseTTL]; -1 turns leases
	// off: misses are filled with plain writes, unfenced against [Store.Invalidate].
	LeaseTTL time.Duration
	// LeaseWait bounds how long a Get waits for another holder's fill before it
	// gives up; the caller then loads without writing. Default [DefaultLeaseWait].
	LeaseWait time.Duration

	// CompressAt is the payload size from which payloads are flate-compressed.
	// Default 0: never.
	CompressAt int

	// ServeStale is how long past its soft expiry a value may be served stale:
	// [Store.Begin] and [Store.Wait] answer such a value (still in Redis) as a hit
	// flagged [Entry.Stale], instead of taking the key's lease, for
	// stale-while-revalidate across instances, with [Store.TryRefresh] electing
	// the one instance that recomputes it. Negative entries are never served
	// stale; [Store.GetMany] treats stale values as misses. Default 0: off.
	ServeStale time.Duration

	// BreakerFailures is the number of consecutive Redis failures that open the
	// circuit breaker. Default 5.
	BreakerFailures int
	// BreakerProbeInterval is how often a PING probes Redis while the breaker is
	// open. Default 500ms.
	BreakerProbeInterval time.Duration

	// SubscriberHealth is how long the invalidation subscription may stay quiet
	// before its connection is PINGed. A connection on which nothing at all (no
	// message, no PONG) is heard for three such periods is taken to be dead, as
	// when a peer or a firewall dropped it without a reset: the subscription is
	// reported lost and made again on a new connection. Default
	// [DefaultSubscriberHealth].
	SubscriberHealth time.Duration

	// OnInvalidate, if set, is called with a key another instance invalidated or
	// set (heard over pub/sub). It runs on the subscriber goroutine.
	OnInvalidate func(key string)
	// OnInvalidateAll, if set, is called when another instance bumped the
	// namespace version.
	OnInvalidateAll func(version uint64)
	// OnVersionRaised, if set, is called when a read of the version from Redis
	// finds it above the known (non-zero) one: a bump whose message was not heard
	// (lost, or sent while the subscription was down), or a version key that
	// Redis re-created. Values held in process memory were loaded under the old
	// version and should be dropped. It runs on the goroutine of the read, inside
	// the call that made it (a Get, an Invalidate or the background re-read).
	OnVersionRaised func(version uint64)
	// OnSubscription, if set, is called with true when the invalidation
	// subscription is first made, with false when it is lost (or cannot be made
	// at start) and with true again when it is back. Invalidations by other
	// instances may be missed while it is down, so values held in process memory
	// should be dropped on each edge.
	OnSubscription func(up bool)
	// OnBreaker, if set, is called with true when the breaker opens and false when
	// it closes.
	OnBreaker func(open bool)

	// Now is the clock for envelope times and version staleness. Default time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() (Options, error) {
	if o.Client == nil {
		return o, fmt.Errorf("%w: Client is nil", ErrInvalidOptions)
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	for name, v := range map[string]string{"Prefix": o.Prefix, "Namespace": o.Namespace} {
		if strings.ContainsAny(v, " \t\r\n{}") {
			return o, fmt.Errorf("%w: %s %q contains whitespace or braces", ErrInvalidOptions, name, v)
		}
	}
	if o.VersionStaleness == 0 {
		o.VersionStaleness = DefaultVersionStaleness
	}
	if o.Budget <= 0 {
		o.Budget = DefaultBudget
	}
	if o.LeaseTTL == 0 {
		o.LeaseTTL = DefaultLeaseTTL
	}
	if o.LeaseWait <= 0 {
		o.LeaseWait = DefaultLeaseWait
	}
	if o.SubscriberHealth <= 0 {
		o.SubscriberHealth = DefaultSubscriberHealth
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}
