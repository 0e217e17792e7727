// Package slowlogbench compares the cost of timing a call with slowlog
// against the usual alternatives: a Prometheus client_golang histogram
// (classic and native) and an HDR histogram, each fed with
// time.Since(start), and the bare clock.
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

var sink time.Duration

// loop runs body b.N times, serially or from b.RunParallel goroutines.
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

// impl is one way of timing a call.
type impl struct {
	name string
	run  func(b *testing.B, parallel bool)
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
	prom := func(o prometheus.HistogramOpts) func(b *testing.B, parallel bool) {
		return func(b *testing.B, parallel bool) {
			h := prometheus.NewHistogram(o)
			loop(b, parallel, func() {
				start := time.Now()
				h.Observe(time.Since(start).Seconds())
			})
		}
	}
	return []impl{
		{"clock", func(b *testing.B, parallel bool) {
			// the floor: time.Now() and time.Since(start), nothing recorded
			loop(b, parallel, func() {
				start := time.Now()
				if d := time.Since(start); d < 0 {
					sink = d
				}
			})
		}},
		{"stout", stout(nil)},
		{"stout-watchdog", stout(&slowlog.Options{Watchdog: time.Second})},
		{"prometheus", prom(prometheus.HistogramOpts{Name: "bench_seconds", Buckets: prometheus.DefBuckets})},
		{"prometheus-native", prom(prometheus.HistogramOpts{
			Name: "bench_seconds", NativeHistogramBucketFactor: 1.1, NativeHistogramMaxBucketNumber: 160,
		})},
		{"hdr", func(b *testing.B, parallel bool) {
			// HdrHistogram-go is not safe for concurrent use: a mutex around it,
			// as its users do. 1µs…1h, 2 significant figures (≤1% error).
			h := hdrhistogram.New(1_000, int64(time.Hour), 2)
			var mu sync.Mutex
			loop(b, parallel, func() {
				start := time.Now()
				d := time.Since(start)
				mu.Lock()
				_ = h.RecordValue(int64(d))
				mu.Unlock()
			})
		}},
	}
}

// BenchmarkStartEnd times one call below the threshold, serially and from
// b.RunParallel goroutines, with each implementation. Compare with
// benchstat -col /impl.
func BenchmarkStartEnd(b *testing.B) {
	for _, mode := range []string{"serial", "parallel"} {
		b.Run("mode="+mode, func(b *testing.B) {
			for _, im := range impls() {
				b.Run("impl="+im.name, func(b *testing.B) { im.run(b, mode == "parallel") })
			}
		})
	}
}
