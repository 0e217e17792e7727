package slowlog

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"sync/atomic"
	"time"
	"unsafe"
)

// Bucket layout: a log-linear ("HDR") histogram of durations in nanoseconds.
// Values below 64 ns get exact buckets; every power of two above is cut into
// 64 linear sub-buckets, so a bucket is never wider than 1/64 of its lower
// bound and the estimate returned for it (see estimate) is within 1/129
// (0.78%) of every value the bucket can hold. Chunk c ≥ 1 holds the values
// [2^(c+5), 2^(c+6)); 40 chunks reach 2^45 ns (about 9.8 h), larger values
// are counted in the last bucket (the exact maximum is kept separately).
const (
	subBits    = 6
	subCount   = 1 << subBits // sub-buckets per chunk
	numChunks  = 40
	numBuckets = numChunks * subCount
	maxTracked = 1<<(numChunks+subBits-1) - 1
)

// bucketOf returns the chunk and sub-bucket of v nanoseconds.
func bucketOf(v uint64) (int, int) {
	if v < subCount {
		return 0, int(v)
	}
	if v > maxTracked {
		v = maxTracked
	}
	l := bits.Len64(v) // ≥ subBits+1
	return l - subBits, int(v>>(l-subBits-1)) - subCount
}

// bucketBounds returns the lowest value of bucket i and its width.
func bucketBounds(i int) (lo, width uint64) {
	c, s := i>>subBits, i&(subCount-1)
	if c == 0 {
		return uint64(s), 1
	}
	return uint64(subCount+s) << (c - 1), 1 << (c - 1)
}

// estimate returns the value reported for bucket i: exact for width-1
// buckets, otherwise 2·lo·hi/(lo+hi), the point whose largest relative
// distance to any value in [lo, hi) is smallest (width/(2·lo+width) ≤ 1/129).
func estimate(i int) uint64 {
	lo, w := bucketBounds(i)
	if w == 1 {
		return lo
	}
	hi := lo + w
	return uint64(math.Round(2 * float64(lo) * float64(hi) / float64(lo+hi)))
}

// chunk is one power of two of sub-bucket counters of a 10-second slot.
// 32 bits are plenty: a counter is written for 10 s only, and 4·10⁹ calls
// falling into one bucket in 10 s would take more atomic adds on one cache
// line than a machine can do.
type chunk [subCount]atomic.Uint32

// hist is the concurrent form, written by End: atomic counters in lazily
// allocated chunks (256 B per power of two in use).
type hist struct {
	chunks [numChunks]atomic.Pointer[chunk]
	max    atomic.Int64
	errs   atomic.Uint64
}

// add counts one observation of v nanoseconds.
func (h *hist) add(v uint64) {
	c, s := bucketOf(v)
	p := h.chunks[c].Load()
	if p == nil {
		p = h.grow(c)
	}
	p[s].Add(1)
	if int64(v) > h.max.Load() {
		h.raiseMax(int64(v))
	}
}

func (h *hist) grow(c int) *chunk {
	n := new(chunk)
	if h.chunks[c].CompareAndSwap(nil, n) {
		return n
	}
	return h.chunks[c].Load()
}

