package l2

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestServeStale(t *testing.T) {
	backends(t, func(t *testing.T, newClient func() Client, prefix string) {
		ctx := context.Background()
		setup := func(t *testing.T, ns string) (*Store, *Store, *fakeClock) {
			clock := newFakeClock()
			o := Options{Now: clock.Now, ServeStale: time.Minute, Namespace: ns}
			a := newStore(t, newClient(), prefix, o)
			b := newStore(t, newClient(), prefix, o)
			ready(t, a)
			ready(t, b)
			return a, b, clock
		}
		rawOf := func(t *testing.T, s *Store, key string) []byte {
			raw, err := getBytes(s.c.Get(ctx, s.ks.data(s.Stats().Version, key)))
			require.NoError(t, err)
			return raw
		}

		t.Run("a value past its soft expiry is a stale hit, not a lease", func(t *testing.T) {
			a, b, clock := setup(t, "s1")
			soft := clock.Now().Add(time.Second).UnixNano()
			require.NoError(t, a.Set(ctx, "k", Entry{SoftExpiry: soft, Payload: []byte("old")}, time.Hour))
			clock.Advance(2 * time.Second)
			for _, s := range []*Store{a, b} {
				e, hit, _, err := s.Get(ctx, "k")
				require.NoError(t, err)
				require.True(t, hit, "served stale")
				assert.True(t, e.Stale)
				assert.Equal(t, "old", string(e.Payload))
			}
			raw := rawOf(t, a, "k")
			assert.False(t, isLease(raw), "no reader took the key's lease")
			assert.Equal(t, uint64(2), a.Stats().StaleHits+b.Stats().StaleHits)

			// Past the stale bound the value is a miss again, whose lease replaces it.
			clock.Advance(time.Minute)
			_, hit, f, err := a.Get(ctx, "k")
			require.NoError(t, err)
			require.False(t, hit)
			assert.True(t, f.Leased())
		})

		t.Run("negative entries are never served stale", func(t *testing.T) {
			a, _, clock := setup(t, "s2")
			soft := clock.Now().Add(time.Second).UnixNano()
			require.NoError(t, a.Set(ctx, "k", Entry{SoftExpiry: soft, Negative: true}, time.Hour))
			clock.Advance(2 * time.Second)
			_, hit, f, err := a.Get(ctx, "k")
			require.NoError(t, err)
			require.False(t, hit)
			assert.True(t, f.Leased())
		})

		t.Run("one instance gets the refresh lock; its write replaces exactly the stale bytes", func(t *testing.T) {
			a, b, clock := setup(t, "s3")
			soft := clock.Now().Add(time.Second).UnixNano()
			require.NoError(t, a.Set(ctx, "k", Entry{SoftExpiry: soft, Payload: []byte("old")}, time.Hour))
			clock.Advance(2 * time.Second)
			ea, _, _, err := a.Get(ctx, "k")
			require.NoError(t, err)
			eb, _, _, err := b.Get(ctx, "k")
			require.NoError(t, err)
			fa, ok, err := a.TryRefresh(ctx, "k", ea)
			require.NoError(t, err)
			require.True(t, ok)
			_, ok, err = b.TryRefresh(ctx, "k", eb)
			require.NoError(t, err)
			require.False(t, ok, "the lock is held: b does not refresh")
			// Readers keep getting the stale value during the refresh.
			e, hit, _, err := b.Get(ctx, "k")
			require.NoError(t, err)
			require.True(t, hit)
			assert.True(t, e.Stale)
			stored, err := a.Put(ctx, fa, Entry{SoftExpiry: clock.Now().Add(time.Hour).UnixNano(), Payload: []byte("new")}, time.Hour)
			require.NoError(t, err)
			require.True(t, stored)
			e, hit, _, err = b.Get(ctx, "k")
			require.NoError(t, err)
			require.True(t, hit)
			assert.False(t, e.Stale)
			assert.Equal(t, "new", string(e.Payload))
			// The write gave up the lock: the next stale value can be refreshed.
			clock.Advance(2 * time.Hour)
			require.NoError(t, a.Set(ctx, "k", Entry{SoftExpiry: clock.Now().Add(-time.Second).UnixNano(), Payload: []byte("old2")}, time.Hour))
			e, _, _, err = b.Get(ctx, "k")
			require.NoError(t, err)
			require.True(t, e.Stale)
			fb, ok, err := b.TryRefresh(ctx, "k", e)
			require.NoError(t, err)
			require.True(t, ok, "the lock was released by the write")
			require.NoError(t, b.Release(ctx, fb))
			_, ok, err = a.TryRefresh(ctx, "k", e)
			require.NoError(t, err)
			assert.True(t, ok, "the lock was released by Release")
			assert.Equal(t, "old2", string(rawOf(t, a, "k")[headerLen:]), "Release leaves the value alone")
		})

		t.Run("an invalidation during the refresh rejects its write", func(t *testing.T) {
			a, b, clock := setup(t, "s4")
			soft := clock.Now().Add(time.Second).UnixNano()
			require.NoError(t, a.Set(ctx, "k", Entry{SoftExpiry: soft, Payload: []byte("old")}, time.Hour))
			clock.Advance(2 * time.Second)
			e, _, _, err := a.Get(ctx, "k")
			require.NoError(t, err)
			f, ok, err := a.TryRefresh(ctx, "k", e)
			require.NoError(t, err)
			require.True(t, ok)
			require.NoError(t, b.Invalidate(ctx, "k"))
			stored, err := a.Put(ctx, f, entry("new"), time.Hour)
			require.NoError(t, err)
			assert.False(t, stored, "the CAS over the stale bytes fails")
			assert.Nil(t, rawOf(t, a, "k"), "nothing was written")
			lock := a.DataKey(e.Gen, "k") + ":r"
			assert.ErrorIs(t, a.c.Get(ctx, lock).Err(), redis.Nil, "the rejected write gave up the lock too")
			_, ok, err = b.TryRefresh(ctx, "k", e)
			require.NoError(t, err)
			assert.False(t, ok, "bytes that are no longer there are not refreshed")
		})
	})
}
