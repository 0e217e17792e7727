package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRateLimits(t *testing.T) {
	// A clock that does not move: buckets never refill during the test.
	frozen := func() time.Time { return time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC) }

	t.Run("per client, with headers and Retry-After", func(t *testing.T) {
		_, ts := newTestServer(t, config{ReadLimit: 3, WriteLimit: 1, TrustLoopbackProxy: true, Now: frozen})
		for i := range 3 {
			a := call(t, ts, "GET", "/users/1", "", "X-Forwarded-For", "192.0.2.1")
			require.Equal(t, http.StatusOK, a.status, "request %d", i)
			assert.Contains(t, a.header.Get("RateLimit-Policy"), `"reads";q=3`)
			assert.Contains(t, a.header.Get("RateLimit"), `r=`+itoa(int64(2-i)))
		}
		a := call(t, ts, "GET", "/users/1", "", "X-Forwarded-For", "192.0.2.1")
		require.Equal(t, http.StatusTooManyRequests, a.status)
		assert.Equal(t, "1", a.header.Get("Retry-After"))
		assert.Equal(t, "application/problem+json", a.header.Get("Content-Type"))
		// every limited route shares the client's read bucket
		assert.Equal(t, http.StatusTooManyRequests, call(t, ts, "GET", "/users?limit=1", "", "X-Forwarded-For", "192.0.2.1").status)

		// another client is not affected
		assert.Equal(t, http.StatusOK, call(t, ts, "GET", "/users/1", "", "X-Forwarded-For", "192.0.2.2").status)
		// the debug endpoints are not limited
		assert.Equal(t, http.StatusOK, call(t, ts, "GET", "/debug/stats", "", "X-Forwarded-For", "192.0.2.1").status)
	})

	t.Run("writes have their own, stricter bucket", func(t *testing.T) {
		_, ts := newTestServer(t, config{ReadLimit: 100, WriteLimit: 1, TrustLoopbackProxy: true, Now: frozen})
		for i := range 2 { // burst 2×WriteLimit
			a := call(t, ts, "PUT", "/users/1", `{"name":"x"}`, "X-Forwarded-For", "192.0.2.9")
			require.Equal(t, http.StatusOK, a.status, "write %d: %s", i, a.body)
			assert.Contains(t, a.header.Get("RateLimit-Policy"), `"writes";q=2`)
		}
		assert.Equal(t, http.StatusTooManyRequests, call(t, ts, "PUT", "/users/1", `{"name":"x"}`, "X-Forwarded-For", "192.0.2.9").status)
		assert.Equal(t, http.StatusOK, call(t, ts, "GET", "/users/1", "", "X-Forwarded-For", "192.0.2.9").status, "reads still pass")
	})

	t.Run("X-Forwarded-For is ignored unless loopback proxies are trusted", func(t *testing.T) {
		_, ts := newTestServer(t, config{ReadLimit: 2, Now: frozen})
		assert.Equal(t, http.StatusOK, call(t, ts, "GET", "/users/1", "", "X-Forwarded-For", "192.0.2.1").status)
		assert.Equal(t, http.StatusOK, call(t, ts, "GET", "/users/1", "", "X-Forwarded-For", "192.0.2.2").status)
		assert.Equal(t, http.StatusTooManyRequests, call(t, ts, "GET", "/users/1", "", "X-Forwarded-For", "192.0.2.3").status,
			"all three are the peer 127.0.0.1")
	})
}
