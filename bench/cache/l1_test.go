// Package cachebench compares github.com/stout-go/stout/cache with other Go caches on the
// same data, side by side in one run.
package cachebench

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	gocache "github.com/go-redis/cache/v9"
	"github.com/maypok86/otter/v2"

	"github.com/stout-go/stout/cache"
)

// User is a typical cached row: about 200 bytes encoded.
type User struct {
	ID        int64     `json:"id" msgpack:"id"`
	Name      string    `json:"name" msgpack:"name"`
	Email     string    `json:"email" msgpack:"email"`
	Bio       string    `json:"bio" msgpack:"bio"`
	Roles     []string  `json:"roles" msgpack:"roles"`
	CreatedAt time.Time `json:"created_at" msgpack:"created_at"`
}

const numKeys = 1 << 10

func fixtures() ([]string, []User) {
	keys := make([]string, numKeys)
	users := make([]User, numKeys)
	for i := range keys {
		keys[i] = "user:" + strconv.Itoa(i)
		users[i] = User{
			ID:        int64(i),
			Name:      "User Number " + strconv.Itoa(i),
			Email:     "user" + strconv.Itoa(i) + "@example.com",
			Bio:       "Writes Go, reads papers about caches, and keeps a garden of tomatoes and peppers.",
			Roles:     []string{"reader", "writer"},
			CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		}
	}
	return keys, users
}

// getter is one implementation's hit path.
type getter func(key string) (User, bool)

func stoutGetter(b *testing.B, keys []string, users []User) getter {
	return stoutWith(b, keys, users, cache.Options{TTL: time.Hour, MaxEntries: 10 * numKeys})
}

// stoutCoarseGetter reads a clock a goroutine updates every millisecond.
func stoutCoarseGetter(b *testing.B, keys []string, users []User) getter {
	return stoutWith(b, keys, users, cache.Options{TTL: time.Hour, MaxEntries: 10 * numKeys, ClockResolution: time.Millisecond})
}

func stoutWith(b *testing.B, keys []string, users []User, o cache.Options) getter {
	c, err := cache.New[User](o)
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
	load := func(context.Context, string) (User, error) { return User{}, cache.ErrNotFound }
	return func(key string) (User, bool) {
		u, err := c.Get(ctx, key, load)
		return u, err == nil
	}
}

// otterGetter is the floor: the raw store stout is built on, configured the same way (size
// bound and per-entry expiry), read with GetIfPresent.
func otterGetter(b *testing.B, keys []string, users []User) getter {
	c, err := otter.New(&otter.Options[string, User]{
		MaximumSize:      10 * numKeys,
		ExpiryCalculator: otter.ExpiryWriting[string, User](time.Hour),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.StopAllGoroutines() })
	for i, k := range keys {
		c.Set(k, users[i])
	}
	return c.GetIfPresent
}

// otterPtrGetter is the raw store holding pointers, as stout's store does.
func otterPtrGetter(b *testing.B, keys []string, users []User) getter {
	c, err := otter.New(&otter.Options[string, *User]{
		MaximumSize:      10 * numKeys,
		ExpiryCalculator: otter.ExpiryWriting[string, *User](time.Hour),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.StopAllGoroutines() })
	for i, k := range keys {
		c.Set(k, &users[i])
	}
	return func(key string) (User, bool) {
		u, ok := c.GetIfPresent(key)
		if !ok {
			return User{}, false
		}
		return *u, true
	}
}

// goRedisCacheGetter is go-redis/cache with its local TinyLFU cache only (no Redis): a hit
// decodes msgpack from the local copy.
func goRedisCacheGetter(b *testing.B, keys []string, users []User) getter {
	c := gocache.New(&gocache.Options{LocalCache: gocache.NewTinyLFU(10*numKeys, time.Hour)})
	ctx := context.Background()
	for i, k := range keys {
		if err := c.Set(&gocache.Item{Ctx: ctx, Key: k, Value: users[i], TTL: time.Hour}); err != nil {
			b.Fatal(err)
		}
	}
	return func(key string) (User, bool) {
		var u User
		err := c.Get(ctx, key, &u)
		return u, err == nil
	}
}

