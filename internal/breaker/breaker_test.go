package breaker

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var errDown = errors.New("down")

func TestOpensAfterConsecutiveFailures(t *testing.T) {
	b := New(Options{Failures: 3, Probe: func(context.Context) error { return errDown }})
	defer b.Close()

	b.Record(errDown)
	b.Record(errDown)
	b.Record(nil) // a success resets the count
	b.Record(errDown)
	b.Record(errDown)
	assert.True(t, b.Allow(), "two consecutive failures do not open a 3-failure breaker")
	b.Record(errDown)
	assert.False(t, b.Allow())
	assert.True(t, b.IsOpen())
}

func TestProbeCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var healthy atomic.Bool
		var probes atomic.Int64
		var changes []bool
		b := New(Options{
			Failures:      1,
			ProbeInterval: 100 * time.Millisecond,
			Probe: func(context.Context) error {
				probes.Add(1)
				if healthy.Load() {
					return nil
				}
				return errDown
			},
			OnChange: func(open bool) { changes = append(changes, open) },
		})
		defer b.Close()

		b.Record(errDown)
		require.Equal(t, []bool{true}, changes)
		require.False(t, b.Allow())

		time.Sleep(350 * time.Millisecond) // fake time: three probe intervals
		synctest.Wait()
		assert.EqualValues(t, 3, probes.Load(), "one probe per interval")
		assert.False(t, b.Allow(), "failed probes keep it open")

		healthy.Store(true)
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		assert.True(t, b.Allow(), "a successful probe closes it")
		assert.Equal(t, []bool{true, false}, changes)
		assert.EqualValues(t, 4, probes.Load())

		time.Sleep(time.Second)
		synctest.Wait()
		assert.EqualValues(t, 4, probes.Load(), "no probes while closed")

		// It can open again.
		b.Record(errDown)
		assert.Equal(t, []bool{true, false, true}, changes)
	})
}

func TestOnlyOneProbeGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var running, started atomic.Int64
		release := make(chan struct{})
		b := New(Options{
			Failures:      1,
			ProbeInterval: time.Millisecond,
			Probe: func(ctx context.Context) error {
				started.Add(1)
				running.Add(1)
				defer running.Add(-1)
				<-release
				return errDown
			},
		})
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() { b.Record(errDown) })
		}
		wg.Wait()
		time.Sleep(10 * time.Millisecond)
		synctest.Wait()
		assert.EqualValues(t, 1, running.Load(), "one probe runs")
		for range 100 {
			b.Record(errDown)
		}
		synctest.Wait()
		assert.EqualValues(t, 1, started.Load(), "failures while open start no other probe")
		close(release)
		b.Close()
	})
}

func TestCloseIdempotentAndStopsProbe(t *testing.T) {
	b := New(Options{Failures: 1, ProbeInterval: time.Hour, Probe: func(context.Context) error { return errDown }})
	b.Record(errDown)
	b.Close()
	b.Close()
	b.Record(errDown) // no new goroutine after Close; goleak checks
	assert.True(t, b.IsOpen())
}

func BenchmarkAllowRecord(b *testing.B) {
	br := New(Options{})
	defer br.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if br.Allow() {
				br.Record(nil)
			}
		}
	})
}
