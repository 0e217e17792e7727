package flags

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeClock is a settable clock for progressive rollouts and $now.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

func newStatic(t testing.TB, doc string, opts *Options) *Client {
	t.Helper()
	c, err := New(context.Background(), Static(mustParse(t, doc)), opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func exampleClient(t *testing.T, clock *fakeClock) *Client {
	t.Helper()
	data, err := os.ReadFile("testdata/example.json")
	require.NoError(t, err)
	return newStatic(t, string(data), &Options{Now: clock.Now})
}

// keyIn finds a subject key whose bucket for seed is inside (or outside) bp.
func keyIn(t *testing.T, seed string, bp int, inside bool) string {
	t.Helper()
	for i := range 100000 {
		k := fmt.Sprintf("user-%d", i)
		if (Bucket(seed, k) < bp) == inside {
			return k
		}
	}
	t.Fatal("no key found")
	return ""
}

func TestEvaluateExample(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Date(2026, 1, 8, 0, 0, 0, 0, time.UTC)}
	c := exampleClient(t, clock)

	in := keyIn(t, "new-checkout", 1250, true)
	out := keyIn(t, "new-checkout", 1250, false)
	beta := keyIn(t, "new-checkout", 5000, true)
	notBeta := ""
	for i := range 100000 {
		k := fmt.Sprintf("user-%d", i)
		if b := Bucket("new-checkout", k); b >= 5000 {
			notBeta = k
			break
		}
	}
	eu := map[string]any{"country": "DE", "appVersion": "2.5.0"}
	tests := []struct {
		name   string
		subj   Subject
		want   bool
		reason Reason
		rule   string
	}{
		{"target", Subject{Key: "qa-1"}, true, ReasonTarget, ""},
		{"rule staff", Subject{Key: out, Attrs: map[string]any{"email": "ann@example.com"}}, true, ReasonRule, "staff"},
		{"rule with percent, inside", Subject{Key: beta, Attrs: eu}, true, ReasonRule, "eu-beta"},
		{"rule percent outside falls through to the rollout or default", Subject{Key: notBeta, Attrs: eu}, Bucket("new-checkout", notBeta) < 1250, map[bool]Reason{true: ReasonRollout, false: ReasonDefault}[Bucket("new-checkout", notBeta) < 1250], ""},
		{"old app version misses the rule", Subject{Key: out, Attrs: map[string]any{"country": "DE", "appVersion": "2.3.9"}}, false, ReasonDefault, ""},
		{"rollout inside", Subject{Key: in}, true, ReasonRollout, ""},
		{"rollout outside", Subject{Key: out}, false, ReasonDefault, ""},
		{"no key: no rollout", Subject{}, false, ReasonDefault, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, d := c.BoolDetail(ctx, "new-checkout", tt.subj, !tt.want)
			assert.Equal(t, tt.want, v)
			assert.Equal(t, tt.reason, d.Reason)
			assert.Equal(t, tt.rule, d.RuleID)
			assert.NoError(t, d.Err)
			assert.Equal(t, fmt.Sprint(tt.want), d.Variant)
		})
	}

	t.Run("static", func(t *testing.T) {
		v, d := c.BoolDetail(ctx, "payments-v2", Subject{}, false)
		assert.True(t, v)
		assert.Equal(t, Detail{Variant: "true", Reason: ReasonStatic}, d)
	})
	t.Run("disabled serves the off variant", func(t *testing.T) {
		v, d := c.JSONDetail(ctx, "ui-config", Subject{}, nil)
		assert.JSONEq(t, `{"columns": 2}`, string(v))
		assert.Equal(t, Detail{Variant: "v1", Reason: ReasonDisabled}, d)
	})
	t.Run("split", func(t *testing.T) {
		counts := map[string]int{}
		for i := range 20000 {
			v, d := c.StringDetail(ctx, "checkout-copy", Subject{Key: fmt.Sprint(i)}, "caller")
			require.NoError(t, d.Err)
			counts[v]++
			if d.Reason == ReasonRollout {
				assert.Equal(t, v, map[string]string{"control": "Buy now", "urgent": "Only 3 left!", "friendly": "Treat yourself"}[d.Variant])
			} else {
				assert.Equal(t, ReasonDefault, d.Reason)
				assert.Equal(t, "Buy now", v)
			}
		}
		// 20% in the experiment, split 50/25/25; 80% get the default (control).
		assert.InDelta(t, 20000*(0.8+0.1), counts["Buy now"], 400)
		assert.InDelta(t, 20000*0.05, counts["Only 3 left!"], 200)
		assert.InDelta(t, 20000*0.05, counts["Treat yourself"], 200)
	})
	t.Run("progressive and bucketBy", func(t *testing.T) {
		// 2026-01-08 is half-way: from 1% to 100% → 50.5%.
		share := func() float64 {
			n := 0
			for i := range 10000 {
				if c.Int(ctx, "search-page-size", Subject{Key: "same", Attrs: map[string]any{"accountId": fmt.Sprint(i)}}, 0) == 50 {
					n++
				}
			}
			return float64(n) / 10000
		}
		assert.InDelta(t, 0.505, share(), 0.02)
		clock.t = time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)
		assert.InDelta(t, 0.01, share(), 0.005)
		clock.t = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
		assert.Equal(t, 1.0, share())
		_, d := c.IntDetail(ctx, "search-page-size", Subject{Key: "k"}, 7)
		assert.Equal(t, ReasonRollout, d.Reason, "at 100% everyone is in")
		clock.t = time.Date(2026, 1, 14, 0, 0, 0, 0, time.UTC)
		_, d = c.IntDetail(ctx, "search-page-size", Subject{Key: "k"}, 7)
		assert.Equal(t, ReasonDefault, d.Reason, "no accountId attribute: not in a partial rollout")
	})
	t.Run("float", func(t *testing.T) {
		v, d := c.FloatDetail(ctx, "price-multiplier", Subject{Key: "x"}, 0)
		assert.Equal(t, 1.0, v)
		assert.Equal(t, ReasonDefault, d.Reason)
	})
	t.Run("caller defaults", func(t *testing.T) {
		v, d := c.BoolDetail(ctx, "nope", Subject{}, true)
		assert.True(t, v)
		assert.Equal(t, Detail{Reason: ReasonFlagMissing, Err: ErrFlagNotFound}, d)
		s, d := c.StringDetail(ctx, "new-checkout", Subject{}, "def")
		assert.Equal(t, "def", s)
		assert.Equal(t, Detail{Reason: ReasonWrongType, Err: ErrWrongType}, d)
		i, d := c.IntDetail(ctx, "checkout-copy", Subject{}, 9)
		assert.Equal(t, int64(9), i)
		assert.ErrorIs(t, d.Err, ErrWrongType)
		f, d := c.FloatDetail(ctx, "search-page-size", Subject{}, 2.5)
		assert.Equal(t, 2.5, f)
		assert.ErrorIs(t, d.Err, ErrWrongType)
		j, d := c.JSONDetail(ctx, "payments-v2", Subject{}, json.RawMessage(`1`))
		assert.Equal(t, json.RawMessage(`1`), j)
		assert.ErrorIs(t, d.Err, ErrWrongType)
	})
}

