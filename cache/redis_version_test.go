package cache

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stout-go/stout/internal/redistest"
)

// A namespace version raised in Redis without a message this instance heard (here an INCR
// of the version key; in production a lost InvalidateAll message, or a version key Redis
// re-created) drops process memory as soon as a read finds it; the flight whose read found
// it still keeps its value.
func TestRedisVersionRaisedByReadDropsL1(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ctx := context.Background()
	a := newRedisCache(t, srv.Client(t), srv.Prefix, Options{Redis: &RedisOptions{VersionStaleness: -1}})
	src := newSource("v1")
	v, err := a.Get(ctx, "k", src.load)
	require.NoError(t, err)
	require.Equal(t, "k=v1", v)
	require.True(t, inL1(a, "k"))

	src.val.Store("v2")
	r := a.l2.(*redisLevel)
	admin := srv.Client(t)
	require.NoError(t, admin.Incr(ctx, r.s.VersionKey()).Err()) // no message
	v, err = a.Get(ctx, "other", src.load)                      // an L2 read: finds the new version
	require.NoError(t, err)
	require.Equal(t, "other=v2", v)
	assert.True(t, inL1(a, "other"), "the flight that found the new version keeps its value")

	v, err = a.Get(ctx, "k", src.load)
	require.NoError(t, err)
	assert.Equal(t, "k=v2", v, "the value loaded under the old version was dropped")
}
