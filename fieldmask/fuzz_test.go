package fieldmask

import (
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "id", "id,name", "*", "a.b.c", "a{b,c{d}}", "a,a.b", "*,a.b.c", "`odd name`.x",
		"a{*,b}", "a.*", "a{", "a,,b", "名前", "a{b}}", " a , b ", "``", "a.b{c,d},a.b.e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseLimits(s, Limits{MaxLength: 4096, MaxDepth: 16, MaxPaths: 512})
		if err != nil {
			return
		}
		canon := m.String()
		again, err := ParseLimits(canon, Limits{MaxLength: -1, MaxDepth: -1, MaxPaths: -1})
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", canon, s, err)
		}
		if again.String() != canon {
			t.Fatalf("round trip of %q: %q then %q", s, canon, again.String())
		}
		// The paths rebuild the same mask.
		var back Mask
		for _, p := range m.Paths() {
			pm, err := ParseLimits(p, Limits{MaxLength: -1, MaxDepth: -1, MaxPaths: -1})
			if err != nil {
				t.Fatalf("path %q of %q does not parse: %v", p, s, err)
			}
			back = back.Union(pm)
		}
		if back.String() != canon {
			t.Fatalf("paths of %q rebuild %q, want %q", s, back.String(), canon)
		}
		// Algebra laws on the parsed mask.
		if !m.Union(m).Equal(m) || !m.Intersect(m).Equal(m) || !m.Intersect(All()).Equal(m) {
			t.Fatalf("idempotence fails for %q", canon)
		}
		for _, p := range m.Paths() {
			if !m.Has(p) && p != "*" {
				t.Fatalf("%q does not have its own path %q", canon, p)
			}
		}
	})
}
