package slowlog

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Window layout: six 10-second slots make the last minute, five 1-minute
// slots the last five; a 10-second slot that leaves the minute is drained
// into its 1-minute slot, and a 1-minute slot that leaves the five minutes
// into the since-start histogram. A call is counted in exactly one place, so
// End does one atomic add per call. The "last 1 min" window covers between
// 50 and 60 s, the "last 5 min" window between 4 and 5 min.
const (
	fineDur     = int64(10 * time.Second)
	fineSlots   = 6
	coarseDur   = int64(time.Minute)
	coarseSlots = 5
	finePer     = coarseDur / fineDur

	minAdaptiveCount = 50 // calls in the last minute before an adaptive threshold applies
)

type slot struct {
	epoch atomic.Int64 // 1 + start of the slot / its duration; 0 = never used
	h     hist
}

// cslot is a 1-minute slot; guarded by Op.mu.
type cslot struct {
	epoch int64
	h     store[uint32]
}

// Op is the handle of one named operation of a [Recorder]. Get it with
// [Recorder.Op] and keep it. It is safe for concurrent use by multiple
// goroutines.
type Op struct {
	fine [fineSlots]slot // hot: written by End

	name  string
	rec   *Recorder
	thr   Thresholder // as configured
	fix   compiled    // thr, if it is a Thresholds value (isFix)
	isFix bool
	v     *Var         // thr, if it is a *Var
	p99   atomic.Int64 // last-minute p99 for adaptive thresholds; 0 = unknown
	live  *inflight    // nil when the watchdog is off

	mu     sync.Mutex // guards draining: coarse, total, and the rotation of fine
	coarse [coarseSlots]cslot
	total  store[uint64]

	flood flood
}

func newOp(r *Recorder, name string, thr Thresholder) *Op {
	o := &Op{name: name, rec: r, thr: thr}
	switch t := thr.(type) {
	case Thresholds:
		o.fix, o.isFix = compile(t), true
	case *Var:
		o.v = t
	}
	if r.cfg.watchdog > 0 {
		o.live = new(inflight)
	}
	o.flood.init(r.cfg.burst, r.since())
	return o
}

// Name returns the op's name.
func (o *Op) Name() string { return o.name }

// Timer is one running call of an [Op], returned by [Op.Start]. It is a
// small value: keep it on the stack and call End (or Done) once; a second
// End counts the call again but cannot disturb other calls' in-flight
// tracking. The zero Timer does nothing.
type Timer struct {
	op    *Op
	ctx   context.Context
	start int64  // ns since the recorder's base
	slot  int32  // in-flight slot, -1 if untracked
	gen   uint32 // claim generation of slot
}

// Start begins timing a call. ctx is passed to the logger and to
// [Options.ContextAttrs] if the call turns out slow (or, with the watchdog,
// runs too long). With the watchdog on, the call's in-flight slot keeps a
// reference to ctx until another call reuses the slot.
func (o *Op) Start(ctx context.Context) Timer {
	now := o.rec.since()
	t := Timer{op: o, ctx: ctx, start: now, slot: -1}
	if o.live != nil {
		t.slot, t.gen = o.live.claim(ctx, now)
	}
	return t
}

// End finishes the call, counts it (as an error if err is non-nil) and, if
// it was slow, logs it with attrs. On calls below the thresholds it costs an
// atomic add and allocates nothing; attrs are copied only when the call is
// logged.
func (t Timer) End(err error, attrs ...slog.Attr) {
	t.end(err, attrs, nil)
}

// end is End with attributes that are built (by lazy) only if the call is
// logged.
func (t Timer) end(err error, attrs []slog.Attr, lazy func() []slog.Attr) {
	o := t.op
	if o == nil {
		return
	}
	now := o.rec.since()
	reported := false
	if t.slot >= 0 {
		reported = o.live.release(t.slot, t.gen)
	}
	d := now - t.start
	o.record(now, d, err)
	o.check(t.ctx, now, d, err, attrs, lazy, reported)
}

// Done is End for a deferred call that reports the function's final error
// through a pointer to its named result:
//
//	func load(ctx context.Context) (err error) {
//		defer op.Start(ctx).Done(&err)
//		...
//	}
func (t Timer) Done(errp *error, attrs ...slog.Attr) {
	var err error
	if errp != nil {
		err = *errp
	}
	t.End(err, attrs...)
}

