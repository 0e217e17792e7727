package flags

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mustParse(t testing.TB, doc string) *Document {
	t.Helper()
	d, err := Parse([]byte(doc))
	require.NoError(t, err)
	return d
}

func TestParseExample(t *testing.T) {
	data, err := os.ReadFile("testdata/example.json")
	require.NoError(t, err)
	d, err := Parse(data)
	require.NoError(t, err)
	assert.Equal(t, int64(3), d.Version())
	assert.Equal(t, []string{"checkout-copy", "new-checkout", "payments-v2", "price-multiplier", "promo-banner", "search-page-size", "ui-config"}, d.Keys())
	raw, err := d.MarshalJSON()
	require.NoError(t, err)
	assert.Equal(t, data, raw)
}

func TestParseDefaults(t *testing.T) {
	d := mustParse(t, `{"flags": {"b": {"type": "bool"}, "s": {"type": "string", "variants": {"x": "X", "y": "Y"}, "default": "y"}}}`)
	b := d.list[d.index["b"]]
	assert.True(t, b.on, "flags are on unless said otherwise")
	assert.Equal(t, []string{"false", "true"}, b.variantNames(), "bool flags have implicit variants")
	assert.Equal(t, "false", b.variants[b.defVar].name)
	assert.Equal(t, "false", b.variants[b.offVar].name)
	assert.True(t, b.static)
	s := d.list[d.index["s"]]
	assert.Equal(t, "y", s.variants[s.offVar].name, "the off variant defaults to the default variant")
	assert.Equal(t, "s", s.rolloutSeed)
}

