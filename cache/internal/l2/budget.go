package l2

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// budgetCtx is the context of one call's budget: it ends at its deadline, when its
// parent ends, or when it is cancelled, like a context.WithDeadline, but without a
// runtime timer of its own. Its Done channel is made only when asked for, and is then
// closed at the deadline by the store's [budgetClock], with a delay of at most the
// clock's resolution, never before (until Done is asked for, Err reads the time and
// reports the deadline at once). Err is consistent with Done: nil until Done is closed.
//
// A budget never asked for Done costs two allocations (itself and its CancelFunc) and no
// registration anywhere; asking for Done adds its channel, and a registration with the
// parent when the parent can end.
type budgetCtx struct {
	parent   context.Context
	clock    *budgetClock
	deadline time.Time

	mu   sync.Mutex // guards done, err and stop
	done chan struct{}
	err  error
	stop func() bool // stops the propagation of the parent's end; nil: none

	// Guarded by the lock of the clock's shard: the links of its list of registered
	// budgets. shard is set before registering.
	prev, next *budgetCtx
	listed     bool
	shard      uint8
}

// closedChan is the Done channel of a context that ended before Done was asked for.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// nopCancel is the CancelFunc of a budget that is its parent.
func nopCancel() {}

// withBudget returns parent bounded by deadline, on clock. When parent's own deadline
// is no later, it returns parent itself, with a CancelFunc that does nothing.
func withBudget(parent context.Context, k *budgetClock, deadline time.Time) (context.Context, context.CancelFunc) {
	if pd, ok := parent.Deadline(); ok && !pd.After(deadline) {
		return parent, nopCancel
	}
	c := &budgetCtx{parent: parent, clock: k, deadline: deadline}
	return c, c.cancel
}

// Deadline returns the budget's deadline.
func (c *budgetCtx) Deadline() (time.Time, bool) { return c.deadline, true }

// Value returns the parent's value for key.
func (c *budgetCtx) Value(key any) any { return c.parent.Value(key) }

// Done returns a channel closed when the budget ends. The first call registers the
// context with the clock (and with the parent, when the parent can end).
func (c *budgetCtx) Done() <-chan struct{} {
	c.mu.Lock()
	if c.done != nil {
		d := c.done
		c.mu.Unlock()
		return d
	}
	if err := c.parent.Err(); err != nil {
		c.err, c.done = err, closedChan
		c.mu.Unlock()
		return closedChan
	}
	// A deadline already past is left to the clock's next tick: the time is not read
	// here, on the path of every command.
	c.done = make(chan struct{})
	d := c.done
	if !c.clock.add(c) {
		// The store is closed: its budgets have ended.
		c.err = context.Canceled
		close(d)
		c.mu.Unlock()
		return d
	}
	if p := c.parent; p.Done() != nil {
		c.stop = context.AfterFunc(p, func() { c.end(p.Err()) })
	}
	c.mu.Unlock()
	return d
}

// Err returns nil while the budget runs, then context.DeadlineExceeded, the parent's
// error, or context.Canceled. Once it returns an error, Done is closed. It reports the
// parent's end at once; the deadline, once Done was asked for, when the clock closes
// Done, and before that by reading the time.
func (c *budgetCtx) Err() error {
	c.mu.Lock()
	err, waited := c.err, c.done != nil
	c.mu.Unlock()
	if err != nil {
		return err
	}
	err = c.parent.Err()
	if err == nil && !waited && !time.Now().Before(c.deadline) {
		err = context.DeadlineExceeded
	}
	if err != nil {
		c.end(err)
		c.mu.Lock()
		err = c.err // err, or an end that came first
		c.mu.Unlock()
	}
	return err
}

// cancel ends the budget with context.Canceled (unless it has already ended) and
// releases what it holds. It is idempotent.
func (c *budgetCtx) cancel() { c.end(context.Canceled) }

// end ends the budget with err unless it has already ended, closes Done, and releases
// the clock's registration and the parent's propagation.
func (c *budgetCtx) end(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	switch c.done {
	case nil:
		c.done = closedChan
	default:
		close(c.done)
	}
	registered := c.done != closedChan
	stop := c.stop
	c.stop = nil
	c.mu.Unlock()
	if stop != nil {
		stop()
	}
	if registered {
		c.clock.remove(c)
	}
}

