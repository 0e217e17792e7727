package ratelimit

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })

func serve(h http.Handler, remote string, hdr map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = remote
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestMiddlewareHeaders(t *testing.T) {
	c := newFakeClock()
	lim := newMem(Limit{Rate: 2, Burst: 3}, c) // refills in 1.5s
	h := Middleware(lim, KeyByIP(), nil)(okHandler)

	w := serve(h, "192.0.2.1:1234", nil)
	require.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, `"default";q=3;w=2`, w.Header().Get("RateLimit-Policy"))
	assert.Equal(t, `"default";r=2;t=0`, w.Header().Get("RateLimit"))
	assert.Empty(t, w.Header().Get("X-RateLimit-Limit"))
	assert.Empty(t, w.Header().Get("Retry-After"))

	serve(h, "192.0.2.1:1234", nil)
	w = serve(h, "192.0.2.1:1234", nil)
	require.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, `"default";r=0;t=1`, w.Header().Get("RateLimit"))

	c.Add(200 * time.Millisecond)
	w = serve(h, "192.0.2.1:1234", nil)
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.Equal(t, "1", w.Header().Get("Retry-After"), "300ms rounds up to 1s")
	assert.Equal(t, `"default";r=0;t=1`, w.Header().Get("RateLimit"))
	assert.Contains(t, w.Body.String(), "retry in 1s")

	// Another client is not affected.
	w = serve(h, "192.0.2.2:1234", nil)
	assert.Equal(t, http.StatusOK, w.Code)
}

func TestMiddlewareRetryAfterRoundsUp(t *testing.T) {
	c := newFakeClock()
	lim := newMem(Limit{Rate: 0.4, Burst: 1, Name: "slow"}, c) // a token per 2.5s
	h := Middleware(lim, KeyByIP(), &MiddlewareOptions{Headers: HeadersBoth, ProblemJSON: true})(okHandler)
	require.Equal(t, http.StatusOK, serve(h, "192.0.2.1:1", nil).Code)
	for _, tc := range []struct {
		at    time.Duration
		retry string
	}{{0, "3"}, {500 * time.Millisecond, "2"}, {1500 * time.Millisecond, "1"}, {2499 * time.Millisecond, "1"}} {
		c.Set(tc.at)
		w := serve(h, "192.0.2.1:1", nil)
		require.Equal(t, http.StatusTooManyRequests, w.Code, "at %v", tc.at)
		assert.Equal(t, tc.retry, w.Header().Get("Retry-After"), "at %v", tc.at)
		assert.Equal(t, `"slow";r=0;t=`+tc.retry, w.Header().Get("RateLimit"))
		assert.Equal(t, `"slow";q=1;w=3`, w.Header().Get("RateLimit-Policy"))
		assert.Equal(t, "1", w.Header().Get("X-RateLimit-Limit"))
		assert.Equal(t, "0", w.Header().Get("X-RateLimit-Remaining"))
		assert.Equal(t, tc.retry, w.Header().Get("X-RateLimit-Reset"))
		assert.Equal(t, "application/problem+json", w.Header().Get("Content-Type"))
		var p map[string]any
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p))
		assert.Equal(t, "https://iana.org/assignments/http-problem-types#quota-exceeded", p["type"])
		assert.Equal(t, float64(429), p["status"])
		assert.Equal(t, []any{"slow"}, p["violated-policies"])
	}
	c.Set(2500 * time.Millisecond)
	assert.Equal(t, http.StatusOK, serve(h, "192.0.2.1:1", nil).Code, "retrying at Retry-After succeeds")
}