func TestScheduledSwitchWithNow(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 5, 31, 23, 59, 59, 0, time.UTC)}
	c := newStatic(t, `{"flags": {"ui": {"type": "string", "variants": {"old": "o", "new": "n"}, "default": "old",
		"rules": [{"id": "launch", "when": [{"attr": "$now", "op": "after", "value": "2026-06-01T00:00:00Z"}], "variant": "new"}]}}}`,
		&Options{Now: clock.Now})
	ctx := context.Background()
	assert.Equal(t, "o", c.String(ctx, "ui", Subject{}, ""))
	clock.t = clock.t.Add(2 * time.Second)
	v, d := c.StringDetail(ctx, "ui", Subject{}, "")
	assert.Equal(t, "n", v)
	assert.Equal(t, "launch", d.RuleID)
}

func TestPrerequisites(t *testing.T) {
	ctx := context.Background()
	doc := func(parentOn bool, parentDefault string) string {
		return fmt.Sprintf(`{"flags": {
			"parent": {"type": "bool", "on": %t, "default": %q},
			"color": {"type": "string", "variants": {"red": "r", "blue": "b"}, "default": "red", "on": %t},
			"child": {"type": "bool", "default": "true", "prerequisites": [{"flag": "parent"}]},
			"grandchild": {"type": "bool", "default": "true", "prerequisites": [{"flag": "child"}]},
			"bluechild": {"type": "bool", "default": "true", "prerequisites": [{"flag": "color", "variants": ["blue"]}]},
			"anycolor": {"type": "bool", "default": "true", "prerequisites": [{"flag": "color"}]}}}`, parentOn, parentDefault, parentOn)
	}
	c := newStatic(t, doc(true, "true"), nil)
	for _, k := range []string{"child", "grandchild", "anycolor"} {
		v, d := c.BoolDetail(ctx, k, Subject{}, false)
		assert.True(t, v, k)
		assert.Equal(t, ReasonDefault, d.Reason, k)
	}
	v, d := c.BoolDetail(ctx, "bluechild", Subject{}, true)
	assert.False(t, v)
	assert.Equal(t, ReasonPrerequisiteFailed, d.Reason)

	for _, tc := range []struct {
		on  bool
		def string
	}{{true, "false"}, {false, "true"}} {
		c := newStatic(t, doc(tc.on, tc.def), nil)
		for _, k := range []string{"child", "grandchild"} {
			v, d := c.BoolDetail(ctx, k, Subject{}, true)
			assert.False(t, v, k)
			assert.Equal(t, Detail{Variant: "false", Reason: ReasonPrerequisiteFailed}, d, k)
		}
	}
	c = newStatic(t, doc(false, "true"), nil)
	_, d = c.BoolDetail(ctx, "anycolor", Subject{}, true)
	assert.Equal(t, ReasonPrerequisiteFailed, d.Reason, "a disabled non-bool prerequisite fails")
}

