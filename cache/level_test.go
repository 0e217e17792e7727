package cache

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// memLevel is an in-memory shared level for testing the seam: versioned keys, leases
// that an invalidation deletes, and invalidations pushed to every subscribed instance,
// as the Redis level does them.
type memLevel struct {
	mu       sync.Mutex
	ver      uint64
	data     map[string]memRec // by "v<ver>:<key>"
	nextTok  int
	subs     []interface{ invalidateLocal(string) }
	subsAll  []interface{ invalidateAllLocal() }
	fail     error // every call fails with it when set
	puts     int
	rejected int
	releases int
	getKeys  []string
	closed   bool
	muted    bool        // invalidations are not pushed to other instances (a slow message)
	written  chan string // "put", "rejected" or "release" after each write-back
}

type memRec struct {
	rec   record
	lease string // a fill's placeholder while not empty
}

func newMemLevel() *memLevel {
	return &memLevel{ver: 1000, data: map[string]memRec{}, written: make(chan string, 100)}
}

// attach makes c an instance on m.
func attach[V any](m *memLevel, c *Cache[V]) *Cache[V] {
	m.mu.Lock()
	defer m.mu.Unlock()
	c.l2 = m
	m.subs = append(m.subs, c)
	m.subsAll = append(m.subsAll, c)
	return c
}

func (m *memLevel) dk(ver uint64, key string) string { return fmt.Sprintf("v%d:%s", ver, key) }

type memFill struct {
	m     *memLevel
	dk    string
	ver   uint64
	lease string
}

func (f memFill) put(ctx context.Context, rec record, ttl time.Duration) (bool, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if cur, ok := f.m.data[f.dk]; !ok || cur.lease != f.lease {
		f.m.rejected++
		f.m.written <- "rejected"
		return false, nil
	}
	rec.gen = f.ver
	f.m.data[f.dk] = memRec{rec: rec}
	f.m.puts++
	f.m.written <- "put"
	return true, nil
}

func (f memFill) release(ctx context.Context) error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	f.m.releases++
	f.m.written <- "release"
	if cur, ok := f.m.data[f.dk]; ok && cur.lease == f.lease {
		delete(f.m.data, f.dk)
	}
	return nil
}

func (m *memLevel) get(ctx context.Context, key string) lookup {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.getKeys = append(m.getKeys, key)
	if m.fail != nil {
		return lookup{err: m.fail}
	}
	dk := m.dk(m.ver, key) // the version is read before the load
	if r, ok := m.data[dk]; ok {
		if r.lease == "" {
			return lookup{rec: r.rec, hit: true}
		}
		return lookup{} // someone else fills: load without writing
	}
	m.nextTok++
	tok := fmt.Sprint("lease-", m.nextTok)
	m.data[dk] = memRec{lease: tok}
	return lookup{fill: memFill{m: m, dk: dk, ver: m.ver, lease: tok}}
}

func (m *memLevel) getMany(ctx context.Context, keys []string) []lookup {
	out := make([]lookup, len(keys))
	for i, k := range keys {
		out[i] = m.get(ctx, k)
	}
	return out
}

func (m *memLevel) set(ctx context.Context, key string, rec record, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	rec.gen = m.ver
	m.data[m.dk(m.ver, key)] = memRec{rec: rec}
	return nil
}

func (m *memLevel) invalidate(ctx context.Context, key string) error {
	m.mu.Lock()
	if m.fail != nil {
		m.mu.Unlock()
		return m.fail
	}
	delete(m.data, m.dk(m.ver, key))
	subs := slices.Clone(m.subs)
	if m.muted {
		subs = nil
	}
	m.mu.Unlock()
	for _, s := range subs { // the pub/sub message
		s.invalidateLocal(key)
	}
	return nil
}

func (m *memLevel) invalidateAll(ctx context.Context) error {
	m.mu.Lock()
	if m.fail != nil {
		m.mu.Unlock()
		return m.fail
	}
	m.ver++
	subs := slices.Clone(m.subsAll)
	m.mu.Unlock()
	for _, s := range subs {
		s.invalidateAllLocal()
	}
	return nil
}

func (m *memLevel) close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}

func (m *memLevel) stats() (puts, rejected, releases int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.puts, m.rejected, m.releases
}

type user struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