func TestMiddlewareOptions(t *testing.T) {
	c := newFakeClock()
	t.Run("legacy only", func(t *testing.T) {
		h := Middleware(newMem(PerSecond(5), c), KeyByIP(), &MiddlewareOptions{Headers: HeadersLegacy})(okHandler)
		w := serve(h, "192.0.2.1:1", nil)
		assert.Equal(t, "5", w.Header().Get("X-RateLimit-Limit"))
		assert.Equal(t, "4", w.Header().Get("X-RateLimit-Remaining"))
		assert.Equal(t, "1", w.Header().Get("X-RateLimit-Reset"))
		assert.Empty(t, w.Header().Get("RateLimit"))
	})
	t.Run("none", func(t *testing.T) {
		h := Middleware(newMem(Limit{Rate: 1, Burst: 1}, c), KeyByIP(), &MiddlewareOptions{Headers: HeadersNone})(okHandler)
		w := serve(h, "192.0.2.1:1", nil)
		assert.Empty(t, w.Header().Get("RateLimit"))
		w = serve(h, "192.0.2.1:1", nil)
		assert.Equal(t, http.StatusTooManyRequests, w.Code)
		assert.Equal(t, "1", w.Header().Get("Retry-After"), "Retry-After on every 429")
	})
	t.Run("cost and exemptions", func(t *testing.T) {
		h := Middleware(newMem(Limit{Rate: 1, Burst: 10}, c), KeyByIP(), &MiddlewareOptions{
			Cost:   func(r *http.Request) int { return len(r.URL.Query().Get("ids")) },
			Exempt: func(r *http.Request) bool { return r.URL.Path == "/healthz" },
		})(okHandler)
		req := func(target string) int {
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodGet, target, nil)
			r.RemoteAddr = "192.0.2.9:1"
			h.ServeHTTP(w, r)
			return w.Code
		}
		assert.Equal(t, http.StatusOK, req("/?ids=abcdefgh"))
		assert.Equal(t, http.StatusTooManyRequests, req("/?ids=abc"))
		assert.Equal(t, http.StatusOK, req("/?ids=ab"))
		assert.Equal(t, http.StatusRequestEntityTooLarge, req("/?ids=abcdefghijk"), "cost above burst can never succeed")
		for range 5 {
			assert.Equal(t, http.StatusOK, req("/healthz"))
		}
	})
	t.Run("empty key is not limited", func(t *testing.T) {
		h := Middleware(newMem(Limit{Rate: 1, Burst: 1}, c), KeyByHeader("X-API-Key"), nil)(okHandler)
		for range 3 {
			assert.Equal(t, http.StatusOK, serve(h, "192.0.2.1:1", nil).Code)
		}
		assert.Equal(t, http.StatusOK, serve(h, "192.0.2.1:1", map[string]string{"X-API-Key": "k1"}).Code)
		assert.Equal(t, http.StatusTooManyRequests, serve(h, "192.0.2.1:1", map[string]string{"X-API-Key": "k1"}).Code)
		assert.Equal(t, http.StatusOK, serve(h, "192.0.2.1:1", map[string]string{"X-API-Key": "k2"}).Code)
	})
}

// failing is a Limiter whose every call fails, as a fail-closed backend does.
type failing struct{ *Memory }

func (failing) AllowN(context.Context, string, int) (Decision, error) {
	return Decision{RetryAfter: 2 * time.Second}, errors.Join(ErrUnavailable, errors.New("down"))
}

func TestMiddlewareErrors(t *testing.T) {
	h := Middleware(failing{}, KeyByIP(), &MiddlewareOptions{ProblemJSON: true})(okHandler)
	w := serve(h, "192.0.2.1:1", nil)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Equal(t, "2", w.Header().Get("Retry-After"))
	assert.Contains(t, w.Body.String(), "temporary-reduced-capacity")

	h = Middleware(failing{}, KeyByIP(), &MiddlewareOptions{FailOpen: true})(okHandler)
	assert.Equal(t, http.StatusOK, serve(h, "192.0.2.1:1", nil).Code)

	// A fail-open Redis that is down never produces a 503.
	r := NewRedis(unreachable(t), PerSecond(1), &RedisOptions{Budget: 10 * time.Millisecond, Failures: 1, ProbeInterval: time.Hour})
	defer func() { _ = r.Close() }()
	h = Middleware(r, KeyByIP(), nil)(okHandler)
	for range 3 {
		assert.Equal(t, http.StatusOK, serve(h, "192.0.2.1:1", nil).Code)
	}
	r2 := NewRedis(unreachable(t), PerSecond(1), &RedisOptions{OnError: FailClosed, Budget: 10 * time.Millisecond, Failures: 1, ProbeInterval: time.Hour})
	defer func() { _ = r2.Close() }()
	h = Middleware(r2, KeyByIP(), nil)(okHandler)
	assert.Equal(t, http.StatusServiceUnavailable, serve(h, "192.0.2.1:1", nil).Code)
}