func TestValueGeneric(t *testing.T) {
	ctx := context.Background()
	c := newStatic(t, `{"flags": {
		"b": {"type": "bool", "default": "true"},
		"s": {"type": "string", "variants": {"x": "hello"}, "default": "x"},
		"i": {"type": "int", "variants": {"x": 42}, "default": "x"},
		"f": {"type": "float", "variants": {"x": 0.25}, "default": "x"},
		"j": {"type": "json", "variants": {"x": {"limit": 5, "tags": ["a"]}}, "default": "x"}}}`, nil)
	assert.True(t, Value(ctx, c, "b", Subject{}, false))
	assert.Equal(t, "hello", Value(ctx, c, "s", Subject{}, ""))
	assert.Equal(t, int64(42), Value(ctx, c, "i", Subject{}, int64(0)))
	assert.Equal(t, 42, Value(ctx, c, "i", Subject{}, 0))
	assert.Equal(t, 42.0, Value(ctx, c, "i", Subject{}, 0.0), "JSON-compatible conversions decode")
	assert.Equal(t, 0.25, Value(ctx, c, "f", Subject{}, 0.0))
	type cfg struct {
		Limit int      `json:"limit"`
		Tags  []string `json:"tags"`
	}
	got, d := ValueDetail(ctx, c, "j", Subject{}, cfg{})
	assert.Equal(t, cfg{Limit: 5, Tags: []string{"a"}}, got)
	assert.Equal(t, Detail{Variant: "x", Reason: ReasonStatic}, d)
	raw := Value(ctx, c, "j", Subject{}, json.RawMessage(nil))
	assert.JSONEq(t, `{"limit": 5, "tags": ["a"]}`, string(raw))
	m := Value(ctx, c, "j", Subject{}, map[string]any(nil))
	assert.Equal(t, 5.0, m["limit"])

	// Reference-free types are decoded once; others on every call, so that
	// one caller's changes never reach another.
	type flat struct {
		Limit int `json:"limit"`
	}
	assert.Equal(t, flat{Limit: 5}, Value(ctx, c, "j", Subject{}, flat{}))
	assert.Zero(t, testing.AllocsPerRun(100, func() { Value(ctx, c, "j", Subject{}, flat{}) }))
	got.Tags[0] = "changed"
	again := Value(ctx, c, "j", Subject{}, cfg{})
	assert.Equal(t, []string{"a"}, again.Tags)
	again.Tags[0] = "changed"
	assert.Equal(t, []string{"a"}, Value(ctx, c, "j", Subject{}, cfg{}).Tags)
	for range 2 { // the failure is cached too
		s, d := ValueDetail(ctx, c, "j", Subject{}, "def")
		assert.Equal(t, "def", s)
		assert.Equal(t, ReasonWrongType, d.Reason)
	}

	s, d := ValueDetail(ctx, c, "i", Subject{}, "def")
	assert.Equal(t, "def", s)
	assert.Equal(t, Detail{Reason: ReasonWrongType, Err: ErrWrongType}, d)
	_, d = ValueDetail(ctx, c, "missing", Subject{}, 0)
	assert.Equal(t, ReasonFlagMissing, d.Reason)

	// A value that does not decode into T serves the caller's default: it
	// counts as wrong type, not as the variant served.
	c2 := newStatic(t, `{"flags": {"j": {"type": "json", "variants": {"x": [1]}, "default": "x"}}}`, nil)
	assert.Equal(t, "def", Value(ctx, c2, "j", Subject{}, "def"))
	_, d = ValueDetail(ctx, c2, "j", Subject{}, 0)
	assert.Equal(t, ReasonWrongType, d.Reason)
	assert.Equal(t, []int{1}, Value(ctx, c2, "j", Subject{}, []int(nil)))
	counts := c2.Counts()
	assert.Equal(t, uint64(2), counts.WrongType)
	assert.Equal(t, []Count{{Flag: "j", Variant: "x", N: 1}}, counts.Variants)
}