// budgetClock closes the Done channels of a store's budgets at their deadlines: one
// goroutine ticks every resolution while some budget waits on it, and exits when none
// does, so an idle store wakes nothing. Budgets register in one of a few shards, each
// with its own lock, so that concurrent calls seldom contend. It is safe for concurrent
// use by multiple goroutines; [budgetClock.close] ends the budgets still waiting and
// waits for the goroutine.
type budgetClock struct {
	res    time.Duration
	shards [clockShards]clockShard

	running atomic.Bool // the goroutine runs (or is being started)
	closed  atomic.Bool
	mu      sync.Mutex // serializes starting and stopping the goroutine
	quit    chan struct{}
	wg      sync.WaitGroup
}

// clockShards is the number of shards of a budgetClock.
const clockShards = 8

// clockShard is one list of registered budgets, padded to its own cache lines.
type clockShard struct {
	mu   sync.Mutex // guards head and the links of the budgets in the list
	head *budgetCtx
	_    [48]byte
}

// newBudgetClock returns a clock for budgets of length budget: it ticks every
// budget/16, and at least every millisecond.
func newBudgetClock(budget time.Duration) *budgetClock {
	return &budgetClock{res: max(budget/16, time.Millisecond), quit: make(chan struct{})}
}

// add registers c, starting the goroutine if it is not running. It returns false when
// the clock is closed.
func (k *budgetClock) add(c *budgetCtx) bool {
	c.shard = uint8(rand.Uint32() % clockShards)
	sh := &k.shards[c.shard]
	sh.mu.Lock()
	if k.closed.Load() {
		sh.mu.Unlock()
		return false
	}
	c.prev, c.next, c.listed = nil, sh.head, true
	if sh.head != nil {
		sh.head.prev = c
	}
	sh.head = c
	sh.mu.Unlock()
	if !k.running.Load() {
		k.start()
	}
	return true
}

// start starts the goroutine unless it runs or the clock is closed.
func (k *budgetClock) start() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed.Load() || k.running.Load() {
		return
	}
	k.running.Store(true)
	k.wg.Add(1)
	go k.run()
}

// remove deregisters c if it is registered.
func (k *budgetClock) remove(c *budgetCtx) {
	sh := &k.shards[c.shard]
	sh.mu.Lock()
	sh.unlink(c)
	sh.mu.Unlock()
}

// unlink takes c out of the list if it is in it. sh.mu is held.
func (sh *clockShard) unlink(c *budgetCtx) {
	if !c.listed {
		return
	}
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		sh.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	}
	c.prev, c.next, c.listed = nil, nil, false
}

// run ends the budgets whose deadline has passed, every resolution, until none is
// registered or the clock is closed.
func (k *budgetClock) run() {
	defer k.wg.Done()
	t := time.NewTicker(k.res)
	defer t.Stop()
	var expired []*budgetCtx
	for {
		select {
		case <-k.quit:
			return
		case <-t.C:
		}
		now := time.Now()
		for i := range k.shards {
			sh := &k.shards[i]
			sh.mu.Lock()
			for c := sh.head; c != nil; {
				next := c.next
				if !now.Before(c.deadline) {
					sh.unlink(c)
					expired = append(expired, c)
				}
				c = next
			}
			sh.mu.Unlock()
		}
		for i, c := range expired {
			c.end(context.DeadlineExceeded)
			expired[i] = nil
		}
		expired = expired[:0]
		if k.stopIfIdle() {
			return
		}
	}
}

// stopIfIdle reports whether no budget is registered, and if so marks the goroutine
// stopped. A budget registering meanwhile either is seen here or sees the goroutine
// stopped and starts another.
func (k *budgetClock) stopIfIdle() bool {
	if !k.empty() {
		return false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.running.Store(false)
	if k.empty() {
		return true
	}
	k.running.Store(true)
	return false
}

// empty reports whether no budget is registered.
func (k *budgetClock) empty() bool {
	for i := range k.shards {
		sh := &k.shards[i]
		sh.mu.Lock()
		e := sh.head == nil
		sh.mu.Unlock()
		if !e {
			return false
		}
	}
	return true
}

// close stops the goroutine, waits for it, and ends the budgets still registered
// with context.Canceled. Budgets asking for Done afterwards end at once. It is
// idempotent.
func (k *budgetClock) close() {
	k.mu.Lock()
	if k.closed.Load() {
		k.mu.Unlock()
		return
	}
	k.closed.Store(true)
	close(k.quit)
	k.mu.Unlock()
	k.wg.Wait()
	k.running.Store(false)
	var pending []*budgetCtx
	for i := range k.shards {
		sh := &k.shards[i]
		sh.mu.Lock()
		for sh.head != nil {
			c := sh.head
			sh.unlink(c)
			pending = append(pending, c)
		}
		sh.mu.Unlock()
	}
	for _, c := range pending {
		c.end(context.Canceled)
	}
}
