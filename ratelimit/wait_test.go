package ratelimit

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWait(t *testing.T) {
	t.Run("waits exactly the delay", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx := context.Background()
			m := NewMemory(Limit{Rate: 2, Burst: 2}, nil)
			start := time.Now()
			for range 5 {
				require.NoError(t, m.Wait(ctx, "k"))
			}
			// 2 at once, then one per 500ms.
			assert.Equal(t, 1500*time.Millisecond, time.Since(start))
		})
	})
	t.Run("fails at once past the deadline and spends nothing", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			m := NewMemory(Limit{Rate: 1, Burst: 1}, nil)
			require.NoError(t, m.Wait(context.Background(), "k"))
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := m.Wait(ctx, "k")
			require.ErrorIs(t, err, ErrWouldExceedDeadline)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			assert.Zero(t, time.Since(start), "no sleeping")
			d, _ := m.Peek(context.Background(), "k")
			assert.Equal(t, time.Second, d.ResetAfter, "nothing was booked")
		})
	})
	t.Run("deadline long enough", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			m := NewMemory(Limit{Rate: 1, Burst: 1}, nil)
			require.NoError(t, m.Wait(context.Background(), "k"))
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			require.NoError(t, m.Wait(ctx, "k"))
		})
	})
	t.Run("cancel while waiting refunds", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			m := NewMemory(Limit{Rate: 1, Burst: 1}, nil)
			require.NoError(t, m.Wait(context.Background(), "k"))
			ctx, cancel := context.WithCancel(context.Background())
			var err error
			var wg sync.WaitGroup
			wg.Go(func() { err = m.WaitN(ctx, "k", 1) })
			time.Sleep(300 * time.Millisecond)
			synctest.Wait()
			cancel()
			wg.Wait()
			require.ErrorIs(t, err, context.Canceled)
			d, _ := m.Peek(context.Background(), "k")
			assert.Equal(t, 700*time.Millisecond, d.ResetAfter, "the cancelled wait gave its token back")
		})
	})
	t.Run("errors", func(t *testing.T) {
		m := NewMemory(Limit{Rate: 1, Burst: 1}, nil)
		assert.ErrorIs(t, m.WaitN(context.Background(), "k", 2), ErrCostExceedsBurst)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		assert.True(t, errors.Is(m.Wait(ctx, "k"), context.Canceled))
	})
	t.Run("many waiters are paced", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			m := NewMemory(Limit{Rate: 10, Burst: 1}, nil)
			start := time.Now()
			var mu sync.Mutex
			var times []time.Duration
			var wg sync.WaitGroup
			for range 20 {
				wg.Go(func() {
					require.NoError(t, m.Wait(context.Background(), "k"))
					mu.Lock()
					times = append(times, time.Since(start))
					mu.Unlock()
				})
			}
			wg.Wait()
			require.Len(t, times, 20)
			// 20 waiters at 10/s with burst 1: the last goes at 1.9s; no two at once.
			seen := map[time.Duration]bool{}
			for _, d := range times {
				assert.False(t, seen[d], "two waiters at %v", d)
				seen[d] = true
			}
			assert.Equal(t, 1900*time.Millisecond, time.Since(start))
		})
	})
}
