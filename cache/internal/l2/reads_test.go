package l2

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stout-go/stout/internal/redistest"
)

// gate is a go-redis hook that holds every command or pipeline naming a key with the
// gated prefix until it is opened, and counts pipelines of GETs.
type gate struct {
	prefix    string
	open      chan struct{}
	held      atomic.Int64              // commands or pipelines waiting at the gate
	pipelines atomic.Int64              // pipelines of GETs
	piped     atomic.Int64              // GETs sent in them
	deadline  atomic.Pointer[time.Time] // of the last pipeline of GETs
}

func newGate(prefix string) *gate { return &gate{prefix: prefix, open: make(chan struct{})} }

func (g *gate) gated(cmds ...redis.Cmder) bool {
	for _, c := range cmds {
		for _, a := range c.Args()[1:] {
			if s, ok := a.(string); ok && strings.HasPrefix(s, g.prefix) {
				return true
			}
		}
	}
	return false
}

func (g *gate) wait(cmds ...redis.Cmder) {
	if g.gated(cmds...) {
		g.held.Add(1)
		<-g.open
	}
}

func (g *gate) DialHook(next redis.DialHook) redis.DialHook { return next }

func (g *gate) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		g.wait(cmd)
		return next(ctx, cmd)
	}
}

func (g *gate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && cmds[0].Name() == "get" {
			dl, _ := ctx.Deadline()
			g.deadline.Store(&dl)
			g.pipelines.Add(1)
			g.piped.Add(int64(len(cmds)))
		}
		g.wait(cmds...)
		return next(ctx, cmds)
	}
}

// queued returns how many GETs wait in s's queue.
func queued(s *Store) int {
	s.rd.mu.Lock()
	defer s.rd.mu.Unlock()
	return len(s.rd.queue)
}

// gatedStore returns a test Redis, a client of it with a gate (and hooks) added, the
// gate, and a ready Store over the client.
func gatedStore(t *testing.T, hooks ...redis.Hook) (*redistest.Server, *redis.Client, *gate, *Store) {
	t.Helper()
	srv := redistest.Start(t)
	c := srv.Client(t)
	g := newGate(srv.Key("gate:"))
	c.AddHook(g)
	for _, h := range hooks {
		c.AddHook(h)
	}
	s := newStore(t, c, srv.Prefix, Options{})
	ready(t, s)
	return srv, c, g, s
}

// getResult is the answer of one s.get.
type getResult struct {
	raw []byte
	err error
}

// queueGet starts s.get of key with ctx and waits until it is the n-th GET in the
// queue; the answer comes on the returned channel.
func queueGet(t *testing.T, s *Store, ctx context.Context, key string, n int) <-chan getResult {
	t.Helper()
	out := make(chan getResult, 1)
	go func() {
		raw, err := s.get(ctx, key)
		out <- getResult{raw, err}
	}()
	require.Eventually(t, func() bool { return queued(s) == n }, 10*time.Second, time.Millisecond)
	return out
}

// fillWire starts as many GETs of gated keys as may be on the wire at once, and waits
// until all are held at the gate: every GET after them queues.
func fillWire(t *testing.T, s *Store, g *gate) *sync.WaitGroup {
	t.Helper()
	var wg sync.WaitGroup
	n := runtime.GOMAXPROCS(0)
	for i := range n {
		wg.Go(func() {
			_, err := s.get(context.Background(), fmt.Sprintf("%sblock%d", g.prefix, i))
			assert.NoError(t, err)
		})
	}
	require.Eventually(t, func() bool { return g.held.Load() == int64(n) }, 10*time.Second, time.Millisecond)
	return &wg
}

