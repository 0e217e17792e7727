package flags

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stout-go/stout/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func publish(t *testing.T, rdb redis.Scripter, key, doc string) int64 {
	t.Helper()
	v, err := PublishRedis(context.Background(), rdb, key, []byte(doc), -1)
	require.NoError(t, err)
	return v
}

func TestRedisSourcePubSub(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	key := srv.Key("flags")
	ctx := context.Background()
	v1 := publish(t, rdb, key, docV1)

	// Polling is off for practical purposes: only pub/sub can deliver.
	c, err := New(ctx, RedisSource(rdb, key, &RedisOptions{PollInterval: time.Hour}), nil)
	require.NoError(t, err)
	defer c.Close()
	require.Equal(t, StateOK, c.Status().State)
	assert.Equal(t, "X", c.String(ctx, "b", Subject{}, ""))
	ch := events(c)

	start := time.Now()
	v2 := publish(t, rdb, key, docV2)
	require.Greater(t, v2, v1)
	ev := waitEvent(t, ch, 5*time.Second)
	elapsed := time.Since(start)
	t.Logf("applied %v after publishing", elapsed)
	assert.Less(t, elapsed, 500*time.Millisecond, "pub/sub delivers well under a second")
	assert.Equal(t, int64(2), ev.Version)
	assert.Equal(t, "Y", c.String(ctx, "b", Subject{}, ""))

	t.Run("a bad document leaves the old one", func(t *testing.T) {
		// Bypass PublishRedis, which refuses invalid documents.
		require.NoError(t, rdb.HSet(ctx, key, "version", v2+1, "doc", `{"flags": {"b": {"type": "string"}}}`).Err())
		require.NoError(t, rdb.Publish(ctx, RedisChannel(key), "3").Err())
		require.Eventually(t, func() bool { return c.Status().State == StateStale }, 5*time.Second, 10*time.Millisecond)
		assert.ErrorIs(t, c.Status().Err, ErrInvalidDocument)
		assert.Equal(t, "Y", c.String(ctx, "b", Subject{}, ""))

		// The next good version is applied.
		publish(t, rdb, key, docV1)
		waitEvent(t, ch, 5*time.Second)
		assert.Equal(t, StateOK, c.Status().State)
		assert.Equal(t, "X", c.String(ctx, "b", Subject{}, ""))
	})
}

func TestRedisSourcePolling(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	key := srv.Key("flags")
	ctx := context.Background()
	publish(t, rdb, key, docV1)
	const interval = 500 * time.Millisecond
	c, err := New(ctx, RedisSource(rdb, key, &RedisOptions{PollInterval: interval, NoSubscribe: true}), nil)
	require.NoError(t, err)
	defer c.Close()
	ch := events(c)
	for _, doc := range []string{docV2, docV1} {
		start := time.Now()
		publish(t, rdb, key, doc)
		waitEvent(t, ch, 5*time.Second)
		elapsed := time.Since(start)
		t.Logf("applied %v after publishing", elapsed)
		// The jittered wait is at most 1.2 × interval; allow scheduling
		// slack on a loaded machine.
		assert.Less(t, elapsed, interval*6/5+300*time.Millisecond)
	}
}

func TestPublishRedis(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	key := srv.Key("flags")
	ctx := context.Background()

	_, err := PublishRedis(ctx, rdb, key, []byte(`{"flags": {"a": {"type": "int"}}}`), -1)
	require.ErrorIs(t, err, ErrInvalidDocument)
	n, err := rdb.Exists(ctx, key).Result()
	require.NoError(t, err)
	assert.Zero(t, n, "an invalid document never reaches Redis")

	v1, err := PublishRedis(ctx, rdb, key, []byte(docV1), 0)
	require.NoError(t, err)
	assert.Greater(t, v1, time.Now().Add(-time.Hour).UnixMilli(), "versions start at the Redis clock in ms")
	_, err = PublishRedis(ctx, rdb, key, []byte(docV2), 0)
	require.ErrorIs(t, err, ErrVersionConflict)
	assert.Contains(t, err.Error(), "stored version is "+strconv.FormatInt(v1, 10))
	v2, err := PublishRedis(ctx, rdb, key, []byte(docV2), v1)
	require.NoError(t, err)
	assert.Greater(t, v2, v1)
	got, err := rdb.HGetAll(ctx, key).Result()
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"version": strconv.FormatInt(v2, 10), "doc": docV2}, got)

	// A version far in the future (set by hand) still increases by one.
	require.NoError(t, rdb.HSet(ctx, key, "version", int64(1)<<50).Err())
	v3, err := PublishRedis(ctx, rdb, key, []byte(docV1), -1)
	require.NoError(t, err)
	assert.Equal(t, int64(1)<<50+1, v3)
}

