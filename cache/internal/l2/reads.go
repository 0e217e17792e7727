package l2

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// reads batches the single-key GETs of L2 hits. A GET finding fewer than [maxWire]
// reads on the wire goes out at once, alone: an idle store adds no latency. GETs
// arriving while the wire is full queue up, and when a round trip returns, one of
// them sends the whole queue as one pipeline: under concurrency, many hits share one
// round trip (and one write and one read system call) instead of taking one each.
//
// The sender is the queued GET whose deadline is the latest, and the pipeline is
// bounded by that deadline: no caller waits past its own budget (each waiter leaves
// at its own deadline), and the batch gets all the time any of its callers allows.
type reads struct {
	mu    sync.Mutex
	busy  int        // GETs or batches on the wire
	queue []*readReq // GETs waiting for one to return
}

// maxWire is how many GETs or batches of GETs may be on the wire at once before further
// GETs queue up to share the next round trip: one per processor, so that as many round
// trips as the process can make use of run side by side.
func maxWire() int { return runtime.GOMAXPROCS(0) }

// readReq is one queued GET.
type readReq struct {
	key      string
	deadline time.Time     // of the caller's context; zero: none
	done     chan struct{} // closed when raw and err are set, or when the request leads
	// lead is set (under reads.mu) when the request must send batch, which holds it.
	lead  bool
	batch []*readReq
	raw   []byte
	err   error
}

// get returns the value of the Redis key dk (nil when missing). ctx bounds the call:
// it should carry the call's budget.
func (s *Store) get(ctx context.Context, dk string) ([]byte, error) {
	r := &s.rd
	r.mu.Lock()
	if r.busy < maxWire() {
		r.busy++
		r.mu.Unlock()
		defer s.handOff()
		return getBytes(s.c.Get(ctx, dk))
	}
	q := &readReq{key: dk, done: make(chan struct{})}
	q.deadline, _ = ctx.Deadline()
	r.queue = append(r.queue, q)
	r.mu.Unlock()

	select {
	case <-q.done:
	case <-ctx.Done():
		r.mu.Lock()
		if !q.lead {
			// Not sent yet: leave the queue. (Once picked to lead, the request sends its
			// batch even though its own caller is gone: the others wait for it.)
			if i := slices.Index(r.queue, q); i >= 0 {
				r.queue = slices.Delete(r.queue, i, i+1)
			}
			r.mu.Unlock()
			return nil, ctx.Err()
		}
		r.mu.Unlock()
		<-q.done
	}
	if q.lead {
		s.lead(ctx, q)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return q.raw, q.err
}

// lead sends q's batch, then hands the wire on (even if sending panicked).
func (s *Store) lead(ctx context.Context, q *readReq) {
	defer s.handOff()
	s.send(ctx, q)
}

// handOff is called by the sender of a round trip when it returned: the first GET
// queued meanwhile is woken to send the queue, or the store goes idle.
func (s *Store) handOff() {
	r := &s.rd
	r.mu.Lock()
	if len(r.queue) == 0 {
		r.busy--
		r.mu.Unlock()
		return
	}
	batch := r.queue
	r.queue = nil
	q := batch[0]
	for _, o := range batch[1:] {
		if later(o.deadline, q.deadline) {
			q = o
		}
	}
	q.lead, q.batch = true, batch
	r.mu.Unlock()
	close(q.done)
}

// later reports whether deadline a is later than b (zero: no deadline, the latest).
func later(a, b time.Time) bool {
	if a.IsZero() || b.IsZero() {
		return a.IsZero() && !b.IsZero()
	}
	return a.After(b)
}

// send sends the GETs of self's batch as one pipeline, bounded by self's deadline
// (the batch's latest) but not by its cancellation: the batch must be answered even
// when the sender's caller is gone. Every request but self is answered through its
// done channel.
func (s *Store) send(ctx context.Context, self *readReq) {
	batch := self.batch
	var cctx context.Context
	var cancel context.CancelFunc
	if self.deadline.IsZero() {
		cctx, cancel = s.budget(context.WithoutCancel(ctx))
	} else {
		cctx, cancel = s.budgetUntil(context.WithoutCancel(ctx), self.deadline)
	}
	defer cancel()
	if len(batch) == 1 {
		self.raw, self.err = getBytes(s.c.Get(cctx, self.key))
		return
	}
	defer func() {
		if r := recover(); r != nil {
			// A panic on the way (a hook of the client's): the others in the batch get
			// an error at once instead of waiting to their deadlines; the sender's
			// caller gets the panic, as it would have on its own.
			err := fmt.Errorf("l2: batched read panicked: %v", r)
			for _, q := range batch {
				if q != self {
					q.err = err
					close(q.done)
				}
			}
			panic(r)
		}
	}()
	pipe := s.c.Pipeline()
	cmds := make([]*redis.StringCmd, len(batch))
	for i, q := range batch {
		cmds[i] = pipe.Get(cctx, q.key)
	}
	_, _ = pipe.Exec(cctx)
	for i, q := range batch {
		q.raw, q.err = getBytes(cmds[i])
		if q != self {
			close(q.done)
		}
	}
}
