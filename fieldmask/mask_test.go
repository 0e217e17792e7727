package fieldmask

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMaskHas(t *testing.T) {
	t.Parallel()
	m := MustParse("id,profile{avatar,bio},posts.title,meta.*")
	for path, want := range map[string]bool{
		"id":                true,
		"name":              false,
		"profile":           true,
		"profile.avatar":    true,
		"profile.avatar.x":  true, // wholly selected below
		"profile.email":     false,
		"posts":             true,
		"posts.title":       true,
		"posts.body":        false,
		"meta":              true,
		"meta.anything":     true,
		"meta.anything.x.y": true,
	} {
		assert.Equal(t, want, m.Has(path), path)
	}
	assert.True(t, All().Has("x.y"))
	assert.False(t, Mask{}.Has("x"))
	assert.True(t, MustParse("`a.b`.c").Has("`a.b`.c"))
	assert.False(t, MustParse("`a.b`.c").Has("a.b.c"))
}

func TestMaskSub(t *testing.T) {
	t.Parallel()
	m := MustParse("id,profile{avatar,bio},posts.title")
	assert.Equal(t, "avatar,bio", m.Sub("profile").String())
	assert.Equal(t, "title", m.Sub("posts").String())
	assert.Equal(t, "*", m.Sub("id").String())
	assert.True(t, m.Sub("nope").IsEmpty())
	assert.True(t, Mask{}.Sub("x").IsEmpty())
	assert.Equal(t, "*", All().Sub("x").String())
	assert.Equal(t, "*,b", MustParse("*,a.b").Sub("a").String())
}

func TestMaskPaths(t *testing.T) {
	t.Parallel()
	tests := map[string][]string{
		"":                       nil,
		"*":                      {"*"},
		"id,name":                {"id", "name"},
		"profile{avatar,bio},id": {"id", "profile.avatar", "profile.bio"},
		"a,a.b":                  {"a.*", "a.b"},
		"*,x":                    {"*", "x"},
		"`odd key`.v,a.b.c":      {"a.b.c", "`odd key`.v"},
		"a{b{c,d},e},f":          {"a.b.c", "a.b.d", "a.e", "f"},
		"a{b{*,c{d}}}":           {"a.b.*", "a.b.c.*", "a.b.c.d"},
	}
	for in, want := range tests {
		m := MustParse(in)
		got := m.Paths()
		assert.Equal(t, want, got, in)
		// The paths parse back to the same mask.
		var back Mask
		for _, p := range got {
			back = back.Union(MustParse(p))
		}
		assert.Equal(t, m.String(), back.String(), in)
	}
}

func TestMaskUnionIntersect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b, union, inter string
	}{
		{"a", "b", "a,b", ""},
		{"a,b", "b,c", "a,b,c", "b"},
		{"a{x,y}", "a{y,z}", "a{x,y,z}", "a.y"},
		{"a", "a.x", "a{*,x}", "a.x"},
		{"*", "a.x,b", "*,a{*,x},b", "a.x,b"},
		{"*", "*", "*", "*"},
		{"*,a.x", "a.y", "*,a{*,x,y}", "a.y"},
		{"", "a", "a", ""},
		{"a.b.c", "a.b.d", "a.b{c,d}", ""},
	}
	for _, tt := range tests {
		a, b := MustParse(tt.a), MustParse(tt.b)
		assert.Equal(t, tt.union, a.Union(b).String(), "%s ∪ %s", tt.a, tt.b)
		assert.Equal(t, tt.union, b.Union(a).String(), "%s ∪ %s", tt.b, tt.a)
		assert.Equal(t, tt.inter, a.Intersect(b).String(), "%s ∩ %s", tt.a, tt.b)
		assert.Equal(t, tt.inter, b.Intersect(a).String(), "%s ∩ %s", tt.b, tt.a)
	}
	// Union is what the comma means.
	assert.True(t, MustParse("a{x},b,a.y").Equal(MustParse("a.x").Union(MustParse("b")).Union(MustParse("a.y"))))
	// Operands are not modified.
	a := MustParse("a")
	_ = a.Union(MustParse("a.x"))
	assert.Equal(t, "a", a.String())
	require.True(t, Mask{}.IsEmpty())
}