func (h *hist) raiseMax(v int64) {
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// drainInto moves every count of h into dst, and whatever dst cannot hold
// into spill (atomically per counter, so a concurrent add is counted
// exactly once, in h or in dst/spill).
func (h *hist) drainInto(dst *store[uint32], spill *store[uint64]) {
	for c := range h.chunks {
		p := h.chunks[c].Load()
		if p == nil {
			continue
		}
		for s := range p {
			if n := p[s].Swap(0); n != 0 {
				if rest := dst.add(c, s, uint64(n)); rest != 0 {
					spill.add(c, s, rest)
				}
			}
		}
	}
	if m := h.max.Swap(0); m > dst.max {
		dst.max = m
	}
	dst.errs += h.errs.Swap(0)
}

// appendTo adds the counts of h to the dense array counts and returns the
// maximum and error count.
func (h *hist) appendTo(counts *[numBuckets]uint64) (maxV int64, errs uint64) {
	for c := range h.chunks {
		p := h.chunks[c].Load()
		if p == nil {
			continue
		}
		base := c << subBits
		for s := range p {
			counts[base+s] += uint64(p[s].Load())
		}
	}
	return h.max.Load(), h.errs.Load()
}

// bytes reports the memory held by h.
func (h *hist) bytes() int {
	n := numChunks*8 + 16
	for c := range h.chunks {
		if h.chunks[c].Load() != nil {
			n += subCount * 4
		}
	}
	return n
}

// store is the form of the 1-minute slots (uint32) and the since-start
// histogram (uint64): plain counters, only touched under the op's mutex.
type store[T uint32 | uint64] struct {
	chunks [numChunks]*[subCount]T
	max    int64
	errs   uint64
}

// add adds n to a bucket and returns what did not fit (always 0 for uint64
// below 2^64).
func (h *store[T]) add(c, s int, n uint64) (rest uint64) {
	p := h.chunks[c]
	if p == nil {
		p = new([subCount]T)
		h.chunks[c] = p
	}
	if room := uint64(^T(0)) - uint64(p[s]); n > room {
		rest, n = n-room, room
	}
	p[s] += T(n)
	return rest
}

// moveTo moves every count of h into dst (dst must not be smaller).
func (h *store[T]) moveTo(dst *store[uint64]) {
	for c, p := range h.chunks {
		if p == nil {
			continue
		}
		for s, n := range p {
			if n != 0 {
				dst.add(c, s, uint64(n))
				p[s] = 0
			}
		}
	}
	dst.max = max(dst.max, h.max)
	dst.errs += h.errs
	h.max, h.errs = 0, 0
}

func (h *store[T]) appendTo(counts *[numBuckets]uint64) (maxV int64, errs uint64) {
	for c, p := range h.chunks {
		if p == nil {
			continue
		}
		base := c << subBits
		for s, n := range p {
			counts[base+s] += uint64(n)
		}
	}
	return h.max, h.errs
}

func (h *store[T]) bytes() int {
	var zero T
	size := int(unsafe.Sizeof(zero))
	n := numChunks*8 + 16
	for _, p := range h.chunks {
		if p != nil {
			n += subCount * size
		}
	}
	return n
}

// maxOpBytes bounds the histogram memory of one op: six 10-second slots of
// 32-bit counters, five 1-minute slots of 32-bit counters, one since-start
// histogram of 64-bit counters, every chunk allocated.
const maxOpBytes = 12*(numChunks*8+16) + 11*numChunks*subCount*4 + numChunks*subCount*8

// Histogram is an immutable latency distribution taken from a [Recorder]:
// log-linear buckets with a relative error below 0.8% on every
// quantile, mergeable with any other Histogram. The zero value is empty.
type Histogram struct {
	buckets []bucketCount // sorted by index, counts > 0
	count   uint64
	max     time.Duration
}

type bucketCount struct {
	index int
	count uint64
}

// histogramOf builds a Histogram from dense counts.
func histogramOf(counts *[numBuckets]uint64, maxV int64) Histogram {
	var h Histogram
	n := 0
	for _, c := range counts {
		if c != 0 {
			n++
		}
	}
	if n == 0 {
		return h
	}
	h.buckets = make([]bucketCount, 0, n)
	for i, c := range counts {
		if c != 0 {
			h.buckets = append(h.buckets, bucketCount{i, c})
			h.count += c
		}
	}
	h.max = time.Duration(maxV)
	return h
}

// Count reports the number of observations.
func (h Histogram) Count() uint64 { return h.count }

// Max reports the largest observation (exact, not bucketed).
func (h Histogram) Max() time.Duration { return h.max }

// Quantile returns the q-quantile (0 ≤ q ≤ 1) by the nearest-rank rule: an
// estimate of the ⌈q·n⌉-th smallest observation within 0.78% of it (plus
// rounding to whole nanoseconds); values below 64 ns and the largest
// observation are exact. It returns 0 for an empty histogram.
func (h Histogram) Quantile(q float64) time.Duration {
	if h.count == 0 || math.IsNaN(q) {
		return 0
	}
	if q <= 0 {
		q = 0
	}
	if q >= 1 {
		return h.max
	}
	rank := uint64(math.Ceil(q * float64(h.count)))
	if rank < 1 {
		rank = 1
	}
	if rank >= h.count {
		return h.max
	}
	var seen uint64
	for _, b := range h.buckets {
		seen += b.count
		if seen >= rank {
			v := time.Duration(estimate(b.index))
			if b.index == numBuckets-1 || v > h.max {
				return h.max
			}
			return v
		}
	}
	return h.max
}

// Merge returns the distribution of the observations of h and o together.
// Merging is exact: the result equals recording both sets into one histogram.
func (h Histogram) Merge(o Histogram) Histogram {
	if o.count == 0 {
		return h
	}
	if h.count == 0 {
		return o
	}
	return Histogram{
		buckets: mergeSorted(h.buckets, o.buckets,
			func(x, y bucketCount) int { return cmp.Compare(x.index, y.index) },
			func(x, y bucketCount) bucketCount { return bucketCount{x.index, satAdd(x.count, y.count)} }),
		count: satAdd(h.count, o.count),
		max:   max(h.max, o.max),
	}
}

// mergeSorted merges a and b, both sorted by compare without duplicates,
// combining the elements found in both with both.
func mergeSorted[T any](a, b []T, compare func(x, y T) int, both func(x, y T) T) []T {
	out := make([]T, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		switch c := compare(a[0], b[0]); {
		case c < 0:
			out = append(out, a[0])
			a = a[1:]
		case c > 0:
			out = append(out, b[0])
			b = b[1:]
		default:
			out = append(out, both(a[0], b[0]))
			a, b = a[1:], b[1:]
		}
	}
	out = append(out, a...)
	return append(out, b...)
}

// satAdd adds without wrapping around (only decoded input can get there).
func satAdd(a, b uint64) uint64 {
	if a+b < a {
		return math.MaxUint64
	}
	return a + b
}

// Buckets calls yield for every non-empty bucket in increasing order with
// its bounds [lo, hi) and count, for export to other systems. The last
// bucket of the layout (from about 9.8 h) also holds every longer
// observation; its hi is then just above the maximum.
func (h Histogram) Buckets(yield func(lo, hi time.Duration, count uint64) bool) {
	for _, b := range h.buckets {
		lo, w := bucketBounds(b.index)
		hi := time.Duration(lo + w)
		if b.index == numBuckets-1 && h.max >= hi {
			hi = h.max
			if hi < math.MaxInt64 {
				hi++
			}
		}
		if !yield(time.Duration(lo), hi, b.count) {
			return
		}
	}
}

// ErrInvalidHistogram is returned when decoding a malformed [Histogram].
var ErrInvalidHistogram = errors.New("slowlog: invalid histogram")

// histogramJSON is the wire form: bucket indexes (of the fixed log-linear
// layout) in increasing order with their counts, and the exact maximum.
type histogramJSON struct {
	Max     int64       `json:"max_ns"`
	Buckets [][2]uint64 `json:"buckets"` // [index, count]
}

// MarshalJSON encodes h so that another process can decode and merge it.
func (h Histogram) MarshalJSON() ([]byte, error) {
	w := histogramJSON{Max: int64(h.max), Buckets: make([][2]uint64, len(h.buckets))}
	for i, b := range h.buckets {
		w.Buckets[i] = [2]uint64{uint64(b.index), b.count}
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes a Histogram written by MarshalJSON. Malformed input
// (indexes out of range or out of order, zero counts, a total that
// overflows, a maximum outside the last bucket) is an error wrapping
// [ErrInvalidHistogram], and h is left unchanged.
func (h *Histogram) UnmarshalJSON(data []byte) error {
	var w histogramJSON
	if err := json.Unmarshal(data, &w); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidHistogram, err)
	}
	out := Histogram{max: time.Duration(w.Max)}
	if len(w.Buckets) > 0 {
		out.buckets = make([]bucketCount, 0, len(w.Buckets))
	}
	prev := -1
	for _, b := range w.Buckets {
		idx, n := b[0], b[1]
		if idx >= numBuckets || int(idx) <= prev {
			return fmt.Errorf("%w: bucket index %d out of range or order", ErrInvalidHistogram, idx)
		}
		if n == 0 || out.count+n < out.count {
			return fmt.Errorf("%w: bad count %d in bucket %d", ErrInvalidHistogram, n, idx)
		}
		prev = int(idx)
		out.count += n
		out.buckets = append(out.buckets, bucketCount{int(idx), n})
	}
	if out.count == 0 {
		if w.Max != 0 {
			return fmt.Errorf("%w: max %d without observations", ErrInvalidHistogram, w.Max)
		}
		*h = Histogram{}
		return nil
	}
	last := out.buckets[len(out.buckets)-1].index
	lo, width := bucketBounds(last)
	if w.Max < int64(lo) || (last != numBuckets-1 && w.Max >= int64(lo+width)) {
		return fmt.Errorf("%w: max %d outside the last bucket", ErrInvalidHistogram, w.Max)
	}
	*h = out
	return nil
}
