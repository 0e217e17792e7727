package l2

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// closed reports whether ch is closed.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// registered returns how many budgets k holds, and whether its goroutine runs.
func registered(k *budgetClock) (n int, running bool) {
	for i := range k.shards {
		sh := &k.shards[i]
		sh.mu.Lock()
		for c := sh.head; c != nil; c = c.next {
			n++
		}
		sh.mu.Unlock()
	}
	return n, k.running.Load()
}

type budgetKey struct{}

// Done closes no earlier than the deadline and within one resolution after it; Err is
// nil until then, DeadlineExceeded after; the clock's goroutine then exits.
func TestBudgetDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const budget = 160 * time.Millisecond
		k := newBudgetClock(budget)
		defer k.close()
		require.Equal(t, 10*time.Millisecond, k.res)
		start := time.Now()
		ctx, cancel := withBudget(context.Background(), k, start.Add(budget))
		defer cancel()
		dl, ok := ctx.Deadline()
		require.True(t, ok)
		assert.Equal(t, start.Add(budget), dl)

		var closedAt time.Time
		done := make(chan struct{})
		go func() {
			<-ctx.Done()
			closedAt = time.Now()
			close(done)
		}()
		time.Sleep(budget - time.Nanosecond)
		synctest.Wait()
		assert.False(t, closed(done), "Done closed before the deadline")
		require.NoError(t, ctx.Err())
		n, running := registered(k)
		assert.Equal(t, 1, n)
		assert.True(t, running)

		<-done
		assert.False(t, closedAt.Before(dl), "Done closed before the deadline")
		assert.LessOrEqual(t, closedAt.Sub(dl), k.res, "Done closed more than a resolution after the deadline")
		assert.ErrorIs(t, ctx.Err(), context.DeadlineExceeded)
		cancel()
		assert.ErrorIs(t, ctx.Err(), context.DeadlineExceeded, "cancel after the end keeps the error")

		time.Sleep(k.res)
		synctest.Wait()
		n, running = registered(k)
		assert.Zero(t, n)
		assert.False(t, running, "an idle clock keeps no goroutine")
	})
}

// The same on the real clock, with bounds a loaded machine keeps.
func TestBudgetDeadlineRealTime(t *testing.T) {
	t.Parallel()
	// The exact timing is checked on the fake clock above; here the bounds leave room for
	// a loaded machine's stalls.
	const budget = time.Second
	k := newBudgetClock(budget)
	defer k.close()
	start := time.Now()
	ctx, cancel := withBudget(context.Background(), k, start.Add(budget))
	defer cancel()
	select {
	case <-ctx.Done():
		if time.Since(start) < budget {
			t.Fatal("Done closed before the deadline")
		}
	case <-time.After(budget / 10):
	}
	<-ctx.Done()
	elapsed := time.Since(start)
	assert.GreaterOrEqual(t, elapsed, budget, "Done closed before the deadline")
	assert.Less(t, elapsed, budget+2*time.Second, "Done closed long after the deadline")
	assert.ErrorIs(t, ctx.Err(), context.DeadlineExceeded)
}

// Err reads the clock: once the deadline passed it reports it (and closes Done) without
// waiting for the clock's tick, and without registering a budget never asked for Done.
func TestBudgetErrWithoutDone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := newBudgetClock(time.Second)
		defer k.close()
		ctx, cancel := withBudget(context.Background(), k, time.Now().Add(time.Second))
		defer cancel()
		require.NoError(t, ctx.Err())
		time.Sleep(time.Second)
		assert.ErrorIs(t, ctx.Err(), context.DeadlineExceeded)
		assert.True(t, closed(ctx.Done()))
		n, running := registered(k)
		assert.Zero(t, n)
		assert.False(t, running, "a budget never asked for Done starts no goroutine")
	})
}