func TestParseProblems(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string // "path: message fragment", all of which must be reported
	}{
		{"not json", `{"flags": `, []string{"$: not valid JSON"}},
		{"not json inside", `{"flags": {"a": [1, }}}`, []string{"$: not valid JSON"}},
		{"empty", ``, []string{"$: not valid JSON"}},
		{"duplicate keys", `{"flags": {"a": {"type": "bool"}, "a": {"type": "bool", "on": false, "on": true}}}`, []string{
			`$.flags.a: duplicate key`, `$.flags.a.on: duplicate key`}},
		{"too deep", `{"flags": {"a": {"type": "json", "variants": {"x": ` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}, "default": "x"}}}`, []string{
			`nested more than 64 levels deep`}},
		{"trailing data", `{"flags": {}} {}`, []string{"$: unexpected data"}},
		{"not an object", `[]`, []string{"$: must be an object"}},
		{"flags missing", `{}`, []string{"$.flags: is required"}},
		{"unknown top field", `{"flags": {}, "flgs": 1}`, []string{`$.flgs: unknown field`}},
		{"bad version", `{"version": -1, "flags": {}}`, []string{"$.version: must be a non-negative integer"}},
		{"empty key", `{"flags": {"": {"type": "bool"}}}`, []string{`$.flags[""]: flag key must not be empty`}},
		{"flag not object", `{"flags": {"a": 1}}`, []string{`$.flags.a: must be an object`}},
		{"type missing", `{"flags": {"a": {}}}`, []string{`$.flags.a.type: is required`}},
		{"non-identifier key", `{"flags": {"new-checkout": {"type": "bool", "targets": {"true": ["a b"], "false": ["a b"]}}}}`, []string{
			`$.flags["new-checkout"].targets.true[0]: subject "a b" is also a target of variant "false"`}},
		{"type unknown", `{"flags": {"a": {"type": "number"}}}`, []string{`$.flags.a.type: must be one of`}},
		{"unknown flag field", `{"flags": {"a": {"type": "bool", "enabled": true}}}`, []string{`$.flags.a.enabled: unknown field`}},
		{"on not bool", `{"flags": {"a": {"type": "bool", "on": "yes"}}}`, []string{`$.flags.a.on: must be true or false`}},
		{"variants required", `{"flags": {"a": {"type": "string", "default": "x"}}}`, []string{`$.flags.a.variants: is required for flags of type string`}},
		{"variant value types", `{"flags": {
			"b": {"type": "bool", "variants": {"x": 1}, "default": "x"},
			"s": {"type": "string", "variants": {"x": 1}, "default": "x"},
			"i": {"type": "int", "variants": {"x": 1.5, "y": 99999999999999999999}, "default": "x"},
			"f": {"type": "float", "variants": {"x": "1"}, "default": "x"}}}`, []string{
			`$.flags.b.variants.x: must be a boolean`,
			`$.flags.s.variants.x: must be a string`,
			`$.flags.i.variants.x: must be an integer`,
			`$.flags.i.variants.y: must be an integer`,
			`$.flags.f.variants.x: must be a finite number`,
		}},
		{"default required", `{"flags": {"a": {"type": "string", "variants": {"x": "X"}}}}`, []string{`$.flags.a.default: is required`}},
		{"default unknown", `{"flags": {"a": {"type": "string", "variants": {"x": "X"}, "default": "z", "offVariant": "w"}}}`, []string{
			`$.flags.a.default: no variant "z"`, `$.flags.a.offVariant: no variant "w"`}},
		{"targets", `{"flags": {"a": {"type": "bool", "targets": {"true": ["u1", ""], "false": ["u1"], "maybe": ["u2"], "x": "u3"}}}}`, []string{
			`$.flags.a.targets.true[1]: must not be empty`,
			`$.flags.a.targets.true[0]: subject "u1" is also a target of variant "false"`,
			`$.flags.a.targets.maybe: no variant "maybe"`,
			`$.flags.a.targets.x: must be a list of subject keys`,
		}},
		{"rules", `{"flags": {"a": {"type": "bool", "rules": [
			{"id": "r", "when": [{"attr": "x", "op": "eq", "value": 1}], "variant": "true"},
			{"id": "r", "when": [], "variant": "true"},
			{"when": [{"attr": "x", "op": "eq", "value": 1}]},
			{"id": "v", "variant": "nope", "when": [], "percent": 100.001},
			{"id": "w", "when": [], "variant": "true", "split": {"true": 1}, "percent": 5, "progressive": {}},
			7
		]}}}`, []string{
			`$.flags.a.rules[1].id: duplicate rule id "r"`,
			`$.flags.a.rules[2]: must give a variant or a split`,
			`$.flags.a.rules[3].variant: no variant "nope"`,
			`$.flags.a.rules[3].percent: must be a number from 0 to 100`,
			`$.flags.a.rules[4]: has both variant and split`,
			`$.flags.a.rules[4]: has both percent and progressive`,
			`$.flags.a.rules[5]: must be an object`,
		}},
		{"rule when missing", `{"flags": {"a": {"type": "bool", "rules": [{"variant": "true"}]}}}`, []string{`$.flags.a.rules[0].when: is required`}},
		{"conditions", `{"flags": {"a": {"type": "bool", "rules": [{"variant": "true", "when": [
			{"op": "eq", "value": 1},
			{"attr": "x", "op": "like", "value": 1},
			{"attr": "x", "op": "eq"},
			{"attr": "x", "op": "in", "value": 1, "values": [1]},
			{"attr": "x", "op": "in", "values": []},
			{"attr": "x", "op": "in", "values": [null, {}]},
			{"attr": "x", "op": "prefix", "values": ["a", 1]},
			{"attr": "x", "op": "gt", "value": "10"},
			{"attr": "x", "op": "lt", "values": [1, 2]},
			{"attr": "x", "op": "semverGe", "value": "1.2.3.4"},
			{"attr": "x", "op": "semverGe", "value": "01.2.3"},
			{"attr": "x", "op": "before", "value": "yesterday"},
			{"attr": "$now", "op": "eq", "value": "x"},
			{"attr": "x", "op": "eq", "value": 1, "negate": true}
		]}]}}}`, []string{
			`when[0].attr: is required`,
			`when[1].op: unknown operator "like"`,
			`when[2]: needs a value or values`,
			`when[3]: has both value and values`,
			`when[4].values: must be a non-empty list`,
			`when[5].values[0]: must be a string, number or boolean, not null`,
			`when[5].values[1]: must be a string, number or boolean, not an object`,
			`when[6].values[1]: must be a string, not a number`,
			`when[7].value: must be a number`,
			`when[8].values: this operator takes exactly one value`,
			`when[9].value: "1.2.3.4" is not a semantic version`,
			`when[10].value: "01.2.3" is not a semantic version`,
			`when[11].value: must be an RFC 3339 time`,
			`when[12].attr: $now can only be used with before and after`,
			`when[13].negate: unknown field`,
		}},
		{"percent precision", `{"flags": {"a": {"type": "bool", "rollout": {"variant": "true", "percent": 12.345}}}}`, []string{
			`$.flags.a.rollout.percent: 12.345 has more than two decimals`}},
		{"rollout", `{"flags": {"a": {"type": "bool", "rollout": {"percent": 5, "bucket": "x"}}, "b": {"type": "bool", "rollout": 3}}}`, []string{
			`$.flags.a.rollout.bucket: unknown field`, `$.flags.a.rollout: must give a variant or a split`, `$.flags.b.rollout: must be an object`}},
		{"split", `{"flags": {"a": {"type": "bool", "rollout": {"split": {"true": -1, "false": 1.5, "x": 1}}}, "b": {"type": "bool", "rollout": {"split": {"true": 0}}}}}`, []string{
			`$.flags.a.rollout.split.true: weight must be an integer`,
			`$.flags.a.rollout.split.false: weight must be an integer`,
			`$.flags.a.rollout.split.x: no variant "x"`,
			`$.flags.b.rollout.split: weights must not all be zero`,
		}},
		{"progressive", `{"flags": {"a": {"type": "bool", "rollout": {"variant": "true", "progressive": {"start": "2026-02-01T00:00:00Z", "end": "2026-01-01T00:00:00Z", "from": 1, "to": 101}}},
			"b": {"type": "bool", "rollout": {"variant": "true", "progressive": {"from": 1}}}}}`, []string{
			`$.flags.a.rollout.progressive.end: must be after start`,
			`$.flags.a.rollout.progressive.to: must be a number from 0 to 100`,
			`$.flags.b.rollout.progressive.start: is required`,
			`$.flags.b.rollout.progressive.to: is required`,
		}},
		{"bucketing fields", `{"flags": {"a": {"type": "bool", "salt": "", "bucketBy": 1, "bucketGroup": ""}}}`, []string{
			`$.flags.a.salt: must not be empty`, `$.flags.a.bucketBy: must be a string`, `$.flags.a.bucketGroup: must not be empty`}},
		{"prerequisites", `{"flags": {
			"a": {"type": "bool", "prerequisites": [{"flag": "zz"}, {"flag": "a"}, {"flag": "b", "variants": ["nope"]}, {"variants": ["x"]}, {"flag": "b", "variants": []}]},
			"b": {"type": "bool"}}}`, []string{
			`$.flags.a.prerequisites[0].flag: no flag "zz"`,
			`$.flags.a.prerequisites[1].flag: a flag cannot be its own prerequisite`,
			`$.flags.a.prerequisites[2].variants[0]: flag "b" has no variant "nope"`,
			`$.flags.a.prerequisites[3].flag: is required`,
			`$.flags.a.prerequisites[4].variants: must be a non-empty list`,
		}},
		{"prerequisite cycle", `{"flags": {"a": {"type": "bool", "prerequisites": [{"flag": "b"}]}, "b": {"type": "bool", "prerequisites": [{"flag": "c"}]}, "c": {"type": "bool", "prerequisites": [{"flag": "a"}]}}}`, []string{
			`$.flags.a.prerequisites: prerequisites form a cycle`, `$.flags.b.prerequisites: prerequisites form a cycle`, `$.flags.c.prerequisites: prerequisites form a cycle`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse([]byte(tt.doc))
			require.Error(t, err)
			assert.Nil(t, d, "a bad document is rejected whole")
			assert.ErrorIs(t, err, ErrInvalidDocument)
			var ve *ValidationError
			require.True(t, errors.As(err, &ve))
			var got []string
			for _, p := range ve.Problems {
				got = append(got, p.String())
			}
			for _, w := range tt.want {
				found := false
				for _, g := range got {
					if strings.Contains(g, w) {
						found = true
					}
				}
				assert.True(t, found, "missing problem %q in:\n%s", w, strings.Join(got, "\n"))
			}
		})
	}
}

func TestParseTooLarge(t *testing.T) {
	_, err := Parse(make([]byte, MaxDocumentSize+1))
	assert.ErrorIs(t, err, ErrInvalidDocument)
}

// TestPackageDocExample keeps the example in the package documentation
// valid and identical to testdata/example.json.
func TestPackageDocExample(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	text := string(src)
	start := strings.Index(text, "A complete example:\n")
	end := strings.Index(text, "// The fields of a flag:")
	require.True(t, start > 0 && end > start)
	var b strings.Builder
	for _, line := range strings.Split(text[start:end], "\n")[1:] {
		if s, ok := strings.CutPrefix(line, "//\t"); ok {
			b.WriteString(s + "\n")
		}
	}
	_, err = Parse([]byte(b.String()))
	require.NoError(t, err)
	want, err := os.ReadFile("testdata/example.json")
	require.NoError(t, err)
	assert.JSONEq(t, string(want), b.String())
}

// chainDoc returns a document of n bool flags f0 … f(n-1), each (but the
// last) with the next as prerequisite, all on by default.
func chainDoc(n int) string {
	var b strings.Builder
	b.WriteString(`{"flags": {`)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"f%d": {"type": "bool", "default": "true"`, i)
		if i+1 < n {
			fmt.Fprintf(&b, `, "prerequisites": [{"flag": "f%d"}]`, i+1)
		}
		b.WriteString("}")
	}
	b.WriteString("}}")
	return b.String()
}

