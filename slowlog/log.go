package slowlog

import (
	"context"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// hard returns the effective hard threshold: th.Hard, or the adaptive one.
func (o *Op) hard(th Thresholds) int64 {
	hard := int64(th.Hard)
	if th.Adaptive > 0 {
		if p := o.p99.Load(); p > 0 {
			hard = max(int64(th.Floor), scale(p, th.Adaptive))
		} else if hard <= 0 {
			hard = int64(th.Floor)
		}
	}
	return hard
}

// scale returns k·d (k > 0), saturating at the largest duration instead of
// wrapping around (a float-to-int conversion out of range is undefined).
func scale(d int64, k float64) int64 {
	if f := k * float64(d); f < math.MaxInt64 {
		return int64(f)
	}
	return math.MaxInt64
}

// thresholds returns the op's current thresholds.
func (o *Op) thresholds() compiled {
	switch {
	case o.isFix:
		return o.fix
	case o.v != nil:
		if c := o.v.p.Load(); c != nil {
			return *c
		}
		return compile(Thresholds{})
	}
	return compile(o.thr.Thresholds())
}

// low returns the shortest duration that may make a call slow.
func (o *Op) low() int64 {
	if o.isFix {
		return o.fix.low
	}
	if o.v != nil {
		if c := o.v.p.Load(); c != nil {
			return c.low
		}
		return math.MaxInt64
	}
	return 0 // another Thresholder: ask it
}

// check decides whether a finished call of d ns is logged, and logs it.
func (o *Op) check(ctx context.Context, now, d int64, err error, attrs []slog.Attr, lazy func() []slog.Attr, reported bool) {
	if d < o.low() && !reported {
		return
	}
	o.decide(ctx, now, d, err, attrs, lazy, reported)
}

func (o *Op) decide(ctx context.Context, now, d int64, err error, attrs []slog.Attr, lazy func() []slog.Attr, reported bool) {
	c := o.thresholds()
	if d < c.low && !reported {
		return
	}
	th := c.Thresholds
	hard := o.hard(th)
	switch {
	case hard > 0 && d >= hard, reported:
	case th.Soft > 0 && d >= int64(th.Soft) && th.SampleRate > 0 && (th.SampleRate >= 1 || rand.Float64() < th.SampleRate):
		if hard <= 0 || int64(th.Soft) < hard {
			hard = int64(th.Soft)
		}
	default:
		return
	}
	if lazy != nil {
		attrs = append(attrs[:len(attrs):len(attrs)], lazy()...)
	}
	o.slow(ctx, now, time.Duration(d), time.Duration(hard), err, attrs, reported)
}

// slow handles a call chosen for the slow log: the recent ring always, the
// logger if the op's token bucket allows.
func (o *Op) slow(ctx context.Context, now int64, d, threshold time.Duration, err error, attrs []slog.Attr, reported bool) {
	r := o.rec
	line := make([]slog.Attr, 0, 5+len(attrs))
	line = append(line,
		slog.String("op", o.name),
		slog.Duration("duration", d),
		slog.Duration("threshold", threshold))
	if err != nil {
		line = append(line, slog.String("error", err.Error()))
	}
	if reported {
		line = append(line, slog.Bool("reported_running", true))
	}
	line = append(line, attrs...) // copies: attrs never escapes the caller
	if r.cfg.ctxAttrs != nil && ctx != nil {
		line = append(line, r.cfg.ctxAttrs(ctx)...)
	}
	e := Entry{Time: r.wall(), Op: o.name, Duration: d, Threshold: threshold, Attrs: line[3:]}
	if err != nil {
		e.Err = err.Error()
		e.Attrs = line[4:]
	}
	r.recent.add(e)

	ok, sum := o.flood.take(now, d, r.cfg)
	if sum != nil {
		o.logSummary(ctx, now, sum)
	}
	if ok {
		if ctx == nil {
			ctx = context.Background()
		}
		r.cfg.logger.LogAttrs(ctx, r.cfg.level.Level(), "slow operation", line...)
	}
}

// flood is an op's log-line token bucket and its count of suppressed lines.
type flood struct {
	mu          sync.Mutex // guards the fields below
	tokens      float64
	last        int64 // ns since base of the last refill
	lastSummary int64
	suppressed  uint64
	worst       time.Duration
}

type summary struct {
	suppressed uint64
	worst      time.Duration
}

func (f *flood) init(burst float64, now int64) {
	f.tokens, f.last, f.lastSummary = burst, now, now
}

// take spends a token for one line (ok) or counts the line as suppressed,
// and returns a due summary, if any. It never waits.
func (f *flood) take(now int64, d time.Duration, cfg config) (ok bool, sum *summary) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now > f.last {
		f.tokens = min(cfg.burst, f.tokens+float64(now-f.last)/float64(cfg.every))
		f.last = now
	}
	if f.suppressed > 0 && now-f.lastSummary >= int64(cfg.summaryEvery) {
		sum = f.takeSummary(now)
	}
	if f.tokens >= 1 {
		f.tokens--
		return true, sum
	}
	f.suppressed++
	f.worst = max(f.worst, d)
	return false, sum
}

func (f *flood) takeSummary(now int64) *summary {
	s := &summary{f.suppressed, f.worst}
	f.suppressed, f.worst, f.lastSummary = 0, 0, now
	return s
}

// flushSummary logs the op's summary if one is due (or, with force, if any
// line was suppressed).
func (o *Op) flushSummary(now int64, force bool) {
	var sum *summary
	o.flood.mu.Lock()
	if o.flood.suppressed > 0 && (force || now-o.flood.lastSummary >= int64(o.rec.cfg.summaryEvery)) {
		sum = o.flood.takeSummary(now)
	}
	o.flood.mu.Unlock()
	if sum != nil {
		o.logSummary(context.Background(), now, sum)
	}
}

func (o *Op) logSummary(ctx context.Context, now int64, s *summary) {
	w := new(window)
	o.collect(now, nil, w, nil) // the last 5 min: the summary covers up to SummaryEvery
	p99 := histogramOf(&w.counts, w.max).Quantile(0.99)
	if ctx == nil {
		ctx = context.Background()
	}
	o.rec.cfg.logger.LogAttrs(ctx, o.rec.cfg.level.Level(), "slow operations suppressed",
		slog.String("op", o.name),
		slog.Uint64("suppressed", s.suppressed),
		slog.Duration("worst", s.worst),
		slog.Duration("p99", p99))
}