func TestZeroAllocs(t *testing.T) {
	c := newStatic(t, benchDoc, nil)
	ctx := context.Background()
	subj := Subject{Key: "user-1", Attrs: map[string]any{"country": "DE", "plan": "free", "email": "a@b.c", "age": 30, "appVersion": "2.3.9"}}
	allocs := testing.AllocsPerRun(200, func() {
		c.Bool(ctx, "plain", subj, false)
		c.Bool(ctx, "rollout", subj, false)
		c.String(ctx, "rules5", subj, "")
		Value(ctx, c, "rules5", subj, "")
		c.Bool(ctx, "missing", subj, false)
	})
	assert.Zero(t, allocs)
}

func TestSubjectsWithoutBucketingValue(t *testing.T) {
	c := newStatic(t, `{"flags": {
		"full": {"type": "bool", "rollout": {"variant": "true", "percent": 100}},
		"partial": {"type": "bool", "rollout": {"variant": "true", "percent": 99.99}},
		"split": {"type": "string", "variants": {"a": "A", "b": "B"}, "default": "a", "rollout": {"split": {"a": 1, "b": 1}}},
		"byorg": {"type": "bool", "bucketBy": "org", "rollout": {"variant": "true", "percent": 99.99}}}}`, nil)
	ctx := t.Context()
	_, d := c.BoolDetail(ctx, "full", Subject{}, false)
	assert.Equal(t, ReasonRollout, d.Reason)
	_, d = c.BoolDetail(ctx, "partial", Subject{}, false)
	assert.Equal(t, ReasonDefault, d.Reason)
	_, d = c.StringDetail(ctx, "split", Subject{}, "")
	assert.Equal(t, ReasonDefault, d.Reason)
	_, d = c.StringDetail(ctx, "split", Subject{Key: "k"}, "")
	assert.Equal(t, ReasonRollout, d.Reason)
	_, d = c.BoolDetail(ctx, "byorg", Subject{Key: "k", Attrs: map[string]any{"org": 42}}, false)
	assert.Equal(t, ReasonDefault, d.Reason, "a non-string bucketBy attribute counts as missing")
	in := 0
	for i := range 100 {
		if c.Bool(ctx, "byorg", Subject{Key: fmt.Sprint(i), Attrs: map[string]any{"org": "acme"}}, false) {
			in++
		}
	}
	assert.True(t, in == 0 || in == 100, "every subject of one org gets the same answer")
}

