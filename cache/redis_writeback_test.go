package cache

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stout-go/stout/internal/redistest"
)

// leaseOf returns the bytes of key in Redis under c's namespace version, nil when missing.
func leaseOf(t *testing.T, c *Cache[string], client *redis.Client, key string) []byte {
	t.Helper()
	r := c.l2.(*redisLevel)
	raw, err := client.Get(context.Background(), r.s.DataKey(r.s.Stats().Version, key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	require.NoError(t, err)
	return raw
}

// failCodec is JSONCodec whose Marshal fails.
type failCodec struct{}

func (failCodec) Marshal(any) ([]byte, error)     { return nil, errors.New("cannot encode") }
func (failCodec) Unmarshal(b []byte, v any) error { return JSONCodec{}.Unmarshal(b, v) }

// A load whose fill cannot be written gives up the key's lease at once, whatever ended it:
// the codec failed to encode the value, the load timed out, or Close cut it short. No
// other instance waits for a lease nobody fills.
func TestRedisFillLeaseReleased(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ctx := context.Background()
	admin := srv.Client(t)

	t.Run("encode", func(t *testing.T) {
		c := newRedisCache(t, srv.Client(t), srv.Prefix+"e:", Options{Codec: failCodec{}})
		v, err := c.Get(ctx, "k", newSource("v1").load)
		require.NoError(t, err)
		require.Equal(t, "k=v1", v)
		require.NoError(t, c.Close()) // waits for the write-back
		assert.Nil(t, leaseOf(t, c, admin, "k"), "the lease is given up")
	})
	t.Run("timeout", func(t *testing.T) {
		c := newRedisCache(t, srv.Client(t), srv.Prefix+"t:", Options{LoadTimeout: 50 * time.Millisecond})
		_, err := c.Get(ctx, "k", func(ctx context.Context, _ string) (string, error) {
			<-ctx.Done()
			return "", ctx.Err()
		})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		// A value that comes after the timeout is still written.
		v, err := c.Get(ctx, "late", func(ctx context.Context, key string) (string, error) {
			<-ctx.Done()
			return key + "=v1", nil
		})
		require.NoError(t, err)
		require.Equal(t, "late=v1", v)
		require.NoError(t, c.Close())
		assert.Nil(t, leaseOf(t, c, admin, "k"), "the lease is given up")
		raw := leaseOf(t, c, admin, "late")
		require.NotNil(t, raw)
		assert.NotEqual(t, byte('L'), raw[1], "the value is written, not left a lease")
	})
	t.Run("close", func(t *testing.T) {
		c := newRedisCache(t, srv.Client(t), srv.Prefix+"c:", Options{})
		started := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			_, err := c.Get(ctx, "k", func(ctx context.Context, _ string) (string, error) {
				close(started)
				<-ctx.Done()
				return "", ctx.Err()
			})
			done <- err
		}()
		waitClosed(t, started)
		require.NoError(t, c.Close())
		require.Error(t, <-done)
		assert.Nil(t, leaseOf(t, c, admin, "k"), "the lease is given up")
	})
}
