package cache

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNoStaleSetStress checks the no-stale-set guarantee under -race with many goroutines:
// writers bump a key's version in the source and then invalidate it (one key, or all);
// after an invalidation returns, no Get may return a version older than the one written
// before it. Every Get checks that, against the newest version whose invalidation had
// returned before the Get started, while other Gets keep loads of old versions in flight.
func TestNoStaleSetStress(t *testing.T) {
	const keys = 4
	c := newTest[int64](t, Options{Beta: -1})
	var src [keys]atomic.Int64
	var floor [keys]atomic.Int64 // newest version whose invalidation has returned
	check := func(i int, v, min int64) bool {
		if v < min {
			t.Errorf("key %d: got version %d after the invalidation of version %d returned", i, v, min)
			return false
		}
		return true
	}
	load := func(ctx context.Context, key string) (int64, error) {
		i, _ := strconv.Atoi(key)
		v := src[i].Load()
		runtime.Gosched() // widen the window between the read and the store
		return v, nil
	}
	ctx := context.Background()
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 4 {
		readers.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := i % keys
				min := floor[k].Load()
				v, err := c.Get(ctx, strconv.Itoa(k), load)
				assert.NoError(t, err)
				if !check(k, v, min) {
					return
				}
			}
		})
	}
	var writers sync.WaitGroup
	for w := range 4 {
		writers.Go(func() {
			for n := range 150 {
				i := (w + n) % keys
				key := strconv.Itoa(i)
				written := src[i].Add(1)
				if n%10 == 0 {
					require.NoError(t, c.InvalidateAll(ctx))
				} else {
					require.NoError(t, c.Invalidate(ctx, key))
				}
				for m := floor[i].Load(); m < written && !floor[i].CompareAndSwap(m, written); m = floor[i].Load() {
				}
				v, err := c.Get(ctx, key, load)
				require.NoError(t, err)
				if !check(i, v, written) {
					return
				}
			}
		})
	}
	writers.Wait()
	close(stop)
	readers.Wait()
}