// Evaluation does not memoize prerequisites: documents whose evaluation
// would be long (deep chains) or exponential (shared prerequisites, layer
// after layer) are rejected, whatever the subject.
func TestPrerequisiteBounds(t *testing.T) {
	problems := func(t *testing.T, doc string) []string {
		t.Helper()
		_, err := Parse([]byte(doc))
		var ve *ValidationError
		require.ErrorAs(t, err, &ve)
		var got []string
		for _, p := range ve.Problems {
			got = append(got, p.String())
		}
		return got
	}

	t.Run("a chain of the maximum length is accepted and evaluates", func(t *testing.T) {
		d := mustParse(t, chainDoc(maxPrereqEvals))
		c, err := New(context.Background(), Static(d), nil)
		require.NoError(t, err)
		defer c.Close()
		v, det := c.BoolDetail(context.Background(), "f0", Subject{Key: "u"}, false)
		assert.True(t, v)
		assert.Equal(t, ReasonDefault, det.Reason)

		// The last flag of the chain, off, fails every flag before it.
		last := fmt.Sprintf(`"f%d": {"type": "bool", "default": "true"`, maxPrereqEvals-1)
		off := strings.Replace(chainDoc(maxPrereqEvals), last, last+`, "on": false`, 1)
		require.NotEqual(t, chainDoc(maxPrereqEvals), off)
		c2, err := New(context.Background(), Static(mustParse(t, off)), nil)
		require.NoError(t, err)
		defer c2.Close()
		v, det = c2.BoolDetail(context.Background(), "f0", Subject{Key: "u"}, true)
		assert.False(t, v)
		assert.Equal(t, ReasonPrerequisiteFailed, det.Reason)
	})
	t.Run("one flag more is rejected", func(t *testing.T) {
		got := problems(t, chainDoc(maxPrereqEvals+1))
		require.Len(t, got, 1, "only f0 needs more than the bound")
		assert.Equal(t, fmt.Sprintf("$.flags.f0.prerequisites: evaluating the flag would evaluate more than %d flags (prerequisites count each time they are reached)", maxPrereqEvals), got[0])
	})
	t.Run("shared prerequisites are counted each time they are reached", func(t *testing.T) {
		// 40 layers of two flags, each needing both flags of the next layer:
		// 2^40 evaluations for a flag of the first layer without the bound.
		var b strings.Builder
		b.WriteString(`{"flags": {`)
		const layers = 40
		for l := range layers {
			for k := range 2 {
				if l+k > 0 {
					b.WriteString(",")
				}
				fmt.Fprintf(&b, `"l%02d%c": {"type": "bool", "default": "true"`, l, 'a'+k)
				if l+1 < layers {
					fmt.Fprintf(&b, `, "prerequisites": [{"flag": "l%02da"}, {"flag": "l%02db"}]`, l+1, l+1)
				}
				b.WriteString("}")
			}
		}
		b.WriteString("}}")
		got := problems(t, b.String())
		// Layer l needs 2^(layers-l)-1 evaluations: layers 0 … 33 exceed 64.
		assert.Len(t, got, 2*(layers-6))
		assert.Contains(t, got[0], "$.flags.l00a.prerequisites: evaluating the flag would evaluate more than 64 flags")
	})
	t.Run("a flag that reaches a cycle is rejected", func(t *testing.T) {
		got := problems(t, `{"flags": {"x": {"type": "bool", "prerequisites": [{"flag": "a"}]},
			"a": {"type": "bool", "prerequisites": [{"flag": "b"}]}, "b": {"type": "bool", "prerequisites": [{"flag": "a"}]}}}`)
		assert.ElementsMatch(t, []string{
			"$.flags.a.prerequisites: prerequisites form a cycle",
			"$.flags.b.prerequisites: prerequisites form a cycle",
			"$.flags.x.prerequisites: prerequisites form a cycle",
		}, got)
	})
	t.Run("many short chains are accepted", func(t *testing.T) {
		var b strings.Builder
		b.WriteString(`{"flags": {`)
		for i := range 20000 {
			if i > 0 {
				b.WriteString(",")
			}
			if i%2 == 0 {
				fmt.Fprintf(&b, `"f%d": {"type": "bool", "prerequisites": [{"flag": "f%d"}]}`, i, i+1)
			} else {
				fmt.Fprintf(&b, `"f%d": {"type": "bool"}`, i)
			}
		}
		b.WriteString("}}")
		mustParse(t, b.String())
	})
}
