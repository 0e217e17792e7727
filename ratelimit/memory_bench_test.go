package ratelimit

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
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