func TestClientIP(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:ffff::/48")}
	cases := []struct {
		name, remote, xff string
		trusted           []netip.Prefix
		want              string
	}{
		{"no proxies: header ignored", "203.0.113.7:5000", "1.2.3.4", nil, "203.0.113.7"},
		{"spoofed header from untrusted peer", "203.0.113.7:5000", "10.1.1.1, 1.2.3.4", proxies, "203.0.113.7"},
		{"one trusted proxy", "10.0.0.2:80", "198.51.100.5", proxies, "198.51.100.5"},
		{"client-supplied entries left of the real one", "10.0.0.2:80", "6.6.6.6, 198.51.100.5, 10.0.0.9", proxies, "198.51.100.5"},
		{"all trusted: leftmost", "10.0.0.2:80", "10.9.9.9, 10.0.0.9", proxies, "10.9.9.9"},
		{"no header from proxy", "10.0.0.2:80", "", proxies, "10.0.0.2"},
		{"garbage from proxy", "10.0.0.2:80", "198.51.100.5, bogus", proxies, "10.0.0.2"},
		{"v6 with port", "[2001:db8:ffff::1]:443", "[2001:db8::abcd]:1234", proxies, "2001:db8::abcd"},
		{"mapped v4", "[::ffff:203.0.113.9]:1", "", proxies, "203.0.113.9"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.remote
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			assert.Equal(t, tc.want, ClientIP(r, tc.trusted).String())
		})
	}
	t.Run("several header lines", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = "10.0.0.2:80"
		r.Header.Add("X-Forwarded-For", "6.6.6.6")
		r.Header.Add("X-Forwarded-For", "198.51.100.5, 10.0.0.7")
		assert.Equal(t, "198.51.100.5", ClientIP(r, proxies).String())
	})
	t.Run("v6 keyed by /64", func(t *testing.T) {
		k := KeyByIP()
		a := httptest.NewRequest(http.MethodGet, "/", nil)
		a.RemoteAddr = "[2001:db8:1:2:aaaa::1]:1"
		b := httptest.NewRequest(http.MethodGet, "/", nil)
		b.RemoteAddr = "[2001:db8:1:2:bbbb::2]:1"
		assert.Equal(t, k(a), k(b))
		assert.Equal(t, "ip:2001:db8:1:2::", k(a))
	})
	t.Run("spoofing does not escape the limit", func(t *testing.T) {
		c := newFakeClock()
		h := Middleware(newMem(Limit{Rate: 1, Burst: 1}, c), KeyByIP(proxies...), nil)(okHandler)
		assert.Equal(t, http.StatusOK, serve(h, "203.0.113.7:1", map[string]string{"X-Forwarded-For": "1.1.1.1"}).Code)
		assert.Equal(t, http.StatusTooManyRequests, serve(h, "203.0.113.7:1", map[string]string{"X-Forwarded-For": "2.2.2.2"}).Code)
	})
	t.Run("key funcs", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = "192.0.2.1:1"
		user := KeyByUser(func(r *http.Request) string { return r.Header.Get("X-User") })
		k := FirstKey(user, KeyByIP())
		assert.Equal(t, "ip:192.0.2.1", k(r))
		r.Header.Set("X-User", "42")
		assert.Equal(t, "user:42", k(r))
		assert.Equal(t, "ip:not-an-address", KeyByIP()(&http.Request{RemoteAddr: "not-an-address"}))
	})
}

func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.2:80", "198.51.100.5, 10.0.0.9")
	f.Add("203.0.113.7:5000", "1.2.3.4")
	f.Add("[2001:db8:ffff::1]:443", "[2001:db8::abcd]:1234,,")
	f.Add("10.0.0.1", " , ,10.1.1.1")
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:ffff::/48")}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{"X-Forwarded-For": {xff}}}
		got := ClientIP(r, proxies)
		peer := parseAddr(remote)
		if !peer.IsValid() {
			if got.IsValid() {
				t.Fatalf("invalid peer %q gave %v", remote, got)
			}
			return
		}
		if !inPrefixes(peer, proxies) {
			if got != peer {
				t.Fatalf("untrusted peer %v: header must be ignored, got %v", peer, got)
			}
			return
		}
		if got != peer && !strings.Contains(xff, strings.TrimPrefix(got.String(), "::ffff:")) && !strings.Contains(strings.ToLower(xff), got.String()) {
			// Addresses may be written differently (zeros, case): accept any
			// hop that parses to got.
			found := false
			for _, p := range strings.Split(xff, ",") {
				if parseAddr(strings.TrimSpace(p)) == got {
					found = true
				}
			}
			if !found {
				t.Fatalf("client %v is neither the peer nor in %q", got, xff)
			}
		}
		_ = KeyByIP(proxies...)(r)
	})
}