func TestSharedLevelAcrossInstances(t *testing.T) {
	m := newMemLevel()
	a := attach(m, newTest[user](t, Options{}))
	b := attach(m, newTest[user](t, Options{}))
	var loads atomic.Int64
	load := func(ctx context.Context, key string) (user, error) {
		n := loads.Add(1)
		return user{ID: 7, Name: fmt.Sprint("ann #", n)}, nil
	}

	u, err := a.Get(t.Context(), "7", load)
	require.NoError(t, err)
	assert.Equal(t, user{7, "ann #1"}, u)
	require.Equal(t, "put", <-m.written) // the write-back follows the answer
	u, err = b.Get(t.Context(), "7", load)
	require.NoError(t, err)
	assert.Equal(t, user{7, "ann #1"}, u, "the other instance reads the shared level, not the loader")
	assert.Equal(t, int64(1), loads.Load())

	require.NoError(t, a.Invalidate(t.Context(), "7"))
	u, err = b.Get(t.Context(), "7", load)
	require.NoError(t, err)
	assert.Equal(t, user{7, "ann #2"}, u, "an invalidation on one instance reaches the other's memory")
	require.Equal(t, "put", <-m.written)

	require.NoError(t, b.InvalidateAll(t.Context()))
	u, err = a.Get(t.Context(), "7", load)
	require.NoError(t, err)
	assert.Equal(t, user{7, "ann #3"}, u)

	require.NoError(t, a.Set(t.Context(), "8", user{8, "bob"}))
	u, err = b.Get(t.Context(), "8", load)
	require.NoError(t, err)
	assert.Equal(t, user{8, "bob"}, u, "Set writes through to the shared level")
	assert.Equal(t, int64(3), loads.Load())

	require.NoError(t, a.Close())
	assert.True(t, m.closed)
}

func TestSharedLevelNegative(t *testing.T) {
	m := newMemLevel()
	a := attach(m, newTest[user](t, Options{}))
	b := attach(m, newTest[user](t, Options{}))
	var loads atomic.Int64
	missing := func(context.Context, string) (user, error) {
		loads.Add(1)
		return user{}, ErrNotFound
	}
	_, err := a.Get(t.Context(), "404", missing)
	require.ErrorIs(t, err, ErrNotFound)
	require.Equal(t, "put", <-m.written)
	_, err = b.Get(t.Context(), "404", missing)
	require.ErrorIs(t, err, ErrNotFound)
	assert.Equal(t, int64(1), loads.Load(), "not found is shared too")
}

// TestSharedLevelNoStaleSet forces the race across instances: A misses and takes the fill,
// its loader blocks; B invalidates; A's loader finishes. Nobody reads the old value
// afterwards: A's flight is detached when the invalidation message reaches it first, and
// A's write to the shared level is fenced out when the message comes late.
func TestSharedLevelNoStaleSet(t *testing.T) {
	for _, late := range []bool{false, true} {
		t.Run(fmt.Sprint("message late=", late), func(t *testing.T) {
			m := newMemLevel()
			a := attach(m, newTest[string](t, Options{}))
			b := attach(m, newTest[string](t, Options{}))
			g := newGate(func(n int64) (string, error) { return fmt.Sprint("row v", n), nil })
			done := make(chan string)
			go func() {
				v, err := a.Get(t.Context(), "k", g.load)
				assert.NoError(t, err)
				done <- v
			}()
			<-g.started
			m.muted = late
			require.NoError(t, b.Invalidate(t.Context(), "k"))
			g.release <- struct{}{}
			assert.Equal(t, "row v1", <-done, "A's caller asked before the invalidation")
			close(g.release)
			if late {
				assert.Equal(t, "rejected", <-m.written, "A's write was fenced out")
				a.invalidateLocal("k") // the message arrives
			} else {
				assert.Equal(t, "release", <-m.written, "A's detached flight wrote nothing")
			}
			v, err := b.Get(t.Context(), "k", g.load)
			require.NoError(t, err)
			assert.Equal(t, "row v2", v)
			assert.Equal(t, "put", <-m.written) // B's write-back follows its answer
			v, err = a.Get(t.Context(), "k", g.load)
			require.NoError(t, err)
			assert.Equal(t, "row v2", v, "A reads B's value from the shared level")
			assert.Equal(t, int64(2), g.calls.Load())
		})
	}
}

