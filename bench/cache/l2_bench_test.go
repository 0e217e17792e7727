package cachebench

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gocache "github.com/go-redis/cache/v9"
	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/stout-go/stout/bench/internal/cputime"
	"github.com/stout-go/stout/cache"
	"github.com/stout-go/stout/internal/redistest"
)

// l2Keys is how many keys the L2 benchmarks spread their reads over.
const l2Keys = 64

// tripCounter is a go-redis hook counting round trips: one per command sent alone,
// one per pipeline.
type tripCounter struct{ n atomic.Int64 }

func (h *tripCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *tripCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h *tripCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// l2Impl is one implementation of a Redis hit: nothing is kept in process memory, so
// every Get reads Redis and decodes.
type l2Impl struct {
	name string
	new  func(b *testing.B, rdb *redis.Client, prefix string, keys []string, users []User) func(ctx context.Context, key string) (User, error)
}

// msgpackCodec is the codec go-redis/cache uses, for a comparison on equal terms.
type msgpackCodec struct{}

func (msgpackCodec) Marshal(v any) ([]byte, error)      { return msgpack.Marshal(v) }
func (msgpackCodec) Unmarshal(data []byte, v any) error { return msgpack.Unmarshal(data, v) }

// stoutL2 is stout's Cache with L1 off and the given codec, in namespace ns.
func stoutL2(ns string, codec cache.Codec) func(b *testing.B, rdb *redis.Client, prefix string, keys []string, users []User) func(context.Context, string) (User, error) {
	return func(b *testing.B, rdb *redis.Client, prefix string, keys []string, users []User) func(context.Context, string) (User, error) {
		c, err := cache.New[User](cache.Options{
			Namespace:  ns,
			TTL:        time.Hour,
			MaxEntries: -1, // L2 only: measure the Redis hit
			Codec:      codec,
			// A generous budget: on a loaded machine a call past the default 250 ms
			// would fail open to the loader, which this benchmark reports as a miss.
			Redis: &cache.RedisOptions{Client: rdb, Prefix: prefix + "stout", Budget: 5 * time.Second},
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = c.Close() })
		ctx := context.Background()
		for i, k := range keys {
			if err := c.Set(ctx, k, users[i]); err != nil {
				b.Fatal(err)
			}
		}
		miss := func(ctx context.Context, key string) (User, error) {
			b.Errorf("stout: %s missed: %+v", key, c.Stats().Redis)
			return User{}, nil
		}
		return func(ctx context.Context, key string) (User, error) { return c.Get(ctx, key, miss) }
	}
}

var l2Impls = []l2Impl{
	{"stout", stoutL2("user", nil)},
	{"stout-msgpack", stoutL2("user-msgpack", msgpackCodec{})},
	{"go-redis-cache", func(b *testing.B, rdb *redis.Client, prefix string, keys []string, users []User) func(context.Context, string) (User, error) {
		c := gocache.New(&gocache.Options{Redis: rdb})
		ctx := context.Background()
		for i, k := range keys {
			if err := c.Set(&gocache.Item{Ctx: ctx, Key: prefix + "grc:" + k, Value: users[i], TTL: time.Hour}); err != nil {
				b.Fatal(err)
			}
		}
		return func(ctx context.Context, key string) (User, error) {
			var u User
			err := c.Get(ctx, prefix+"grc:"+key, &u)
			return u, err
		}
	}},
	{"raw-get-json", func(b *testing.B, rdb *redis.Client, prefix string, keys []string, users []User) func(context.Context, string) (User, error) {
		ctx := context.Background()
		for i, k := range keys {
			raw, _ := json.Marshal(users[i])
			if err := rdb.Set(ctx, prefix+"raw:"+k, raw, time.Hour).Err(); err != nil {
				b.Fatal(err)
			}
		}
		return func(ctx context.Context, key string) (User, error) {
			var u User
			raw, err := rdb.Get(ctx, prefix+"raw:"+key).Bytes()
			if err == nil {
				err = json.Unmarshal(raw, &u)
			}
			return u, err
		}
	}},
}

// BenchmarkL2Hit reads values that are in Redis and not in process memory: stout's
// Cache.Get (L1 off), go-redis/cache's Get (no local cache) and the physical floor, a
// raw GET plus json.Unmarshal, on the same server. trips/op counts Redis round trips.
func BenchmarkL2Hit(b *testing.B) {
	srv := redistest.Start(b)
	keys, users := fixtures()
	keys, users = keys[:l2Keys], users[:l2Keys]
	ctx := context.Background()
	type ready struct {
		name string
		get  func(ctx context.Context, key string) (User, error)
		hook *tripCounter
	}
	var impls []ready
	admin := srv.Client(b)
	for _, impl := range l2Impls {
		hook := &tripCounter{}
		rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
		b.Cleanup(func() { _ = rdb.Close() })
		get := impl.new(b, rdb, srv.Prefix, keys, users)
		rdb.AddHook(hook)
		impls = append(impls, ready{impl.name, get, hook})
	}
	for _, im := range impls {
		b.Run("mode=serial/impl="+im.name, func(b *testing.B) {
			b.ReportAllocs()
			start := im.hook.n.Load()
			cpu := startCPU(ctx, admin)
			i := 0
			for b.Loop() {
				if _, err := im.get(ctx, keys[i%l2Keys]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			cpu.report(b)
			b.ReportMetric(float64(im.hook.n.Load()-start)/float64(b.N), "trips/op")
		})
	}
	for _, im := range impls {
		b.Run("mode=parallel/impl="+im.name, func(b *testing.B) {
			b.ReportAllocs()
			start := im.hook.n.Load()
			cpu := startCPU(ctx, admin)
			runParallelHits(b, ctx, im.get, keys)
			cpu.report(b)
			b.ReportMetric(float64(im.hook.n.Load()-start)/float64(b.N), "trips/op")
		})
	}
	// A service serves many requests at once per core: 8 goroutines per processor.
	for _, im := range impls {
		b.Run("mode=concurrent/impl="+im.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(8)
			start := im.hook.n.Load()
			cpu := startCPU(ctx, admin)
			runParallelHits(b, ctx, im.get, keys)
			cpu.report(b)
			b.ReportMetric(float64(im.hook.n.Load()-start)/float64(b.N), "trips/op")
		})
	}
}

// cpuMark is where a benchmark started, in CPU time of this process and of Redis.
type cpuMark struct {
	admin     *redis.Client
	proc, srv time.Duration
}

func startCPU(ctx context.Context, admin *redis.Client) cpuMark {
	return cpuMark{admin: admin, proc: cputime.Process(), srv: cputime.Redis(ctx, admin)}
}

// report adds the CPU time per operation of the client process (cpu-ns/op) and of the
// Redis server (redis-cpu-ns/op) since m: the cost of a hit, unlike wall time, does
// not count what other jobs on the machine do.
func (m cpuMark) report(b *testing.B) {
	proc, srv := cputime.Process()-m.proc, cputime.Redis(context.Background(), m.admin)-m.srv
	b.ReportMetric(float64(proc)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(srv)/float64(b.N), "redis-cpu-ns/op")
}

// runParallelHits reads keys with get from b's parallel goroutines, each in its own
// random order (so that two goroutines want the same key at the same moment only by
// chance, as requests of a service do).
func runParallelHits(b *testing.B, ctx context.Context, get func(context.Context, string) (User, error), keys []string) {
	var seed atomic.Uint64
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(seed.Add(1), 0x5eed))
		for pb.Next() {
			if _, err := get(ctx, keys[r.IntN(len(keys))]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkL2HitInterleaved runs the implementations of BenchmarkL2Hit in turns, in
// rounds: each round every implementation serves 256 hits, spread over the mode's
// goroutines (serial: 1; parallel: one per processor; concurrent: 8 per processor,
// random keys), in an order rotated every round. It reports each one's median µs per
// hit and stout's time divided by the others'. On a shared machine whose load drifts
// this is steadier than sub-benchmarks run one after another.
func BenchmarkL2HitInterleaved(b *testing.B) {
	srv := redistest.Start(b)
	keys, users := fixtures()
	keys, users = keys[:l2Keys], users[:l2Keys]
	gets := make([]func(context.Context, string) (User, error), len(l2Impls))
	for i, impl := range l2Impls {
		rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
		b.Cleanup(func() { _ = rdb.Close() })
		gets[i] = impl.new(b, rdb, srv.Prefix, keys, users)
	}
	procs := runtime.GOMAXPROCS(0)
	for _, mode := range []struct {
		name       string
		goroutines int
	}{{"serial", 1}, {"parallel", procs}, {"concurrent", 8 * procs}} {
		b.Run("mode="+mode.name, func(b *testing.B) {
			interleave(b, gets, keys, mode.goroutines)
		})
	}
}

// interleave is one mode of BenchmarkL2HitInterleaved.
func interleave(b *testing.B, gets []func(context.Context, string) (User, error), keys []string, goroutines int) {
	ctx := context.Background()
	const batch = 256
	samples := make([][]float64, len(gets))
	round := 0
	for b.Loop() {
		for k := range gets {
			i := (k + round) % len(gets)
			var wg sync.WaitGroup
			start := time.Now()
			for g := range goroutines {
				wg.Go(func() {
					r := rand.New(rand.NewPCG(uint64(round), uint64(g)))
					for j := g; j < batch; j += goroutines {
						key := keys[j%len(keys)]
						if goroutines > 1 {
							key = keys[r.IntN(len(keys))]
						}
						if _, err := gets[i](ctx, key); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			samples[i] = append(samples[i], float64(time.Since(start).Nanoseconds())/batch/1e3)
		}
		round++
	}
	names := make([]string, len(l2Impls))
	for i, impl := range l2Impls {
		names[i] = impl.name
	}
	med := reportMedians(b, names, samples, "µs/hit")
	b.ReportMetric(med[1]/med[2], "stout-msgpack/go-redis-cache")
}