// unreachable is a client of a port nothing listens on.
func unreachable(t *testing.T) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// denier is a Limiter that denies everything with the given RetryAfter, as
// a third-party Limiter might.
type denier struct {
	*Memory
	retry time.Duration
}

func (d denier) AllowN(context.Context, string, int) (Decision, error) {
	return Decision{Limit: Limit{Rate: 1, Burst: 1}, RetryAfter: d.retry, ResetAfter: time.Second}, nil
}

func TestMiddlewareRetryAfterOnEvery429(t *testing.T) {
	for _, retry := range []time.Duration{0, RetryNever, time.Nanosecond} {
		h := Middleware(denier{NewMemory(PerSecond(1), nil), retry}, KeyByIP(), nil)(okHandler)
		w := serve(h, "192.0.2.1:1", nil)
		require.Equal(t, http.StatusTooManyRequests, w.Code)
		assert.Equal(t, "1", w.Header().Get("Retry-After"), "RetryAfter %v", retry)
		assert.Contains(t, w.Body.String(), "retry in 1s")
	}
}

// TestMiddlewareTNotAfterRetryAfter: with a huge burst the rounded-up token
// interval adds up, and the float estimate of the next token (t) came out
// a second later than the exact Retry-After, which the draft forbids.
func TestMiddlewareTNotAfterRetryAfter(t *testing.T) {
	c := newFakeClock()
	l := Limit{Rate: 0.7, Burst: 800_000_000} // T = 1428571429ns, 0.43ns over 1/Rate
	lim := newMem(l, c)
	h := Middleware(lim, KeyByIP(), nil)(okHandler)
	d, err := lim.AllowN(context.Background(), "ip:192.0.2.1", l.Burst)
	require.NoError(t, err)
	require.True(t, d.Allowed)
	c.Add(430 * time.Millisecond)
	w := serve(h, "192.0.2.1:1", nil)
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.Equal(t, "1", w.Header().Get("Retry-After"))
	assert.Equal(t, `"default";r=0;t=1`, w.Header().Get("RateLimit"))
	c.Add(time.Second)
	assert.Equal(t, http.StatusOK, serve(h, "192.0.2.1:1", nil).Code, "retrying at Retry-After succeeds")
}

// TestHeadersExtremeLimits: a limit too slow for any real client still gets
// sane headers: w did overflow to a negative number, and t was 0 (a token
// now) for an empty bucket because it was estimated with the unclamped rate.
func TestHeadersExtremeLimits(t *testing.T) {
	c := newFakeClock()
	l := Limit{Rate: 1e-300, Burst: 10}
	lim := newMem(l, c)
	d, err := lim.AllowN(context.Background(), "k", 10)
	require.NoError(t, err)
	h := http.Header{}
	writeHeaders(h, HeadersBoth, d)
	assert.Equal(t, `"default";q=10;w=9223372036`, h.Get("RateLimit-Policy"))
	rl := h.Get("RateLimit")
	require.True(t, strings.HasPrefix(rl, `"default";r=0;t=`), rl)
	next, err := strconv.ParseInt(strings.TrimPrefix(rl, `"default";r=0;t=`), 10, 64)
	require.NoError(t, err)
	d2, err := lim.Allow(context.Background(), "k")
	require.NoError(t, err)
	require.False(t, d2.Allowed)
	assert.Equal(t, RetryAfterSeconds(d2), next, "t is the exact time to the next token")
	assert.Positive(t, ceilSeconds(time.Duration(math.MaxInt64)))
	assert.Equal(t, int64(9223372037), ceilSeconds(time.Duration(math.MaxInt64)))
}
