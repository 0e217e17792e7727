// Package slowlogbench compares the cost of timing a call with slowlog
// against the usual alternatives: a Prometheus client_golang histogram and
// an HDR histogram, each fed with time.Since(start), and the bare clock.
package slowlogbench

import (
	"context"
	"sync"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stout-go/stout/slowlog"
)

// impl is one way of timing a call.
type impl struct {
	name string
	run  func(b *testing.B, parallel bool)
	// record is the same without reading the clock (a fixed 123µs), to
	// compare the recording structures alone.
	record func(b *testing.B, parallel bool)
}

var sink time.Duration

func loop(b *testing.B, parallel bool, body func()) {
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

func impls() []impl {
	ctx := context.Background()
	stout := func(o *slowlog.Options) func(b *testing.B, parallel bool) {
		return func(b *testing.B, parallel bool) {
			rec, err := slowlog.New(o)
			if err != nil {
				b.Fatal(err)
			}
			defer rec.Close()
			op := rec.Op("bench")
			loop(b, parallel, func() { op.Start(ctx).End(nil) })
		}
	}
	fixed := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const d = 123 * time.Microsecond
	stoutRecord := func(watchdog time.Duration) func(b *testing.B, parallel bool) {
		return func(b *testing.B, parallel bool) {
			// a clock that costs a function call: Start+End without the clock
			rec, err := slowlog.New(&slowlog.Options{Watchdog: watchdog, Now: func() time.Time { return fixed }})
			if err != nil {
				b.Fatal(err)
			}
			defer rec.Close()
			op := rec.Op("bench")
			loop(b, parallel, func() { op.Start(ctx).End(nil) })
		}
	}
	promRecord := func(o prometheus.HistogramOpts) func(b *testing.B, parallel bool) {
		return func(b *testing.B, parallel bool) {
			h := prometheus.NewHistogram(o)
			loop(b, parallel, func() { h.Observe(d.Seconds()) })
		}
	}
	classic := prometheus.HistogramOpts{Name: "bench_seconds", Buckets: prometheus.DefBuckets}
	native := prometheus.HistogramOpts{Name: "bench_seconds", NativeHistogramBucketFactor: 1.1, NativeHistogramMaxBucketNumber: 160}
	return []impl{
		{"clock", func(b *testing.B, parallel bool) {
			// the floor: what every variant pays to read the clock twice
			loop(b, parallel, func() {
				start := time.Now()
				if d := time.Since(start); d < 0 {
					sink = d
				}
			})
		}, func(b *testing.B, parallel bool) {
			loop(b, parallel, func() {})
		}},
		{"stout", stout(nil), stoutRecord(0)},
		{"stout-watchdog", stout(&slowlog.Options{Watchdog: time.Second}), stoutRecord(time.Second)},
		{"prometheus", func(b *testing.B, parallel bool) {
			h := prometheus.NewHistogram(classic)
			loop(b, parallel, func() {
				start := time.Now()
				h.Observe(time.Since(start).Seconds())
			})
		}, promRecord(classic)},
		{"prometheus-native", func(b *testing.B, parallel bool) {
			h := prometheus.NewHistogram(native)
			loop(b, parallel, func() {
				start := time.Now()
				h.Observe(time.Since(start).Seconds())
			})
		}, promRecord(native)},
		{"hdr", func(b *testing.B, parallel bool) {
			// HdrHistogram-go is not safe for concurrent use: a mutex around it,
			// as its users do.
			h := hdrhistogram.New(1_000, int64(time.Hour), 2)
			var mu sync.Mutex
			loop(b, parallel, func() {
				start := time.Now()
				d := time.Since(start)
				mu.Lock()
				_ = h.RecordValue(int64(d))
				mu.Unlock()
			})
		}, func(b *testing.B, parallel bool) {
			h := hdrhistogram.New(1_000, int64(time.Hour), 2)
			var mu sync.Mutex
			loop(b, parallel, func() {
				mu.Lock()
				_ = h.RecordValue(int64(d))
				mu.Unlock()
			})
		}},
	}
}

// BenchmarkStartEnd times one call below the threshold, serially and from
// b.RunParallel goroutines, with each implementation: clock=read (two
// clock reads and the record) and clock=none (the record alone). Compare
// with benchstat -col /impl.
func BenchmarkStartEnd(b *testing.B) {
	for _, clock := range []string{"read", "none"} {
		for _, mode := range []string{"serial", "parallel"} {
			b.Run("clock="+clock+"/mode="+mode, func(b *testing.B) {
				for _, im := range impls() {
					run := im.run
					if clock == "none" {
						run = im.record
					}
					b.Run("impl="+im.name, func(b *testing.B) { run(b, mode == "parallel") })
				}
			})
		}
	}
}
