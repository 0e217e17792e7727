// The benchmarks compare stout's ratelimit with the usual Go choices, side
// by side in one run:
//
//   - in memory: ratelimit.Memory against a mutex-guarded
//     map[string]*rate.Limiter (the common hand-rolled per-key limiter) and a
//     single raw rate.Limiter (no keys at all: the floor);
//   - on Redis: ratelimit.Redis against go-redis/redis_rate on the same
//     server, with the Redis commands per decision counted by a hook.
//
// Run: go test -run '^$' -bench . -count 6 . | tee out.txt,
// then benchstat -col /impl out.txt.

package ratelimitbench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/stout-go/stout/bench/internal/cputime"
	"github.com/stout-go/stout/internal/redistest"
	"github.com/stout-go/stout/ratelimit"
)

// mapLimiter is the per-key limiter most services write by hand.
type mapLimiter struct {
	mu sync.Mutex // guards m
	m  map[string]*rate.Limiter
	r  rate.Limit
	b  int
}

func newMapLimiter(r rate.Limit, b int) *mapLimiter {
	return &mapLimiter{m: make(map[string]*rate.Limiter), r: r, b: b}
}

func (l *mapLimiter) Allow(key string) bool {
	l.mu.Lock()
	lim, ok := l.m[key]
	if !ok {
		lim = rate.NewLimiter(l.r, l.b)
		l.m[key] = lim
	}
	l.mu.Unlock()
	return lim.Allow()
}

const nKeys = 1024

func keys() []string {
	k := make([]string, nKeys)
	for i := range k {
		k[i] = "user:" + strconv.Itoa(i)
	}
	return k
}

// BenchmarkMemoryAllow: one decision on one of 1024 keys, serial and
// parallel. impl=rate is a single rate.Limiter shared by all (no key lookup).
func BenchmarkMemoryAllow(b *testing.B) {
	ctx := context.Background()
	ks := keys()
	const r, burst = 1e9, 1 << 20 // never denies: the common case
	impls := []struct {
		name  string
		allow func() func(i int) bool
	}{
		{"stout", func() func(int) bool {
			m := ratelimit.NewMemory(ratelimit.Limit{Rate: r, Burst: burst}, nil)
			return func(i int) bool { d, _ := m.Allow(ctx, ks[i&(nKeys-1)]); return d.Allowed }
		}},
		{"mutexmap", func() func(int) bool {
			m := newMapLimiter(r, burst)
			return func(i int) bool { return m.Allow(ks[i&(nKeys-1)]) }
		}},
		{"rate", func() func(int) bool {
			l := rate.NewLimiter(r, burst)
			return func(int) bool { return l.Allow() }
		}},
	}
	for _, mode := range []string{"serial", "parallel"} {
		for _, impl := range impls {
			b.Run("mode="+mode+"/impl="+impl.name, func(b *testing.B) {
				allow := impl.allow()
				b.ReportAllocs()
				cpu0 := cputime.Process()
				var ops atomic.Int64
				if mode == "serial" {
					i := 0
					for b.Loop() {
						allow(i)
						i++
					}
					ops.Store(int64(i))
				} else {
					var seq atomic.Int64
					b.RunParallel(func(pb *testing.PB) {
						i := int(seq.Add(1)) * 7919
						n := 0
						for pb.Next() {
							allow(i)
							i++
							n++
						}
						ops.Add(int64(n))
					})
				}
				if n := ops.Load(); n > 0 {
					b.ReportMetric(float64(cputime.Process()-cpu0)/float64(n), "cpu-ns/op")
				}
			})
		}
	}
}

