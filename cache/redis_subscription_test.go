package cache

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stout-go/stout/internal/redistest"
)

// inL1 reports whether c holds a value of key in process memory that a Get would use.
func inL1(c *Cache[string], key string) bool {
	e, ok := c.l1.GetIfPresent(key)
	return ok && e.gen == c.gen.Load()
}

// dialGate refuses new connections while shut.
type dialGate struct{ shut atomic.Bool }

func (g *dialGate) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if g.shut.Load() {
			return nil, errors.New("dial refused by the test")
		}
		return next(ctx, network, addr)
	}
}
func (g *dialGate) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (g *dialGate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// subscribeVia is a client whose SUBSCRIBE goes through another client.
type subscribeVia struct {
	*redis.Client
	sub *redis.Client
}

func (s subscribeVia) Subscribe(ctx context.Context, channels ...string) *redis.PubSub {
	return s.sub.Subscribe(ctx, channels...)
}

// While the invalidation subscription is down, an instance keeps nothing in process
// memory: an invalidation by another instance in the gap, which it cannot hear, does not
// leave it serving the old value. Once the subscription is back, memory is used again.
func TestRedisSubscriptionLostKeepsNothing(t *testing.T) {
	t.Parallel()
	srv := redistest.StartOwned(t) // the test kills every subscriber of its server
	ctx := context.Background()
	gate := &dialGate{}
	sub := srv.Client(t)
	sub.AddHook(gate)
	a, err := New[string](Options{Namespace: "user", Redis: &RedisOptions{
		Client: subscribeVia{Client: srv.Client(t), sub: sub}, Prefix: srv.Prefix + "stout", Budget: 5 * time.Second,
	}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })
	r := a.l2.(*redisLevel)
	require.Eventually(t, func() bool { return r.s.Stats().Version != 0 }, 20*time.Second, time.Millisecond)
	require.Eventually(t, r.listened.Load, 20*time.Second, time.Millisecond)
	b := newRedisCache(t, srv.Client(t), srv.Prefix, Options{})
	src := newSource("v1")

	v, err := a.Get(ctx, "k", src.load)
	require.NoError(t, err)
	require.Equal(t, "k=v1", v)
	require.True(t, inL1(a, "k"))
	waitFilled(t, a, "k")

	gate.shut.Store(true) // a cannot subscribe again until the gate opens
	require.NoError(t, srv.Client(t).Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Err())
	require.Eventually(t, func() bool { return a.Stats().Redis.SubscriptionLost == 1 && !inL1(a, "k") }, 10*time.Second, time.Millisecond)
	require.False(t, r.listened.Load(), "the subscription is down")

	v, err = a.Get(ctx, "k", src.load)
	require.NoError(t, err)
	require.Equal(t, "k=v1", v, "from Redis")
	assert.False(t, inL1(a, "k"), "a value read while the subscription is down is not kept")

	src.val.Store("v2")
	require.NoError(t, b.Invalidate(ctx, "k")) // a cannot hear this
	v, err = a.Get(ctx, "k", src.load)
	require.NoError(t, err)
	require.Equal(t, "k=v2", v, "a does not serve the value invalidated in the gap")
	assert.Zero(t, a.Stats().Hits)

	gate.shut.Store(false)
	require.Eventually(t, func() bool { return a.Stats().Redis.Resubscribes == 1 && r.listened.Load() }, 20*time.Second, time.Millisecond)
	waitFilled(t, a, "k")
	for range 2 {
		v, err = a.Get(ctx, "k", src.load)
		require.NoError(t, err)
		require.Equal(t, "k=v2", v)
	}
	assert.Equal(t, uint64(1), a.Stats().Hits, "once listening again, memory is used again")
}
