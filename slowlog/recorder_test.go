package slowlog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var errBoom = errors.New("boom")

// call times one call of op lasting d on the fake clock.
func call(clk *fakeClock, op *Op, d time.Duration, err error, attrs ...slog.Attr) {
	t := op.Start(context.Background())
	clk.Advance(d)
	t.End(err, attrs...)
}

func TestWindows(t *testing.T) {
	t.Parallel()
	t.Run("leave the minute after 50–60 s, the five minutes after 4–5 min", func(t *testing.T) {
		t.Parallel()
		r, clk, _ := newTestRecorder(t, Options{})
		op := r.Op("db")
		clk.Set(3 * time.Second)
		call(clk, op, 7*time.Millisecond, errBoom)
		s := op.Stats()
		for _, w := range []Stats{s.Last1m, s.Last5m, s.Total} {
			assert.Equal(t, uint64(1), w.Count)
			assert.Equal(t, uint64(1), w.Errors)
			assert.InDelta(t, 1.0, w.ErrorRate, 1e-9)
			assert.Equal(t, 7*time.Millisecond, w.Max)
		}
		clk.Set(3*time.Second + 50*time.Second)
		assert.Equal(t, uint64(1), op.Stats().Last1m.Count, "still in the minute after 50 s")
		clk.Set(3*time.Second + 60*time.Second)
		s = op.Stats()
		assert.Zero(t, s.Last1m.Count, "gone from the minute after 60 s")
		assert.Zero(t, s.Last1m.P99)
		assert.Equal(t, uint64(1), s.Last5m.Count)
		assert.Equal(t, uint64(1), s.Total.Count)
		clk.Set(3*time.Second + 4*time.Minute)
		assert.Equal(t, uint64(1), op.Stats().Last5m.Count, "still in five minutes after 4 min")
		clk.Set(3*time.Second + 5*time.Minute)
		s = op.Stats()
		assert.Zero(t, s.Last5m.Count, "gone from five minutes after 5 min")
		assert.Zero(t, s.Last5m.Errors)
		assert.Equal(t, uint64(1), s.Total.Count)
		assert.Equal(t, uint64(1), s.Total.Errors)
		assert.Equal(t, 7*time.Millisecond, s.Total.Max)
	})
	t.Run("idle op shows empty windows", func(t *testing.T) {
		t.Parallel()
		r, clk, _ := newTestRecorder(t, Options{})
		op := r.Op("idle")
		for i := range 1000 {
			call(clk, op, time.Duration(i+1)*time.Microsecond, nil)
		}
		s := op.Stats()
		assert.Equal(t, uint64(1000), s.Last1m.Count)
		assert.InEpsilon(t, float64(990*time.Microsecond), float64(s.Last1m.P99), 0.01)
		clk.Advance(time.Hour)
		s = op.Stats()
		assert.Equal(t, Stats{}, s.Last1m)
		assert.Equal(t, Stats{}, s.Last5m)
		assert.Equal(t, uint64(1000), s.Total.Count)
		assert.Equal(t, time.Millisecond, s.Total.Max)
		never := r.Op("never").Stats()
		assert.Equal(t, OpStats{Op: "never"}, never)
	})
	t.Run("steady traffic: windows hold what happened in them", func(t *testing.T) {
		t.Parallel()
		r, clk, _ := newTestRecorder(t, Options{})
		op := r.Op("steady")
		// one call per second for 20 minutes, a snapshot every 7 s
		for i := range 20 * 60 {
			call(clk, op, time.Millisecond, nil)
			clk.Advance(time.Second - time.Millisecond)
			if i%7 == 0 {
				s := op.Stats()
				assert.Equal(t, uint64(i+1), s.Total.Count)
				if i >= 6*60 {
					assert.InDelta(t, 55, float64(s.Last1m.Count), 5, "at %d s", i)
					assert.InDelta(t, 270, float64(s.Last5m.Count), 30, "at %d s", i)
				}
			}
		}
	})
}

