package cache

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Defaults of [Options]. A zero field takes the default named here.
const (
	DefaultTTL         = time.Minute
	DefaultJitter      = 0.1
	DefaultBeta        = 1.0
	DefaultLoadTimeout = 10 * time.Second
	DefaultMaxEntries  = 10_000
)

// Options configures a [Cache]. The zero value is valid: every zero field takes the
// default its comment names. For durations, 0 means the default and a negative value
// (conventionally -1) means off.
type Options struct {
	// Namespace names the data this cache holds ("user", "product:v2"). It keeps the
	// keys of different caches apart in shared storage such as Redis and appears in log
	// lines. It may not contain whitespace, ':' or the hash-tag braces '{' and '}'.
	// Default: "" (allowed for an in-process cache).
	Namespace string

	// TTL is how long a loaded or set value is fresh. Default [DefaultTTL] (1 minute);
	// -1 means values never expire (they still leave on eviction or invalidation).
	TTL time.Duration

	// Jitter shortens each entry's TTL by a random fraction in [0, Jitter), so that
	// entries loaded together do not expire together. Default [DefaultJitter] (0.1, up to
	// 10% shorter); -1 (any negative value) means no jitter. Must be < 1.
	Jitter float64

	// NegativeTTL is how long a [ErrNotFound] returned by a loader is remembered, so that
	// lookups of keys that do not exist do not reach the loader every time. Default: TTL/10
	// (at least 1 ms; no expiry when TTL is -1); -1 turns negative caching off.
	NegativeTTL time.Duration

	// Stale is the stale-while-revalidate bound: for up to Stale after a value stops being
	// fresh, Get returns it at once and starts one background refresh of the key. With
	// Redis, a value past its soft expiry there is served stale by every instance (L2-only
	// caches included), and one instance refreshes it. Default 0: no stale value is ever
	// served (an expired value is a miss). Negative values mean off.
	Stale time.Duration

	// Beta tunes XFetch probabilistic early refresh (Vattani et al., VLDB 2015): a hit
	// starts one background refresh before expiry with a probability that grows as expiry
	// nears, scaled by the measured load time times Beta. Larger values refresh earlier.
	// Default [DefaultBeta] (1.0); -1 (any negative value) turns early refresh off.
	Beta float64

	// LoadTimeout bounds each load (a loader call) that the cache runs. Loads are shared by
	// all callers waiting for the key, so they do not run under any caller's context: they
	// run under [context.WithoutCancel] of the context of the call that started them, with
	// this timeout. Default [DefaultLoadTimeout] (10 s); -1 means no timeout.
	LoadTimeout time.Duration

	// MaxEntries bounds the number of entries held in process memory (the L1 level, an
	// otter W-TinyLFU cache). Expired entries are not swept by a timer: they count toward
	// the bound until the next load of their key replaces them or the policy evicts them.
	// Default [DefaultMaxEntries] (10,000). -1 keeps nothing in process memory: every Get
	// reads Redis (an L2-only cache; needs [Options.Redis]).
	MaxEntries int

	// Codec encodes values for shared storage (the Redis level). Values in process memory
	// are kept decoded and never pass through it. Default [JSONCodec].
	Codec Codec

	// Logger receives reports of failures the cache handles itself, such as a failed
	// background refresh. Default: nothing is logged.
	Logger *slog.Logger

	// Clock is the time source for expiry. Default: the system clock, read on every
	// operation (see ClockResolution).
	Clock Clock

	// ClockResolution, when positive, replaces the reads of the system clock by reads of a
	// variable that a goroutine of the Cache updates every ClockResolution (an otter
	// CoarseClock). On machines where reading the clock is slow (many VMs) this makes a hit
	// about 1.6× cheaper on the VM of the README; in exchange expiry may come
	// up to ClockResolution early or late, and the goroutine wakes up every
	// ClockResolution until Close. A millisecond is a good value. Default 0: the clock is
	// read on every operation. Ignored when Clock is set.
	ClockResolution time.Duration

	// Redis adds a level shared by every instance of the service (L2, in Redis) below
	// process memory (L1): values loaded by one instance are read by the others, and
	// Invalidate, Set and InvalidateAll reach every instance. See [RedisOptions] and the
	// package documentation. Default nil: process memory only.
	Redis *RedisOptions
}

// Clock is a source of the current time. Tests use it to move time by hand.
type Clock interface {
	Now() time.Time
}

// Codec turns values into bytes and back for shared storage.
type Codec interface {
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// JSONCodec is the default [Codec]: encoding/json.
type JSONCodec struct{}

// Marshal returns the JSON encoding of v.
func (JSONCodec) Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// Unmarshal decodes JSON data into v, which must be a pointer.
func (JSONCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// config is Options with defaults applied and durations in nanoseconds.
type config struct {
	ns          string
	ttl         int64 // <= 0: no expiry
	jitter      float64
	negTTL      int64 // 0: off; < 0: no expiry
	stale       int64
	beta        float64
	loadTimeout time.Duration // <= 0: none
	maxEntries  int
	codec       Codec
	logger      *slog.Logger
	clock       Clock // nil: system clock
	noL1        bool  // keep nothing in process memory (MaxEntries -1, with Redis)
	redis       *RedisOptions
	resolution  time.Duration
}

func (o Options) config() (config, error) {
	c := config{ns: o.Namespace, codec: o.Codec, logger: o.Logger, clock: o.Clock, redis: o.Redis}
	if o.Clock == nil && o.ClockResolution > 0 {
		c.resolution = o.ClockResolution
	}
	if strings.ContainsAny(o.Namespace, " \t\r\n:{}") {
		return c, fmt.Errorf("%w: Namespace %q contains whitespace, ':', '{' or '}'", ErrInvalidOptions, o.Namespace)
	}
	switch {
	case o.TTL == 0:
		c.ttl = int64(DefaultTTL)
	case o.TTL < 0:
		c.ttl = 0
	default:
		c.ttl = int64(o.TTL)
	}
	switch {
	case o.Jitter == 0:
		c.jitter = DefaultJitter
	case o.Jitter < 0:
		c.jitter = 0
	case o.Jitter >= 1:
		return c, fmt.Errorf("%w: Jitter %v is not below 1", ErrInvalidOptions, o.Jitter)
	default:
		c.jitter = o.Jitter
	}
	switch {
	case o.NegativeTTL == 0 && c.ttl == 0:
		c.negTTL = -1
	case o.NegativeTTL == 0:
		c.negTTL = max(c.ttl/10, int64(time.Millisecond))
	case o.NegativeTTL < 0:
		c.negTTL = 0
	default:
		c.negTTL = int64(o.NegativeTTL)
	}
	if o.Stale > 0 {
		c.stale = int64(o.Stale)
	}
	switch {
	case o.Beta == 0:
		c.beta = DefaultBeta
	case o.Beta < 0:
		c.beta = 0
	default:
		c.beta = o.Beta
	}
	switch {
	case o.LoadTimeout == 0:
		c.loadTimeout = DefaultLoadTimeout
	case o.LoadTimeout > 0:
		c.loadTimeout = o.LoadTimeout
	}
	switch {
	case o.MaxEntries == 0:
		c.maxEntries = DefaultMaxEntries
	case o.MaxEntries == -1 && o.Redis != nil:
		c.noL1, c.maxEntries = true, 1
	case o.MaxEntries < 0:
		return c, fmt.Errorf("%w: MaxEntries %d is negative (-1, no process memory, needs Redis)", ErrInvalidOptions, o.MaxEntries)
	default:
		c.maxEntries = o.MaxEntries
	}
	if c.codec == nil {
		c.codec = JSONCodec{}
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}
