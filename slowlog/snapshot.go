package slowlog

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Stats describe the calls of one op in one window.
type Stats struct {
	Count     uint64        `json:"count"`
	Errors    uint64        `json:"errors"`
	ErrorRate float64       `json:"error_rate"` // Errors / Count; 0 when empty
	P50       time.Duration `json:"p50_ns"`
	P90       time.Duration `json:"p90_ns"`
	P95       time.Duration `json:"p95_ns"`
	P99       time.Duration `json:"p99_ns"`
	P999      time.Duration `json:"p999_ns"`
	Max       time.Duration `json:"max_ns"`
	// Histogram is the whole distribution, for other quantiles and for
	// merging. It is left out of the JSON form of Stats to keep it small;
	// [Recorder.Handler] serves it on request (?histograms=1) in the form
	// [DecodeSnapshot] reads.
	Histogram Histogram `json:"-"`
}

// statsOf computes the stats of h with errs errors, capped at the count: a
// snapshot taken while calls end can read a call's error count but not yet
// its bucket, and decoded input may claim anything.
func statsOf(h Histogram, errs uint64) Stats {
	s := Stats{
		Count:     h.Count(),
		Errors:    min(errs, h.Count()),
		P50:       h.Quantile(0.50),
		P90:       h.Quantile(0.90),
		P95:       h.Quantile(0.95),
		P99:       h.Quantile(0.99),
		P999:      h.Quantile(0.999),
		Max:       h.Max(),
		Histogram: h,
	}
	if s.Count > 0 {
		s.ErrorRate = float64(s.Errors) / float64(s.Count)
	}
	return s
}

// Merge returns the stats of the calls of s and o together; quantiles are
// recomputed from the merged histogram, so they keep their error bound.
func (s Stats) Merge(o Stats) Stats {
	return statsOf(s.Histogram.Merge(o.Histogram), satAdd(s.Errors, o.Errors))
}

// OpStats describe one op.
type OpStats struct {
	Op       string `json:"op"`
	InFlight int    `json:"in_flight"` // calls running now (0 without the watchdog)
	Last1m   Stats  `json:"last_1m"`   // the last 50–60 s
	Last5m   Stats  `json:"last_5m"`   // the last 4–5 min
	Total    Stats  `json:"total"`     // since the op's first call
}

// Merge combines the stats of the same op from two sources.
func (s OpStats) Merge(o OpStats) OpStats {
	return OpStats{
		Op:       s.Op,
		InFlight: s.InFlight + o.InFlight,
		Last1m:   s.Last1m.Merge(o.Last1m),
		Last5m:   s.Last5m.Merge(o.Last5m),
		Total:    s.Total.Merge(o.Total),
	}
}

// Snapshot is the state of every op of a [Recorder] at one time.
type Snapshot struct {
	Time time.Time `json:"time"`
	Ops  []OpStats `json:"ops"` // sorted by name
}

// Op returns the stats of the op called name, if present.
func (s Snapshot) Op(name string) (OpStats, bool) {
	i := sort.Search(len(s.Ops), func(i int) bool { return s.Ops[i].Op >= name })
	if i < len(s.Ops) && s.Ops[i].Op == name {
		return s.Ops[i], true
	}
	return OpStats{}, false
}

// Merge combines snapshots of several instances (or Recorders): ops with
// the same name are merged exactly, bucket by bucket. The result's Time is
// the later of the two.
func (s Snapshot) Merge(o Snapshot) Snapshot {
	out := Snapshot{Time: s.Time, Ops: mergeSorted(s.Ops, o.Ops,
		func(x, y OpStats) int { return strings.Compare(x.Op, y.Op) },
		OpStats.Merge)}
	if o.Time.After(out.Time) {
		out.Time = o.Time
	}
	return out
}

// Stats returns the op's stats now.
func (o *Op) Stats() OpStats {
	var m1, m5, all window
	return o.stats(o.rec.since(), &m1, &m5, &all)
}

