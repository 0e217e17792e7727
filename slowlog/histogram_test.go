package slowlog

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBucketBounds(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(v uint64) {
		c, s := bucketOf(v)
		i := c<<subBits | s
		lo, w := bucketBounds(i)
		require.LessOrEqual(t, lo, v, "v=%d", v)
		require.Less(t, v, lo+w, "v=%d", v)
		if w > 1 {
			require.LessOrEqual(t, float64(w)/float64(lo), 1.0/64, "v=%d", v)
		}
		e := estimate(i)
		rel := math.Abs(float64(e)-float64(v)) / float64(v)
		require.LessOrEqual(t, rel, 1.0/129+1/float64(v), "v=%d est=%d (rounded to whole ns)", v, e)
	}
	for v := uint64(1); v < 1<<14; v++ {
		check(v)
	}
	for range 20000 {
		check(uint64(rng.Int64N(maxTracked)) + 1)
	}
	check(maxTracked)
	c, s := bucketOf(math.MaxUint64)
	assert.Equal(t, numBuckets-1, c<<subBits|s, "values past the range land in the last bucket")
	prev := -1
	for v := uint64(0); v < 1<<16; v += 7 {
		c, s := bucketOf(v)
		i := c<<subBits | s
		require.GreaterOrEqual(t, i, prev, "bucket index is monotone in the value")
		prev = i
	}
}

// samples returns n durations (ns) of a named distribution, fixed seed.
func samples(name string, n int) []uint64 {
	rng := rand.New(rand.NewPCG(42, uint64(len(name))))
	out := make([]uint64, n)
	clamp := func(x float64) uint64 {
		return uint64(min(max(x, float64(time.Microsecond)), float64(time.Hour)))
	}
	for i := range out {
		switch name {
		case "lognormal": // median 5ms, σ=1
			out[i] = clamp(5e6 * math.Exp(rng.NormFloat64()))
		case "bimodal": // cache hits around 200µs, misses around 40ms
			if rng.Float64() < 0.8 {
				out[i] = clamp(2e5 * math.Exp(0.3*rng.NormFloat64()))
			} else {
				out[i] = clamp(4e7 * math.Exp(0.5*rng.NormFloat64()))
			}
		case "pareto": // heavy tail, α=1.1 from 1µs
			out[i] = clamp(1e3 / math.Pow(1-rng.Float64(), 1/1.1))
		case "loguniform": // every decade of 1µs … 1h equally
			out[i] = clamp(1e3 * math.Exp(rng.Float64()*math.Log(3.6e9)))
		}
	}
	return out
}

func histOf(vs []uint64) Histogram {
	var h hist
	for _, v := range vs {
		h.add(v)
	}
	var w window
	w.add(&h)
	return histogramOf(&w.counts, w.max)
}

func TestQuantileAccuracy(t *testing.T) {
	t.Parallel()
	qs := []float64{0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999}
	for _, dist := range []string{"lognormal", "bimodal", "pareto", "loguniform"} {
		t.Run(dist, func(t *testing.T) {
			t.Parallel()
			vs := samples(dist, 100_000)
			h := histOf(vs)
			sorted := slices.Clone(vs)
			slices.Sort(sorted)
			require.Equal(t, uint64(len(vs)), h.Count())
			assert.Equal(t, time.Duration(sorted[len(sorted)-1]), h.Max())
			worst := 0.0
			for _, q := range qs {
				exact := float64(sorted[int(math.Ceil(q*float64(len(sorted))))-1])
				got := float64(h.Quantile(q))
				rel := math.Abs(got-exact) / exact
				worst = max(worst, rel)
				assert.LessOrEqual(t, rel, 0.01, "q=%v exact=%v got=%v", q, time.Duration(exact), time.Duration(got))
			}
			t.Logf("%s: worst relative error %.3f%%", dist, 100*worst)
			assert.Equal(t, time.Duration(sorted[len(sorted)-1]), h.Quantile(1))
			assert.InEpsilon(t, float64(sorted[0]), float64(h.Quantile(0)), 0.01, "q=0 is the minimum's bucket")
		})
	}
}

