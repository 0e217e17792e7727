package flags

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"
)

// FuzzParse feeds arbitrary documents to the parser: it must never panic,
// must either accept the document or report problems with paths, and every
// accepted document must evaluate without panicking for any subject.
func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile("testdata/example.json"); err == nil {
		f.Add(data)
	}
	f.Add([]byte(benchDoc))
	f.Add([]byte(`{"flags": {"a": {"type": "bool", "prerequisites": [{"flag": "a"}]}}}`))
	subjects := []Subject{
		{},
		{Key: "user-1"},
		{Key: "qa-1", Attrs: map[string]any{"country": "DE", "appVersion": "2.5.0", "email": "a@example.com", "age": 40, "accountId": "acc-1"}},
		{Key: "u", Attrs: map[string]any{"country": 1, "appVersion": true, "email": nil, "age": "x", "x": time.Unix(0, 0)}},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := Parse(data)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 {
				t.Fatalf("rejection without problems: %v", err)
			}
			for _, p := range ve.Problems {
				if p.Path == "" || p.Path[0] != '$' || p.Message == "" {
					t.Fatalf("problem without a path or message: %+v", p)
				}
			}
			return
		}
		if len(Diff(doc, doc)) != 0 {
			t.Fatal("a document differs from itself")
		}
		c := &Client{now: time.Now, counters: map[counterKey]*counter{}}
		c.install(doc, "fuzz", StateOK, nil)
		ctx := context.Background()
		for _, k := range doc.Keys() {
			for _, s := range subjects {
				_, d := ValueDetail(ctx, c, k, s, any(nil))
				if d.Err != nil && !errors.Is(d.Err, ErrWrongType) {
					t.Fatalf("flag %q: %v", k, d.Err)
				}
			}
		}
	})
}
