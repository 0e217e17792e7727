package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/stout-go/stout/ratelimit"
)

// clock is a manual clock for examples that must not depend on real time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func Example() {
	ctx := context.Background()
	clk := &clock{t: time.Unix(0, 0)}
	// 5 requests at once, then one every 200ms.
	lim := ratelimit.NewMemory(ratelimit.Limit{Rate: rate.Every(200 * time.Millisecond), Burst: 5}, &ratelimit.MemoryOptions{Now: clk.Now})
	for i := range 6 {
		d, _ := lim.Allow(ctx, "user:42")
		fmt.Printf("request %d: allowed=%v remaining=%d retry=%v\n", i+1, d.Allowed, d.Remaining, d.RetryAfter)
	}
	clk.Advance(200 * time.Millisecond)
	d, _ := lim.Allow(ctx, "user:42")
	fmt.Printf("after 200ms: allowed=%v\n", d.Allowed)
	// Output:
	// request 1: allowed=true remaining=4 retry=0s
	// request 2: allowed=true remaining=3 retry=0s
	// request 3: allowed=true remaining=2 retry=0s
	// request 4: allowed=true remaining=1 retry=0s
	// request 5: allowed=true remaining=0 retry=0s
	// request 6: allowed=false remaining=0 retry=200ms
	// after 200ms: allowed=true
}

func ExampleMemory_AllowN() {
	ctx := context.Background()
	lim := ratelimit.NewMemory(ratelimit.Limit{Rate: 100, Burst: 1000}, nil)
	// Charge a batch by its size.
	d, err := lim.AllowN(ctx, "tenant:acme", 250)
	fmt.Println(d.Allowed, d.Remaining, err)
	// A cost above the burst can never be admitted: no retry time is promised.
	d, err = lim.AllowN(ctx, "tenant:acme", 5000)
	fmt.Println(d.Allowed, d.RetryAfter == ratelimit.RetryNever, errors.Is(err, ratelimit.ErrCostExceedsBurst))
	// Output:
	// true 750 <nil>
	// false true true
}

func ExampleMemory_Peek() {
	ctx := context.Background()
	lim := ratelimit.NewMemory(ratelimit.PerMinute(60), nil)
	_, _ = lim.AllowN(ctx, "k", 10)
	d, _ := lim.Peek(ctx, "k") // spends nothing
	fmt.Println(d.Remaining, d.Limit.Burst)
	// Output: 50 60
}

func ExampleMemory_ReserveN() {
	ctx := context.Background()
	clk := &clock{t: time.Unix(0, 0)}
	lim := ratelimit.NewMemory(ratelimit.Limit{Rate: 1, Burst: 1}, &ratelimit.MemoryOptions{Now: clk.Now})
	first, _ := lim.Reserve(ctx, "job")
	second, _ := lim.Reserve(ctx, "job")
	fmt.Println(first.Delay(), second.Delay())
	// The second job will not run after all: give its slot back.
	second.Cancel()
	third, _ := lim.Reserve(ctx, "job")
	fmt.Println(third.Delay())
	// Output:
	// 0s 1s
	// 1s
}

func ExampleMemory_WaitN() {
	lim := ratelimit.NewMemory(ratelimit.Limit{Rate: 1, Burst: 1}, nil)
	_ = lim.Wait(context.Background(), "crawler")
	// The next token is a second away; a 100ms deadline fails at once
	// instead of sleeping and failing.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := lim.Wait(ctx, "crawler")
	fmt.Println(errors.Is(err, ratelimit.ErrWouldExceedDeadline), errors.Is(err, context.DeadlineExceeded))
	// Output: true true
}

func ExampleWithLimits() {
	ctx := context.Background()
	lim := ratelimit.NewMemory(ratelimit.PerSecond(10), nil)
	// Per second and per day at once: all or nothing.
	perDay := ratelimit.Limit{Rate: rate.Limit(3.0 / 86400), Burst: 3, Name: "day"}
	perSec := ratelimit.Limit{Rate: 10, Burst: 10, Name: "second"}
	dctx := ratelimit.WithLimits(ctx, perSec, perDay)
	for range 4 {
		d, _ := lim.Allow(dctx, "free-tier-user")
		fmt.Println(d.Allowed, d.Limit.Name, d.Remaining)
	}
	// Output:
	// true day 2
	// true day 1
	// true day 0
	// false day 0
}

func ExampleResolverFunc() {
	ctx := context.Background()
	plans := map[string]ratelimit.Limit{"gold": ratelimit.PerSecond(100), "free": ratelimit.PerSecond(2)}
	lim := ratelimit.NewMemory(ratelimit.PerSecond(2), &ratelimit.MemoryOptions{
		Resolver: ratelimit.ResolverFunc(func(_ context.Context, key string) ([]ratelimit.Limit, error) {
			// Looked up per call: a plan change applies to the next request.
			return []ratelimit.Limit{plans[key]}, nil
		}),
	})
	g, _ := lim.Allow(ctx, "gold")
	f, _ := lim.Allow(ctx, "free")
	fmt.Println(g.Remaining, f.Remaining)
	// Output: 99 1
}

func ExampleShadow() {
	ctx := context.Background()
	lim := ratelimit.Shadow(ratelimit.NewMemory(ratelimit.Limit{Rate: 1, Burst: 2}, nil),
		func(_ context.Context, key string, d ratelimit.Decision, _ error) {
			fmt.Println("would deny", key)
		})
	for range 3 {
		d, _ := lim.Allow(ctx, "k")
		fmt.Println("allowed:", d.Allowed)
	}
	// Output:
	// allowed: true
	// allowed: true
	// would deny k
	// allowed: true
}

func ExampleMiddleware() {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} // our load balancers
	lim := ratelimit.NewMemory(ratelimit.Limit{Rate: 1, Burst: 2}, nil)
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	h := ratelimit.Middleware(lim, ratelimit.KeyByIP(proxies...), nil)(api)

	for range 3 {
		req := httptest.NewRequest(http.MethodGet, "/v1/items", nil)
		req.RemoteAddr = "10.1.2.3:5555"                  // the load balancer
		req.Header.Set("X-Forwarded-For", "198.51.100.7") // the client it saw
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		fmt.Printf("%d RateLimit: %s Retry-After: %q\n", w.Code, w.Header().Get("RateLimit"), w.Header().Get("Retry-After"))
	}
	// Output:
	// 200 RateLimit: "default";r=1;t=0 Retry-After: ""
	// 200 RateLimit: "default";r=0;t=1 Retry-After: ""
	// 429 RateLimit: "default";r=0;t=1 Retry-After: "1"
}

func ExampleClientIP() {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "203.0.113.9:4444" // not a proxy: its header is ignored
	req.Header.Set("X-Forwarded-For", "1.2.3.4")
	fmt.Println(ratelimit.ClientIP(req, proxies))
	req.RemoteAddr = "10.0.0.5:80" // a proxy: the rightmost untrusted hop is the client
	req.Header.Set("X-Forwarded-For", "1.2.3.4, 198.51.100.7, 10.0.0.9")
	fmt.Println(ratelimit.ClientIP(req, proxies))
	// Output:
	// 203.0.113.9
	// 198.51.100.7
}