func TestSharedLevelDetachedFlightReleases(t *testing.T) {
	m := newMemLevel()
	a := attach(m, newTest[string](t, Options{}))
	g := newGate(version)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = a.Get(t.Context(), "k", g.load)
	}()
	<-g.started
	a.invalidateAllLocal() // as if another instance's InvalidateAll arrived: detaches the flight
	close(g.release)
	<-done
	require.NoError(t, a.Close()) // waits for the write-back
	puts, _, releases := m.stats()
	assert.Equal(t, 0, puts)
	assert.Equal(t, 1, releases)
}

func TestSharedLevelFailOpen(t *testing.T) {
	m := newMemLevel()
	a := attach(m, newTest[string](t, Options{}))
	errDown := errors.New("connection refused")
	m.fail = errDown
	v, err := a.Get(t.Context(), "k", func(context.Context, string) (string, error) { return "from db", nil })
	require.NoError(t, err, "a failing shared level does not fail Get")
	assert.Equal(t, "from db", v)
	require.ErrorIs(t, a.Invalidate(t.Context(), "k"), errDown, "but an invalidation reports it")
	_, err = a.Get(t.Context(), "k", func(context.Context, string) (string, error) { return "again", nil })
	require.NoError(t, err)
	require.ErrorIs(t, a.Set(t.Context(), "k", "x"), errDown)
	v, err = a.Get(t.Context(), "k", nil)
	require.NoError(t, err)
	assert.Equal(t, "x", v, "memory was changed anyway")
	require.ErrorIs(t, a.InvalidateAll(t.Context()), errDown)
}

func TestSharedLevelCorruptIsMiss(t *testing.T) {
	m := newMemLevel()
	a := attach(m, newTest[user](t, Options{}))
	m.data[m.dk(m.ver, "7")] = memRec{rec: record{created: 1, payload: []byte("{not json")}}
	u, err := a.Get(t.Context(), "7", func(context.Context, string) (user, error) { return user{7, "ann"}, nil })
	require.NoError(t, err)
	assert.Equal(t, user{7, "ann"}, u)
}

func TestSharedLevelGetMany(t *testing.T) {
	m := newMemLevel()
	a := attach(m, newTest[string](t, Options{}))
	b := attach(m, newTest[string](t, Options{}))
	require.NoError(t, a.Set(t.Context(), "x", "X"))
	var asked [][]string
	got, err := b.GetMany(t.Context(), []string{"x", "y", "z"}, func(ctx context.Context, keys []string) (map[string]string, error) {
		asked = append(asked, slices.Clone(keys))
		return map[string]string{"y": "Y"}, nil
	})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"x": "X", "y": "Y"}, got)
	require.Len(t, asked, 1)
	slices.Sort(asked[0])
	assert.Equal(t, []string{"y", "z"}, asked[0], "only the keys the shared level missed are loaded")
	require.NoError(t, b.Close()) // waits for the write-backs
	got, err = a.GetMany(t.Context(), []string{"y", "z"}, func(context.Context, []string) (map[string]string, error) {
		return nil, errors.New("must not load")
	})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"y": "Y"}, got, "y and z (not found) were written back")
}

func TestRecordRoundTrip(t *testing.T) {
	clock := newFakeClock()
	c := newTest[user](t, Options{Clock: clock, Jitter: -1, Stale: time.Minute})
	now := clock.Now().UnixNano()
	e := c.newEntry(user{1, "ann"}, false, 3, now, int64(time.Second))
	rec, ttl, err := c.toRecord(e)
	require.NoError(t, err)
	assert.Equal(t, DefaultTTL+time.Minute, ttl, "the shared copy lives until the stale bound")
	assert.Equal(t, e.fresh, rec.softExpiry)
	back, ok := c.fromRecord(rec, 5, now)
	require.True(t, ok)
	assert.Equal(t, e.value, back.value)
	assert.Equal(t, uint64(5), back.gen)
	assert.Equal(t, e.fresh, back.fresh)
	assert.Equal(t, e.stale, back.stale)
	assert.Equal(t, e.quick, back.quick)
	_, ok = c.fromRecord(rec, 5, e.fresh)
	assert.False(t, ok, "a record past its soft expiry is a miss")
}