func TestConcurrentRecordingLosesNoCounts(t *testing.T) {
	t.Parallel()
	r, clk, _ := newTestRecorder(t, Options{Watchdog: time.Hour})
	ops := []*Op{r.Op("a"), r.Op("b")}
	const workers, each = 16, 3000
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var ticker sync.WaitGroup
	ticker.Go(func() { // move the clock across many slot rotations meanwhile
		for {
			select {
			case <-stop:
				return
			default:
				clk.Advance(700 * time.Millisecond)
				_ = r.Snapshot()
			}
		}
	})
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				var err error
				if i%10 == 0 {
					err = errBoom
				}
				t := ops[(w+i)%2].Start(context.Background())
				t.End(err)
			}
		})
	}
	wg.Wait()
	close(stop)
	ticker.Wait()
	snap := r.Snapshot()
	var count, errs uint64
	for _, o := range snap.Ops {
		count += o.Total.Count
		errs += o.Total.Errors
		assert.Zero(t, o.InFlight)
	}
	assert.Equal(t, uint64(workers*each), count)
	assert.Equal(t, uint64(workers*each/10), errs)
}

func TestSlowLogLine(t *testing.T) {
	t.Parallel()
	type key struct{}
	r, clk, cp := newTestRecorder(t, Options{
		Threshold: 100 * time.Millisecond,
		ContextAttrs: func(ctx context.Context) []slog.Attr {
			if id, ok := ctx.Value(key{}).(string); ok {
				return []slog.Attr{slog.String("trace_id", id)}
			}
			return nil
		},
	})
	op := r.Op("db.getUser")
	ctx := context.WithValue(context.Background(), key{}, "abc123")
	tm := op.Start(ctx)
	clk.Advance(99 * time.Millisecond)
	tm.End(nil, slog.Int("user", 1))
	assert.Empty(t, cp.lines("slow operation"), "below the threshold")

	tm = op.Start(ctx)
	clk.Advance(150 * time.Millisecond)
	tm.End(errBoom, slog.Int("user", 2))
	lines := cp.lines("slow operation")
	require.Len(t, lines, 1)
	l := lines[0]
	assert.Equal(t, "db.getUser", l["op"].String())
	assert.Equal(t, 150*time.Millisecond, l["duration"].Duration())
	assert.Equal(t, 100*time.Millisecond, l["threshold"].Duration())
	assert.Equal(t, "boom", l["error"].String())
	assert.Equal(t, int64(2), l["user"].Int64())
	assert.Equal(t, "abc123", l["trace_id"].String())
	cp.mu.Lock()
	assert.Equal(t, slog.LevelWarn, cp.recs[0].Level)
	cp.mu.Unlock()

	rec := r.Recent(-1)
	require.Len(t, rec, 1)
	assert.Equal(t, uint64(1), rec[0].ID)
	assert.Equal(t, "db.getUser", rec[0].Op)
	assert.Equal(t, "boom", rec[0].Err)
	assert.Equal(t, 150*time.Millisecond, rec[0].Duration)
	assert.Equal(t, []string{"user", "trace_id"}, attrKeys(rec[0].Attrs))
}

func attrKeys(as []slog.Attr) []string {
	var ks []string
	for _, a := range as {
		ks = append(ks, a.Key)
	}
	return ks
}

func TestDoneReportsNamedError(t *testing.T) {
	t.Parallel()
	r, clk, cp := newTestRecorder(t, Options{Threshold: time.Millisecond})
	op := r.Op("f")
	f := func() (err error) {
		defer op.Start(context.Background()).Done(&err)
		clk.Advance(2 * time.Millisecond)
		return errBoom
	}
	require.ErrorIs(t, f(), errBoom)
	s := op.Stats()
	assert.Equal(t, uint64(1), s.Total.Errors)
	require.Len(t, cp.lines("slow operation"), 1)
	Timer{}.End(nil) // the zero Timer does nothing
	Timer{}.Done(nil)
}