// Observe counts a call of duration d that ended now, for callers that
// measured it themselves (an HTTP middleware that learns the route after the
// request, a driver hook). It logs like [Timer.End].
func (o *Op) Observe(ctx context.Context, d time.Duration, err error, attrs ...slog.Attr) {
	now := o.rec.since()
	o.record(now, int64(d), err)
	o.check(ctx, now, int64(d), err, attrs, nil, false)
}

// record counts one call of d ns ending at now.
func (o *Op) record(now, d int64, err error) {
	e := now/fineDur + 1
	s := &o.fine[e%fineSlots]
	if s.epoch.Load() < e {
		o.rotate(s, e)
	}
	s.h.add(uint64(max(d, 0)))
	if err != nil {
		s.h.errs.Add(1)
	}
}

// rotate moves slot s to epoch e, draining what it held.
func (o *Op) rotate(s *slot, e int64) {
	o.mu.Lock()
	if s.epoch.Load() < e {
		o.drainFine(s)
		s.epoch.Store(e)
	}
	o.mu.Unlock()
}

// drainFine moves the counts of fine slot s into its 1-minute slot, or into
// the since-start histogram if that slot already moved on. o.mu is held.
func (o *Op) drainFine(s *slot) {
	fe := s.epoch.Load()
	ce := (fe-1)/finePer + 1
	cs := &o.coarse[ce%coarseSlots]
	switch {
	case fe == 0 || cs.epoch > ce: // never used, or older than the 1-minute slots
		var tmp store[uint32]
		s.h.drainInto(&tmp, &o.total)
		tmp.moveTo(&o.total)
		return
	case cs.epoch < ce:
		cs.h.moveTo(&o.total)
		cs.epoch = ce
	}
	s.h.drainInto(&cs.h, &o.total)
}

// window accumulates the dense counts of one window.
type window struct {
	counts [numBuckets]uint64
	max    int64
	errs   uint64
}

// appender is a histogram form that can add itself to a window.
type appender interface {
	appendTo(counts *[numBuckets]uint64) (maxV int64, errs uint64)
}

func (w *window) add(h appender) {
	m, e := h.appendTo(&w.counts)
	w.max = max(w.max, m)
	w.errs += e
}

func (w *window) stats() Stats {
	return statsOf(histogramOf(&w.counts, w.max), w.errs)
}

func (w *window) reset() { *w = window{} }

// collect fills the windows (any may be nil) as of now: the last minute,
// the last five, since start.
func (o *Op) collect(now int64, m1, m5, all *window) {
	cur := now/fineDur + 1
	ccur := (cur-1)/finePer + 1
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := range o.fine {
		s := &o.fine[i]
		if e := s.epoch.Load(); e != 0 && e <= cur-fineSlots {
			o.drainFine(s) // left the minute: the slot keeps its epoch until reused
		}
	}
	for i := range o.coarse {
		s := &o.coarse[i]
		if e := s.epoch; e != 0 && e <= ccur-coarseSlots {
			s.h.moveTo(&o.total)
		}
	}
	for i := range o.fine {
		s := &o.fine[i]
		recent := s.epoch.Load() > cur-fineSlots
		if recent && m1 != nil {
			m1.add(&s.h)
		}
		if recent && m5 != nil {
			m5.add(&s.h)
		}
		if all != nil {
			all.add(&s.h)
		}
	}
	for i := range o.coarse {
		s := &o.coarse[i]
		if m5 != nil && s.epoch > ccur-coarseSlots {
			m5.add(&s.h)
		}
		if all != nil {
			all.add(&s.h)
		}
	}
	if all != nil {
		all.add(&o.total)
	}
}

// refreshP99 recomputes the last-minute p99 used by adaptive thresholds;
// w is scratch space.
func (o *Op) refreshP99(now int64, w *window) {
	w.reset()
	o.collect(now, w, nil, nil)
	h := histogramOf(&w.counts, w.max)
	if h.Count() < minAdaptiveCount {
		o.p99.Store(0)
		return
	}
	o.p99.Store(int64(h.Quantile(0.99)))
}

// memory reports the bytes held by the op's histograms.
func (o *Op) memory() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := o.total.bytes()
	for i := range o.fine {
		n += o.fine[i].h.bytes()
	}
	for i := range o.coarse {
		n += o.coarse[i].h.bytes()
	}
	return n
}
