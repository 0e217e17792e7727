package l2

import (
	"context"
	"testing"
	"time"

	"github.com/stout-go/stout/internal/redistest"
)

func BenchmarkEncode(b *testing.B) {
	e := Entry{Gen: 1, Created: 2, SoftExpiry: 3, Delta: 4, Payload: []byte(`{"id":42,"name":"gopher","email":"g@example.com"}`)}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = Encode(buf[:0], e, 0)
	}
}

func BenchmarkDecode(b *testing.B) {
	raw := Encode(nil, Entry{Gen: 1, Payload: []byte(`{"id":42,"name":"gopher","email":"g@example.com"}`)}, 0)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := Decode(raw); !ok {
			b.Fatal("decode")
		}
	}
}

// BenchmarkGetHit is one L2 hit with a known version: one GET.
func BenchmarkGetHit(b *testing.B) {
	srv := redistest.Start(b)
	c := srv.Client(b)
	s, err := New(Options{Client: c, Prefix: srv.Prefix + "stout", Namespace: "bench", VersionStaleness: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	ctx := context.Background()
	if err := s.Set(ctx, "k", Entry{Payload: []byte(`{"id":42}`)}, time.Minute); err != nil {
		b.Fatal(err)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, hit, _, err := s.Get(ctx, "k"); err != nil || !hit {
				b.Fatal(hit, err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, hit, _, err := s.Get(ctx, "k"); err != nil || !hit {
					b.Error(hit, err)
					return
				}
			}
		})
	})
}
