package ratelimit

import (
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// MemoryOptions configure a [Memory] limiter. The zero value (or nil) gives
// the defaults.
type MemoryOptions struct {
	// Resolver, if set, chooses the limits per key and call (see [Limiter]).
	// Default: the limit given to NewMemory for every key.
	Resolver Resolver

	// MaxKeys bounds the number of buckets kept (one per key and limit).
	// Only buckets that are not full count as state worth keeping: full
	// ones are dropped as new keys arrive, which loses nothing because a
	// full bucket and a new key decide identically. When MaxKeys buckets
	// are all in use, a new key is decided by OnFull and not stored; an
	// active bucket is never dropped. The bound is enforced per shard
	// (MaxKeys/shards each). Default 1<<20 (about 40 MB at most); -1 means
	// no bound.
	MaxKeys int

	// OnFull is what happens to a key that cannot be stored because MaxKeys
	// buckets are all in use: FailOpen (the default; FallbackLocal means the
	// same here) decides it as a new key without keeping its state;
	// FailClosed denies it with [ErrTooManyKeys].
	OnFull Policy

	// Now is the clock. Default time.Now, whose monotonic reading is used,
	// so wall-clock jumps change nothing. A clock that goes backwards never
	// credits a bucket with time (see [Memory]).
	// Readings earlier than one already seen are taken as that one. Wait
	// still sleeps on real timers for the delays this clock yields.
	Now func() time.Time
}

// Memory is an in-process keyed limiter: GCRA with one int64 per key and
// limit (the bucket's theoretical arrival time, in nanoseconds of a
// monotonic clock) in a sharded hash table.
//
// Decisions on a known key take a shard's read lock and update the bucket
// with a compare-and-swap loop that reads the clock inside the loop, after
// loading the state: each successful update uses a time no earlier than the
// update before it, so time never runs backwards and concurrent callers
// cannot be credited for the same interval twice (the x/time/rate
// over-admission of golang/go#65508). A TAT only ever moves forward, except
// by a Reservation's refund.
//
// Keys are hashed with a per-limiter random seed; the table stores 64-bit
// hashes, not keys: about 33 bytes per bucket. Two keys share a bucket only
// if their hashes collide: with 10M live buckets the chance that any pair
// does is about 3·10⁻⁶, and the seed keeps clients from aiming for it. Buckets that are full are removed,
// a few at a time, when new keys are added (no goroutine, nothing to close).
//
// A key with several limits is decided under the shard's write lock, all
// limits at once: all or nothing.
//
// A Memory is safe for concurrent use by multiple goroutines.
type Memory struct {
	def      [1]Limit
	defP     params
	defErr   error
	resolver Resolver
	clock    func() time.Time
	epoch    time.Time
	seed     maphash.Seed
	shards   []shard
	mask     uint64
	capShard int
	onFull   Policy
	// hw is the latest reading of an injected clock: readings are clamped
	// to it so that time never runs backwards (time.Now's monotonic
	// reading needs no clamp: see ticks).
	hw atomic.Int64
}

const (
	chunkBits = 8
	chunkSize = 1 << chunkBits
	// sampleAbove is the shard size from which each insert looks at a few
	// buckets and drops those that are full.
	sampleAbove = 32
	sampleSize  = 4
	maxShards   = 64
)

type shard struct {
	mu     sync.RWMutex // guards m, chunks, free, next, floor, quiet; cells are atomics
	m      map[uint64]uint32
	chunks []*[chunkSize]atomic.Int64
	free   []uint32
	next   uint32
	// floor is the largest TAT ever evicted from this shard. A key with no
	// state starts from max(floor, now), so that with a clock that went
	// backwards an evicted bucket still decides as it would have.
	floor int64
	// quiet is the earliest time a full sweep can free anything, after a
	// sweep found every bucket in use.
	quiet   int64
	scratch []int64 // reused by sweep
	_       [16]byte
}

// NewMemory returns a Memory limiter with limit as the default limit for
// every key. An invalid limit is reported by every call that uses it
// ([ErrInvalidLimit]), so a Resolver may stand in for it.
func NewMemory(limit Limit, opts *MemoryOptions) *Memory {
	var o MemoryOptions
	if opts != nil {
		o = *opts
	}
	m := &Memory{resolver: o.Resolver, clock: o.Now, seed: maphash.MakeSeed(), onFull: o.OnFull}
	m.def[0] = limit
	m.defP, m.defErr = newParams(limit, time.Nanosecond, spanNanos)
	if m.clock == nil {
		m.epoch = time.Now()
	} else {
		m.epoch = m.clock()
	}
	maxKeys := o.MaxKeys
	if maxKeys == 0 {
		maxKeys = 1 << 20
	}
	n := maxShards
	if maxKeys > 0 {
		// Keep at least 64 buckets per shard so that per-shard caps are not
		// lumpy.
		n = 1
		if per := maxKeys / 64; per > 1 {
			n = min(maxShards, 1<<(bits.Len(uint(per))-1))
		}
		m.capShard = (maxKeys + n - 1) / n
	}
	m.shards = make([]shard, n)
	m.mask = uint64(n - 1)
	for i := range m.shards {
		m.shards[i].m = make(map[uint64]uint32)
		m.shards[i].floor = math.MinInt64
		m.shards[i].quiet = math.MinInt64
	}
	return m
}

// ticks is the clock in nanoseconds since the limiter was made.
//
// With the default clock it is a monotonic reading taken after the bucket's
// state was loaded, so each successful compare-and-swap uses a time no
// earlier than the one before it. An injected clock may go backwards (or be
// read late); its readings are clamped to the latest one seen, so a stale
// reading is treated as the present and can never credit a bucket with time
// it has already been charged for.
func (m *Memory) ticks() int64 {
	if m.clock == nil {
		return int64(time.Since(m.epoch))
	}
	t := int64(m.clock().Sub(m.epoch))
	for {
		hw := m.hw.Load()
		if t <= hw {
			return hw
		}
		if m.hw.CompareAndSwap(hw, t) {
			return t
		}
	}
}

func (m *Memory) now() time.Time {
	if m.clock == nil {
		return time.Now()
	}
	return m.clock()
}

// Allow is AllowN(ctx, key, 1).
func (m *Memory) Allow(ctx context.Context, key string) (Decision, error) {
	return m.AllowN(ctx, key, 1)
}

// AllowN reports whether n units may be spent now for key and spends them
// if so. See [Limiter].
func (m *Memory) AllowN(ctx context.Context, key string, n int) (Decision, error) {
	if d, ok := m.fast(ctx, key, n); ok {
		return d, nil
	}
	d, _, err := m.take(ctx, key, n, -1)
	return d, err
}

// fast decides the common case, a known key under the default limit, with
// nothing but the compare-and-swap. It reports false to send every other
// case through take.
func (m *Memory) fast(ctx context.Context, key string, n int) (Decision, bool) {
	p := &m.defP
	if m.resolver != nil || m.defErr != nil || p.inf || n < 0 || int64(n) > p.burst || m.def[0].Name != "" {
		return Decision{}, false
	}
	if ctx.Value(limitsKey{}) != nil {
		return Decision{}, false
	}
	h := maphash.String(m.seed, key)
	sh := &m.shards[h&m.mask]
	sh.mu.RLock()
	idx, ok := sh.m[h]
	if !ok {
		sh.mu.RUnlock()
		return Decision{}, false
	}
	c := sh.cell(idx)
	cost := int64(n)
	for {
		old := c.Load()
		now := m.ticks()
		o := p.decide(old, now, cost, -1)
		if !o.allowed || cost == 0 || c.CompareAndSwap(old, o.newTAT) {
			sh.mu.RUnlock()
			return Decision{
				Allowed:    o.allowed,
				Limit:      m.def[0],
				Remaining:  int(min(o.remaining, maxBurst)),
				RetryAfter: time.Duration(max(o.retry, 0)),
				ResetAfter: time.Duration(max(o.reset, 0)),
			}, true
		}
	}
}

// Peek reports the state of key without spending anything.
func (m *Memory) Peek(ctx context.Context, key string) (Decision, error) {
	d, _, err := m.take(ctx, key, 0, -1)
	return d, err
}

// Reserve is ReserveN(ctx, key, 1).
func (m *Memory) Reserve(ctx context.Context, key string) (*Reservation, error) {
	return m.ReserveN(ctx, key, 1)
}

// ReserveN books n units for key at the earliest time they are available.
// See [Limiter] and [Reservation].
func (m *Memory) ReserveN(ctx context.Context, key string, n int) (*Reservation, error) {
	return m.reserve(ctx, key, n, maxReserve)
}

// Wait is WaitN(ctx, key, 1).
func (m *Memory) Wait(ctx context.Context, key string) error { return m.WaitN(ctx, key, 1) }

// WaitN blocks until n units are available for key and spends them. See
// [Limiter].
func (m *Memory) WaitN(ctx context.Context, key string, n int) error {
	return waitN(ctx, key, n, m.reserve)
}

// maxReserve bounds how far ahead a reservation may book: 30 years.
const maxReserve = 30 * 365 * 24 * time.Hour

func (m *Memory) reserve(ctx context.Context, key string, n int, maxWait time.Duration) (*Reservation, error) {
	d, b, err := m.take(ctx, key, n, int64(max(maxWait, 0)))
	if err != nil {
		return nil, err
	}
	r := &Reservation{ok: d.Allowed, d: d, clock: m.now}
	if !d.Allowed {
		return r, nil
	}
	r.actAt = m.epoch.Add(time.Duration(b.actAt))
	if b.shard != nil {
		r.cancel = func() { m.refund(b) }
	}
	return r, nil
}

// booking is what a reservation needs to refund.
type booking struct {
	shard *shard
	actAt int64
	slots []bookedSlot
}

type bookedSlot struct {
	key    uint64
	booked int64 // the TAT the reservation set
	cost   int64 // n·T
}

func (m *Memory) refund(b booking) {
	sh := b.shard
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if m.ticks() > b.actAt {
		return // already due: the holder may have acted
	}
	for _, s := range b.slots {
		idx, ok := sh.m[s.key]
		if !ok {
			continue
		}
		c := sh.cell(idx)
		cur := c.Load()
		c.Store(cur - refund(cur, s.booked, s.cost))
	}
}

func (m *Memory) paramsOf(l Limit) (params, error) {
	if l == m.def[0] {
		return m.defP, m.defErr
	}
	return newParams(l, time.Nanosecond, spanNanos)
}

// slotKey is the table key of limit i of a key hashed to h.
func (m *Memory) slotKey(h uint64, i int, l Limit) uint64 {
	id := uint64(i)
	if l.Name != "" {
		id = maphash.String(m.seed, l.Name)
	}
	if id == 0 {
		return h
	}
	return h ^ (id * 0x9e3779b97f4a7c15)
}

// take decides cost n for key. maxWait < 0 is a plain decision; maxWait ≥ 0
// books a reservation that may be up to maxWait ticks in the future.
func (m *Memory) take(ctx context.Context, key string, n int, maxWait int64) (Decision, booking, error) {
	if n < 0 {
		return Decision{}, booking{}, fmt.Errorf("%w: negative cost %d", ErrInvalidLimit, n)
	}
	limits, err := resolve(ctx, key, m.resolver, m.def[:])
	if err != nil {
		return Decision{}, booking{}, err
	}
	h := maphash.String(m.seed, key)
	sh := &m.shards[h&m.mask]
	if len(limits) == 1 {
		l := limits[0]
		p, err := m.paramsOf(l)
		if err != nil {
			return Decision{}, booking{}, err
		}
		if p.inf {
			return Decision{Allowed: true, Limit: l, Remaining: int(p.burst)}, booking{actAt: m.ticks()}, nil
		}
		if int64(n) > p.burst {
			d, _, _ := m.single(sh, m.slotKey(h, 0, l), l, p, 0, -1)
			d.Allowed, d.RetryAfter = false, RetryNever
			return d, booking{}, fmt.Errorf("%w: cost %d, burst %d", ErrCostExceedsBurst, n, p.burst)
		}
		return m.single(sh, m.slotKey(h, 0, l), l, p, int64(n), maxWait)
	}
	return m.multi(sh, h, limits, int64(n), maxWait)
}

func (m *Memory) single(sh *shard, sk uint64, l Limit, p params, n, maxWait int64) (Decision, booking, error) {
	sh.mu.RLock()
	if idx, ok := sh.m[sk]; ok {
		c := sh.cell(idx)
		for {
			old := c.Load()
			now := m.ticks()
			o := p.decide(old, now, n, maxWait)
			if !o.allowed || n == 0 || c.CompareAndSwap(old, o.newTAT) {
				sh.mu.RUnlock()
				return m.finishSingle(sh, sk, l, p, n, maxWait, o, now)
			}
		}
	}
	sh.mu.RUnlock()

	sh.mu.Lock()
	now := m.ticks()
	var o outcome
	if idx, ok := sh.m[sk]; ok {
		c := sh.cell(idx)
		o = p.decide(c.Load(), now, n, maxWait)
		if o.allowed && n > 0 {
			c.Store(o.newTAT)
		}
	} else {
		o = p.decide(sh.floor, now, n, maxWait)
		if o.allowed && n > 0 && !sh.insert(sk, o.newTAT, now, m.capShard) {
			sh.mu.Unlock()
			return m.untracked(l, p, n, now, o)
		}
	}
	sh.mu.Unlock()
	return m.finishSingle(sh, sk, l, p, n, maxWait, o, now)
}

func (m *Memory) finishSingle(sh *shard, sk uint64, l Limit, p params, n, maxWait int64, o outcome, now int64) (Decision, booking, error) {
	var f fold
	f.add(l, p, o, time.Nanosecond)
	d := f.d
	if !o.allowed || n == 0 || maxWait < 0 {
		return d, booking{}, nil
	}
	return d, booking{shard: sh, actAt: max(o.allowAt, now), slots: []bookedSlot{{key: sk, booked: o.newTAT, cost: n * p.t}}}, nil
}

// untracked decides a key that could not be stored because the shard is at
// its cap with every bucket in use.
func (m *Memory) untracked(l Limit, p params, n, now int64, o outcome) (Decision, booking, error) {
	if m.onFull == FailClosed {
		return Decision{Limit: l, RetryAfter: time.Second, ResetAfter: 0, Remaining: 0}, booking{}, ErrTooManyKeys
	}
	var f fold
	f.add(l, p, o, time.Nanosecond)
	return f.d, booking{actAt: now}, nil
}

func (m *Memory) multi(sh *shard, h uint64, limits []Limit, n, maxWait int64) (Decision, booking, error) {
	type slot struct {
		p       params
		key     uint64
		idx     uint32
		present bool
		old     int64
		o       outcome
	}
	var buf [4]slot
	slots := buf[:0]
	if len(limits) > len(buf) {
		slots = make([]slot, 0, len(limits))
	}
	var costErr error
	for i, l := range limits {
		p, err := m.paramsOf(l)
		if err != nil {
			return Decision{}, booking{}, err
		}
		if !p.inf && n > p.burst && costErr == nil {
			costErr = fmt.Errorf("%w: cost %d, burst %d (%s)", ErrCostExceedsBurst, n, p.burst, l)
		}
		slots = append(slots, slot{p: p, key: m.slotKey(h, i, l)})
	}
	if costErr != nil {
		d, _, _ := m.multi(sh, h, limits, 0, -1)
		d.Allowed, d.RetryAfter = false, RetryNever
		return d, booking{}, costErr
	}

	sh.mu.Lock()
	defer sh.mu.Unlock()
	now := m.ticks()
	all := true
	actAt := now
	for i := range slots {
		s := &slots[i]
		s.old = sh.floor
		if idx, ok := sh.m[s.key]; ok {
			s.idx, s.present, s.old = idx, true, sh.cell(idx).Load()
		}
		s.o = s.p.decide(s.old, now, n, maxWait)
		all = all && s.o.allowed
		actAt = max(actAt, s.o.allowAt)
	}
	var b booking
	if all && n > 0 {
		b = booking{shard: sh, actAt: actAt}
		// Charge the buckets that exist first: their new TATs are in the
		// future, so the room-making in insert cannot drop them (or hand
		// their cells to the new ones).
		for i := range slots {
			if s := &slots[i]; s.present {
				sh.cell(s.idx).Store(s.o.newTAT)
			}
		}
		for i := range slots {
			s := &slots[i]
			if s.p.inf || s.present || sh.insert(s.key, s.o.newTAT, now, m.capShard) {
				continue
			}
			// No room: undo every charge (all or nothing).
			for j := range slots {
				r := &slots[j]
				switch {
				case r.present:
					sh.cell(r.idx).Store(r.old)
				case j < i && !r.p.inf:
					sh.remove(r.key)
				}
			}
			if m.onFull == FailClosed {
				return Decision{Limit: limits[i], RetryAfter: time.Second}, booking{}, ErrTooManyKeys
			}
			b = booking{actAt: now}
			break
		}
		if b.shard != nil && maxWait >= 0 {
			for i := range slots {
				if s := &slots[i]; !s.p.inf {
					b.slots = append(b.slots, bookedSlot{key: s.key, booked: s.o.newTAT, cost: n * s.p.t})
				}
			}
		}
	}
	var f fold
	for i := range slots {
		s := &slots[i]
		o := s.o
		if !all && o.allowed {
			o = s.p.uncharged(s.old, now)
		}
		f.add(limits[i], s.p, o, time.Nanosecond)
	}
	return f.d, b, nil
}

func (sh *shard) cell(idx uint32) *atomic.Int64 {
	return &sh.chunks[idx>>chunkBits][idx&(chunkSize-1)]
}

// insert adds bucket k with state tat, first making room by dropping full
// buckets. It reports false, storing nothing, if the shard holds capacity
// buckets that are all in use. Caller holds sh.mu for writing.
func (sh *shard) insert(k uint64, tat, now int64, capacity int) bool {
	if len(sh.m) >= sampleAbove {
		sh.sample(now)
	}
	if capacity > 0 && len(sh.m) >= capacity {
		if now < sh.quiet {
			return false
		}
		sh.sweep(now, capacity)
		if len(sh.m) >= capacity {
			return false
		}
	}
	var idx uint32
	if n := len(sh.free); n > 0 {
		idx = sh.free[n-1]
		sh.free = sh.free[:n-1]
	} else {
		idx = sh.next
		sh.next++
		if int(idx>>chunkBits) == len(sh.chunks) {
			sh.chunks = append(sh.chunks, new([chunkSize]atomic.Int64))
		}
	}
	sh.cell(idx).Store(tat)
	sh.m[k] = idx
	return true
}

// sample looks at a few buckets (Go map iteration starts at a random place)
// and drops those that are full.
func (sh *shard) sample(now int64) {
	i := 0
	for k, idx := range sh.m {
		if tat := sh.cell(idx).Load(); tat <= now {
			sh.evict(k, idx, tat)
		}
		if i++; i >= sampleSize {
			return
		}
	}
}

// sweep drops every full bucket. If that leaves the shard at its cap, it
// records when an eighth of the buckets will be full, and the shard is not
// swept again before then: a shard full of active buckets costs one scan
// per capacity/8 new keys, not one per key.
func (sh *shard) sweep(now int64, capacity int) {
	tats := sh.scratch[:0]
	for k, idx := range sh.m {
		if tat := sh.cell(idx).Load(); tat <= now {
			sh.evict(k, idx, tat)
		} else {
			tats = append(tats, tat)
		}
	}
	if len(sh.m) >= capacity && len(tats) > 0 {
		slices.Sort(tats)
		sh.quiet = tats[min(len(tats)-1, capacity/8)]
	}
	sh.scratch = tats[:0]
}

func (sh *shard) evict(k uint64, idx uint32, tat int64) {
	delete(sh.m, k)
	sh.free = append(sh.free, idx)
	sh.floor = max(sh.floor, tat)
}

func (sh *shard) remove(k uint64) {
	if idx, ok := sh.m[k]; ok {
		delete(sh.m, k)
		sh.free = append(sh.free, idx)
	}
}

// Len reports the number of buckets held (for tests and monitoring).
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}
