package cache

import (
	"sync/atomic"
	"unsafe"
)

// Stats is a snapshot of a [Cache]'s counters, all counted since [New].
type Stats struct {
	// Hits counts Gets (and keys of GetMany) answered with a fresh value, or a remembered
	// ErrNotFound, from process memory.
	Hits uint64
	// Misses counts Gets (and keys of GetMany) that waited for a load, their own or one
	// already in flight.
	Misses uint64
	// Loads counts loader and batch-loader calls, in the foreground and the background.
	Loads uint64
	// LoadErrors counts loader calls that failed with an error other than ErrNotFound,
	// panicked or timed out.
	LoadErrors uint64
	// Coalesced counts misses that joined a load already in flight instead of starting one.
	Coalesced uint64
	// StaleServed counts Gets answered with a value past its TTL, within [Options.Stale].
	StaleServed uint64
	// EarlyRefreshes counts background refreshes started by XFetch before expiry.
	EarlyRefreshes uint64
	// Evictions counts entries removed from process memory by the size bound
	// ([Options.MaxEntries]).
	Evictions uint64
	// Redis holds the counters of the Redis level (zero without [Options.Redis]). Hits
	// and Misses above count process memory (L1); Redis.Hits and Redis.Misses count the
	// reads of Redis that L1 misses led to.
	Redis RedisStats
}

// stripes is the number of cells of a striped counter; a power of two.
const stripes = 8

// stripedCounter is a counter that many goroutines increment without fighting over one
// cache line: each goroutine increments the cell its stack address hashes to, and a read
// sums the cells.
type stripedCounter struct {
	cells [stripes]struct {
		n atomic.Uint64
		_ [56]byte
	}
}

func (s *stripedCounter) inc() { s.cells[stackStripe()].n.Add(1) }

// stackStripe picks a cell by the calling goroutine's stack: the same while it runs,
// usually different for goroutines that run at the same time. The bits below the minimum
// stack size (2 KiB) depend on call depth, not on the goroutine, so they are dropped, and
// the rest is mixed (Fibonacci hashing) into the top bits.
func stackStripe() uint32 {
	var x byte
	addr := uint64(uintptr(unsafe.Pointer(&x))) >> 11
	return uint32((addr * 0x9E3779B97F4A7C15) >> (64 - 3))
}

func (s *stripedCounter) load() uint64 {
	var n uint64
	for i := range s.cells {
		n += s.cells[i].n.Load()
	}
	return n
}

// counters are the live counters behind Stats.
type counters struct {
	hits           stripedCounter
	misses         atomic.Uint64
	loads          atomic.Uint64
	loadErrors     atomic.Uint64
	coalesced      atomic.Uint64
	staleServed    atomic.Uint64
	earlyRefreshes atomic.Uint64
	evictions      atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Hits:           c.hits.load(),
		Misses:         c.misses.Load(),
		Loads:          c.loads.Load(),
		LoadErrors:     c.loadErrors.Load(),
		Coalesced:      c.coalesced.Load(),
		StaleServed:    c.staleServed.Load(),
		EarlyRefreshes: c.earlyRefreshes.Load(),
		Evictions:      c.evictions.Load(),
	}
}
