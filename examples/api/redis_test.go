package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stout-go/stout/flags"
	"github.com/stout-go/stout/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// twoInstances starts two api instances on one Redis (cfg says which), as
// two processes behind a load balancer would run.
func twoInstances(t *testing.T, cfg config) (a, b *server, ta, tb *httptest.Server) {
	t.Helper()
	cfg.TrustLoopbackProxy = true
	cfg.ReadLimit, cfg.WriteLimit = 1, 100
	a, ta = newTestServer(t, cfg)
	b, tb = newTestServer(t, cfg)
	return a, b, ta, tb
}

func TestTwoInstancesOnRedis(t *testing.T) {
	rs := redistest.Start(t)
	testTwoInstances(t, config{RedisAddr: rs.Addr, RedisPrefix: rs.Prefix})
}

func TestTwoInstancesOnRedisCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node Redis Cluster")
	}
	c := redistest.StartCluster(t)
	testTwoInstances(t, config{RedisCluster: c.Addrs, RedisPrefix: c.Prefix})
}

func testTwoInstances(t *testing.T, cfg config) {
	a, b, ta, tb := twoInstances(t, cfg)

	t.Run("a write on one is read on the other", func(t *testing.T) {
		// Both instances have user 5 in memory.
		for i, ts := range []*httptest.Server{ta, tb} {
			r := call(t, ts, "GET", "/users/5?fields=name,preferences.theme", "", "X-Forwarded-For", "192.0.2."+itoa(int64(30+i)))
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		}
		heard := b.users.Stats().Redis.InvalidationsHeard
		r := call(t, ta, "PUT", "/users/5", `{"name":"Barbara Liskov","preferences":{"theme":"light"}}`, "X-Forwarded-For", "192.0.2.10")
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		// The invalidation reaches b's memory over pub/sub: a message, not a
		// round trip, so wait for it to be heard.
		require.Eventually(t, func() bool { return b.users.Stats().Redis.InvalidationsHeard > heard }, 10*time.Second, time.Millisecond)
		r = call(t, tb, "GET", "/users/5?fields=name,preferences.theme", "", "X-Forwarded-For", "192.0.2.11")
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.JSONEq(t, `{"name":"Barbara Liskov","preferences":{"theme":"light"}}`, string(r.body))

		// lists read the same store
		rows, err := b.repo.rowsOf(context.Background(), []int32{4, 5, 6})
		require.NoError(t, err)
		assert.Equal(t, "Barbara Liskov", rows[1].Name)
		assert.Equal(t, b.repo.data.user(4), rows[0])
	})

	t.Run("a value loaded by one is served to the other from Redis", func(t *testing.T) {
		before, _ := b.repo.Calls()
		require.Equal(t, http.StatusOK, call(t, ta, "GET", "/users/77?include=profile", "", "X-Forwarded-For", "192.0.2.13").status)
		require.Equal(t, http.StatusOK, call(t, tb, "GET", "/users/77?include=profile", "", "X-Forwarded-For", "192.0.2.14").status)
		after, _ := b.repo.Calls()
		assert.Equal(t, before["users.get"], after["users.get"], "b did not query the repository")
		assert.Equal(t, before["profiles.get"], after["profiles.get"])
		assert.Positive(t, b.users.Stats().Redis.Hits)
	})

	t.Run("rate limits are shared", func(t *testing.T) {
		const client = "192.0.2.20"
		require.Equal(t, http.StatusOK, call(t, ta, "GET", "/users/1", "", "X-Forwarded-For", client).status)
		r := call(t, tb, "GET", "/users/1", "", "X-Forwarded-For", client)
		assert.Equal(t, http.StatusTooManyRequests, r.status, "the other instance charges the same bucket")
		assert.NotEmpty(t, r.header.Get("Retry-After"))
		assert.Equal(t, http.StatusOK, call(t, tb, "GET", "/users/1", "", "X-Forwarded-For", "192.0.2.21").status)
	})

	t.Run("flags come from one document", func(t *testing.T) {
		require.Equal(t, a.flags.Status().Version, b.flags.Status().Version)
		require.Equal(t, flags.StateOK, b.flags.Status().State)
		changed := make(chan int64, 10)
		stop := b.flags.OnChange(func(ev flags.ChangeEvent) { changed <- ev.Version })
		defer stop()
		_, err := flags.PublishRedis(context.Background(), a.rdb, a.flagsKey(), flagDoc(7, 100), -1)
		require.NoError(t, err)
		select {
		case got := <-changed:
			assert.Equal(t, int64(7), got)
		case <-time.After(10 * time.Second):
			t.Fatal("instance b did not see the new flag document")
		}
		for id := int64(1); id <= 50; id++ {
			require.True(t, b.useFeed(context.Background(), id), "100%% rollout on b, user %d", id)
		}
	})
}
