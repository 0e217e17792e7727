package slowlog

import (
	"context"
	"testing"
	"time"
)

func BenchmarkStartEnd(b *testing.B) {
	ctx := context.Background()
	b.Run("impl=clock", func(b *testing.B) {
		b.ReportAllocs()
		var sink time.Duration
		for b.Loop() {
			t := time.Now()
			sink += time.Since(t)
		}
		_ = sink
	})
	for _, wd := range []struct {
		name string
		d    time.Duration
	}{{"watchdog", 0}, {"nowatchdog", -1}} {
		b.Run("impl="+wd.name, func(b *testing.B) {
			r, err := New(&Options{Watchdog: wd.d})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			op := r.Op("bench")
			b.ReportAllocs()
			for b.Loop() {
				op.Start(ctx).End(nil)
			}
		})
	}
}

func BenchmarkStartEndParallel(b *testing.B) {
	ctx := context.Background()
	b.Run("impl=clock", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var sink time.Duration
			for pb.Next() {
				t := time.Now()
				sink += time.Since(t)
			}
			_ = sink
		})
	})
	for _, wd := range []struct {
		name string
		d    time.Duration
	}{{"watchdog", 0}, {"nowatchdog", -1}} {
		b.Run("impl="+wd.name, func(b *testing.B) {
			r, err := New(&Options{Watchdog: wd.d})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			op := r.Op("bench")
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					op.Start(ctx).End(nil)
				}
			})
		})
	}
}