// BenchmarkBytesPerKey stores STOUT_BENCH_KEYS distinct keys (default
// 100000) and reports the live heap per key. Keys are made before the
// measurement; what is counted is what the limiter keeps per key.
func BenchmarkBytesPerKey(b *testing.B) {
	n := 100_000
	if s := os.Getenv("STOUT_BENCH_KEYS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	ks := make([]string, n)
	for i := range ks {
		ks[i] = "ip:" + strconv.Itoa(i)
	}
	for _, impl := range []string{"stout", "mutexmap"} {
		b.Run("impl="+impl, func(b *testing.B) {
			b.ReportAllocs()
			var perKey float64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				var keep any
				switch impl {
				case "stout":
					m := ratelimit.NewMemory(ratelimit.Limit{Rate: 1, Burst: 10}, &ratelimit.MemoryOptions{MaxKeys: -1})
					for _, k := range ks {
						_, _ = m.Allow(ctx, k)
					}
					keep = m
				case "mutexmap":
					m := newMapLimiter(1, 10)
					for _, k := range ks {
						m.Allow(k)
					}
					keep = m
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				runtime.KeepAlive(keep)
				perKey = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
			}
			b.ReportMetric(perKey, "B/key")
		})
	}
}

// countHook counts the commands a client sends.
type countHook struct{ n atomic.Int64 }

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}
func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// BenchmarkRedisAllow: one decision on one of 1024 keys against the same
// redis-server. impl=stout uses a client with ContextTimeoutEnabled (the
// budget rides on the socket deadline); impl=stout-plainclient uses a
// default client, where each call runs on its own goroutine to enforce the
// budget.
func BenchmarkRedisAllow(b *testing.B) {
	s := redistest.Start(b)
	ctx := context.Background()
	ks := keys()
	const perSec = 1_000_000
	type impl struct {
		name  string
		allow func(c *redis.Client) func(i int) error
		plain bool
	}
	impls := []impl{
		{name: "stout", allow: func(c *redis.Client) func(int) error {
			r := ratelimit.NewRedis(c, ratelimit.PerSecond(perSec), &ratelimit.RedisOptions{Prefix: s.Key("stout"), OnError: ratelimit.FailClosed, Budget: 5 * time.Second})
			b.Cleanup(func() { _ = r.Close() })
			return func(i int) error { _, err := r.Allow(ctx, ks[i&(nKeys-1)]); return err }
		}},
		{name: "stout-plainclient", plain: true, allow: func(c *redis.Client) func(int) error {
			r := ratelimit.NewRedis(c, ratelimit.PerSecond(perSec), &ratelimit.RedisOptions{Prefix: s.Key("plain"), OnError: ratelimit.FailClosed, Budget: 5 * time.Second})
			b.Cleanup(func() { _ = r.Close() })
			return func(i int) error { _, err := r.Allow(ctx, ks[i&(nKeys-1)]); return err }
		}},
		{name: "redis_rate", plain: true, allow: func(c *redis.Client) func(int) error {
			l := redis_rate.NewLimiter(c)
			lim := redis_rate.PerSecond(perSec)
			return func(i int) error { _, err := l.Allow(ctx, s.Key("rr", ks[i&(nKeys-1)]), lim); return err }
		}},
	}
	for _, mode := range []string{"serial", "parallel"} {
		for _, im := range impls {
			b.Run("mode="+mode+"/impl="+im.name, func(b *testing.B) {
				c := redis.NewClient(&redis.Options{Addr: s.Addr, ContextTimeoutEnabled: !im.plain, PoolSize: 8})
				defer func() { _ = c.Close() }()
				hook := &countHook{}
				c.AddHook(hook)
				allow := im.allow(c)
				if err := allow(0); err != nil { // load the script
					b.Fatal(err)
				}
				srv0 := cputime.Redis(ctx, c)
				hook.n.Store(0)
				b.ReportAllocs()
				start := time.Now()
				cpu0 := cputime.Process()
				var ops atomic.Int64
				if mode == "serial" {
					i := 0
					for b.Loop() {
						if err := allow(i); err != nil {
							b.Fatal(err)
						}
						i++
					}
					ops.Store(int64(i))
				} else {
					var seq atomic.Int64
					b.RunParallel(func(pb *testing.PB) {
						i := int(seq.Add(1)) * 7919
						for pb.Next() {
							if err := allow(i); err != nil {
								b.Error(err)
								return
							}
							i++
							ops.Add(1)
						}
					})
				}
				el := time.Since(start).Seconds()
				cpu, cmds := cputime.Process()-cpu0, hook.n.Load()
				srv := cputime.Redis(ctx, c) - srv0
				if n := ops.Load(); n > 0 {
					b.ReportMetric(float64(cmds)/float64(n), "cmds/op")
					b.ReportMetric(float64(n)/el, "ops/s")
					b.ReportMetric(float64(cpu)/float64(n)/1e3, "client-cpu-µs/op")
					b.ReportMetric(float64(srv)/float64(n)/1e3, "server-cpu-µs/op")
				}
			})
		}
	}
}

// Example-style sanity check that both Redis limiters agree on what a
// fresh key has left: redis_rate's Remaining is one low (its float clock).
func TestRedisRemaining(t *testing.T) {
	s := redistest.Start(t)
	c := s.Client(t)
	ctx := context.Background()
	// FailClosed with a generous budget: a fail-open decision for a new key
	// also says 9, so a slow Redis must be an error, not a pass.
	r := ratelimit.NewRedis(c, ratelimit.PerSecond(10), &ratelimit.RedisOptions{
		Prefix: s.Key("ours"), OnError: ratelimit.FailClosed, Budget: 10 * time.Second,
	})
	defer func() { _ = r.Close() }()
	rr := redis_rate.NewLimiter(c)
	oursLow, theirsLow := 0, 0
	for i := range 20 {
		k := fmt.Sprint("k", i)
		d, err := r.Allow(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		res, err := rr.Allow(ctx, s.Key("rr", k), redis_rate.PerSecond(10))
		if err != nil {
			t.Fatal(err)
		}
		if d.Remaining != 9 {
			oursLow++
		}
		if res.Remaining != 9 {
			theirsLow++
		}
	}
	if oursLow != 0 {
		t.Fatalf("stout: %d of 20 fresh keys did not report 9 remaining", oursLow)
	}
	if st := r.Stats(); st.Failures != 0 || st.Fallbacks != 0 {
		t.Fatalf("stout: decided without Redis: %+v", st)
	}
	t.Logf("redis_rate reported the wrong Remaining for %d of 20 fresh keys", theirsLow)
}