func (o *Op) stats(now int64, m1, m5, all *window) OpStats {
	m1.reset()
	m5.reset()
	all.reset()
	o.collect(now, m1, m5, all)
	s := OpStats{Op: o.name, Last1m: m1.stats(), Last5m: m5.stats(), Total: all.stats()}
	if o.live != nil {
		s.InFlight = o.live.count()
	}
	return s
}

// Snapshot returns the stats of every op, sorted by name.
func (r *Recorder) Snapshot() Snapshot {
	ops := r.opList()
	snap := Snapshot{Time: r.wall(), Ops: make([]OpStats, 0, len(ops))}
	now := r.since()
	var m1, m5, all window
	for _, o := range ops {
		snap.Ops = append(snap.Ops, o.stats(now, &m1, &m5, &all))
	}
	sort.Slice(snap.Ops, func(i, j int) bool { return snap.Ops[i].Op < snap.Ops[j].Op })
	return snap
}

// Wire form of a Snapshot with histograms, served by the handler with
// ?histograms=1 and read by DecodeSnapshot.
type statsWire struct {
	Stats
	Histogram Histogram `json:"histogram"`
}

type opWire struct {
	Op       string    `json:"op"`
	InFlight int       `json:"in_flight"`
	Last1m   statsWire `json:"last_1m"`
	Last5m   statsWire `json:"last_5m"`
	Total    statsWire `json:"total"`
}

type snapshotWire struct {
	Time time.Time `json:"time"`
	Ops  []opWire  `json:"ops"`
}

func wireOf(s Snapshot) snapshotWire {
	w := snapshotWire{Time: s.Time, Ops: make([]opWire, len(s.Ops))}
	for i, o := range s.Ops {
		w.Ops[i] = opWire{
			Op: o.Op, InFlight: o.InFlight,
			Last1m: statsWire{o.Last1m, o.Last1m.Histogram},
			Last5m: statsWire{o.Last5m, o.Last5m.Histogram},
			Total:  statsWire{o.Total, o.Total.Histogram},
		}
	}
	return w
}

// ErrInvalidSnapshot is wrapped by the errors of [DecodeSnapshot].
var ErrInvalidSnapshot = errors.New("slowlog: invalid snapshot")

// DecodeSnapshot reads the JSON that [Recorder.Handler] serves with
// ?format=json&histograms=1 (other members, such as the recent calls, are
// ignored) into a Snapshot that can be merged with others. Every window's
// stats are recomputed from its histogram, so a decoded snapshot is
// consistent whatever the input claimed. Malformed input is an error
// wrapping [ErrInvalidSnapshot] (and [ErrInvalidHistogram] for a bad
// histogram).
func DecodeSnapshot(data []byte) (Snapshot, error) {
	var w snapshotWire
	if err := json.Unmarshal(data, &w); err != nil {
		return Snapshot{}, fmt.Errorf("%w: %w", ErrInvalidSnapshot, err)
	}
	s := Snapshot{Time: w.Time, Ops: make([]OpStats, 0, len(w.Ops))}
	for _, o := range w.Ops {
		if o.InFlight < 0 {
			return Snapshot{}, fmt.Errorf("%w: op %q: negative in_flight", ErrInvalidSnapshot, o.Op)
		}
		op := OpStats{Op: o.Op, InFlight: o.InFlight}
		for _, p := range []struct {
			dst *Stats
			src statsWire
		}{{&op.Last1m, o.Last1m}, {&op.Last5m, o.Last5m}, {&op.Total, o.Total}} {
			*p.dst = statsOf(p.src.Histogram, p.src.Errors)
		}
		s.Ops = append(s.Ops, op)
	}
	sort.Slice(s.Ops, func(i, j int) bool { return s.Ops[i].Op < s.Ops[j].Op })
	for i := 1; i < len(s.Ops); i++ {
		if s.Ops[i].Op == s.Ops[i-1].Op {
			return Snapshot{}, fmt.Errorf("%w: op %q twice", ErrInvalidSnapshot, s.Ops[i].Op)
		}
	}
	return s, nil
}
