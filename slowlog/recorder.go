package slowlog

import (
	"sync"
	"time"
)

// Recorder times operations by name and keeps, per op, a latency
// histogram with 1-min, 5-min and since-start windows, error counts, a
// flood-controlled slow log and a watchdog for calls that run too long.
//
// Create it with [New], take an [Op] handle once per operation name with
// [Recorder.Op], and time calls with [Op.Start] and [Timer.End]. Close stops
// the background goroutine. A Recorder is safe for concurrent use by
// multiple goroutines.
type Recorder struct {
	cfg   config
	base  time.Time        // clock reading at New; op times are nanoseconds since base
	nowFn func() time.Time // nil: time.Now / time.Since(base)

	ops    sync.Map   // string → *Op
	mu     sync.Mutex // guards list and op creation
	list   []*Op
	recent ring

	closeOnce sync.Once
	stop      chan struct{}
	done      chan struct{}
}

// New returns a Recorder configured by o (nil means defaults) and starts its
// background goroutine; call [Recorder.Close] to stop it.
func New(o *Options) (*Recorder, error) {
	cfg, err := o.config()
	if err != nil {
		return nil, err
	}
	r := &Recorder{
		cfg:   cfg,
		nowFn: cfg.now,
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	r.base = r.wall()
	r.recent.init(cfg.recentSize, cfg.maxAttrs, cfg.maxAttrLen)
	// The same goroutine refreshes adaptive thresholds and logs due
	// summaries: a long Watchdog must not slow those down.
	tick := time.Second
	if cfg.watchdog > 0 {
		tick = min(cfg.watchdog, tick)
	}
	go r.loop(tick)
	return r, nil
}

// wall reads the clock.
func (r *Recorder) wall() time.Time {
	if r.nowFn != nil {
		return r.nowFn()
	}
	return time.Now()
}

// since returns nanoseconds since r.base (monotonic with the default clock).
// A custom clock that reads earlier than it did at New counts as 0: op
// times are never negative, so window arithmetic never sees a negative
// slot index.
func (r *Recorder) since() int64 {
	if r.nowFn != nil {
		return max(int64(r.nowFn().Sub(r.base)), 0)
	}
	return int64(time.Since(r.base))
}

// OverflowOp is the name of the op that stands for every new name once
// [Options.MaxOps] ops exist.
const OverflowOp = "(other)"

// Op returns the handle of the operation called name, creating it on first
// use. Look it up once and keep it: the lookup is a map access, the handle
// is free. Names should be low-cardinality (a route, a query name), never
// raw user input; past [Options.MaxOps] names, new names share the op
// [OverflowOp].
func (r *Recorder) Op(name string) *Op {
	if o, ok := r.ops.Load(name); ok {
		return o.(*Op)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if o, ok := r.ops.Load(name); ok {
		return o.(*Op)
	}
	if r.cfg.maxOps > 0 && len(r.list) >= r.cfg.maxOps && name != OverflowOp {
		if o, ok := r.ops.Load(OverflowOp); ok {
			return o.(*Op)
		}
		name = OverflowOp
	}
	var thr Thresholder = r.cfg.def
	if r.cfg.perOp != nil {
		if t := r.cfg.perOp(name); !isNil(t) {
			thr = t
		}
	}
	o := newOp(r, name, thr)
	r.list = append(r.list[:len(r.list):len(r.list)], o)
	r.ops.Store(name, o)
	return o
}

// isNil reports whether t is nil or holds a nil *Var or ThresholdsFunc (as
// a lookup in a map[string]*Var returns for a missing name).
func isNil(t Thresholder) bool {
	switch t := t.(type) {
	case nil:
		return true
	case *Var:
		return t == nil
	case ThresholdsFunc:
		return t == nil
	}
	return false
}

// opList returns the ops created so far (the slice must not be modified).
func (r *Recorder) opList() []*Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.list
}

// Close stops the background goroutine (watchdog, suppressed-line summaries,
// adaptive thresholds), waits for it, then logs the summary of every op
// whose lines were suppressed since its last summary, so that no count is
// lost at shutdown. Timing keeps working after Close (a later summary is
// then logged by the next slow call of the op once it is due). Close is
// idempotent and always returns nil.
func (r *Recorder) Close() error {
	r.closeOnce.Do(func() {
		close(r.stop)
		<-r.done
		now := r.since()
		for _, o := range r.opList() {
			o.flushSummary(now, true)
		}
	})
	return nil
}

func (r *Recorder) loop(every time.Duration) {
	defer close(r.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			r.tick()
		}
	}
}

// tick does the periodic work for every op: refresh adaptive thresholds,
// report calls running past their threshold, log due summaries.
func (r *Recorder) tick() {
	now := r.since()
	var scratch *window
	for _, o := range r.opList() {
		th := o.thresholds().Thresholds
		if th.Adaptive > 0 {
			if scratch == nil {
				scratch = new(window)
			}
			o.refreshP99(now, scratch)
		}
		if r.cfg.watchdog > 0 {
			o.watch(now, th)
		}
		o.flushSummary(now, false)
	}
}