// TestReadsBatch: GETs arriving while the wire is full wait, and go out together in one
// pipeline when a round trip returns; each gets its own value, a missing key nil.
func TestReadsBatch(t *testing.T) {
	srv, c, g, s := gatedStore(t)
	ctx := context.Background()
	const n = 20
	for i := range n - 1 {
		require.NoError(t, c.Set(ctx, srv.Key(fmt.Sprint("k", i)), fmt.Sprint("v", i), 0).Err())
	}

	blockers := fillWire(t, s, g)
	got := make([]any, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			raw, err := s.get(ctx, srv.Key(fmt.Sprint("k", i)))
			if assert.NoError(t, err) && raw != nil {
				got[i] = string(raw)
			}
		})
	}
	require.Eventually(t, func() bool { return queued(s) == n }, 10*time.Second, time.Millisecond)
	before, pipedBefore := g.pipelines.Load(), g.piped.Load()
	close(g.open)
	blockers.Wait()
	wg.Wait()

	for i := range n - 1 {
		assert.Equal(t, fmt.Sprint("v", i), got[i], "key %d", i)
	}
	assert.Nil(t, got[n-1], "a missing key reads nil")
	assert.Equal(t, int64(1), g.pipelines.Load()-before, "the queued GETs share one round trip")
	assert.Equal(t, int64(n), g.piped.Load()-pipedBefore)
	assert.Equal(t, 0, queued(s))
	assert.Equal(t, 0, s.rd.busy, "the wire is idle again")
}

// TestReadsCancelQueued: a queued GET whose context ends returns at once with its error
// and leaves the queue; the others are answered.
func TestReadsCancelQueued(t *testing.T) {
	srv, c, g, s := gatedStore(t)
	require.NoError(t, c.Set(context.Background(), srv.Key("a"), "A", 0).Err())
	require.NoError(t, c.Set(context.Background(), srv.Key("b"), "B", 0).Err())

	blockers := fillWire(t, s, g)
	cctx, cancel := context.WithCancel(context.Background())
	gone := queueGet(t, s, cctx, srv.Key("a"), 1)
	b := queueGet(t, s, context.Background(), srv.Key("b"), 2)

	cancel()
	require.ErrorIs(t, (<-gone).err, context.Canceled, "the cancelled GET returns while the wire is still held")
	assert.Equal(t, 1, queued(s), "and leaves the queue")

	close(g.open)
	blockers.Wait()
	got := <-b
	require.NoError(t, got.err)
	assert.Equal(t, "B", string(got.raw))
	assert.Equal(t, 0, s.rd.busy)
}

// TestReadsLeaderCancelled: the GET picked to send a batch sends it even when its own
// caller is gone, so the others in the batch are answered; it returns its caller's
// error.
func TestReadsLeaderCancelled(t *testing.T) {
	srv, c, g, s := gatedStore(t)
	require.NoError(t, c.Set(context.Background(), srv.Key("b"), "B", 0).Err())

	blockers := fillWire(t, s, g)
	// The first in the queue leads the batch; its key is gated too, so the batch is held
	// on the wire while its caller gives up.
	lctx, cancel := context.WithCancel(context.Background())
	lead := queueGet(t, s, lctx, srv.Key("gate:lead"), 1)
	b := queueGet(t, s, context.Background(), srv.Key("b"), 2)

	// Let one blocker return: it hands the queue to the leader, whose pipeline is held.
	held := g.held.Load()
	g.open <- struct{}{}
	require.Eventually(t, func() bool { return g.held.Load() == held+1 && queued(s) == 0 }, 10*time.Second, time.Millisecond)
	cancel()
	close(g.open)
	require.ErrorIs(t, (<-lead).err, context.Canceled)
	got := <-b
	require.NoError(t, got.err)
	assert.Equal(t, "B", string(got.raw))
	blockers.Wait()
	assert.Equal(t, 0, s.rd.busy)
}

