package flags_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/stout-go/stout/flags"
)

func Example() {
	doc, err := flags.Parse([]byte(`{"version": 1, "flags": {
		"new-checkout": {"type": "bool",
			"targets": {"true": ["qa-1"]},
			"rules": [{"id": "staff", "when": [{"attr": "email", "op": "suffix", "value": "@example.com"}], "variant": "true"}],
			"rollout": {"variant": "true", "percent": 0}},
		"checkout-copy": {"type": "string", "variants": {"control": "Buy now", "urgent": "Only 3 left!"},
			"default": "control", "rollout": {"split": {"control": 1, "urgent": 1}}}}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	f, err := flags.New(ctx, flags.Static(doc), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()

	fmt.Println(f.Bool(ctx, "new-checkout", flags.Subject{Key: "qa-1"}, false))
	_, d := f.BoolDetail(ctx, "new-checkout", flags.Subject{Key: "u-7", Attrs: map[string]any{"email": "ann@example.com"}}, false)
	fmt.Println(d.Reason, d.RuleID)
	fmt.Println(f.Bool(ctx, "new-checkout", flags.Subject{Key: "u-7"}, false))
	_, d = f.StringDetail(ctx, "checkout-copy", flags.Subject{Key: "u-7"}, "Buy now")
	fmt.Println(d.Reason)
	_, d = f.BoolDetail(ctx, "no-such-flag", flags.Subject{}, false)
	fmt.Println(d.Reason, d.Err)
	// Output:
	// true
	// rule staff
	// false
	// rollout
	// flag_missing flags: flag not found
}

func ExampleParse() {
	_, err := flags.Parse([]byte(`{"flags": {
		"a": {"type": "bool", "rollout": {"variant": "true", "percent": 12.345}},
		"b": {"type": "string", "variants": {"x": "X"}, "default": "y"}}}`))
	var ve *flags.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			fmt.Println(p)
		}
	}
	// Output:
	// $.flags.a.rollout.percent: 12.345 has more than two decimals (the granularity is 0.01%)
	// $.flags.b.default: no variant "y" (variants: x)
}

func ExampleValue() {
	doc, _ := flags.Parse([]byte(`{"flags": {"limits": {"type": "json",
		"variants": {"base": {"perMinute": 60}, "pro": {"perMinute": 600}}, "default": "base",
		"rules": [{"id": "pro", "when": [{"attr": "plan", "op": "eq", "value": "pro"}], "variant": "pro"}]}}}`))
	ctx := context.Background()
	f, _ := flags.New(ctx, flags.Static(doc), nil)
	defer f.Close()

	type limits struct {
		PerMinute int `json:"perMinute"`
	}
	l := flags.Value(ctx, f, "limits", flags.Subject{Key: "acme", Attrs: map[string]any{"plan": "pro"}}, limits{PerMinute: 10})
	fmt.Println(l.PerMinute)
	// Output: 600
}

func ExampleClient_OnChange() {
	// A source that the program drives by hand, like a test or an admin
	// override would.
	updates := make(chan flags.Updater, 1)
	src := flags.SourceFunc(func(ctx context.Context, u flags.Updater) {
		_ = u.Apply([]byte(`{"version": 1, "flags": {"a": {"type": "bool"}}}`))
		updates <- u
		<-ctx.Done()
	})
	ctx := context.Background()
	f, _ := flags.New(ctx, src, nil)
	defer f.Close()
	f.OnChange(func(ev flags.ChangeEvent) {
		for _, c := range ev.Changes {
			fmt.Printf("v%d→v%d %s %s: %s → %s\n", ev.OldVersion, ev.Version, c.Kind, c.Key, c.Old, c.New)
		}
	})
	u := <-updates
	_ = u.Apply([]byte(`{"version": 2, "flags": {"a": {"type": "bool", "on": false}}}`))
	// Output:
	// v1→v2 updated a: {"type":"bool"} → {"on":false,"type":"bool"}
}
