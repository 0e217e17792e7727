package l2

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stout-go/stout/internal/redistest"
)

func TestRing(t *testing.T) {
	t.Parallel()
	a, b := redistest.Start(t), redistest.StartOwned(t)
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": a.Addr, "b": b.Addr}})
	t.Cleanup(func() { _ = ring.Close() })
	ctx := context.Background()
	s := newStore(t, ring, a.Prefix, Options{})
	require.Eventually(t, func() bool { return s.Stats().Version != 0 }, 5*time.Second, time.Millisecond)
	keys := make([]string, 30)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
		require.NoError(t, s.Set(ctx, keys[i], entry(keys[i]), time.Minute))
	}
	got, err := s.GetMany(ctx, keys)
	require.NoError(t, err)
	for i, l := range got {
		require.True(t, l.Hit, keys[i])
		assert.Equal(t, keys[i], string(l.Entry.Payload))
	}
	// The keys are spread over both shards.
	na, err := redis.NewClient(&redis.Options{Addr: a.Addr}).DBSize(ctx).Result()
	require.NoError(t, err)
	assert.Positive(t, na)
}
