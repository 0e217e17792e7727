// Package flagsbench compares stout/flags evaluation with the OpenFeature Go
// SDK on its in-memory provider, for the same three flags: a plain bool, a
// 37.5% rollout, and a string flag with five rules that all miss (every
// condition is tested). The OpenFeature flags use context evaluators that
// implement the same logic (and the same bucketing function), so the
// difference is the cost of each SDK's evaluation path.
package flagsbench

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/memprovider"
	"github.com/stout-go/stout/flags"
)

const doc = `{"flags": {
  "plain": {"type": "bool", "default": "true"},
  "rollout": {"type": "bool", "rollout": {"variant": "true", "percent": 37.5}},
  "rules5": {"type": "string", "variants": {"a": "A", "b": "B"}, "default": "a",
    "rules": [
      {"id": "r1", "when": [{"attr": "country", "op": "eq", "value": "JP"}], "variant": "b"},
      {"id": "r2", "when": [{"attr": "plan", "op": "in", "values": ["gold", "platinum"]}], "variant": "b"},
      {"id": "r3", "when": [{"attr": "email", "op": "suffix", "value": "@example.com"}], "variant": "b"},
      {"id": "r4", "when": [{"attr": "age", "op": "gt", "value": 65}], "variant": "b"},
      {"id": "r5", "when": [{"attr": "tier", "op": "ge", "value": 3}], "variant": "b"}
    ]}
}}`

func attrs() map[string]any {
	return map[string]any{"country": "DE", "plan": "free", "email": "someone@mail.test", "age": 30, "tier": 1}
}

