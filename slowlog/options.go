package slowlog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync/atomic"
	"time"
)

// ErrInvalidOptions is wrapped by every error [New] returns for bad [Options].
var ErrInvalidOptions = errors.New("slowlog: invalid options")

// Thresholds decide which calls of an op are slow.
//
// A call taking Hard or longer is slow and always logged (subject to flood
// control). A call taking Soft or longer but less than Hard is logged with
// probability SampleRate, like PostgreSQL's log_min_duration_sample. With
// Adaptive = k > 0 the hard threshold becomes max(Floor, k × the op's p99
// over the last minute) once the op has enough calls in that minute (and
// Hard, or Floor if Hard ≤ 0, until then).
//
// A zero or negative duration switches that threshold off; the zero
// Thresholds never logs. Thresholds satisfies [Thresholder], so a fixed value
// can be passed wherever a Thresholder is expected.
type Thresholds struct {
	Hard       time.Duration
	Soft       time.Duration
	SampleRate float64 // in [0, 1]
	Adaptive   float64 // k; 0 = off
	Floor      time.Duration
}

// Thresholds returns t itself.
func (t Thresholds) Thresholds() Thresholds { return t }

func (t Thresholds) validate() error {
	if math.IsNaN(t.SampleRate) || t.SampleRate < 0 || t.SampleRate > 1 {
		return fmt.Errorf("%w: SampleRate %v not in [0, 1]", ErrInvalidOptions, t.SampleRate)
	}
	if math.IsNaN(t.Adaptive) || math.IsInf(t.Adaptive, 0) || t.Adaptive < 0 {
		return fmt.Errorf("%w: Adaptive %v must be ≥ 0", ErrInvalidOptions, t.Adaptive)
	}
	return nil
}

// Thresholder supplies the thresholds of an op on every call, so they can
// change at run time. It is the analogue of [slog.Leveler]; implementations
// must be safe for concurrent use and fast (it is called once per End).
type Thresholder interface {
	Thresholds() Thresholds
}

// ThresholdsFunc adapts a function to a [Thresholder], like
// [http.HandlerFunc]. It is called on every End, so keep it cheap; a [Var]
// is cheaper still.
type ThresholdsFunc func() Thresholds

// Thresholds returns f().
func (f ThresholdsFunc) Thresholds() Thresholds { return f() }

// Var is a [Thresholder] whose value can be changed at run time, like
// [slog.LevelVar]. The zero Var holds the zero [Thresholds] (never slow).
// It is safe for concurrent use by multiple goroutines. Ops read a Var with
// one atomic load per End; other Thresholder implementations cost a method
// call.
type Var struct {
	p atomic.Pointer[compiled]
}

// compiled is a Thresholds value with the shortest duration that can make a
// call slow precomputed, so that End can return after one comparison.
type compiled struct {
	Thresholds
	low int64
}

func compile(t Thresholds) compiled {
	c := compiled{Thresholds: t, low: math.MaxInt64}
	if t.Hard > 0 {
		c.low = int64(t.Hard)
	}
	if t.Soft > 0 && t.SampleRate > 0 {
		c.low = min(c.low, int64(t.Soft))
	}
	if t.Adaptive > 0 {
		c.low = min(c.low, max(int64(t.Floor), 1))
	}
	return c
}

// NewVar returns a Var holding t.
func NewVar(t Thresholds) *Var {
	v := new(Var)
	v.Set(t)
	return v
}

// Thresholds returns the current value.
func (v *Var) Thresholds() Thresholds {
	if p := v.p.Load(); p != nil {
		return p.Thresholds
	}
	return Thresholds{}
}

// Set replaces the value; calls ending after Set returns see it. Invalid
// values (a SampleRate outside [0, 1], a negative Adaptive) are clamped.
func (v *Var) Set(t Thresholds) {
	if math.IsNaN(t.SampleRate) || t.SampleRate < 0 {
		t.SampleRate = 0
	}
	t.SampleRate = min(t.SampleRate, 1)
	if math.IsNaN(t.Adaptive) || math.IsInf(t.Adaptive, 0) || t.Adaptive < 0 {
		t.Adaptive = 0
	}
	c := compile(t)
	v.p.Store(&c)
}