// Cancel before Done was asked for, and after: Done closes with Canceled, the clock lets
// go of the budget, and cancel is idempotent.
func TestBudgetCancel(t *testing.T) {
	t.Parallel()
	k := newBudgetClock(time.Second)
	defer k.close()

	t.Run("before Done", func(t *testing.T) {
		ctx, cancel := withBudget(context.Background(), k, time.Now().Add(time.Hour))
		require.NoError(t, ctx.Err())
		cancel()
		assert.ErrorIs(t, ctx.Err(), context.Canceled)
		assert.True(t, closed(ctx.Done()))
		n, _ := registered(k)
		assert.Zero(t, n, "a budget never asked for Done is not registered")
		cancel()
		assert.ErrorIs(t, ctx.Err(), context.Canceled)
	})
	t.Run("after Done", func(t *testing.T) {
		ctx, cancel := withBudget(context.Background(), k, time.Now().Add(time.Hour))
		d := ctx.Done()
		assert.Equal(t, d, ctx.Done(), "Done returns the same channel")
		assert.False(t, closed(d))
		require.NoError(t, ctx.Err())
		n, _ := registered(k)
		assert.Equal(t, 1, n)
		cancel()
		assert.True(t, closed(d))
		assert.ErrorIs(t, ctx.Err(), context.Canceled)
		n, _ = registered(k)
		assert.Zero(t, n, "cancel deregisters")
		cancel()
		assert.ErrorIs(t, ctx.Err(), context.Canceled)
	})
}

// The parent's end ends the budget with the parent's error, whether Done was asked for
// before or after; a parent deadline no later than the budget's is kept as is.
func TestBudgetParent(t *testing.T) {
	t.Parallel()
	k := newBudgetClock(time.Second)
	defer k.close()

	t.Run("cancel after Done", func(t *testing.T) {
		parent, pcancel := context.WithCancel(context.Background())
		ctx, cancel := withBudget(parent, k, time.Now().Add(time.Hour))
		defer cancel()
		d := ctx.Done()
		require.NoError(t, ctx.Err())
		pcancel()
		select {
		case <-d:
		case <-time.After(10 * time.Second):
			t.Fatal("the parent's cancellation did not close Done")
		}
		assert.ErrorIs(t, ctx.Err(), context.Canceled)
	})
	t.Run("cancel before Done", func(t *testing.T) {
		parent, pcancel := context.WithCancel(context.Background())
		ctx, cancel := withBudget(parent, k, time.Now().Add(time.Hour))
		defer cancel()
		pcancel()
		assert.ErrorIs(t, ctx.Err(), context.Canceled, "Err sees the parent's end at once")
		assert.True(t, closed(ctx.Done()))
		n, _ := registered(k)
		assert.Zero(t, n)
	})
	t.Run("earlier parent deadline", func(t *testing.T) {
		parent, pcancel := context.WithTimeout(context.Background(), time.Minute)
		defer pcancel()
		ctx, cancel := withBudget(parent, k, time.Now().Add(time.Hour))
		defer cancel()
		assert.Equal(t, parent, ctx, "a budget past the parent's deadline is the parent")
		cancel()
		assert.NoError(t, parent.Err(), "its cancel does nothing")
	})
	t.Run("later parent deadline and values", func(t *testing.T) {
		parent, pcancel := context.WithTimeout(context.WithValue(context.Background(), budgetKey{}, "v"), time.Hour)
		defer pcancel()
		dl := time.Now().Add(time.Minute)
		ctx, cancel := withBudget(parent, k, dl)
		defer cancel()
		got, ok := ctx.Deadline()
		assert.True(t, ok)
		assert.Equal(t, dl, got)
		assert.Equal(t, "v", ctx.Value(budgetKey{}))
		assert.Nil(t, ctx.Value("other"))
		// A child of the budget ends with it.
		child, ccancel := context.WithCancel(ctx)
		defer ccancel()
		cancel()
		select {
		case <-child.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("the child did not end with the budget")
		}
		assert.ErrorIs(t, child.Err(), context.Canceled)
		assert.NoError(t, parent.Err(), "the budget's end does not reach its parent")
	})
}

// Closing the clock ends the budgets waiting on it with Canceled and waits for its
// goroutine; a budget asking for Done afterwards ends at once.
func TestBudgetClockClose(t *testing.T) {
	t.Parallel()
	k := newBudgetClock(time.Second)
	var ctxs []context.Context
	for range 5 {
		ctx, cancel := withBudget(context.Background(), k, time.Now().Add(time.Hour))
		defer cancel()
		_ = ctx.Done()
		ctxs = append(ctxs, ctx)
	}
	k.close()
	for _, ctx := range ctxs {
		assert.True(t, closed(ctx.Done()))
		assert.ErrorIs(t, ctx.Err(), context.Canceled)
	}
	n, running := registered(k)
	assert.Zero(t, n)
	assert.False(t, running)

	ctx, cancel := withBudget(context.Background(), k, time.Now().Add(time.Hour))
	defer cancel()
	assert.True(t, closed(ctx.Done()))
	assert.ErrorIs(t, ctx.Err(), context.Canceled)
	k.close()
}

