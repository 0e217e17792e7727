package flags

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cond compiles one condition through the parser.
func cond(t *testing.T, c string) ccond {
	t.Helper()
	d := mustParse(t, `{"flags": {"f": {"type": "bool", "rules": [{"variant": "true", "when": [`+c+`]}]}}}`)
	return d.list[0].rules[0].when[0]
}

func TestOperators(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	type check struct {
		attr any
		want bool
	}
	missing := struct{}{} // marker: attribute absent
	tests := []struct {
		cond   string
		checks []check
	}{
		{`{"attr": "a", "op": "eq", "value": "DE"}`, []check{{"DE", true}, {"de", false}, {"", false}, {1, false}, {true, false}, {nil, false}, {missing, false}}},
		{`{"attr": "a", "op": "eq", "value": 3}`, []check{{3, true}, {int8(3), true}, {uint64(3), true}, {3.0, true}, {float32(3), true}, {json.Number("3"), true}, {json.Number("3.5"), false}, {json.Number("x"), false}, {"3", false}, {4, false}}},
		{`{"attr": "a", "op": "eq", "value": true}`, []check{{true, true}, {false, false}, {"true", false}, {1, false}}},
		{`{"attr": "a", "op": "ne", "value": "DE"}`, []check{{"FR", true}, {"DE", false}, {1, false}, {false, false}, {missing, false}}},
		{`{"attr": "a", "op": "in", "values": ["DE", "FR", 7]}`, []check{{"DE", true}, {"FR", true}, {"IT", false}, {7, true}, {8, false}, {true, false}, {missing, false}}},
		{`{"attr": "a", "op": "in", "values": ["a","b","c","d","e","f","g","h","i","j"]}`, []check{{"j", true}, {"a", true}, {"k", false}, {1, false}}},
		{`{"attr": "a", "op": "notIn", "values": ["DE", "FR"]}`, []check{{"IT", true}, {"DE", false}, {7, false}, {missing, false}}},
		{`{"attr": "a", "op": "in", "values": ["admin", "beta"]}`, []check{{[]string{"user", "beta"}, true}, {[]string{"user"}, false}, {[]string{}, false}, {[]string(nil), false}, {[]any{"beta"}, false}}},
		{`{"attr": "a", "op": "notIn", "values": ["banned"]}`, []check{{[]string{"user", "beta"}, true}, {[]string{"banned", "x"}, false}, {[]string{}, true}}},
		{`{"attr": "a", "op": "eq", "value": 1}`, []check{{[]string{"1"}, false}}},
		// NaN is no number: it is neither equal nor different, nor ordered.
		{`{"attr": "a", "op": "ne", "value": 3}`, []check{{4, true}, {3, false}, {math.NaN(), false}, {float32(math.NaN()), false}, {json.Number("NaN"), false}}},
		{`{"attr": "a", "op": "notIn", "values": [3]}`, []check{{math.NaN(), false}, {float32(math.NaN()), false}, {math.Inf(1), true}}},
		{`{"attr": "a", "op": "ge", "value": 0}`, []check{{math.NaN(), false}, {float32(math.NaN()), false}, {math.Inf(1), true}, {math.Inf(-1), false}, {json.Number("1e999"), false}}},
		{`{"attr": "a", "op": "lt", "value": 0}`, []check{{math.NaN(), false}, {float32(math.NaN()), false}, {math.Inf(-1), true}}},
		{`{"attr": "a", "op": "prefix", "values": ["ab", "x"]}`, []check{{"abc", true}, {"xyz", true}, {"cab", false}, {"", false}, {12, false}}},
		{`{"attr": "a", "op": "suffix", "value": "@example.com"}`, []check{{"ann@example.com", true}, {"ann@example.co", false}, {true, false}}},
		{`{"attr": "a", "op": "contains", "value": "beta"}`, []check{{"x-beta-y", true}, {"alpha", false}, {[]string{"beta"}, false}}},
		{`{"attr": "a", "op": "lt", "value": 10}`, []check{{9, true}, {9.99, true}, {10, false}, {11, false}, {"9", false}, {nil, false}, {missing, false}}},
		{`{"attr": "a", "op": "le", "value": 10}`, []check{{10, true}, {int64(-5), true}, {10.01, false}}},
		{`{"attr": "a", "op": "gt", "value": 10}`, []check{{11, true}, {uint8(10), false}, {json.Number("10.5"), true}}},
		{`{"attr": "a", "op": "ge", "value": 1.5}`, []check{{1.5, true}, {2, true}, {1, false}, {"2", false}}},
		{`{"attr": "a", "op": "semverEq", "value": "1.2.0"}`, []check{{"1.2.0", true}, {"v1.2.0", true}, {"1.2", true}, {"1.2.0+build.5", true}, {"1.2.0-rc.1", false}, {"1.2.1", false}, {"not-a-version", false}, {120, false}, {missing, false}}},
		{`{"attr": "a", "op": "semverLt", "value": "2.0.0-rc.2"}`, []check{{"1.9.9", true}, {"2.0.0-rc.1", true}, {"2.0.0-beta", true}, {"2.0.0-rc.2", false}, {"2.0.0-rc.10", false}, {"2.0.0", false}, {"2.0.0-rc.2.1", false}, {"01.0.0", false}}},
		// Malformed versions never match, whatever the operator.
		{`{"attr": "a", "op": "semverGe", "value": "1.0.0"}`, []check{{"1.02.0", false}, {"1.2.3.4", false}, {"v", false}, {" 1.2.0", false}, {"1.2.0 ", false}, {"2.0.0-rc.01", false}, {"2.0.0-rc..1", false}, {"2.0.0+", false}, {"1..0", false}, {"1.0.", false}, {"vv1.0.0", false}, {"2.0.0-rc.0", true}, {"V2.0.0", false}, {"99999999999999999999.0.0", false}}},
		{`{"attr": "a", "op": "semverLt", "value": "1.0.0"}`, []check{{"1.02.0", false}, {"2.0.0-rc.01", false}, {"1.0.0-0", true}, {"0.0.0", true}}},
		{`{"attr": "a", "op": "semverLe", "value": "2.0.0"}`, []check{{"2.0.0", true}, {"2.0.0-alpha", true}, {"2.0.1", false}}},
		{`{"attr": "a", "op": "semverGt", "value": "1.0.0-alpha"}`, []check{{"1.0.0-alpha.1", true}, {"1.0.0-alpha.beta", true}, {"1.0.0-1", false}, {"1.0.0", true}, {"0.9.0", false}}},
		{`{"attr": "a", "op": "semverGe", "value": "2.4.0"}`, []check{{"2.4.0", true}, {"10.0.0", true}, {"2.10.0", true}, {"2.3.99", false}, {"2.4.0-rc.1", false}, {"", false}, {"2.4.0-", false}}},
		{`{"attr": "a", "op": "before", "value": "2026-03-01T12:00:00Z"}`, []check{{now.Add(-time.Second), true}, {now, false}, {"2026-02-28T00:00:00+01:00", true}, {"2026-03-02T00:00:00Z", false}, {"yesterday", false}, {now.Unix(), false}, {missing, false}}},
		{`{"attr": "a", "op": "after", "value": "2026-03-01T12:00:00Z"}`, []check{{now.Add(time.Nanosecond), true}, {now, false}, {"2026-03-01T13:00:00+01:00", false}, {"2026-03-01T13:00:01+01:00", true}}},
	}
	for _, tt := range tests {
		c := cond(t, tt.cond)
		for _, ch := range tt.checks {
			t.Run(fmt.Sprintf("%s/%T(%v)", tt.cond, ch.attr, ch.attr), func(t *testing.T) {
				attrs := map[string]any{"other": "x"}
				if ch.attr != missing {
					attrs["a"] = ch.attr
				}
				e := evaluator{now: func() time.Time { return now }}
				var got bool
				require.NotPanics(t, func() { got = e.matchAll([]ccond{c}, &Subject{Attrs: attrs}) })
				assert.Equal(t, ch.want, got)
			})
		}
	}
}

func TestRulesAllOfFirstMatchWins(t *testing.T) {
	c := newStatic(t, `{"flags": {"f": {"type": "string", "variants": {"a": "A", "b": "B", "c": "C"}, "default": "c", "rules": [
		{"id": "both", "when": [{"attr": "x", "op": "eq", "value": 1}, {"attr": "y", "op": "eq", "value": 2}], "variant": "a"},
		{"id": "x-only", "when": [{"attr": "x", "op": "eq", "value": 1}], "variant": "b"},
		{"id": "always", "when": [], "variant": "c"}]}}}`, nil)
	for _, tc := range []struct {
		attrs map[string]any
		rule  string
	}{
		{map[string]any{"x": 1, "y": 2}, "both"},
		{map[string]any{"x": 1, "y": 3}, "x-only"},
		{map[string]any{"x": 1}, "x-only"},
		{nil, "always"},
	} {
		_, d := c.StringDetail(t.Context(), "f", Subject{Attrs: tc.attrs}, "")
		assert.Equal(t, tc.rule, d.RuleID)
		assert.Equal(t, ReasonRule, d.Reason)
	}
}