func TestRedisSourceNoDocument(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	c, err := New(context.Background(), RedisSource(rdb, srv.Key("flags"), &RedisOptions{PollInterval: time.Hour}), nil)
	require.NoError(t, err)
	defer c.Close()
	st := c.Status()
	assert.Equal(t, StateInitializing, st.State)
	assert.ErrorIs(t, st.Err, ErrNoDocument)
	_, d := c.BoolDetail(context.Background(), "a", Subject{}, false)
	assert.Equal(t, ReasonUnavailable, d.Reason)
}

func fastClient(srv *redistest.Server) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: srv.Addr, DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond, MaxRetries: -1})
}

func TestRedisOutage(t *testing.T) {
	srv := redistest.StartOwned(t)
	rdb := fastClient(srv)
	defer rdb.Close()
	key := srv.Key("flags")
	ctx := context.Background()
	publish(t, rdb, key, docV1)
	c, err := New(ctx, RedisSource(rdb, key, &RedisOptions{PollInterval: 100 * time.Millisecond, Timeout: 300 * time.Millisecond}), nil)
	require.NoError(t, err)
	defer c.Close()
	require.Equal(t, StateOK, c.Status().State)

	srv.Stop(t)
	stopped := time.Now()
	require.Eventually(t, func() bool { return c.Status().State == StateStale }, 5*time.Second, 10*time.Millisecond)
	st := c.Status()
	assert.Error(t, st.Err)
	assert.False(t, st.Since.Before(stopped), "stale since the outage")
	v, d := c.StringDetail(ctx, "b", Subject{}, "default")
	assert.Equal(t, "X", v, "evaluation continues on the last good document")
	assert.Equal(t, ReasonStatic, d.Reason)

	// Redis comes back empty (no persistence): still stale, until a
	// document is published.
	srv.Restart(t)
	ch := events(c)
	require.Eventually(t, func() bool { return errors.Is(c.Status().Err, ErrNoDocument) }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, StateStale, c.Status().State)
	publish(t, rdb, key, docV2)
	waitEvent(t, ch, 5*time.Second)
	assert.Equal(t, StateOK, c.Status().State)
	assert.Equal(t, "Y", c.String(ctx, "b", Subject{}, ""))
}

func TestRedisRestartWithLastGoodFile(t *testing.T) {
	srv := redistest.StartOwned(t)
	rdb := fastClient(srv)
	defer rdb.Close()
	key := srv.Key("flags")
	ctx := context.Background()
	lg := filepath.Join(t.TempDir(), "flags.json")
	opts := &RedisOptions{PollInterval: 100 * time.Millisecond, Timeout: 300 * time.Millisecond}

	publish(t, rdb, key, docV2)
	c, err := New(ctx, RedisSource(rdb, key, opts), &Options{LastGoodPath: lg})
	require.NoError(t, err)
	require.Equal(t, "Y", c.String(ctx, "b", Subject{}, ""))
	require.NoError(t, c.Close())
	data, err := os.ReadFile(lg)
	require.NoError(t, err)
	require.Equal(t, docV2, string(data))

	// The service restarts while Redis is down.
	srv.Stop(t)
	start := time.Now()
	c, err = New(ctx, RedisSource(rdb, key, opts), &Options{LastGoodPath: lg})
	require.NoError(t, err)
	defer c.Close()
	t.Logf("New returned after %v", time.Since(start))
	st := c.Status()
	assert.Equal(t, StateStale, st.State)
	assert.Equal(t, "last-good file", st.Origin)
	v, d := c.StringDetail(ctx, "b", Subject{}, "default")
	assert.Equal(t, "Y", v, "flags served from the last-good file")
	assert.Equal(t, ReasonStatic, d.Reason)
	assert.Equal(t, int64(1), c.Int(ctx, "new", Subject{}, 0))

	// Redis returns with a newer document: the client catches up.
	srv.Restart(t)
	ch := events(c)
	publish(t, rdb, key, docV1)
	ev := waitEvent(t, ch, 5*time.Second)
	assert.Equal(t, "source", ev.Origin)
	assert.Equal(t, StateOK, c.Status().State)
	assert.Equal(t, "X", c.String(ctx, "b", Subject{}, ""))
}

