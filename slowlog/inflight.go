package slowlog

import (
	"context"
	"log/slog"
	"runtime"
	"sync/atomic"
	"time"
)

// In-flight tracking: each op has a small table of slots; Start claims a
// free one (one CAS and one store), End frees it (one CAS), and the
// watchdog scans the table. Calls beyond the table size are timed as usual
// but not watched.
const inflightSlots = 32

// Slot states. stateReported is or-ed into stateBusy once the watchdog has
// reported the call.
const (
	stateFree     = 0
	stateWriting  = 1 // Start is filling the slot
	stateBusy     = 2 // a call is running
	stateReading  = 3 // the watchdog is reading the slot
	stateMask     = 3
	stateReported = 4
)

type islot struct {
	state atomic.Uint32
	start int64           // written in stateWriting, read in stateReading
	ctx   context.Context // likewise
}

type inflight struct {
	slots [inflightSlots]islot
}

// claim takes a free slot for a call started at start (ns since base).
func (f *inflight) claim(ctx context.Context, start int64) int32 {
	i := uint32(uint64(start)*0x9E3779B97F4A7C15>>59) & (inflightSlots - 1)
	for range inflightSlots {
		s := &f.slots[i]
		if s.state.Load() == stateFree && s.state.CompareAndSwap(stateFree, stateWriting) {
			s.start, s.ctx = start, ctx
			s.state.Store(stateBusy)
			return int32(i)
		}
		i = (i + 1) & (inflightSlots - 1)
	}
	return -1
}

// release frees slot i and reports whether the watchdog reported its call.
// The stale ctx stays in the slot until it is claimed again.
func (f *inflight) release(i int32) bool {
	s := &f.slots[i]
	for {
		st := s.state.Load()
		if st&stateMask == stateReading {
			runtime.Gosched() // the watchdog copies two words and moves on
			continue
		}
		if s.state.CompareAndSwap(st, stateFree) {
			return st&stateReported != 0
		}
	}
}

// count reports the calls in flight.
func (f *inflight) count() int {
	n := 0
	for i := range f.slots {
		if st := f.slots[i].state.Load() & stateMask; st == stateBusy || st == stateReading {
			n++
		}
	}
	return n
}

// watch reports, once each, the calls of o running longer than the hard
// threshold (as of now).
func (o *Op) watch(now int64, th Thresholds) {
	if o.live == nil {
		return
	}
	hard := o.hard(th)
	if hard <= 0 {
		return
	}
	for i := range o.live.slots {
		s := &o.live.slots[i]
		st := s.state.Load()
		if st != stateBusy || !s.state.CompareAndSwap(st, stateReading) {
			continue
		}
		start, ctx := s.start, s.ctx
		elapsed := now - start
		if elapsed < hard {
			s.state.Store(stateBusy)
			continue
		}
		s.state.Store(stateBusy | stateReported)
		o.reportRunning(ctx, time.Duration(elapsed), time.Duration(hard))
	}
}

// reportRunning logs a call still running past its threshold.
func (o *Op) reportRunning(ctx context.Context, elapsed, hard time.Duration) {
	r := o.rec
	attrs := []slog.Attr{
		slog.String("op", o.name),
		slog.Duration("elapsed", elapsed),
		slog.Duration("threshold", hard),
	}
	if r.cfg.ctxAttrs != nil && ctx != nil {
		attrs = append(attrs, r.cfg.ctxAttrs(ctx)...)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	r.recent.add(Entry{Time: r.wall(), Op: o.name, Duration: elapsed, Threshold: hard, Running: true, Attrs: attrs[3:]})
	r.cfg.logger.LogAttrs(ctx, r.cfg.level.Level(), "slow operation still running", attrs...)
}