// Options configure a [Recorder]. A nil *Options means all defaults.
// Durations use 0 for the default and -1 (any negative value) for off.
type Options struct {
	// Threshold is the hard threshold of ops that Thresholds does not
	// configure: calls at least this long are logged. Default 200ms.
	Threshold time.Duration
	// SoftThreshold is their soft threshold: calls between it and Threshold
	// are logged with probability SampleRate. Default off.
	SoftThreshold time.Duration
	// SampleRate is the fraction of soft-slow calls logged. Default 0.
	SampleRate float64
	// Thresholds, if set, is asked once per op, when [Recorder.Op] first
	// creates it; a non-nil result (for example a *[Var] for thresholds that
	// change at run time, or a fixed [Thresholds]) replaces the defaults above.
	// A nil *Var or nil ThresholdsFunc counts as nil.
	Thresholds func(op string) Thresholder

	// Logger receives slow-call lines. Default: discard.
	Logger *slog.Logger
	// Level of slow-call lines (summaries and watchdog reports use it too).
	// Default slog.LevelWarn.
	Level slog.Leveler
	// ContextAttrs, if set, is called on slow calls (never on fast ones) to
	// take attributes such as trace and request IDs from the call's context.
	ContextAttrs func(ctx context.Context) []slog.Attr

	// LogBurst is the size of each op's token bucket of log lines. Default 10.
	LogBurst int
	// LogEvery is how often an op earns one more log line. Default 1s.
	LogEvery time.Duration
	// SummaryEvery is how often an op whose lines were suppressed logs one
	// "suppressed N, worst D, p99 X" line. Default 1 min.
	SummaryEvery time.Duration

	// Watchdog, if positive, turns on in-flight tracking: every Watchdog (or
	// every second, if Watchdog is longer) the background goroutine looks
	// for calls still running past their hard threshold and reports each
	// once, while it runs. Tracking costs three
	// atomic operations per call (about 20 ns on a small VM; see the
	// README), so it is off by default.
	Watchdog time.Duration

	// MaxOps caps the number of ops, a guard against names built from
	// unbounded input: once reached, [Recorder.Op] returns the shared op
	// named [OverflowOp] for new names. Default 1000; -1 means no cap.
	MaxOps int

	// RecentSize is the number of recent slow calls kept for
	// [Recorder.Recent] and the handler. Default 128; -1 keeps none.
	RecentSize int
	// MaxAttrs caps the attributes kept per recent entry (default 32), and
	// MaxAttrLen the bytes of each string value (default 128); longer values
	// are cut and end in "... (N more bytes)", as in Redis SLOWLOG.
	MaxAttrs   int
	MaxAttrLen int

	// Now is the clock. Default time.Now. Use a clock with a monotonic
	// reading in production.
	Now func() time.Time
}

// config is Options with the defaults applied.
type config struct {
	def          Thresholds
	perOp        func(string) Thresholder
	logger       *slog.Logger
	level        slog.Leveler
	ctxAttrs     func(context.Context) []slog.Attr
	burst        float64
	every        time.Duration
	summaryEvery time.Duration
	watchdog     time.Duration
	recentSize   int
	maxOps       int
	maxAttrs     int
	maxAttrLen   int
	now          func() time.Time
}

func (o *Options) config() (config, error) {
	if o == nil {
		o = &Options{}
	}
	c := config{
		def:          Thresholds{Hard: 200 * time.Millisecond, Soft: o.SoftThreshold, SampleRate: o.SampleRate},
		perOp:        o.Thresholds,
		logger:       o.Logger,
		level:        o.Level,
		ctxAttrs:     o.ContextAttrs,
		burst:        10,
		every:        time.Second,
		summaryEvery: time.Minute,
		recentSize:   128,
		maxOps:       1000,
		maxAttrs:     32,
		maxAttrLen:   128,
		now:          o.Now,
	}
	if o.Threshold != 0 {
		c.def.Hard = o.Threshold
	}
	if err := c.def.validate(); err != nil {
		return c, err
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	if c.level == nil {
		c.level = slog.LevelWarn
	}
	switch {
	case o.LogBurst < 0:
		return c, fmt.Errorf("%w: LogBurst %d < 0", ErrInvalidOptions, o.LogBurst)
	case o.LogBurst > 0:
		c.burst = float64(o.LogBurst)
	}
	if o.LogEvery != 0 {
		c.every = o.LogEvery
	}
	if o.SummaryEvery != 0 {
		c.summaryEvery = o.SummaryEvery
	}
	if c.every < 0 || c.summaryEvery < 0 {
		return c, fmt.Errorf("%w: LogEvery and SummaryEvery cannot be off", ErrInvalidOptions)
	}
	if o.Watchdog > 0 {
		c.watchdog = o.Watchdog
	}
	switch {
	case o.MaxOps < 0:
		c.maxOps = 0
	case o.MaxOps > 0:
		c.maxOps = o.MaxOps
	}
	switch {
	case o.RecentSize < 0:
		c.recentSize = 0
	case o.RecentSize > 0:
		c.recentSize = o.RecentSize
	}
	if o.MaxAttrs < 0 || o.MaxAttrLen < 0 {
		return c, fmt.Errorf("%w: MaxAttrs and MaxAttrLen must be ≥ 0", ErrInvalidOptions)
	}
	if o.MaxAttrs > 0 {
		c.maxAttrs = o.MaxAttrs
	}
	if o.MaxAttrLen > 0 {
		c.maxAttrLen = o.MaxAttrLen
	}
	return c, nil
}