func TestFloodControl(t *testing.T) {
	t.Parallel()
	t.Run("100k slow calls in a burst", func(t *testing.T) {
		t.Parallel()
		r, clk, cp := newTestRecorder(t, Options{Threshold: time.Millisecond, LogBurst: 5, LogEvery: time.Second, SummaryEvery: time.Minute, RecentSize: 16})
		op := r.Op("burst")
		const n = 100_000
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for i := range n / 8 {
					d := 2*time.Millisecond + time.Duration(i%100)*time.Microsecond
					if w == 3 && i == 77 {
						d = 9 * time.Second // the worst one
					}
					op.Observe(context.Background(), d, nil)
				}
			})
		}
		wg.Wait()
		assert.Len(t, cp.lines("slow operation"), 5, "the token bucket's burst, no more")
		assert.Empty(t, cp.lines("slow operations suppressed"), "no summary before SummaryEvery")
		assert.Len(t, r.Recent(-1), 16, "the ring stays bounded")
		assert.Equal(t, uint64(n), r.Recent(1)[0].ID, "every slow call got an entry id")

		clk.Advance(time.Minute)
		r.tick()
		sums := cp.lines("slow operations suppressed")
		require.Len(t, sums, 1)
		assert.Equal(t, "burst", sums[0]["op"].String())
		assert.Equal(t, uint64(n-5), sums[0]["suppressed"].Uint64())
		assert.Equal(t, 9*time.Second, sums[0]["worst"].Duration())
		assert.InEpsilon(t, float64(2099*time.Microsecond), float64(sums[0]["p99"].Duration()), 0.01)
		r.tick()
		assert.Len(t, cp.lines("slow operations suppressed"), 1, "nothing more to summarize")
		assert.Equal(t, uint64(n), op.Stats().Total.Count)
	})
	t.Run("tokens refill; a due summary comes before the next line", func(t *testing.T) {
		t.Parallel()
		// In a bubble the background tick cannot fire (time stands still while
		// this goroutine runs), so only the caller's path can log the summary.
		synctest.Test(t, func(t *testing.T) {
			r, clk, cp := newTestRecorder(t, Options{Threshold: time.Millisecond, LogBurst: 2, LogEvery: 10 * time.Second, SummaryEvery: 30 * time.Second})
			op := r.Op("x")
			for range 5 {
				op.Observe(context.Background(), 5*time.Millisecond, nil)
			}
			assert.Len(t, cp.lines("slow operation"), 2)
			clk.Advance(10 * time.Second)
			op.Observe(context.Background(), 5*time.Millisecond, nil)
			op.Observe(context.Background(), 5*time.Millisecond, nil)
			assert.Len(t, cp.lines("slow operation"), 3, "one token earned in 10 s")
			clk.Advance(30 * time.Second)
			op.Observe(context.Background(), 5*time.Millisecond, nil)
			sums := cp.lines("slow operations suppressed")
			require.Len(t, sums, 1, "the caller's path logs a due summary")
			assert.Equal(t, uint64(4), sums[0]["suppressed"].Uint64())
			assert.Len(t, cp.lines("slow operation"), 4)
		})
	})
	t.Run("Close logs what is still suppressed", func(t *testing.T) {
		t.Parallel()
		r, clk, cp := newTestRecorder(t, Options{Threshold: time.Millisecond, LogBurst: 1, SummaryEvery: time.Hour})
		op, quiet := r.Op("x"), r.Op("quiet")
		for i := range 5 {
			op.Observe(context.Background(), time.Duration(i+2)*time.Millisecond, nil)
		}
		quiet.Observe(context.Background(), 2*time.Millisecond, nil) // logged: nothing to summarize
		clk.Advance(time.Minute)
		r.tick()
		assert.Empty(t, cp.lines("slow operations suppressed"), "not due before SummaryEvery")
		require.NoError(t, r.Close())
		sums := cp.lines("slow operations suppressed")
		require.Len(t, sums, 1, "one summary, for the op with suppressed lines")
		assert.Equal(t, "x", sums[0]["op"].String())
		assert.Equal(t, uint64(4), sums[0]["suppressed"].Uint64())
		assert.Equal(t, 6*time.Millisecond, sums[0]["worst"].Duration())
		require.NoError(t, r.Close())
		assert.Len(t, cp.lines("slow operations suppressed"), 1, "Close is idempotent")
	})
}