func stoutClient(tb testing.TB) *flags.Client {
	d, err := flags.Parse([]byte(doc))
	if err != nil {
		tb.Fatal(err)
	}
	c, err := flags.New(context.Background(), flags.Static(d), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

func num(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

func evaluator(fn func(flat openfeature.FlattenedContext) (any, openfeature.ProviderResolutionDetail)) memprovider.ContextEvaluator {
	f := func(_ memprovider.InMemoryFlag, flat openfeature.FlattenedContext) (any, openfeature.ProviderResolutionDetail) {
		return fn(flat)
	}
	return &f
}

func openFeatureClient(tb testing.TB) *openfeature.Client {
	rollout := evaluator(func(flat openfeature.FlattenedContext) (any, openfeature.ProviderResolutionDetail) {
		key, _ := flat[openfeature.TargetingKey].(string)
		if key != "" && flags.Bucket("rollout", key) < 3750 {
			return true, openfeature.ProviderResolutionDetail{Reason: openfeature.SplitReason, Variant: "true"}
		}
		return false, openfeature.ProviderResolutionDetail{Reason: openfeature.DefaultReason, Variant: "false"}
	})
	rules := evaluator(func(flat openfeature.FlattenedContext) (any, openfeature.ProviderResolutionDetail) {
		match := func(id string) (any, openfeature.ProviderResolutionDetail) {
			return "B", openfeature.ProviderResolutionDetail{Reason: openfeature.TargetingMatchReason, Variant: "b",
				FlagMetadata: openfeature.FlagMetadata{"rule": id}}
		}
		if s, ok := flat["country"].(string); ok && s == "JP" {
			return match("r1")
		}
		if s, ok := flat["plan"].(string); ok && (s == "gold" || s == "platinum") {
			return match("r2")
		}
		if s, ok := flat["email"].(string); ok && strings.HasSuffix(s, "@example.com") {
			return match("r3")
		}
		if n, ok := num(flat["age"]); ok && n > 65 {
			return match("r4")
		}
		if n, ok := num(flat["tier"]); ok && n >= 3 {
			return match("r5")
		}
		return "A", openfeature.ProviderResolutionDetail{Reason: openfeature.DefaultReason, Variant: "a"}
	})
	p := memprovider.NewInMemoryProvider(map[string]memprovider.InMemoryFlag{
		"plain":   {Key: "plain", State: memprovider.Enabled, DefaultVariant: "true", Variants: map[string]any{"true": true, "false": false}},
		"rollout": {Key: "rollout", State: memprovider.Enabled, DefaultVariant: "false", Variants: map[string]any{"true": true, "false": false}, ContextEvaluator: rollout},
		"rules5":  {Key: "rules5", State: memprovider.Enabled, DefaultVariant: "a", Variants: map[string]any{"a": "A", "b": "B"}, ContextEvaluator: rules},
	})
	domain := "flagsbench-" + tb.Name()
	if err := openfeature.SetNamedProviderAndWait(domain, p); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(openfeature.Shutdown)
	return openfeature.NewClient(domain)
}

func keys() []string {
	k := make([]string, 1024)
	for i := range k {
		k[i] = "user-" + strconv.Itoa(i)
	}
	return k
}

// TestSameAnswers checks that both implementations give the same answers,
// so that the benchmark compares like with like, and that the subjects
// reach every branch (rollout in and out, each rule and the default).
func TestSameAnswers(t *testing.T) {
	ctx := context.Background()
	s, of := stoutClient(t), openFeatureClient(t)
	variants := []map[string]any{attrs(), {"country": "JP"}, {"plan": "gold"}, {"email": "a@example.com"}, {"age": 70}, {"tier": 3}, {"tier": 2.5}}
	inRollout := 0
	rules := map[string]int{}
	for i, k := range keys() {
		a := variants[i%len(variants)]
		subj := flags.Subject{Key: k, Attrs: a}
		ec := openfeature.NewEvaluationContext(k, a)
		for _, f := range []string{"plain", "rollout"} {
			want := s.Bool(ctx, f, subj, false)
			got, err := of.BooleanValue(ctx, f, false, ec)
			if err != nil || got != want {
				t.Fatalf("%s %s: stout %v, openfeature %v (%v)", f, k, want, got, err)
			}
			if f == "rollout" && want {
				inRollout++
			}
		}
		want, d := s.StringDetail(ctx, "rules5", subj, "")
		if d.Err != nil {
			t.Fatalf("rules5 %s: %v", k, d.Err)
		}
		got, err := of.StringValue(ctx, "rules5", "", ec)
		if err != nil || got != want {
			t.Fatalf("rules5 %s %v: stout %v, openfeature %v (%v)", k, a, want, got, err)
		}
		rules[d.Variant+"/"+d.RuleID]++
	}
	// 37.5% of 1024 subjects is 384; the binomial σ is about 15.
	if inRollout < 384-80 || inRollout > 384+80 {
		t.Errorf("%d of 1024 subjects in the 37.5%% rollout", inRollout)
	}
	for _, r := range []string{"a/", "b/r1", "b/r2", "b/r3", "b/r4", "b/r5"} {
		if rules[r] == 0 {
			t.Errorf("branch %s never taken: %v", r, rules)
		}
	}
}

// BenchmarkEvaluate: compare with
//
//	go test -run '^$' -bench Evaluate -count 6 . > new.txt
//	benchstat -col /impl new.txt
func BenchmarkEvaluate(b *testing.B) {
	ctx := context.Background()
	s, of := stoutClient(b), openFeatureClient(b)
	ks := keys()
	a := attrs()
	subj := flags.Subject{Key: "user-12345", Attrs: a}
	ec := openfeature.NewEvaluationContext("user-12345", a)
	subjects := make([]flags.Subject, len(ks))
	ecs := make([]openfeature.EvaluationContext, len(ks))
	for i, k := range ks {
		subjects[i] = flags.Subject{Key: k}
		ecs[i] = openfeature.NewEvaluationContext(k, nil)
	}
	type impl struct {
		name string
		run  func(flag string, i int)
	}
	impls := []impl{
		{"stout", func(flag string, i int) {
			switch flag {
			case "plain":
				s.Bool(ctx, "plain", subj, false)
			case "rollout":
				s.Bool(ctx, "rollout", subjects[i&1023], false)
			default:
				s.String(ctx, "rules5", subj, "")
			}
		}},
		{"openfeature", func(flag string, i int) {
			switch flag {
			case "plain":
				_, _ = of.BooleanValue(ctx, "plain", false, ec)
			case "rollout":
				_, _ = of.BooleanValue(ctx, "rollout", false, ecs[i&1023])
			default:
				_, _ = of.StringValue(ctx, "rules5", "", ec)
			}
		}},
	}
	for _, flag := range []string{"plain", "rollout", "rules5"} {
		for _, mode := range []string{"serial", "parallel"} {
			for _, im := range impls {
				b.Run(fmt.Sprintf("flag=%s/mode=%s/impl=%s", flag, mode, im.name), func(b *testing.B) {
					b.ReportAllocs()
					if mode == "serial" {
						i := 0
						for b.Loop() {
							im.run(flag, i)
							i++
						}
						return
					}
					b.RunParallel(func(pb *testing.PB) {
						i := 0
						for pb.Next() {
							im.run(flag, i)
							i++
						}
					})
				})
			}
		}
	}
}