// TestRedisSourceCluster: one key, a single-key script and a plain channel
// work the same on Redis Cluster.
func TestRedisSourceCluster(t *testing.T) {
	cl := redistest.StartCluster(t)
	rdb := cl.Client(t)
	key := cl.Key("flags")
	ctx := context.Background()
	publish(t, rdb, key, docV1)
	c, err := New(ctx, RedisSource(rdb, key, &RedisOptions{PollInterval: time.Hour}), nil)
	require.NoError(t, err)
	defer c.Close()
	require.Equal(t, StateOK, c.Status().State)
	assert.Equal(t, "X", c.String(ctx, "b", Subject{}, ""))
	ch := events(c)
	publish(t, rdb, key, docV2)
	waitEvent(t, ch, 5*time.Second)
	assert.Equal(t, "Y", c.String(ctx, "b", Subject{}, ""))
}

// TestCloseStopsSourceGoroutines: after Close nothing the client started is
// left running.
func TestCloseStopsSourceGoroutines(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	key := srv.Key("flags")
	publish(t, rdb, key, docV1)
	path := filepath.Join(t.TempDir(), "flags.json")
	require.NoError(t, os.WriteFile(path, []byte(docV1), 0o644))
	ignore := goleak.IgnoreCurrent()
	for _, src := range []Source{RedisSource(rdb, key, &RedisOptions{PollInterval: 10 * time.Millisecond}), FileSource(path, &FileOptions{Interval: time.Millisecond}), Static(mustParse(t, docV1))} {
		c, err := New(context.Background(), src, nil)
		require.NoError(t, err)
		require.NoError(t, c.Close())
		goleak.VerifyNone(t, ignore)
	}
}

func TestPollJitter(t *testing.T) {
	s := RedisSource(nil, "k", &RedisOptions{PollInterval: time.Second}).(*redisSource)
	lo, hi := time.Hour, time.Duration(0)
	for range 10000 {
		d := s.jittered()
		lo, hi = min(lo, d), max(hi, d)
	}
	assert.GreaterOrEqual(t, lo, 800*time.Millisecond)
	assert.LessOrEqual(t, hi, 1200*time.Millisecond)
	assert.Less(t, lo, 820*time.Millisecond, "the jitter spreads over the whole ±20%")
	assert.Greater(t, hi, 1180*time.Millisecond)
}

// TestRedisPubSubAfterRestart: the subscription comes back by itself after
// Redis restarts, so changes keep arriving in milliseconds without waiting
// for the (here hour-long) poll.
func TestRedisPubSubAfterRestart(t *testing.T) {
	srv := redistest.StartOwned(t)
	rdb := fastClient(srv)
	defer rdb.Close()
	key := srv.Key("flags")
	ctx := context.Background()
	publish(t, rdb, key, docV1)
	c, err := New(ctx, RedisSource(rdb, key, &RedisOptions{PollInterval: time.Hour, Timeout: 300 * time.Millisecond}), nil)
	require.NoError(t, err)
	defer c.Close()
	require.Equal(t, StateOK, c.Status().State)

	srv.Stop(t)
	srv.Restart(t)
	// PUBLISH returns the number of subscribers: wait for the client's
	// subscription to be restored.
	require.Eventually(t, func() bool {
		n, err := rdb.Publish(ctx, RedisChannel(key), "ping").Result()
		return err == nil && n == 1
	}, 10*time.Second, 20*time.Millisecond)
	ch := events(c)
	publish(t, rdb, key, docV2)
	ev := waitEvent(t, ch, 5*time.Second)
	assert.Equal(t, int64(2), ev.Version)
	assert.Equal(t, "Y", c.String(ctx, "b", Subject{}, ""))
	assert.Equal(t, StateOK, c.Status().State)
}