func TestSampling(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rate     float64
		min, max int
	}{{0, 0, 0}, {0.25, 2200, 2800}, {1, 10000, 10000}} {
		t.Run(fmt.Sprint(tc.rate), func(t *testing.T) {
			t.Parallel()
			r, _, cp := newTestRecorder(t, Options{Threshold: time.Second, SoftThreshold: time.Millisecond, SampleRate: tc.rate, LogBurst: 1 << 30})
			op := r.Op("s")
			for range 10000 {
				op.Observe(context.Background(), 2*time.Millisecond, nil)
			}
			op.Observe(context.Background(), 500*time.Microsecond, nil)
			lines := cp.lines("slow operation")
			assert.GreaterOrEqual(t, len(lines), tc.min)
			assert.LessOrEqual(t, len(lines), tc.max)
			for _, l := range lines {
				assert.Equal(t, time.Millisecond, l["threshold"].Duration())
			}
			op.Observe(context.Background(), 2*time.Second, nil)
			lines = cp.lines("slow operation")
			require.NotEmpty(t, lines, "above the hard threshold: always")
			assert.Equal(t, time.Second, lines[len(lines)-1]["threshold"].Duration())
		})
	}
}

func TestVarChangesAtRunTime(t *testing.T) {
	t.Parallel()
	v := new(Var)
	r, _, cp := newTestRecorder(t, Options{Thresholds: func(op string) Thresholder {
		switch op {
		case "dyn":
			return v
		case "fixed":
			return Thresholds{Hard: time.Millisecond}
		}
		return nil
	}})
	dyn, fixed, def := r.Op("dyn"), r.Op("fixed"), r.Op("default")
	obs := func(op *Op, d time.Duration) { op.Observe(context.Background(), d, nil) }
	obs(dyn, time.Hour)
	assert.Empty(t, cp.lines("slow operation"), "the zero Var never logs")
	v.Set(Thresholds{Hard: 10 * time.Millisecond})
	assert.Equal(t, Thresholds{Hard: 10 * time.Millisecond}, v.Thresholds())
	obs(dyn, 5*time.Millisecond)
	assert.Empty(t, cp.lines("slow operation"))
	obs(dyn, 20*time.Millisecond)
	assert.Len(t, cp.lines("slow operation"), 1)
	v.Set(Thresholds{Hard: time.Millisecond})
	obs(dyn, 5*time.Millisecond)
	assert.Len(t, cp.lines("slow operation"), 2)
	obs(fixed, 2*time.Millisecond)
	assert.Len(t, cp.lines("slow operation"), 3)
	obs(def, 150*time.Millisecond)
	assert.Len(t, cp.lines("slow operation"), 3, "default hard threshold is 200ms")
	obs(def, 250*time.Millisecond)
	assert.Len(t, cp.lines("slow operation"), 4)

	v.Set(Thresholds{SampleRate: 7, Adaptive: -1})
	assert.Equal(t, Thresholds{SampleRate: 1}, v.Thresholds(), "Set clamps")
	assert.Equal(t, Thresholds{Hard: 3}, NewVar(Thresholds{Hard: 3}).Thresholds())
}

func TestCustomThresholder(t *testing.T) {
	t.Parallel()
	r, _, cp := newTestRecorder(t, Options{Thresholds: func(string) Thresholder {
		return ThresholdsFunc(func() Thresholds { return Thresholds{Hard: time.Millisecond} })
	}})
	op := r.Op("c")
	op.Observe(context.Background(), time.Microsecond, nil)
	op.Observe(context.Background(), 2*time.Millisecond, nil)
	assert.Len(t, cp.lines("slow operation"), 1)
}

