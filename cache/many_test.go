package cache

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGetMany(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newTest[string](t, Options{Clock: newFakeClock()})
		require.NoError(t, c.Set(t.Context(), "a", "A"))
		require.NoError(t, c.Set(t.Context(), "b", "B"))

		// "c" is being loaded by a single-key Get.
		g := newGate(func(int64) (string, error) { return "C", nil })
		var wg sync.WaitGroup
		wg.Go(func() {
			v, err := c.Get(t.Context(), "c", g.load)
			assert.NoError(t, err)
			assert.Equal(t, "C", v)
		})
		<-g.started

		var batches [][]string
		var mu sync.Mutex
		batch := func(ctx context.Context, keys []string) (map[string]string, error) {
			mu.Lock()
			batches = append(batches, slices.Clone(keys))
			mu.Unlock()
			return map[string]string{"d": "D", "c": "wrong", "zzz": "ignored"}, nil // no "e": it does not exist
		}
		var got map[string]string
		var err error
		wg.Go(func() { got, err = c.GetMany(t.Context(), []string{"a", "b", "c", "d", "e", "d", "a"}, batch) })
		synctest.Wait()
		close(g.release)
		wg.Wait()

		require.NoError(t, err)
		assert.Equal(t, map[string]string{"a": "A", "b": "B", "c": "C", "d": "D"}, got)
		require.Len(t, batches, 1, "one batch-loader call")
		slices.Sort(batches[0])
		assert.Equal(t, []string{"d", "e"}, batches[0], "exactly the missing keys, not those in flight")

		// Each key was stored individually; "e" is remembered as not found.
		v, err := c.Get(t.Context(), "d", nil)
		require.NoError(t, err)
		assert.Equal(t, "D", v)
		_, err = c.Get(t.Context(), "e", nil)
		require.ErrorIs(t, err, ErrNotFound)
		v, err = c.Get(t.Context(), "c", nil)
		require.NoError(t, err)
		assert.Equal(t, "C", v)

		// All hits: no batch call.
		got, err = c.GetMany(t.Context(), []string{"a", "d", "e"}, batch)
		require.NoError(t, err)
		assert.Equal(t, map[string]string{"a": "A", "d": "D"}, got)
		assert.Len(t, batches, 1)
	})
}

func TestGetManyJoinedBySingleGet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newTest[string](t, Options{Clock: newFakeClock()})
		release := make(chan struct{})
		var calls atomic.Int64
		batch := func(ctx context.Context, keys []string) (map[string]string, error) {
			calls.Add(1)
			<-release
			return map[string]string{"x": "X"}, nil
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			m, err := c.GetMany(t.Context(), []string{"x"}, batch)
			assert.NoError(t, err)
			assert.Equal(t, "X", m["x"])
		})
		synctest.Wait()
		wg.Go(func() {
			v, err := c.Get(t.Context(), "x", func(context.Context, string) (string, error) {
				return "", errors.New("must join the batch")
			})
			assert.NoError(t, err)
			assert.Equal(t, "X", v)
		})
		synctest.Wait()
		close(release)
		wg.Wait()
		assert.Equal(t, int64(1), calls.Load())
		assert.Equal(t, uint64(1), c.Stats().Coalesced)
	})
}

func TestGetManyErrors(t *testing.T) {
	errDB := errors.New("db down")
	t.Run("batch error", func(t *testing.T) {
		c := newTest[int](t, Options{})
		require.NoError(t, c.Set(t.Context(), "hit", 1))
		m, err := c.GetMany(t.Context(), []string{"hit", "miss"}, func(context.Context, []string) (map[string]int, error) {
			return nil, errDB
		})
		require.ErrorIs(t, err, errDB)
		assert.Equal(t, map[string]int{"hit": 1}, m, "values that were there are returned with the error")
		assert.Equal(t, uint64(1), c.Stats().LoadErrors)
		_, err = c.Get(t.Context(), "miss", func(context.Context, string) (int, error) { return 2, nil })
		require.NoError(t, err, "the error was not cached")
	})
	t.Run("panic", func(t *testing.T) {
		c := newTest[int](t, Options{})
		_, err := c.GetMany(t.Context(), []string{"a", "b"}, func(context.Context, []string) (map[string]int, error) {
			panic(errDB)
		})
		var pe *PanicError
		require.ErrorAs(t, err, &pe)
		require.ErrorIs(t, err, errDB)
	})
	t.Run("caller cancel", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			c := newTest[int](t, Options{Clock: newFakeClock()})
			release := make(chan struct{})
			ctx, cancel := context.WithCancel(t.Context())
			var err error
			done := make(chan struct{})
			go func() {
				defer close(done)
				_, err = c.GetMany(ctx, []string{"a"}, func(context.Context, []string) (map[string]int, error) {
					<-release
					return map[string]int{"a": 1}, nil
				})
			}()
			synctest.Wait()
			cancel()
			<-done
			require.ErrorIs(t, err, context.Canceled)
			close(release)
			synctest.Wait()
			v, err := c.Get(t.Context(), "a", nil)
			require.NoError(t, err, "the load went on and was cached")
			assert.Equal(t, 1, v)
		})
	})
}

func TestGetManyNoStaleSet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newTest[string](t, Options{Clock: newFakeClock()})
		release := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			m, err := c.GetMany(t.Context(), []string{"a", "b"}, func(context.Context, []string) (map[string]string, error) {
				<-release
				return map[string]string{"a": "old a", "b": "old b"}, nil
			})
			assert.NoError(t, err)
			assert.Equal(t, map[string]string{"a": "old a", "b": "old b"}, m)
		})
		synctest.Wait()
		require.NoError(t, c.Invalidate(t.Context(), "a"))
		close(release)
		wg.Wait()
		v, err := c.Get(t.Context(), "a", func(context.Context, string) (string, error) { return "new a", nil })
		require.NoError(t, err)
		assert.Equal(t, "new a", v, "the invalidated key was not stored")
		v, err = c.Get(t.Context(), "b", nil)
		require.NoError(t, err)
		assert.Equal(t, "old b", v, "the untouched key was")
	})
}
