// Package breaker is the circuit breaker shared by stout's Redis-backed types.
//
// A [Breaker] counts consecutive infrastructure failures. When they reach
// [Options.Failures] it opens: [Breaker.Allow] reports false, so callers skip the
// backend and apply their failure policy at once instead of paying a timeout per
// request. While open, one background goroutine runs [Options.Probe] every
// [Options.ProbeInterval]; the first success closes the breaker. An outage thus
// costs a few timeouts in total, not one per call, and recovery needs no traffic.
package breaker

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a [Breaker].
type Options struct {
	// Failures is the number of consecutive failures that open the breaker.
	// Default 5.
	Failures int
	// ProbeInterval is the pause between probes while open. Default 500ms.
	ProbeInterval time.Duration
	// ProbeTimeout bounds one probe. Default 1s.
	ProbeTimeout time.Duration
	// Probe checks the backend, typically with a PING. Required.
	Probe func(ctx context.Context) error
	// OnChange, if set, is called with true when the breaker opens and false when
	// it closes again. It runs outside any lock, on the goroutine that changed the
	// state.
	OnChange func(open bool)
}

// Breaker is a consecutive-failure circuit breaker with a background probe.
// It is safe for concurrent use by multiple goroutines. Allow and Record are
// lock-free.
type Breaker struct {
	opts  Options
	open  atomic.Bool
	fails atomic.Int64

	mu     sync.Mutex // guards closed and the start of probe goroutines
	closed bool
	stop   chan struct{}
	wg     sync.WaitGroup
}

// New returns a closed breaker. It starts no goroutine until it opens.
func New(o Options) *Breaker {
	if o.Failures <= 0 {
		o.Failures = 5
	}
	if o.ProbeInterval <= 0 {
		o.ProbeInterval = 500 * time.Millisecond
	}
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = time.Second
	}
	if o.Probe == nil {
		o.Probe = func(context.Context) error { return nil }
	}
	return &Breaker{opts: o, stop: make(chan struct{})}
}

// Allow reports whether the backend should be called: true unless the breaker is
// open.
func (b *Breaker) Allow() bool { return !b.open.Load() }

// IsOpen reports whether the breaker is open.
func (b *Breaker) IsOpen() bool { return b.open.Load() }

// Record reports the outcome of one backend call: nil for success, an error for
// an infrastructure failure (a timeout, a refused connection). Errors that are
// answers, such as a missing key, must not be recorded as failures.
func (b *Breaker) Record(err error) {
	if err == nil {
		if b.fails.Load() != 0 {
			b.fails.Store(0)
		}
		return
	}
	if b.fails.Add(1) >= int64(b.opts.Failures) {
		b.trip()
	}
}

// trip opens the breaker and starts the probe, once.
func (b *Breaker) trip() {
	b.mu.Lock()
	if b.closed || !b.open.CompareAndSwap(false, true) {
		b.mu.Unlock()
		return
	}
	b.wg.Add(1)
	go b.probe()
	b.mu.Unlock()
	if b.opts.OnChange != nil {
		b.opts.OnChange(true)
	}
}

// probe runs until a probe succeeds or the breaker is closed.
func (b *Breaker) probe() {
	defer b.wg.Done()
	t := time.NewTimer(b.opts.ProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), b.opts.ProbeTimeout)
		err := b.opts.Probe(ctx)
		cancel()
		if err == nil {
			b.fails.Store(0)
			b.open.Store(false)
			if b.opts.OnChange != nil {
				b.opts.OnChange(false)
			}
			return
		}
		t.Reset(b.opts.ProbeInterval)
	}
}

// Close stops the probe goroutine, if any, and waits for it. It is idempotent.
// A closed breaker keeps answering Allow but never starts another probe.
func (b *Breaker) Close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.stop)
	}
	b.mu.Unlock()
	b.wg.Wait()
}
