package cache

import (
	"context"
	"encoding/json"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/stout-go/stout/internal/redistest"
)

// benchUser is a typical cached row, about 200 bytes of JSON.
type benchUser struct {
	ID    int64    `json:"id"`
	Name  string   `json:"name"`
	Email string   `json:"email"`
	Bio   string   `json:"bio"`
	Roles []string `json:"roles"`
}

// BenchmarkRedisHit reads values that are in Redis and not in process memory: the
// Cache with L1 off (MaxEntries -1) against the physical floor, a raw GET plus
// json.Unmarshal, on the same server. trips/op counts Redis round trips.
func BenchmarkRedisHit(b *testing.B) {
	srv := redistest.Start(b)
	const n = 64
	keys := make([]string, n)
	for i := range keys {
		keys[i] = strconv.Itoa(i)
	}
	user := func(i int) benchUser {
		return benchUser{ID: int64(i), Name: "User " + strconv.Itoa(i), Email: "u" + strconv.Itoa(i) + "@example.com",
			Bio: "Writes Go, reads papers about caches, and keeps a garden.", Roles: []string{"reader", "writer"}}
	}
	ctx := context.Background()
	type impl struct {
		name string
		get  func(key string) error
		hook *benchTrips
	}
	var impls []impl

	{
		rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
		b.Cleanup(func() { _ = rdb.Close() })
		c, err := New[benchUser](Options{Namespace: "bench", TTL: time.Hour, MaxEntries: -1,
			Redis: &RedisOptions{Client: rdb, Prefix: srv.Prefix + "stout"}})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = c.Close() })
		for i, k := range keys {
			if err := c.Set(ctx, k, user(i)); err != nil {
				b.Fatal(err)
			}
		}
		miss := func(ctx context.Context, key string) (benchUser, error) {
			b.Errorf("%s missed", key)
			return benchUser{}, nil
		}
		h := &benchTrips{}
		rdb.AddHook(h)
		impls = append(impls, impl{"stout", func(key string) error { _, err := c.Get(ctx, key, miss); return err }, h})
	}
	{
		rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
		b.Cleanup(func() { _ = rdb.Close() })
		for i, k := range keys {
			raw, _ := json.Marshal(user(i))
			if err := rdb.Set(ctx, srv.Prefix+"raw:"+k, raw, time.Hour).Err(); err != nil {
				b.Fatal(err)
			}
		}
		h := &benchTrips{}
		rdb.AddHook(h)
		impls = append(impls, impl{"raw-get-json", func(key string) error {
			raw, err := rdb.Get(ctx, srv.Prefix+"raw:"+key).Bytes()
			if err != nil {
				return err
			}
			var u benchUser
			return json.Unmarshal(raw, &u)
		}, h})
	}

	for _, im := range impls {
		b.Run("mode=serial/impl="+im.name, func(b *testing.B) {
			b.ReportAllocs()
			start, i := im.hook.n.Load(), 0
			for b.Loop() {
				if err := im.get(keys[i%n]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(im.hook.n.Load()-start)/float64(b.N), "trips/op")
		})
		b.Run("mode=parallel/impl="+im.name, func(b *testing.B) {
			b.ReportAllocs()
			start := im.hook.n.Load()
			var next atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				i := int(next.Add(1))
				for pb.Next() {
					if err := im.get(keys[i%n]); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
			b.ReportMetric(float64(im.hook.n.Load()-start)/float64(b.N), "trips/op")
		})
	}
}

// benchTrips counts Redis round trips: a command sent alone or a pipeline.
type benchTrips struct{ n atomic.Int64 }

func (h *benchTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *benchTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}

func (h *benchTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(1); return next(ctx, cmds) }
}