func TestAdaptiveThreshold(t *testing.T) {
	t.Parallel()
	r, clk, cp := newTestRecorder(t, Options{LogBurst: 1 << 30, Thresholds: func(string) Thresholder {
		return Thresholds{Adaptive: 3, Floor: 5 * time.Millisecond}
	}})
	op := r.Op("a")
	obs := func(d time.Duration) { op.Observe(context.Background(), d, nil) }
	obs(6 * time.Millisecond)
	assert.Len(t, cp.lines("slow operation"), 1, "no history yet: the floor applies")
	for range 999 {
		obs(10 * time.Millisecond)
	}
	r.tick() // refresh the op's p99
	n := len(cp.lines("slow operation"))
	obs(25 * time.Millisecond)
	assert.Len(t, cp.lines("slow operation"), n, "25ms < 3 × p99 (10ms)")
	obs(35 * time.Millisecond)
	lines := cp.lines("slow operation")
	require.Len(t, lines, n+1)
	assert.InEpsilon(t, float64(30*time.Millisecond), float64(lines[n]["threshold"].Duration()), 0.01)

	clk.Advance(2 * time.Minute) // idle: the last minute holds too few calls again
	r.tick()
	obs(6 * time.Millisecond)
	lines = cp.lines("slow operation")
	require.Len(t, lines, n+2, "back to the floor")
	assert.Equal(t, 5*time.Millisecond, lines[n+1]["threshold"].Duration())
}

func TestRecentRing(t *testing.T) {
	t.Parallel()
	r, _, _ := newTestRecorder(t, Options{Threshold: time.Millisecond, RecentSize: 3, MaxAttrs: 2, MaxAttrLen: 8})
	op := r.Op("ring")
	for i := range 5 {
		op.Observe(context.Background(), time.Duration(i+2)*time.Millisecond, errors.New(strings.Repeat("e", 20)),
			slog.String("q", "SELECT * FROM users"), slog.Any("args", []int{1, 2, 3}), slog.Int("dropped", 1))
	}
	es := r.Recent(-1)
	require.Len(t, es, 3)
	assert.Equal(t, []uint64{5, 4, 3}, []uint64{es[0].ID, es[1].ID, es[2].ID}, "newest first, monotonic ids")
	assert.Equal(t, 6*time.Millisecond, es[0].Duration)
	assert.Equal(t, "eeeeeeee... (12 more bytes)", es[0].Err)
	require.Len(t, es[0].Attrs, 2)
	assert.Equal(t, "SELECT *... (11 more bytes)", es[0].Attrs[0].Value.String())
	assert.Equal(t, "[1 2 3]", es[0].Attrs[1].Value.String())
	assert.Len(t, r.Recent(1), 1)
	assert.Equal(t, "héllo", capString("héllo", 6))
	assert.Equal(t, "h... (5 more bytes)", capString("héllo", 2), "cut on a rune boundary")

	none, _, _ := newTestRecorder(t, Options{Threshold: time.Millisecond, RecentSize: -1})
	none.Op("x").Observe(context.Background(), time.Second, nil)
	assert.Empty(t, none.Recent(-1))
}

