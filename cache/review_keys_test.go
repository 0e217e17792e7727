package cache

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReviewAwkwardKeys pins that keys with hash-tag braces, empty keys, huge
// keys and non-ASCII keys work through Get, GetMany (grouped per slot on a
// Cluster), Invalidate and a second instance, without errors or CROSSSLOT.
func TestReviewAwkwardKeys(t *testing.T) {
	keys := []string{"", "{}", "}{", "a{b}c", "{a}", "{{x}}", "x}", "ключ", strings.Repeat("k", 64<<10), "sp ace\n"}
	redisBackends(t, func(t *testing.T, newClient func() RedisClient, prefix string) {
		ctx := context.Background()
		a := newRedisCache(t, newClient(), prefix+"rk:", Options{})
		b := newRedisCache(t, newClient(), prefix+"rk:", Options{})
		src := newSource("v1")
		batch := func(ctx context.Context, ks []string) (map[string]string, error) {
			m := make(map[string]string, len(ks))
			for _, k := range ks {
				v, err := src.load(ctx, k)
				if err != nil {
					return nil, err
				}
				m[k] = v
			}
			return m, nil
		}

		got, err := a.GetMany(ctx, keys, batch)
		require.NoError(t, err)
		require.Len(t, got, len(keys))
		for _, k := range keys {
			assert.Equal(t, k+"=v1", got[k])
			waitFilled(t, a, k)
		}
		loads := src.loads.Load()

		got, err = b.GetMany(ctx, keys, batch)
		require.NoError(t, err)
		for _, k := range keys {
			assert.Equal(t, k+"=v1", got[k])
		}
		assert.Equal(t, loads, src.loads.Load(), "b is answered by Redis")

		src.val.Store("v2")
		for _, k := range keys {
			require.NoError(t, a.Invalidate(ctx, k))
		}
		heard(t, b, uint64(len(keys)))
		for _, k := range keys {
			v, err := b.Get(ctx, k, src.load)
			require.NoError(t, err)
			assert.Equal(t, k+"=v2", v)
		}
	})
}
