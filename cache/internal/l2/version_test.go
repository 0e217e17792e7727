package l2

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stout-go/stout/internal/redistest"
)

// A version raised in Redis without a message this instance heard is reported by the one
// read that finds it; a bump heard over pub/sub is not reported again by reads.
func TestVersionRaisedByRead(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	var raised, heard atomic.Uint64
	var calls atomic.Int64
	s := newStore(t, c, srv.Prefix, Options{
		VersionStaleness: -1,
		OnVersionRaised: func(v uint64) {
			calls.Add(1)
			raised.Store(v)
		},
		OnInvalidateAll: func(v uint64) { heard.Store(v) },
	})
	ready(t, s)
	other := newStore(t, srv.Client(t), srv.Prefix, Options{})
	ready(t, other)
	_, _, _, err := s.Get(ctx, "k")
	require.NoError(t, err)
	require.Zero(t, calls.Load(), "learning the first version raises nothing")

	v, err := c.Incr(ctx, s.VersionKey()).Uint64() // no message
	require.NoError(t, err)
	_, _, f, err := s.Get(ctx, "k")
	require.NoError(t, err)
	require.NoError(t, s.Release(ctx, f))
	require.Equal(t, v, f.Version())
	require.Equal(t, int64(1), calls.Load())
	require.Equal(t, v, raised.Load())
	_, _, f, err = s.Get(ctx, "k")
	require.NoError(t, err)
	require.NoError(t, s.Release(ctx, f))
	require.Equal(t, int64(1), calls.Load(), "reported once")

	v, err = other.InvalidateAll(ctx)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return heard.Load() == v }, 10*time.Second, time.Millisecond)
	_, _, f, err = s.Get(ctx, "k")
	require.NoError(t, err)
	require.NoError(t, s.Release(ctx, f))
	require.Equal(t, v, f.Version())
	require.Equal(t, int64(1), calls.Load(), "a bump heard over pub/sub is not reported by the read")
}
