package ratelimit

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/stout-go/stout/internal/redistest"
)

func BenchmarkMemoryAllow(b *testing.B) {
	ctx := context.Background()
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "user:" + strconv.Itoa(i)
	}
	b.Run("serial", func(b *testing.B) {
		m := NewMemory(PerSecond(1_000_000), nil)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			_, _ = m.Allow(ctx, keys[i&1023])
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		m := NewMemory(PerSecond(1_000_000), nil)
		var seq atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := int(seq.Add(1) * 7919)
			for pb.Next() {
				_, _ = m.Allow(ctx, keys[i&1023])
				i++
			}
		})
	})
	b.Run("hotkey-parallel", func(b *testing.B) {
		m := NewMemory(PerSecond(1_000_000), nil)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = m.Allow(ctx, "hot")
			}
		})
	})
	b.Run("newkeys", func(b *testing.B) {
		m := NewMemory(PerSecond(10), &MemoryOptions{MaxKeys: 1 << 16})
		b.ReportAllocs()
		buf := make([]byte, 0, 32)
		i := 0
		for b.Loop() {
			buf = strconv.AppendInt(append(buf[:0], "ip:"...), int64(i), 10)
			_, _ = m.Allow(ctx, string(buf))
			i++
		}
	})
}

func BenchmarkRedisAllow(b *testing.B) {
	s := redistest.Start(b)
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: s.Addr, ContextTimeoutEnabled: true})
	defer func() { _ = c.Close() }()
	r := NewRedis(c, PerSecond(1_000_000), &RedisOptions{Prefix: s.Key("bench"), OnError: FailClosed, Budget: 5 * time.Second})
	defer func() { _ = r.Close() }()
	if _, err := r.Allow(ctx, "warm"); err != nil {
		b.Fatal(err)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := r.Allow(ctx, "user:"+strconv.Itoa(i&1023)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := r.Allow(ctx, "user:"+strconv.Itoa(i&1023)); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}

func BenchmarkMiddleware(b *testing.B) {
	lim := NewMemory(PerSecond(1_000_000), nil)
	h := Middleware(lim, KeyByIP(), nil)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "192.0.2.1:1234"
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		w := httptest.NewRecorder()
		for b.Loop() {
			h.ServeHTTP(w, req)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			w := httptest.NewRecorder()
			for pb.Next() {
				h.ServeHTTP(w, req)
			}
		})
	})
}
