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

// Slot states, in the low bits of islot.state; stateReported is or-ed into
// stateBusy once the watchdog has reported the call. The bits above
// genShift count the slot's claims, so that a Timer ended twice cannot free
// a slot that another call has claimed since.
const (
	stateFree     = 0
	stateWriting  = 1 // Start is filling the slot
	stateBusy     = 2 // a call is running
	stateReading  = 3 // the watchdog is reading the slot
	stateMask     = 3
	stateReported = 4
	genShift      = 3
	flagsMask     = 1<<genShift - 1
	genMask       = 1<<(32-genShift) - 1
)

type islot struct {
	state atomic.Uint32
	start int64           // written in stateWriting, read in stateReading
	ctx   context.Context // likewise
}

type inflight struct {
	slots [inflightSlots]islot
}

// claim takes a free slot for a call started at start (ns since base) and
// returns its index (-1 if none is free) and claim generation.
func (f *inflight) claim(ctx context.Context, start int64) (int32, uint32) {
	i := uint32(uint64(start)*0x9E3779B97F4A7C15>>59) & (inflightSlots - 1)
	for range inflightSlots {
		s := &f.slots[i]
		if st := s.state.Load(); st&flagsMask == stateFree {
			gen := (st>>genShift + 1) & genMask
			if s.state.CompareAndSwap(st, gen<<genShift|stateWriting) {
				s.start, s.ctx = start, ctx
				s.state.Store(gen<<genShift | stateBusy)
				return int32(i), gen
			}
		}
		i = (i + 1) & (inflightSlots - 1)
	}
	return -1, 0
}

// release frees slot i if claim generation gen still holds it, and reports
// whether the watchdog reported the call. The stale ctx stays in the slot
// until it is claimed again.
func (f *inflight) release(i int32, gen uint32) bool {
	s := &f.slots[i]
	for {
		st := s.state.Load()
		if st>>genShift != gen || st&stateMask == stateFree {
			return false // ended twice: the slot is free or another call's
		}
		if st&stateMask == stateReading {
			runtime.Gosched() // the watchdog copies two words and moves on
			continue
		}
		if s.state.CompareAndSwap(st, gen<<genShift|stateFree) {
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
		gen := st &^ flagsMask
		if st&flagsMask != stateBusy || !s.state.CompareAndSwap(st, gen|stateReading) {
			continue
		}
		start, ctx := s.start, s.ctx
		elapsed := now - start
		if elapsed < hard {
			s.state.Store(gen | stateBusy)
			continue
		}
		s.state.Store(gen | stateBusy | stateReported)
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