func TestSnapshotMerge(t *testing.T) {
	t.Parallel()
	a, clkA, _ := newTestRecorder(t, Options{})
	b, clkB, _ := newTestRecorder(t, Options{})
	for i := range 100 {
		call(clkA, a.Op("shared"), time.Duration(i+1)*time.Millisecond, nil)
		call(clkB, b.Op("shared"), time.Duration(i+101)*time.Millisecond, errBoom)
	}
	call(clkA, a.Op("only-a"), time.Millisecond, nil)
	call(clkB, b.Op("only-b"), time.Millisecond, nil)
	m := a.Snapshot().Merge(b.Snapshot())
	require.Len(t, m.Ops, 3)
	assert.Equal(t, []string{"only-a", "only-b", "shared"}, []string{m.Ops[0].Op, m.Ops[1].Op, m.Ops[2].Op})
	s, ok := m.Op("shared")
	require.True(t, ok)
	assert.Equal(t, uint64(200), s.Total.Count)
	assert.Equal(t, uint64(100), s.Total.Errors)
	assert.InDelta(t, 0.5, s.Total.ErrorRate, 1e-9)
	assert.InEpsilon(t, float64(100*time.Millisecond), float64(s.Total.P50), 0.01)
	assert.InEpsilon(t, float64(198*time.Millisecond), float64(s.Total.P99), 0.01)
	assert.Equal(t, 200*time.Millisecond, s.Total.Max)
	assert.Equal(t, s.Total.Count, s.Last1m.Count)
	_, ok = m.Op("missing")
	assert.False(t, ok)
}

func TestOptions(t *testing.T) {
	t.Parallel()
	for _, o := range []Options{
		{SampleRate: 2}, {SampleRate: -0.1}, {LogBurst: -1}, {LogEvery: -1}, {SummaryEvery: -1}, {MaxAttrs: -1},
	} {
		_, err := New(&o)
		require.ErrorIs(t, err, ErrInvalidOptions, "%+v", o)
	}
	r, err := New(nil)
	require.NoError(t, err)
	require.NoError(t, r.Close())
	require.NoError(t, r.Close(), "Close is idempotent")
	op := r.Op("after-close")
	op.Start(context.Background()).End(nil)
	assert.Equal(t, uint64(1), op.Stats().Total.Count, "timing works after Close")
	assert.Same(t, op, r.Op("after-close"))
	assert.Equal(t, "after-close", op.Name())
}

func TestFastPathDoesNotAllocate(t *testing.T) {
	r, err := New(&Options{Threshold: time.Hour, Watchdog: time.Hour})
	require.NoError(t, err)
	defer r.Close()
	op := r.Op("alloc")
	v := NewVar(Thresholds{Hard: time.Hour})
	opV, err := New(&Options{Thresholds: func(string) Thresholder { return v }})
	require.NoError(t, err)
	defer opV.Close()
	ov := opV.Op("v")
	ctx := context.Background()
	for range 100 { // allocate the chunks first
		op.Start(ctx).End(nil)
		ov.Start(ctx).End(nil)
	}
	assert.Zero(t, testing.AllocsPerRun(1000, func() { op.Start(ctx).End(nil) }))
	assert.Zero(t, testing.AllocsPerRun(1000, func() { op.Start(ctx).End(errBoom, slog.Int("n", 1)) }), "attrs are copied only for slow calls")
	assert.Zero(t, testing.AllocsPerRun(1000, func() { ov.Start(ctx).End(nil) }))
}

func TestMaxOps(t *testing.T) {
	t.Parallel()
	r, _, _ := newTestRecorder(t, Options{MaxOps: 3})
	a, b, c := r.Op("a"), r.Op("b"), r.Op("c")
	over := r.Op("d")
	assert.Equal(t, OverflowOp, over.Name())
	assert.Same(t, over, r.Op("e"))
	assert.Same(t, a, r.Op("a"), "existing names keep their op")
	assert.NotSame(t, b, c)
	over.Observe(context.Background(), time.Millisecond, nil)
	r.Op("f").Observe(context.Background(), time.Millisecond, nil)
	s, ok := r.Snapshot().Op(OverflowOp)
	require.True(t, ok)
	assert.Equal(t, uint64(2), s.Total.Count)
	assert.Len(t, r.Snapshot().Ops, 4)

	unlimited, _, _ := newTestRecorder(t, Options{MaxOps: -1})
	for i := range 1500 {
		unlimited.Op(fmt.Sprint(i))
	}
	assert.Len(t, unlimited.Snapshot().Ops, 1500)
}