// impls are the implementations compared, stout first.
var impls = []struct {
	name string
	make func(*testing.B, []string, []User) getter
}{
	{"stout", stoutGetter},
	{"stout-coarse", stoutCoarseGetter},
	{"otter", otterGetter},
	{"otter-ptr", otterPtrGetter},
	{"go-redis-cache", goRedisCacheGetter},
}

// BenchmarkL1Hit compares a hit from process memory: stout's Cache.Get, a raw otter
// GetIfPresent on the same data, and go-redis/cache's local-cache Get.
//
//	go test -run '^$' -bench L1Hit -count 6 ./cache > l1.txt
//	benchstat -col /impl l1.txt
func BenchmarkL1Hit(b *testing.B) {
	keys, users := fixtures()
	for _, mode := range []string{"serial", "parallel"} {
		for _, impl := range impls {
			b.Run("mode="+mode+"/impl="+impl.name, func(b *testing.B) {
				get := impl.make(b, keys, users)
				for _, k := range keys { // every key is there
					if _, ok := get(k); !ok {
						b.Fatalf("%s: miss for %s", impl.name, k)
					}
				}
				b.ReportAllocs()
				if mode == "serial" {
					i := 0
					for b.Loop() {
						if _, ok := get(keys[i&(numKeys-1)]); !ok {
							b.Fatal("miss")
						}
						i++
					}
					return
				}
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					i := 0
					for pb.Next() {
						if _, ok := get(keys[i&(numKeys-1)]); !ok {
							b.Error("miss")
							return
						}
						i++
					}
				})
			})
		}
	}
}

// BenchmarkL1HitInterleaved runs the implementations in turns, a batch of serial hits
// each, round after round (one round per b.N), and reports the median ns per hit of each
// and the ratios to stout. On a shared, noisy machine this holds up better than
// sub-benchmarks run one after another, which see different background load.
//
//	go test -run '^$' -bench L1HitInterleaved -benchtime 3s ./cache
func BenchmarkL1HitInterleaved(b *testing.B) {
	keys, users := fixtures()
	gets := make([]getter, len(impls))
	for i, impl := range impls {
		gets[i] = impl.make(b, keys, users)
	}
	const batch = 1 << 14
	samples := make([][]float64, len(impls))
	round := 0
	b.ReportAllocs()
	for b.Loop() {
		for k := range impls {
			i := (k + round) % len(impls) // rotate who goes first
			get := gets[i]
			start := time.Now()
			for j := range batch {
				if _, ok := get(keys[j&(numKeys-1)]); !ok {
					b.Fatal("miss")
				}
			}
			samples[i] = append(samples[i], float64(time.Since(start).Nanoseconds())/batch)
		}
		round++
	}
	names := make([]string, len(impls))
	for i, impl := range impls {
		names[i] = impl.name
	}
	reportMedians(b, names, samples, "ns/hit")
}

// reportMedians reports the median of each implementation's samples (names[i]'s in
// samples[i], in unit) and the first one's median divided by each other's, as
// "stout/<name>"; it returns the medians. ns/op is reported as 0: the batches, not
// b.N, are what was measured.
func reportMedians(b *testing.B, names []string, samples [][]float64, unit string) []float64 {
	med := make([]float64, len(names))
	for i, name := range names {
		slices.Sort(samples[i])
		med[i] = samples[i][len(samples[i])/2]
		b.ReportMetric(med[i], name+"-"+unit)
	}
	for i := 1; i < len(names); i++ {
		b.ReportMetric(med[0]/med[i], "stout/"+names[i])
	}
	b.ReportMetric(0, "ns/op")
	return med
}
