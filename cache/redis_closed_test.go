package cache

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stout-go/stout/internal/redistest"
)

// After Close, a Get or GetMany that misses process memory returns ErrClosed without a
// round trip to Redis; hits are still served from memory.
func TestRedisClosedNoRoundTrip(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ctx := context.Background()
	client := srv.Client(t)
	var n redistest.Counter
	client.AddHook(&n)
	c := newRedisCache(t, client, srv.Prefix, Options{})
	src := newSource("v1")
	_, err := c.Get(ctx, "k", src.load)
	require.NoError(t, err)
	require.NoError(t, c.Close())

	n.Reset()
	v, err := c.Get(ctx, "k", src.load)
	require.NoError(t, err)
	assert.Equal(t, "k=v1", v, "a hit is served after Close")
	_, err = c.Get(ctx, "other", src.load)
	require.ErrorIs(t, err, ErrClosed)
	_, err = c.GetMany(ctx, []string{"k", "x", "y"}, func(_ context.Context, keys []string) (map[string]string, error) {
		return map[string]string{}, nil
	})
	require.ErrorIs(t, err, ErrClosed)
	trips, _ := n.Counts()
	assert.Zero(t, trips, "no round trip to Redis after Close")
	assert.Equal(t, int64(1), src.loads.Load())
}
