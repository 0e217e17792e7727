package ratelimit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEvictionLossless runs one random many-key trace through a limiter that
// must evict (a small MaxKeys) and one that never does: every decision is the
// same, because only full buckets are dropped.
func TestEvictionLossless(t *testing.T) {
	ctx := context.Background()
	for seed := range uint64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 99))
			c := newFakeClock()
			l := Limit{Rate: 50, Burst: 5}
			small := NewMemory(l, &MemoryOptions{Now: c.Now, MaxKeys: 256})
			ref := NewMemory(l, &MemoryOptions{Now: c.Now, MaxKeys: -1})
			hot := make([]string, 20)
			for i := range hot {
				hot[i] = "hot" + strconv.Itoa(i)
			}
			maxLen := 0
			steps := 60000
			if raceEnabled {
				steps = 15000
			}
			for i := range steps {
				c.Add(time.Duration(rng.Int64N(int64(200 * time.Microsecond))))
				key := hot[rng.IntN(len(hot))]
				if rng.IntN(3) > 0 {
					key = "cold" + strconv.Itoa(i) // a flood of one-off keys
				}
				n := rng.IntN(3)
				a, err := small.AllowN(ctx, key, n)
				require.NoError(t, err)
				b, err := ref.AllowN(ctx, key, n)
				require.NoError(t, err)
				require.Equal(t, b, a, "decision %d for %s", i, key)
				maxLen = max(maxLen, small.Len())
			}
			assert.LessOrEqual(t, maxLen, 256)
			assert.Greater(t, ref.Len(), 256, "the reference really keeps more")
		})
	}
}

// TestFloodCannotResetBucket: an attacker who drained their bucket floods
// distinct keys to push it out of the table. Active buckets are never
// dropped, so the attacker stays limited.
func TestFloodCannotResetBucket(t *testing.T) {
	ctx := context.Background()
	c := newFakeClock()
	m := NewMemory(Limit{Rate: 1, Burst: 5}, &MemoryOptions{Now: c.Now, MaxKeys: 1000})
	d, err := m.AllowN(ctx, "attacker", 5)
	require.NoError(t, err)
	require.True(t, d.Allowed)
	flood := 100000
	if raceEnabled {
		flood = 20000
	}
	for i := range flood {
		c.Add(time.Microsecond)
		_, err := m.Allow(ctx, "flood"+strconv.Itoa(i))
		require.NoError(t, err)
	}
	assert.LessOrEqual(t, m.Len(), 1000)
	d, err = m.Allow(ctx, "attacker")
	require.NoError(t, err)
	assert.False(t, d.Allowed, "the flood must not have reset the attacker's bucket")
}

// TestHardCap fills the table with buckets that are all in use: no active
// bucket is dropped, new keys follow OnFull.
func TestHardCap(t *testing.T) {
	ctx := context.Background()
	for _, policy := range []Policy{FailOpen, FailClosed} {
		t.Run(policy.String(), func(t *testing.T) {
			c := newFakeClock()
			l := Limit{Rate: 1, Burst: 2}
			m := NewMemory(l, &MemoryOptions{Now: c.Now, MaxKeys: 50, OnFull: policy})
			for i := range 50 {
				d, err := m.AllowN(ctx, strconv.Itoa(i), 2)
				require.NoError(t, err)
				require.True(t, d.Allowed)
			}
			require.Equal(t, 50, m.Len())
			d, err := m.Allow(ctx, "new")
			if policy == FailClosed {
				require.ErrorIs(t, err, ErrTooManyKeys)
				assert.False(t, d.Allowed)
			} else {
				require.NoError(t, err)
				assert.True(t, d.Allowed)
				assert.Equal(t, 1, d.Remaining)
			}
			for i := range 50 {
				d, err := m.Allow(ctx, strconv.Itoa(i))
				require.NoError(t, err)
				assert.False(t, d.Allowed, "active bucket %d must still be there", i)
			}
			// Once buckets fill up again there is room.
			c.Add(2 * time.Second)
			d, err = m.Allow(ctx, "new")
			require.NoError(t, err)
			assert.True(t, d.Allowed)
			assert.LessOrEqual(t, m.Len(), 50)
		})
	}
}

// TestFloodHeapBounded sends STOUT_FLOOD_KEYS distinct keys (default 200k;
// the README quotes a 10M run) through a Memory with MaxKeys 64k and checks
// the live heap stays under 64 B per allowed bucket plus a fixed slack
// (the heap figure without -race only; the bucket bound always).
func TestFloodHeapBounded(t *testing.T) {
	keys := 200_000
	if raceEnabled {
		keys = 120_000 // still more than MaxKeys in flight
	}
	if s := os.Getenv("STOUT_FLOOD_KEYS"); s != "" {
		var err error
		keys, err = strconv.Atoi(s)
		require.NoError(t, err)
	}
	const maxKeys = 1 << 16
	ctx := context.Background()
	c := newFakeClock()
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m := NewMemory(Limit{Rate: 10, Burst: 10}, &MemoryOptions{Now: c.Now, MaxKeys: maxKeys})
	buf := make([]byte, 0, 32)
	for i := range keys {
		c.Add(time.Microsecond) // a bucket stays active 100ms: 100k keys in flight, more than MaxKeys
		buf = strconv.AppendInt(append(buf[:0], "ip:"...), int64(i), 10)
		if _, err := m.Allow(ctx, string(buf)); err != nil {
			t.Fatal(err)
		}
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d keys: %d buckets held, heap +%d KiB (%.1f B per bucket of MaxKeys)", keys, m.Len(), heap>>10, float64(heap)/maxKeys)
	assert.LessOrEqual(t, m.Len(), maxKeys)
	if !raceEnabled { // the race detector changes heap sizes
		assert.Less(t, heap, int64(maxKeys*64+1<<20))
	}
	runtime.KeepAlive(m)
}

// TestMultiLimitInsertKeepsCharges: charging a key's limits may insert new
// buckets, and making room may drop full ones; the key's own buckets being
// charged must never be dropped or share a cell with the new ones.
func TestMultiLimitInsertKeepsCharges(t *testing.T) {
	ctx := context.Background()
	c := newFakeClock()
	a := Limit{Rate: 1, Burst: 5, Name: "a"}
	b := Limit{Rate: 1, Burst: 3, Name: "b"}
	m := NewMemory(a, &MemoryOptions{Now: c.Now, MaxKeys: 63}) // one shard
	for i := range 300 {
		key := "u" + strconv.Itoa(i)
		_, err := m.Allow(WithLimits(ctx, a), key) // present, soon full
		require.NoError(t, err)
		for j := range 40 {
			_, _ = m.Allow(ctx, "filler"+strconv.Itoa(i*40+j))
		}
		c.Add(10 * time.Second)                           // every bucket is full
		d, err := m.AllowN(WithLimits(ctx, b, a), key, 2) // the new bucket first
		require.NoError(t, err)
		require.True(t, d.Allowed)
		pa, err := m.Peek(WithLimits(ctx, a), key)
		require.NoError(t, err)
		pb, err := m.Peek(WithLimits(ctx, b), key)
		require.NoError(t, err)
		require.Equal(t, 3, pa.Remaining, "iteration %d: limit a charged once", i)
		require.Equal(t, 1, pb.Remaining, "iteration %d: limit b charged once", i)
	}
}
