package l2

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stout-go/stout/internal/redistest"
)

// leaseAt returns whether the data key of key under s's version holds a lease.
func leaseAt(t *testing.T, c Client, s *Store, key string) bool {
	t.Helper()
	raw, err := getBytes(c.Get(context.Background(), s.DataKey(s.Stats().Version, key)))
	require.NoError(t, err)
	return raw != nil && isLease(raw)
}

func TestGetManyWaitsForOtherHolders(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, newClient func() Client, prefix string) {
		ctx := context.Background()
		c := newClient()
		a := newStore(t, c, prefix, Options{})
		b := newStore(t, newClient(), prefix, Options{LeaseWait: time.Second})
		ready(t, a)
		ready(t, b)

		held, err := a.GetMany(ctx, []string{"put", "released", "kept"})
		require.NoError(t, err)
		for _, l := range held {
			require.True(t, l.Fill.Leased())
			require.False(t, l.Wait)
		}
		got, err := b.GetMany(ctx, []string{"put", "released", "kept", "free"})
		require.NoError(t, err)
		for i, l := range got[:3] {
			require.True(t, l.Wait, i)
			require.False(t, l.Fill.Writes(), "a waited-for key's fill writes nothing")
		}
		require.False(t, got[3].Wait)
		require.True(t, got[3].Fill.Leased())

		type result struct {
			ls  []Lookup
			err error
		}
		done := make(chan result, 1)
		go func() {
			ls, err := b.WaitMany(ctx, []Fill{got[0].Fill, got[1].Fill, got[2].Fill})
			done <- result{ls, err}
		}()
		require.Eventually(t, func() bool { return b.Stats().LeaseWaits == 3 }, 10*time.Second, time.Millisecond)
		// a fills one key, gives up another and keeps the third: one round trip.
		stored, err := a.FinishMany(ctx, []Put{{Fill: held[0].Fill, Entry: entry("v"), TTL: time.Minute}}, []Fill{held[1].Fill})
		require.NoError(t, err)
		require.Equal(t, []bool{true}, stored)

		var r result
		select {
		case r = <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("WaitMany did not return")
		}
		require.NoError(t, r.err)
		require.Len(t, r.ls, 3)
		require.True(t, r.ls[0].Hit, "the holder's value")
		assert.Equal(t, "v", string(r.ls[0].Entry.Payload))
		require.False(t, r.ls[1].Hit)
		assert.True(t, r.ls[1].Fill.Leased(), "a released lease is taken over")
		assert.True(t, leaseAt(t, c, a, "released"))
		require.False(t, r.ls[2].Hit)
		assert.False(t, r.ls[2].Fill.Writes(), "the wait ran out: load without writing")
		st := b.Stats()
		assert.Equal(t, uint64(3), st.LeaseWaits)
		assert.Equal(t, uint64(1), st.LeaseWaitHits)
		assert.Equal(t, uint64(1), st.LeaseTimeouts)

		// The taken-over lease fences like any other.
		stored, err = b.PutMany(ctx, []Put{{Fill: r.ls[1].Fill, Entry: entry("w"), TTL: time.Minute}})
		require.NoError(t, err)
		assert.Equal(t, []bool{true}, stored)
	})
}

func TestWaitManyEndsWithContext(t *testing.T) {
	srv := redistest.Start(t)
	a := newStore(t, srv.Client(t), srv.Prefix, Options{})
	b := newStore(t, srv.Client(t), srv.Prefix, Options{LeaseWait: time.Minute})
	ready(t, a)
	ready(t, b)
	_, err := a.GetMany(t.Context(), []string{"k"})
	require.NoError(t, err)
	got, err := b.GetMany(t.Context(), []string{"k"})
	require.NoError(t, err)
	require.True(t, got[0].Wait)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = b.WaitMany(ctx, []Fill{got[0].Fill})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 10*time.Second)
}

// cutLeases makes, once armed, the pipeline that takes GetMany's leases look to the
// client as if it failed after the server ran it: the caller's context cancelled (cancel
// set) or the budget run out (cancel nil).
type cutLeases struct {
	armed  atomic.Bool
	cancel context.CancelFunc
}