func TestHistogramMerge(t *testing.T) {
	t.Parallel()
	a, b := samples("lognormal", 50_000), samples("pareto", 30_000)
	ha, hb := histOf(a), histOf(b)
	all := histOf(append(slices.Clone(a), b...))
	m := ha.Merge(hb)
	assert.Equal(t, all, m, "merging equals recording everything into one histogram")
	assert.Equal(t, all, hb.Merge(ha))
	assert.Equal(t, ha, ha.Merge(Histogram{}))
	assert.Equal(t, ha, Histogram{}.Merge(ha))
	var n uint64
	prev := time.Duration(-1)
	m.Buckets(func(lo, hi time.Duration, c uint64) bool {
		require.Greater(t, lo, prev)
		require.Greater(t, hi, lo)
		prev = lo
		n += c
		return true
	})
	assert.Equal(t, m.Count(), n)
}

func TestHistogramEmpty(t *testing.T) {
	t.Parallel()
	var h Histogram
	assert.Zero(t, h.Quantile(0.5))
	assert.Zero(t, h.Count())
	assert.Zero(t, h.Max())
	one := histOf([]uint64{uint64(3 * time.Millisecond)})
	assert.Equal(t, 3*time.Millisecond, one.Quantile(0.99), "the last rank is the exact maximum")
	assert.Zero(t, one.Quantile(math.NaN()))
}

func TestHistMemoryBounded(t *testing.T) {
	t.Parallel()
	var h hist
	for _, v := range samples("lognormal", 10_000) {
		h.add(v)
	}
	assert.Less(t, h.bytes(), 4<<10, "a lognormal op (σ=1) touches a few powers of two")
	for _, v := range samples("loguniform", 10_000) {
		h.add(v)
	}
	assert.LessOrEqual(t, h.bytes(), numChunks*8+16+numChunks*subCount*4, "never more than every chunk")
}

func TestOpMemoryBounded(t *testing.T) {
	t.Parallel()
	r, clk, _ := newTestRecorder(t, Options{})
	op := r.Op("mem")
	for i, v := range samples("lognormal", 20_000) {
		op.Observe(context.Background(), time.Duration(v), nil)
		if i%100 == 0 {
			clk.Advance(time.Second)
		}
	}
	n := op.memory()
	t.Logf("op memory after 20k lognormal calls over 200 s: %d bytes", n)
	assert.Less(t, n, 64<<10)
	assert.LessOrEqual(t, n, maxOpBytes, "hard bound")
}

func TestHistogramJSON(t *testing.T) {
	t.Parallel()
	h := histOf(samples("bimodal", 10_000))
	data, err := json.Marshal(h)
	require.NoError(t, err)
	var back Histogram
	require.NoError(t, json.Unmarshal(data, &back))
	assert.Equal(t, h, back)
	for _, q := range []float64{0.5, 0.99, 0.999} {
		assert.Equal(t, h.Quantile(q), back.Quantile(q))
	}

	var empty Histogram
	require.NoError(t, json.Unmarshal([]byte(`{"max_ns":0,"buckets":[]}`), &empty))
	assert.Equal(t, Histogram{}, empty)

	for _, bad := range []string{
		`{"max_ns":5,"buckets":[[5,0]]}`,                          // zero count
		`{"max_ns":5,"buckets":[[6,1],[5,1]]}`,                    // out of order
		`{"max_ns":5,"buckets":[[5,1],[5,1]]}`,                    // duplicate
		`{"max_ns":5,"buckets":[[2560,1]]}`,                       // out of range
		`{"max_ns":9,"buckets":[[5,1]]}`,                          // max outside the last bucket
		`{"max_ns":7,"buckets":[]}`,                               // max without observations
		`{"max_ns":5,"buckets":[[4,18446744073709551615],[5,1]]}`, // overflow
		`{"max_ns":"x"}`, `[1,2]`, `{"buckets":[[-1,1]]}`,
	} {
		h := histOf([]uint64{42})
		err := json.Unmarshal([]byte(bad), &h)
		require.ErrorIs(t, err, ErrInvalidHistogram, bad)
		assert.Equal(t, histOf([]uint64{42}), h, "left unchanged")
	}
}