// TestProgressiveBoundaries pins the percentage of a progressive rollout at
// and around its start and end, rising and falling.
func TestProgressiveBoundaries(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	t1 := t0 + int64(100*time.Hour)
	rising := &cprog{start: t0, end: t1, from: 100, to: 10000}
	falling := &cprog{start: t0, end: t1, from: 10000, to: 100}
	for _, tc := range []struct {
		name       string
		now        int64
		rise, fall uint32
	}{
		{"long before start", t0 - int64(time.Hour)*24*365, 100, 10000},
		{"just before start", t0 - 1, 100, 10000},
		{"at start", t0, 100, 10000},
		{"just after start", t0 + 1, 100, 9999},
		{"one hundredth in", t0 + int64(time.Hour), 199, 9901},
		{"half-way", t0 + int64(50*time.Hour), 5050, 5050},
		{"just before end", t1 - 1, 9999, 100},
		{"at end", t1, 10000, 100},
		{"after end", t1 + 1, 10000, 100},
		{"long after end", t1 + int64(time.Hour)*24*365*100, 10000, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.rise, rising.at(tc.now))
			assert.Equal(t, tc.fall, falling.at(tc.now))
		})
	}
	t.Run("monotone and within bounds", func(t *testing.T) {
		prevR, prevF := rising.at(t0), falling.at(t0)
		for now := t0; now <= t1; now += int64(time.Hour) / 7 {
			r, f := rising.at(now), falling.at(now)
			require.GreaterOrEqual(t, r, prevR)
			require.LessOrEqual(t, f, prevF)
			require.True(t, r >= 100 && r <= 10000 && f >= 100 && f <= 10000, "%d %d", r, f)
			prevR, prevF = r, f
		}
	})
	t.Run("end not after start is rejected", func(t *testing.T) {
		for _, end := range []string{"2026-01-01T00:00:00Z", "2025-12-31T23:59:59Z"} {
			_, err := Parse([]byte(`{"flags": {"f": {"type": "bool", "rollout": {"variant": "true", "progressive": {"start": "2026-01-01T00:00:00Z", "end": "` + end + `", "from": 0, "to": 100}}}}}`))
			var ve *ValidationError
			require.ErrorAs(t, err, &ve, end)
			assert.Equal(t, []Problem{{Path: "$.flags.f.rollout.progressive.end", Message: "must be after start"}}, ve.Problems)
		}
	})
	t.Run("through a client, at the instants", func(t *testing.T) {
		clock := &fakeClock{t: time.Unix(0, t0)}
		c := newStatic(t, `{"flags": {"f": {"type": "bool", "rollout": {"variant": "true", "progressive": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-05T04:00:00Z", "from": 0, "to": 100}}}}}`, &Options{Now: clock.Now})
		k := keyIn(t, "f", 1, true) // bucket 0: in from the first basis point
		_, d := c.BoolDetail(t.Context(), "f", Subject{Key: k}, false)
		assert.Equal(t, ReasonDefault, d.Reason, "0% at start: nobody")
		clock.t = time.Unix(0, t0+int64(100*time.Hour)/10000)
		_, d = c.BoolDetail(t.Context(), "f", Subject{Key: k}, false)
		assert.Equal(t, ReasonRollout, d.Reason, "0.01% after a ten-thousandth of the span")
		last := keyIn(t, "f", Buckets-1, false) // bucket 9999
		clock.t = time.Unix(0, t1-1)
		_, d = c.BoolDetail(t.Context(), "f", Subject{Key: last}, false)
		assert.Equal(t, ReasonDefault, d.Reason, "99.99% just before the end")
		clock.t = time.Unix(0, t1)
		_, d = c.BoolDetail(t.Context(), "f", Subject{Key: last}, false)
		assert.Equal(t, ReasonRollout, d.Reason, "100% at the end")
	})
}
