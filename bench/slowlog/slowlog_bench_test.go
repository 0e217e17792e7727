// Package slowlogbench compares the cost of timing a call with slowlog
// against the usual alternatives: a Prometheus client_golang histogram
// (classic and native) and an HDR histogram, each fed with
// time.Since(start), and the bare clock.
package slowlogbench

import (
	"context"
	"runtime"
	"slices"
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

// BenchmarkStartEndInterleaved runs every implementation in turns of
// batches, round after round, and reports the median ns per call of each as
// a metric ("<impl>-ns/call"). On a shared, noisy machine this compares the
// implementations under the same conditions, which consecutive
// sub-benchmarks cannot. In mode=parallel each batch runs on GOMAXPROCS
// goroutines at once and the metric is wall time per call, as RunParallel
// reports it.
func BenchmarkStartEndInterleaved(b *testing.B) {
	ctx := context.Background()
	rec, err := slowlog.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	defer rec.Close()
	op := rec.Op("bench")
	recW, err := slowlog.New(&slowlog.Options{Watchdog: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer recW.Close()
	opW := recW.Op("bench")
	classic := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "bench_seconds", Buckets: prometheus.DefBuckets})
	native := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "bench_seconds", NativeHistogramBucketFactor: 1.1, NativeHistogramMaxBucketNumber: 160,
	})
	hdr := hdrhistogram.New(1_000, int64(time.Hour), 2)
	var mu sync.Mutex
	impls := []struct {
		name string
		call func()
	}{
		{"clock", func() {
			start := time.Now()
			if d := time.Since(start); d < 0 {
				sink = d
			}
		}},
		{"stout", func() { op.Start(ctx).End(nil) }},
		{"stout-watchdog", func() { opW.Start(ctx).End(nil) }},
		{"prometheus", func() {
			start := time.Now()
			classic.Observe(time.Since(start).Seconds())
		}},
		{"prometheus-native", func() {
			start := time.Now()
			native.Observe(time.Since(start).Seconds())
		}},
		{"hdr", func() {
			start := time.Now()
			d := time.Since(start)
			mu.Lock()
			_ = hdr.RecordValue(int64(d))
			mu.Unlock()
		}},
	}
	for _, mode := range []string{"serial", "parallel"} {
		b.Run("mode="+mode, func(b *testing.B) {
			workers, batch := 1, 256
			if mode == "parallel" {
				workers, batch = runtime.GOMAXPROCS(0), 1024
			}
			const keep = 4096 // batch timings kept per impl (a ring)
			per := make([][]float64, len(impls))
			for i := range per {
				per[i] = make([]float64, 0, keep)
			}
			var wg sync.WaitGroup
			b.ReportAllocs() // the parallel mode's goroutines allocate; the calls do not
			round := 0
			for b.Loop() {
				for k := range impls {
					i := (k + round) % len(impls) // rotate the order: no impl always follows another
					start := time.Now()
					runBatch(&wg, impls[i].call, workers, batch)
					ns := float64(time.Since(start)) / float64(batch*workers)
					if len(per[i]) < keep {
						per[i] = append(per[i], ns)
					} else {
						per[i][round%keep] = ns
					}
				}
				round++
			}
			for i, im := range impls {
				slices.Sort(per[i])
				b.ReportMetric(per[i][len(per[i])/2], im.name+"-ns/call")
			}
			b.ReportMetric(0, "ns/op") // a round is not a unit of interest
		})
	}
}

// runBatch calls call batch times on each of workers goroutines (the
// caller's own if workers is 1) and returns when all are done.
func runBatch(wg *sync.WaitGroup, call func(), workers, batch int) {
	if workers == 1 {
		for range batch {
			call()
		}
		return
	}
	for range workers {
		wg.Go(func() {
			for range batch {
				call()
			}
		})
	}
	wg.Wait()
}