// TestReadsStress: many goroutines reading random keys, some giving up at random
// moments, on a standalone server and a Cluster (where a batch spans slots and nodes):
// every answer is the key's value, and the wire ends idle.
func TestReadsStress(t *testing.T) {
	for _, cluster := range []bool{false, true} {
		t.Run(fmt.Sprintf("cluster=%v", cluster), func(t *testing.T) {
			var (
				c   Client
				key func(...string) string
				pfx string
			)
			if cluster {
				cl := redistest.StartCluster(t)
				c, key, pfx = cl.Client(t), cl.Key, cl.Prefix
			} else {
				srv := redistest.Start(t)
				c, key, pfx = srv.Client(t), srv.Key, srv.Prefix
			}
			s := newStore(t, c, pfx, Options{})
			ready(t, s)
			ctx := context.Background()
			const keys = 50
			for i := range keys {
				// Distinct hash tags: the keys spread over the Cluster's slots.
				require.NoError(t, c.Set(ctx, key(fmt.Sprintf("{k%d}", i)), fmt.Sprint("v", i), 0).Err())
			}
			var wg sync.WaitGroup
			var answered, cancelled atomic.Int64
			for w := range 32 {
				wg.Go(func() {
					r := rand.New(rand.NewPCG(uint64(w), 1))
					for range 100 {
						i := r.IntN(keys)
						cctx, cancel := context.WithCancel(ctx)
						if r.IntN(8) == 0 {
							time.AfterFunc(time.Duration(r.IntN(200))*time.Microsecond, cancel)
						}
						raw, err := s.get(cctx, key(fmt.Sprintf("{k%d}", i)))
						cancel()
						if errors.Is(err, context.Canceled) {
							cancelled.Add(1)
							continue
						}
						if assert.NoError(t, err) {
							assert.Equal(t, fmt.Sprint("v", i), string(raw))
							answered.Add(1)
						}
					}
				})
			}
			wg.Wait()
			assert.Equal(t, int64(3200), answered.Load()+cancelled.Load())
			assert.Equal(t, 0, queued(s))
			assert.Equal(t, 0, s.rd.busy)
		})
	}
}

// TestReadsSenderDeadline: the batch goes out under the latest deadline of its callers,
// so that none of them is held past its own deadline and the batch gets all the time
// any of them allows.
func TestReadsSenderDeadline(t *testing.T) {
	srv, _, g, s := gatedStore(t)
	blockers := fillWire(t, s, g)
	now := time.Now()
	deadlines := []time.Time{now.Add(time.Minute), now.Add(3 * time.Minute), now.Add(2 * time.Minute)}
	var wg sync.WaitGroup
	for i, dl := range deadlines {
		ctx, cancel := context.WithDeadline(context.Background(), dl)
		defer cancel()
		wg.Go(func() {
			_, err := s.get(ctx, srv.Key(fmt.Sprint("k", i)))
			assert.NoError(t, err)
		})
		require.Eventually(t, func() bool { return queued(s) == i+1 }, 10*time.Second, time.Millisecond)
	}
	close(g.open)
	blockers.Wait()
	wg.Wait()
	require.NotNil(t, g.deadline.Load())
	assert.True(t, g.deadline.Load().Equal(deadlines[1]), "sent under %v, want the latest %v", *g.deadline.Load(), deadlines[1])
}

// panicky is a hook whose pipelines of GETs panic.
type panicky struct{}

func (panicky) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (panicky) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (panicky) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && cmds[0].Name() == "get" {
			panic("hook panicked")
		}
		return next(ctx, cmds)
	}
}

// TestReadsSendPanic: a panic while a batch is sent reaches the sender's caller, as it
// would have on its own, and the others in the batch get an error at once instead of
// waiting to their deadlines; the wire is free again.
func TestReadsSendPanic(t *testing.T) {
	srv, _, g, s := gatedStore(t, panicky{})
	blockers := fillWire(t, s, g)
	const n = 3
	errs := make(chan error, n)
	panics := make(chan any, n)
	for i := range n {
		go func() {
			defer func() {
				if r := recover(); r != nil {
					panics <- r
				}
			}()
			// Deadlines far away: an answer must not come from a deadline.
			ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
			defer cancel()
			_, err := s.get(ctx, srv.Key(fmt.Sprint("k", i)))
			errs <- err
		}()
		require.Eventually(t, func() bool { return queued(s) == i+1 }, 10*time.Second, time.Millisecond)
	}
	close(g.open)
	blockers.Wait()
	select {
	case r := <-panics:
		assert.Equal(t, "hook panicked", r)
	case <-time.After(10 * time.Second):
		t.Fatal("the sender's caller did not get the panic")
	}
	for range n - 1 {
		select {
		case err := <-errs:
			assert.ErrorContains(t, err, "batched read panicked")
		case <-time.After(10 * time.Second):
			t.Fatal("a request of the batch was not answered")
		}
	}
	assert.Equal(t, 0, queued(s))
	require.Eventually(t, func() bool {
		s.rd.mu.Lock()
		defer s.rd.mu.Unlock()
		return s.rd.busy == 0
	}, 10*time.Second, time.Millisecond, "the wire is free again")
}
