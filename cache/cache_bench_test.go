package cache

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const benchKeys = 1 << 10

func benchCache(b *testing.B) (*Cache[string], []string, Loader[string]) {
	c, err := New[string](Options{TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	keys := make([]string, benchKeys)
	for i := range keys {
		keys[i] = "user:" + strconv.Itoa(i)
		if err := c.Set(context.Background(), keys[i], "value "+keys[i]); err != nil {
			b.Fatal(err)
		}
	}
	load := func(ctx context.Context, key string) (string, error) { return "loaded " + key, nil }
	return c, keys, load
}

// BenchmarkGetHit measures a hit from process memory.
func BenchmarkGetHit(b *testing.B) {
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		c, keys, load := benchCache(b)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := c.Get(ctx, keys[i&(benchKeys-1)], load); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		c, keys, load := benchCache(b)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := c.Get(ctx, keys[i&(benchKeys-1)], load); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}

// BenchmarkStampede runs 1000 concurrent Gets of one cold key per op and reports how many
// loads they caused (it must be 1).
func BenchmarkStampede(b *testing.B) {
	const callers = 1000
	c, err := New[string](Options{TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	var loads atomic.Int64
	load := func(ctx context.Context, key string) (string, error) {
		loads.Add(1)
		time.Sleep(time.Millisecond) // a database round trip
		return key, nil
	}
	ctx := context.Background()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		key := "cold:" + strconv.Itoa(n)
		n++
		start := make(chan struct{})
		var wg sync.WaitGroup
		for range callers {
			wg.Go(func() {
				<-start
				if _, err := c.Get(ctx, key, load); err != nil {
					b.Error(err)
				}
			})
		}
		close(start)
		wg.Wait()
	}
	b.ReportMetric(float64(loads.Load())/float64(n), "loads/1000gets")
}

// BenchmarkGetManyHit measures a GetMany of 16 keys that are all in memory.
func BenchmarkGetManyHit(b *testing.B) {
	ctx := context.Background()
	batch := func(ctx context.Context, keys []string) (map[string]string, error) { return nil, nil }
	pick := func(keys []string, i int) []string { return keys[(i*16)&(benchKeys-1):][:16] }
	b.Run("serial", func(b *testing.B) {
		c, keys, _ := benchCache(b)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if m, err := c.GetMany(ctx, pick(keys, i), batch); err != nil || len(m) != 16 {
				b.Fatal(err, len(m))
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		c, keys, _ := benchCache(b)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if m, err := c.GetMany(ctx, pick(keys, i), batch); err != nil || len(m) != 16 {
					b.Error(err, len(m))
					return
				}
				i++
			}
		})
	})
}
