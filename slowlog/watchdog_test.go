package slowlog

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWatchdog(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cp := &capture{}
		type key struct{}
		r, err := New(&Options{
			Threshold: time.Second,
			Watchdog:  100 * time.Millisecond,
			Logger:    slog.New(cp),
			ContextAttrs: func(ctx context.Context) []slog.Attr {
				return []slog.Attr{slog.Any("req", ctx.Value(key{}))}
			},
		})
		require.NoError(t, err)
		op := r.Op("hung")
		release := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			tm := op.Start(context.WithValue(context.Background(), key{}, "r-7"))
			<-release
			tm.End(nil)
		})
		fast := op.Start(context.Background())
		time.Sleep(500 * time.Millisecond)
		synctest.Wait()
		fast.End(nil)
		assert.Empty(t, cp.lines("slow operation still running"), "not past the threshold yet")
		assert.Equal(t, 1, op.Stats().InFlight)

		time.Sleep(1200 * time.Millisecond) // 1.7 s into the call
		synctest.Wait()
		running := cp.lines("slow operation still running")
		require.Len(t, running, 1, "reported while still running")
		assert.Equal(t, "hung", running[0]["op"].String())
		assert.Equal(t, time.Second, running[0]["threshold"].Duration())
		el := running[0]["elapsed"].Duration()
		assert.True(t, el >= time.Second && el <= 1100*time.Millisecond, "elapsed %v", el)
		assert.Equal(t, "r-7", running[0]["req"].Any())
		assert.Empty(t, cp.lines("slow operation"), "the call has not ended")
		rec := r.Recent(-1)
		require.Len(t, rec, 1)
		assert.True(t, rec[0].Running)

		time.Sleep(10 * time.Second)
		synctest.Wait()
		assert.Len(t, cp.lines("slow operation still running"), 1, "reported once")

		close(release)
		wg.Wait()
		ended := cp.lines("slow operation")
		require.Len(t, ended, 1)
		assert.True(t, ended[0]["reported_running"].Bool())
		assert.Equal(t, 11700*time.Millisecond, ended[0]["duration"].Duration())
		assert.Zero(t, op.Stats().InFlight)

		require.NoError(t, r.Close())
		require.NoError(t, r.Close())
		time.Sleep(10 * time.Second)
		synctest.Wait() // the bubble would report a leaked goroutine
	})
}

func TestWatchdogOverflowAndRace(t *testing.T) {
	t.Parallel()
	r, clk, cp := newTestRecorder(t, Options{Threshold: time.Second, Watchdog: time.Hour, LogBurst: 1 << 30})
	op := r.Op("many")
	timers := make([]Timer, inflightSlots+5)
	for i := range timers {
		timers[i] = op.Start(context.Background())
	}
	assert.Equal(t, inflightSlots, op.Stats().InFlight, "calls beyond the table are timed, not watched")
	clk.Advance(2 * time.Second)
	var wg sync.WaitGroup
	for _, tm := range timers {
		wg.Go(func() { tm.End(nil) })
	}
	wg.Go(r.tick) // races with End deterministically covered by the state machine
	wg.Wait()
	assert.Equal(t, uint64(len(timers)), op.Stats().Total.Count)
	ended := cp.lines("slow operation")
	assert.Len(t, ended, len(timers))
	running := cp.lines("slow operation still running")
	assert.LessOrEqual(t, len(running), inflightSlots)
	reported := 0
	for _, l := range ended {
		if v, ok := l["reported_running"]; ok && v.Bool() {
			reported++
		}
	}
	assert.Equal(t, len(running), reported, "End says reported_running exactly for the calls the watchdog reported")
	assert.Zero(t, op.Stats().InFlight)
	r.tick()
	assert.Len(t, cp.lines("slow operation still running"), len(running), "ended calls are never reported")
}

func TestWatchdogSeesRequestsWithAStaticRoute(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cp := &capture{}
		r, err := New(&Options{Threshold: time.Second, Watchdog: 100 * time.Millisecond, Logger: slog.New(cp)})
		require.NoError(t, err)
		release := make(chan struct{})
		h := Middleware(r, func(*http.Request) string { return "api.export" })(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			<-release
		}))
		var wg sync.WaitGroup
		wg.Go(func() { h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/export", nil)) })
		time.Sleep(2 * time.Second)
		synctest.Wait()
		running := cp.lines("slow operation still running")
		require.Len(t, running, 1)
		assert.Equal(t, "api.export", running[0]["op"].String())
		close(release)
		wg.Wait()
		ended := cp.lines("slow operation")
		require.Len(t, ended, 1)
		assert.Equal(t, int64(200), ended[0]["status"].Int64())
		require.NoError(t, r.Close())
	})
}

func TestDoubleEndKeepsOtherCallsTracked(t *testing.T) {
	t.Parallel()
	r, clk, cp := newTestRecorder(t, Options{Threshold: time.Second, Watchdog: time.Hour})
	op := r.Op("twice")
	a := op.Start(context.Background())
	a.End(nil)
	b := op.Start(context.Background()) // may reuse a's slot
	a.End(nil)                          // a mistake: must not free b's slot
	assert.Equal(t, 1, op.Stats().InFlight)
	clk.Advance(2 * time.Second)
	r.tick()
	assert.Len(t, cp.lines("slow operation still running"), 1, "b is still watched")
	b.End(nil)
	assert.Zero(t, op.Stats().InFlight)
	assert.Equal(t, uint64(3), op.Stats().Total.Count, "the second End counts again")
}

func TestSlotGenerationWraps(t *testing.T) {
	t.Parallel()
	var f inflight
	for i := range f.slots {
		f.slots[i].state.Store(genMask << genShift) // the last generation
	}
	i, gen := f.claim(context.Background(), 12345)
	require.GreaterOrEqual(t, i, int32(0))
	assert.Zero(t, gen, "wraps to 0")
	assert.Equal(t, 1, f.count())
	assert.False(t, f.release(i, gen+1), "a stale generation frees nothing")
	assert.Equal(t, 1, f.count())
	assert.False(t, f.release(i, gen))
	assert.Zero(t, f.count())
	assert.False(t, f.release(i, gen), "already free")
}

func TestLongWatchdogKeepsTheOtherBackgroundWork(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cp := &capture{}
		r, err := New(&Options{Watchdog: time.Hour, Logger: slog.New(cp), LogBurst: 1 << 20, Thresholds: func(string) Thresholder {
			return Thresholds{Adaptive: 3, Floor: time.Millisecond}
		}})
		require.NoError(t, err)
		op := r.Op("a")
		for range 100 {
			op.Observe(context.Background(), 10*time.Millisecond, nil)
		}
		n := len(cp.lines("slow operation"))
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		op.Observe(context.Background(), 20*time.Millisecond, nil)
		assert.Len(t, cp.lines("slow operation"), n, "the adaptive threshold (3 × 10ms) was refreshed within a second, not an hour")
		require.NoError(t, r.Close())
	})
}
