package slowlog

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

func benchLoop(b *testing.B, parallel bool, body func()) {
	b.ReportAllocs()
	if parallel {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				body()
			}
		})
		return
	}
	for b.Loop() {
		body()
	}
}

// BenchmarkStartEnd: a call below the threshold, against the bare clock.
func BenchmarkStartEnd(b *testing.B) {
	ctx := context.Background()
	for _, mode := range []string{"serial", "parallel"} {
		b.Run("mode="+mode, func(b *testing.B) {
			par := mode == "parallel"
			b.Run("impl=clock", func(b *testing.B) {
				var sink time.Duration
				benchLoop(b, par, func() {
					t := time.Now()
					if d := time.Since(t); d < 0 {
						sink = d
					}
				})
				_ = sink
			})
			for _, wd := range []struct {
				name string
				d    time.Duration
			}{{"stout", 0}, {"stout-watchdog", time.Second}} {
				b.Run("impl="+wd.name, func(b *testing.B) {
					r, err := New(&Options{Watchdog: wd.d})
					if err != nil {
						b.Fatal(err)
					}
					defer r.Close()
					op := r.Op("bench")
					benchLoop(b, par, func() { op.Start(ctx).End(nil) })
				})
			}
		})
	}
}

// BenchmarkRecord: the histogram and threshold work of End, without the
// clock.
func BenchmarkRecord(b *testing.B) {
	r, err := New(nil)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	op := r.Op("bench")
	ctx := context.Background()
	for _, mode := range []string{"serial", "parallel"} {
		b.Run("mode="+mode, func(b *testing.B) {
			benchLoop(b, mode == "parallel", func() {
				op.record(int64(time.Second), int64(123*time.Microsecond), nil)
				op.check(ctx, int64(time.Second), int64(123*time.Microsecond), nil, nil, nil, false)
			})
		})
	}
}

// BenchmarkSlowSuppressed: a slow call whose line the token bucket holds
// back (the cost during a flood).
func BenchmarkSlowSuppressed(b *testing.B) {
	r, err := New(&Options{Threshold: time.Nanosecond, LogBurst: 1, LogEvery: time.Hour, RecentSize: 128})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	op := r.Op("bench")
	ctx := context.Background()
	benchLoop(b, false, func() { op.Start(ctx).End(nil, slog.Int("user", 1)) })
}

// BenchmarkSnapshot: reading every window of 10 ops.
func BenchmarkSnapshot(b *testing.B) {
	r, err := New(nil)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	for i := range 10 {
		op := r.Op(string(rune('a' + i)))
		for j := range 1000 {
			op.Observe(context.Background(), time.Duration(j)*time.Microsecond, nil)
		}
	}
	benchLoop(b, false, func() { _ = r.Snapshot() })
}