func (h *cutLeases) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *cutLeases) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *cutLeases) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		leases := slices.ContainsFunc(cmds, func(c redis.Cmder) bool {
			args := c.Args()
			return c.Name() == "set" && len(args) > 0 && args[len(args)-1] == "nx"
		})
		if !leases || !h.armed.CompareAndSwap(true, false) {
			return err
		}
		cut := context.DeadlineExceeded
		if h.cancel != nil {
			h.cancel()
			cut = context.Canceled
		}
		for _, c := range cmds {
			c.SetErr(cut)
		}
		return cut
	}
}

// A lease pipeline whose replies are lost to the caller's cancellation or to the budget
// leaves no lease behind: nobody would fill it, and every instance would wait for it.
func TestGetManyCutLeasePipelineReleases(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, newClient func() Client, prefix string) {
		for _, cancelled := range []bool{true, false} {
			t.Run(fmt.Sprintf("cancelled=%v", cancelled), func(t *testing.T) {
				c := newClient()
				hook := &cutLeases{}
				c.(interface{ AddHook(redis.Hook) }).AddHook(hook)
				s := newStore(t, c, fmt.Sprintf("%s%v:", prefix, cancelled), Options{})
				ready(t, s)
				keys := []string{"a", "b", "c", "d", "e", "corrupt"}
				// Bytes that are not an envelope: their lease is a compare-and-set.
				require.NoError(t, c.Set(context.Background(), s.DataKey(s.Stats().Version, "corrupt"), "junk", time.Minute).Err())

				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				if cancelled {
					hook.cancel = cancel
				}
				hook.armed.Store(true)
				_, err := s.GetMany(ctx, keys)
				require.Error(t, err)
				require.False(t, hook.armed.Load(), "the lease pipeline did not run")
				if cancelled {
					require.ErrorIs(t, err, context.Canceled)
				} else {
					require.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
				}
				for _, k := range keys {
					assert.False(t, leaseAt(t, c, s, k), "lease of %s left behind", k)
				}
			})
		}
	})
}

// FinishMany writes and releases a batch in one round trip, each write fenced by its
// lease.
func TestFinishManyOneRoundTrip(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, newClient func() Client, prefix string) {
		ctx := context.Background()
		c := newClient()
		hook := &redistest.Counter{}
		c.(interface{ AddHook(redis.Hook) }).AddHook(hook)
		s := newStore(t, c, prefix, Options{})
		ready(t, s)
		keys := make([]string, 20)
		for i := range keys {
			keys[i] = fmt.Sprintf("k%d", i)
		}
		got, err := s.GetMany(ctx, keys)
		require.NoError(t, err)
		var puts []Put
		for _, l := range got[:15] {
			puts = append(puts, Put{Fill: l.Fill, Entry: entry("v"), TTL: time.Minute})
		}
		var release []Fill
		for _, l := range got[15:] {
			release = append(release, l.Fill)
		}
		require.NoError(t, s.Invalidate(ctx, keys[3]))
		hook.Reset()
		stored, err := s.FinishMany(ctx, puts, release)
		require.NoError(t, err)
		trips, cmds := hook.Counts()
		assert.Equal(t, int64(1), trips)
		assert.Equal(t, int64(20), cmds)
		for i, ok := range stored {
			assert.Equal(t, i != 3, ok, keys[i])
		}
		assert.Equal(t, uint64(1), s.Stats().FillsRejected)
		for _, k := range keys[15:] {
			assert.False(t, leaseAt(t, c, s, k))
		}
		got, err = s.GetMany(ctx, keys[:15])
		require.NoError(t, err)
		for i, l := range got {
			assert.Equal(t, i != 3, l.Hit, keys[i])
		}

		hook.Reset()
		stored, err = s.FinishMany(ctx, []Put{{Fill: Fill{}}}, []Fill{{}})
		require.NoError(t, err)
		assert.Equal(t, []bool{false}, stored)
		trips, _ = hook.Counts()
		assert.Zero(t, trips, "nothing to write: no round trip")
	})
}
