package ratelimit_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/stout-go/stout/ratelimit"
)

// An API with pricing tiers: each API key has a per-second burst limit and a
// daily quota, looked up per request so that an upgrade applies at once.
// Search requests cost 5 units, everything else 1. Health checks are never
// limited. Over-limit clients get a problem+json body that says which policy
// they hit.

type plan struct{ perSecond, perDay int }

var plans = map[string]plan{
	"key-free": {perSecond: 2, perDay: 10},
	"key-pro":  {perSecond: 50, perDay: 100_000},
}

func planLimits(_ context.Context, key string) ([]ratelimit.Limit, error) {
	p, ok := plans[strings.TrimPrefix(key, "hdr:X-Api-Key:")]
	if !ok {
		p = plan{perSecond: 1, perDay: 5}
	}
	return []ratelimit.Limit{
		{Name: "burst", Rate: rate.Limit(p.perSecond), Burst: p.perSecond},
		{Name: "daily", Rate: rate.Limit(float64(p.perDay) / 86400), Burst: p.perDay},
	}, nil
}

func Example_tiers() {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	lim := ratelimit.NewMemory(ratelimit.PerSecond(1), &ratelimit.MemoryOptions{
		Resolver: ratelimit.ResolverFunc(planLimits),
		Now:      clk.Now,
	})
	mux := http.NewServeMux()
	mux.HandleFunc("/search", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "results") })
	mux.HandleFunc("/items", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "items") })
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	h := ratelimit.Middleware(lim, ratelimit.KeyByHeader("X-API-Key"), &ratelimit.MiddlewareOptions{
		Cost: func(r *http.Request) int {
			if r.URL.Path == "/search" {
				return 5
			}
			return 1
		},
		Exempt:      func(r *http.Request) bool { return r.URL.Path == "/healthz" },
		ProblemJSON: true,
	})(mux)

	call := func(key, path string) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("X-API-Key", key)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		fmt.Printf("%s %s: %d", key, path, w.Code)
		if rl := w.Header().Get("RateLimit"); rl != "" {
			fmt.Print(" ", rl)
		}
		if w.Code != http.StatusOK {
			fmt.Printf(" Retry-After=%s %s", w.Header().Get("Retry-After"), strings.TrimSpace(w.Body.String()))
		}
		fmt.Println()
	}
	call("key-pro", "/search")
	call("key-free", "/search") // cost 5 > burst 2: can never succeed
	call("key-free", "/items")
	call("key-free", "/items")
	call("key-free", "/items")
	call("key-free", "/healthz")
	clk.Advance(time.Second)
	for range 10 {
		clk.Advance(time.Second)
		call("key-free", "/items")
	}
	// Output:
	// key-pro /search: 200 "burst";r=45;t=0
	// key-free /search: 413 "burst";r=2;t=0 Retry-After= {"detail":"The cost of this request exceeds the rate limit's burst; it can never be admitted.","status":413,"title":"Request too large for the rate limit","type":"https://iana.org/assignments/http-problem-types#content-too-large"}
	// key-free /items: 200 "burst";r=1;t=0
	// key-free /items: 200 "burst";r=0;t=1
	// key-free /items: 429 "burst";r=0;t=1 Retry-After=1 {"detail":"Rate limit exceeded; retry in 1s.","status":429,"title":"Too Many Requests","type":"https://iana.org/assignments/http-problem-types#quota-exceeded","violated-policies":["burst"]}
	// key-free /healthz: 200
	// key-free /items: 200 "burst";r=1;t=0
	// key-free /items: 200 "burst";r=1;t=0
	// key-free /items: 200 "burst";r=1;t=0
	// key-free /items: 200 "burst";r=1;t=0
	// key-free /items: 200 "burst";r=1;t=0
	// key-free /items: 200 "burst";r=1;t=0
	// key-free /items: 200 "burst";r=1;t=0
	// key-free /items: 200 "daily";r=0;t=8631
	// key-free /items: 429 "daily";r=0;t=8630 Retry-After=8630 {"detail":"Rate limit exceeded; retry in 8630s.","status":429,"title":"Too Many Requests","type":"https://iana.org/assignments/http-problem-types#quota-exceeded","violated-policies":["daily"]}
	// key-free /items: 429 "daily";r=0;t=8629 Retry-After=8629 {"detail":"Rate limit exceeded; retry in 8629s.","status":429,"title":"Too Many Requests","type":"https://iana.org/assignments/http-problem-types#quota-exceeded","violated-policies":["daily"]}
}