// Store.Close ends the budgets of calls in flight and stops the clock (goleak, in
// TestMain, sees that no goroutine is left).
func TestBudgetStoreClose(t *testing.T) {
	t.Parallel()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer func() { _ = c.Close() }()
	s, err := New(Options{Client: c, Prefix: "p", Namespace: "ns", Budget: time.Hour})
	require.NoError(t, err)
	ctx, cancel := s.budget(context.Background())
	defer cancel()
	d := ctx.Done()
	require.NoError(t, ctx.Err())
	require.NoError(t, s.Close())
	assert.True(t, closed(d))
	assert.ErrorIs(t, ctx.Err(), context.Canceled)
}

// Many goroutines create budgets with close deadlines, ask for Done or not, wait for
// them, cancel them or cancel their parents, all at once; every budget ends with an
// error matching how it ended, and the clock ends up empty and idle.
func TestBudgetStress(t *testing.T) {
	t.Parallel()
	k := newBudgetClock(0) // one millisecond
	defer k.close()
	const workers, each = 16, 300
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for range each {
				if !stressBudget(t, k, r) {
					return
				}
			}
		})
	}
	wg.Wait()
	n, _ := registered(k)
	assert.Zero(t, n, "every budget let go of the clock")
	assert.Eventually(t, func() bool { _, running := registered(k); return !running },
		10*time.Second, time.Millisecond, "the idle clock's goroutine exits")
}

// stressBudget runs one budget of TestBudgetStress, chosen by r, and reports whether it
// ended as it should.
func stressBudget(t *testing.T, k *budgetClock, r *rand.Rand) bool {
	parent := context.Background()
	pcancel := func() {}
	if r.IntN(3) == 0 {
		var pc context.CancelFunc
		parent, pc = context.WithCancel(parent)
		pcancel = pc
	}
	defer pcancel()
	dl := time.Now().Add(time.Duration(r.IntN(3000)) * time.Microsecond)
	ctx, cancel := withBudget(parent, k, dl)
	defer cancel()
	ended := func() bool {
		err := ctx.Err()
		return assert.True(t, err == context.Canceled || err == context.DeadlineExceeded, "Err = %v", err)
	}
	switch r.IntN(5) {
	case 0: // wait for the deadline
		<-ctx.Done()
		if !assert.ErrorIs(t, ctx.Err(), context.DeadlineExceeded) || !assert.False(t, time.Now().Before(dl)) {
			return false
		}
	case 1: // cancel while waited on
		d := ctx.Done()
		go cancel()
		<-d
		if !ended() {
			return false
		}
	case 2: // the parent ends
		d := ctx.Done()
		go pcancel()
		<-d
		if !ended() {
			return false
		}
	case 3: // cancel without asking for Done
		cancel()
		if !ended() {
			return false
		}
	default: // ask for Done and return before the end
		_ = ctx.Done()
	}
	cancel()
	return assert.True(t, closed(ctx.Done()))
}

// A budget that is asked for Done, as go-redis does for every command, costs at most three
// allocations (the context, its CancelFunc and its channel) and no timer.
func TestBudgetAllocs(t *testing.T) {
	k := newBudgetClock(time.Second)
	defer k.close()
	allocs := testing.AllocsPerRun(1000, func() {
		ctx, cancel := withBudget(context.Background(), k, time.Now().Add(time.Second))
		_ = ctx.Done()
		_ = ctx.Err()
		cancel()
	})
	assert.LessOrEqual(t, allocs, 3.0)
}

// BenchmarkBudget compares a budget asked for Done with context.WithTimeout.
func BenchmarkBudget(b *testing.B) {
	k := newBudgetClock(250 * time.Millisecond)
	defer k.close()
	b.Run("impl=clock", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				ctx, cancel := withBudget(context.Background(), k, time.Now().Add(250*time.Millisecond))
				_ = ctx.Done()
				_ = ctx.Err()
				cancel()
			}
		})
	})
	b.Run("impl=WithTimeout", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
				_ = ctx.Done()
				_ = ctx.Err()
				cancel()
			}
		})
	})
}