func FuzzHistogramUnmarshal(f *testing.F) {
	good, _ := json.Marshal(histOf(samples("lognormal", 1000)))
	f.Add(good)
	f.Add([]byte(`{"max_ns":5,"buckets":[[5,1]]}`))
	f.Add([]byte(`{"max_ns":35184372088831,"buckets":[[2559,3]]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var h Histogram
		if err := json.Unmarshal(data, &h); err != nil {
			if !errors.Is(err, ErrInvalidHistogram) {
				var se *json.SyntaxError
				var ue *json.UnmarshalTypeError
				if !errors.As(err, &se) && !errors.As(err, &ue) {
					t.Fatalf("unexpected error type: %v", err)
				}
			}
			return
		}
		// a decoded histogram behaves: quantiles are monotone, never above max,
		// and it survives a round trip and a merge with itself.
		prev := time.Duration(0)
		for _, q := range []float64{0, 0.1, 0.5, 0.9, 0.99, 0.999, 1} {
			v := h.Quantile(q)
			if v < prev || v > h.Max() {
				t.Fatalf("q=%v: %v (prev %v, max %v)", q, v, prev, h.Max())
			}
			prev = v
		}
		out, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		var back Histogram
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("round trip: %v", err)
		}
		if m := h.Merge(h); h.Count() < 1<<62 && m.Count() != 2*h.Count() {
			t.Fatalf("merge count %d, want %d", m.Count(), 2*h.Count())
		}
	})
}

func TestStoreSpillsWhatDoesNotFit(t *testing.T) {
	t.Parallel()
	var coarse store[uint32]
	var total store[uint64]
	c, s := bucketOf(5000)
	assert.Zero(t, coarse.add(c, s, math.MaxUint32-1))
	var fine hist
	for range 5 {
		fine.add(5000)
	}
	fine.errs.Add(2)
	fine.drainInto(&coarse, &total)
	assert.Equal(t, uint32(math.MaxUint32), coarse.chunks[c][s])
	assert.Equal(t, uint64(4), total.chunks[c][s], "the rest goes to the since-start histogram")
	assert.Equal(t, int64(5000), coarse.max)
	assert.Equal(t, uint64(2), coarse.errs)
	var w window
	w.add(&fine)
	assert.Zero(t, histogramOf(&w.counts, w.max).Count(), "drained")
	assert.Equal(t, uint64(11), coarse.add(c, s, 11), "full: all of it is returned")
	coarse.moveTo(&total)
	assert.Equal(t, uint64(math.MaxUint32)+4, total.chunks[c][s])
	assert.Zero(t, coarse.chunks[c][s])
	assert.Equal(t, int64(5000), total.max)
	assert.Equal(t, uint64(2), total.errs)
}

func TestHugeAndNegativeDurations(t *testing.T) {
	t.Parallel()
	r, _, cp := newTestRecorder(t, Options{Threshold: time.Hour})
	op := r.Op("edge")
	ctx := context.Background()
	op.Observe(ctx, -time.Second, nil)
	op.Observe(ctx, 0, nil)
	op.Observe(ctx, 20*time.Hour, nil)
	op.Observe(ctx, math.MaxInt64, errBoom)
	s := op.Stats().Total
	assert.Equal(t, uint64(4), s.Count)
	assert.Equal(t, time.Duration(math.MaxInt64), s.Max)
	assert.Equal(t, time.Duration(0), s.Histogram.Quantile(0.25), "a negative duration counts as 0")
	assert.Equal(t, time.Duration(math.MaxInt64), s.P999)
	assert.Len(t, cp.lines("slow operation"), 2)
	var buckets [][2]time.Duration
	s.Histogram.Buckets(func(lo, hi time.Duration, _ uint64) bool {
		buckets = append(buckets, [2]time.Duration{lo, hi})
		return true
	})
	require.Len(t, buckets, 2)
	assert.Equal(t, [2]time.Duration{0, 1}, buckets[0])
	assert.Equal(t, time.Duration(math.MaxInt64), buckets[1][1], "the last bucket reaches the maximum")

	h := histOf([]uint64{uint64(20 * time.Hour)})
	h.Buckets(func(lo, hi time.Duration, _ uint64) bool {
		assert.Less(t, lo, 20*time.Hour)
		assert.Equal(t, 20*time.Hour+1, hi, "[lo, hi) holds the 20 h observation")
		return true
	})
}