func TestClockBeforeNewDoesNotPanic(t *testing.T) {
	t.Parallel()
	r, clk, cp := newTestRecorder(t, Options{Threshold: time.Millisecond, Watchdog: time.Hour})
	op := r.Op("x")
	for _, at := range []time.Duration{-25 * time.Second, -time.Hour, -365 * 24 * time.Hour, 5 * time.Second, -70 * time.Second} {
		clk.Set(at)
		tm := op.Start(context.Background())
		clk.Advance(2 * time.Millisecond)
		tm.End(nil)
		op.Observe(context.Background(), time.Millisecond, nil)
		r.tick()
	}
	s := r.Snapshot()
	got, ok := s.Op("x")
	require.True(t, ok)
	assert.Equal(t, uint64(10), got.Total.Count, "a clock stepped back before New counts as New's time")
	assert.Equal(t, uint64(10), got.Last1m.Count)
	// Timers that start and end before New both read 0 (duration 0, fast);
	// only the one at +5 s lasts 2 ms. Every Observe is slow.
	assert.Len(t, cp.lines("slow operation"), 6)
}

func TestErrorsNeverExceedCount(t *testing.T) {
	t.Parallel()
	// A snapshot can read a call's error before its bucket (End adds the
	// bucket first, the snapshot reads buckets first): force that order.
	var w window
	w.counts[5] = 2
	w.errs = 3
	s := w.stats()
	assert.Equal(t, uint64(2), s.Count)
	assert.Equal(t, uint64(2), s.Errors)
	assert.InDelta(t, 1.0, s.ErrorRate, 0)

	huge := Stats{Errors: math.MaxUint64, Histogram: s.Histogram}
	m := huge.Merge(huge)
	assert.Equal(t, uint64(4), m.Count)
	assert.Equal(t, uint64(4), m.Errors, "no wrap-around: capped at the count")
}

func TestAdaptiveThresholdSaturates(t *testing.T) {
	t.Parallel()
	r, _, cp := newTestRecorder(t, Options{Thresholds: func(string) Thresholder {
		return Thresholds{Adaptive: 1e300, Floor: time.Millisecond}
	}})
	op := r.Op("a")
	for range 100 {
		op.Observe(context.Background(), 10*time.Millisecond, nil)
	}
	n := len(cp.lines("slow operation"))
	r.tick()
	assert.Equal(t, int64(math.MaxInt64), op.hard(op.thresholds().Thresholds))
	op.Observe(context.Background(), time.Hour, nil)
	assert.Len(t, cp.lines("slow operation"), n, "k × p99 past the largest duration means nothing is slow")
}

func TestNilThresholderMeansDefaults(t *testing.T) {
	t.Parallel()
	vars := map[string]*Var{"tuned": NewVar(Thresholds{Hard: time.Millisecond})}
	funcs := map[string]ThresholdsFunc{}
	r, _, cp := newTestRecorder(t, Options{Threshold: 100 * time.Millisecond, Thresholds: func(op string) Thresholder {
		if op == "func" {
			return funcs[op] // a nil ThresholdsFunc
		}
		return vars[op] // a nil *Var for every name but "tuned"
	}})
	for _, name := range []string{"other", "func"} {
		op := r.Op(name)
		op.Observe(context.Background(), 50*time.Millisecond, nil)
		op.Start(context.Background()).End(nil)
		assert.Empty(t, cp.lines("slow operation"), name)
	}
	r.Op("other").Observe(context.Background(), 150*time.Millisecond, nil)
	r.Op("func").Observe(context.Background(), 150*time.Millisecond, nil)
	assert.Len(t, cp.lines("slow operation"), 2, "the default threshold applies")
	r.Op("tuned").Observe(context.Background(), 2*time.Millisecond, nil)
	assert.Len(t, cp.lines("slow operation"), 3)
	r.tick()
}
