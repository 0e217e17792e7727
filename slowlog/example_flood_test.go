package slowlog_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/stout-go/stout/slowlog"
)

// clock is moved by hand so that the output is stable. The Recorder's
// background goroutine reads it too, hence the mutex.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// A bad day: the database stalls and 10,000 calls in one second are slow.
// The log gets the first three lines, then one summary per minute with the
// number of lines held back, the worst call and the op's p99.
func Example_floodControl() {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	rec, err := slowlog.New(&slowlog.Options{
		Threshold:    100 * time.Millisecond,
		Logger:       logger,
		LogBurst:     3,           // at most 3 lines at once per op,
		LogEvery:     time.Minute, // then one more per minute
		SummaryEvery: time.Minute,
		Now:          clk.Now,
	})
	if err != nil {
		panic(err)
	}
	defer rec.Close()
	op := rec.Op("db.listOrders")

	for i := range 10_000 {
		d := 400*time.Millisecond + time.Duration(i%100)*time.Millisecond
		op.Observe(context.Background(), d, nil)
	}
	clk.Advance(time.Minute)
	op.Observe(context.Background(), 450*time.Millisecond, nil) // the next slow call brings the summary

	fmt.Println("recorded:", op.Stats().Total.Count)
	// Output:
	// level=WARN msg="slow operation" op=db.listOrders duration=400ms threshold=100ms
	// level=WARN msg="slow operation" op=db.listOrders duration=401ms threshold=100ms
	// level=WARN msg="slow operation" op=db.listOrders duration=402ms threshold=100ms
	// level=WARN msg="slow operations suppressed" op=db.listOrders suppressed=9997 worst=499ms p99=497.016175ms
	// level=WARN msg="slow operation" op=db.listOrders duration=450ms threshold=100ms
	// recorded: 10001
}
