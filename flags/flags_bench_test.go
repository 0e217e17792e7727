package flags

import (
	"context"
	"strconv"
	"testing"
)

const benchDoc = `{"flags": {
  "plain": {"type": "bool", "default": "true"},
  "rollout": {"type": "bool", "rollout": {"variant": "true", "percent": 37.5}},
  "rules5": {"type": "string", "variants": {"a": "A", "b": "B"}, "default": "a",
    "rules": [
      {"id": "r1", "when": [{"attr": "country", "op": "eq", "value": "JP"}], "variant": "b"},
      {"id": "r2", "when": [{"attr": "plan", "op": "in", "values": ["gold", "platinum"]}], "variant": "b"},
      {"id": "r3", "when": [{"attr": "email", "op": "suffix", "value": "@example.com"}], "variant": "b"},
      {"id": "r4", "when": [{"attr": "age", "op": "gt", "value": 65}], "variant": "b"},
      {"id": "r5", "when": [{"attr": "appVersion", "op": "semverGe", "value": "2.4.0"}], "variant": "b"}
    ]}
}}`

func benchClient(b *testing.B) *Client {
	b.Helper()
	doc, err := Parse([]byte(benchDoc))
	if err != nil {
		b.Fatal(err)
	}
	c, err := New(context.Background(), Static(doc), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	return c
}

// BenchmarkEvaluate measures evaluation of a plain bool flag, a 37.5%
// rollout and a flag whose five rules all miss (the worst case: every
// condition is tested), serially and in parallel.
func BenchmarkEvaluate(b *testing.B) {
	c := benchClient(b)
	ctx := context.Background()
	subj := Subject{Key: "user-12345", Attrs: map[string]any{
		"country": "DE", "plan": "free", "email": "someone@mail.test", "age": 30, "appVersion": "2.3.9",
	}}
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "user-" + strconv.Itoa(i)
	}
	b.Run("flag=plain", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c.Bool(ctx, "plain", subj, false)
		}
	})
	b.Run("flag=rollout", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			c.Bool(ctx, "rollout", Subject{Key: keys[i&1023]}, false)
			i++
		}
	})
	b.Run("flag=rules5", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c.String(ctx, "rules5", subj, "")
		}
	})
	b.Run("flag=plain/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.Bool(ctx, "plain", subj, false)
			}
		})
	})
	b.Run("flag=rollout/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				c.Bool(ctx, "rollout", Subject{Key: keys[i&1023]}, false)
				i++
			}
		})
	})
	b.Run("flag=rules5/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.String(ctx, "rules5", subj, "")
			}
		})
	})
}
