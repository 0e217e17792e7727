package slowlog_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"time"

	"github.com/stout-go/stout/slowlog"
)

// stepClock is a clock the examples move by hand, so their output is stable.
// The Recorder's background goroutine reads it too, hence the mutex.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *stepClock) Sleep(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClock() *stepClock { return &stepClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }
func textLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: dropTime}))
}
func dropTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

func Example() {
	clk := newClock()
	rec, err := slowlog.New(&slowlog.Options{
		Threshold: 200 * time.Millisecond,
		Logger:    textLogger(),
		Now:       clk.Now, // a real program leaves the default clock
	})
	if err != nil {
		panic(err)
	}
	defer rec.Close()
	getUser := rec.Op("db.getUser") // look it up once, keep it

	for _, d := range []time.Duration{12 * time.Millisecond, 15 * time.Millisecond, 340 * time.Millisecond} {
		t := getUser.Start(context.Background())
		clk.Sleep(d) // the work
		t.End(nil, slog.Int("user", 42))
	}

	s, _ := rec.Snapshot().Op("db.getUser")
	fmt.Println("calls:", s.Last1m.Count, "p50 ≈", s.Last1m.P50.Round(time.Millisecond), "max:", s.Last1m.Max)
	// Output:
	// level=WARN msg="slow operation" op=db.getUser duration=340ms threshold=200ms user=42
	// calls: 3 p50 ≈ 15ms max: 340ms
}

func ExampleTimer_Done() {
	clk := newClock()
	rec, _ := slowlog.New(&slowlog.Options{Threshold: 100 * time.Millisecond, Logger: textLogger(), Now: clk.Now})
	defer rec.Close()
	save := rec.Op("db.saveOrder")

	saveOrder := func(ctx context.Context) (err error) {
		defer save.Start(ctx).Done(&err) // records the final error
		clk.Sleep(150 * time.Millisecond)
		return errors.New("deadlock detected")
	}
	_ = saveOrder(context.Background())
	fmt.Println("errors:", save.Stats().Total.Errors)
	// Output:
	// level=WARN msg="slow operation" op=db.saveOrder duration=150ms threshold=100ms error="deadlock detected"
	// errors: 1
}

func ExampleVar() {
	clk := newClock()
	threshold := slowlog.NewVar(slowlog.Thresholds{Hard: time.Second})
	rec, _ := slowlog.New(&slowlog.Options{
		Logger: textLogger(),
		Now:    clk.Now,
		Thresholds: func(op string) slowlog.Thresholder {
			if op == "search" {
				return threshold
			}
			return nil // the defaults
		},
	})
	defer rec.Close()
	search := rec.Op("search")

	search.Observe(context.Background(), 300*time.Millisecond, nil) // below 1s: not logged
	threshold.Set(slowlog.Thresholds{Hard: 250 * time.Millisecond}) // e.g. from an admin endpoint
	search.Observe(context.Background(), 300*time.Millisecond, nil)
	// Output:
	// level=WARN msg="slow operation" op=search duration=300ms threshold=250ms
}

func ExampleMiddleware() {
	rec, _ := slowlog.New(nil)
	defer rec.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "0" {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
		}
	})
	h := slowlog.Middleware(rec, nil)(mux) // ops named by route pattern
	for _, p := range []string{"/users/1", "/users/2", "/users/0"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
	}
	s, _ := rec.Snapshot().Op("GET /users/{id}")
	fmt.Printf("calls: %d, errors: %d (%.0f%%)\n", s.Total.Count, s.Total.Errors, 100*s.Total.ErrorRate)
	// Output:
	// calls: 3, errors: 1 (33%)
}

func ExampleSnapshot_Merge() {
	a, _ := slowlog.New(nil) // two instances of a service
	b, _ := slowlog.New(nil)
	defer a.Close()
	defer b.Close()
	for i := range 100 {
		a.Op("checkout").Observe(context.Background(), time.Duration(i+1)*time.Millisecond, nil)
		b.Op("checkout").Observe(context.Background(), time.Duration(i+101)*time.Millisecond, nil)
	}
	s, _ := a.Snapshot().Merge(b.Snapshot()).Op("checkout")
	fmt.Println("count:", s.Total.Count, "p50 ≈", s.Total.P50.Round(time.Millisecond), "max:", s.Total.Max)
	// Output:
	// count: 200 p50 ≈ 100ms max: 200ms
}

func ExampleDo() {
	rec, _ := slowlog.New(nil)
	defer rec.Close()
	getUser := rec.Op("sql.getUser")
	name, err := slowlog.Do(context.Background(), getUser, func(ctx context.Context) (string, error) {
		return "ada", nil // e.g. db.QueryRowContext(ctx, q, id).Scan(&name)
	})
	fmt.Println(name, err, getUser.Stats().Total.Count)
	// Output:
	// ada <nil> 1
}
