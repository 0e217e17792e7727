package fieldmask

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseCanonical(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"   ", ""},
		{"id", "id"},
		{"name,id", "id,name"},
		{" id , name ", "id,name"},
		{"id,id", "id"},
		{"*", "*"},
		{"id,*", "*,id"},
		{"profile.avatar", "profile.avatar"},
		{"profile{avatar}", "profile.avatar"},
		{"profile { avatar , bio }", "profile{avatar,bio}"},
		{"profile{bio},profile.avatar", "profile{avatar,bio}"},
		{"a.b.c", "a.b.c"},
		{"a{b{c}}", "a.b.c"},
		{"a.b{c,d},a.b.e", "a.b{c,d,e}"},
		{"a.*", "a"},
		{"a{*}", "a"},
		{"a,a.b", "a{*,b}"},
		{"a.b,a", "a{*,b}"},
		{"*,a.b.c", "*,a{*,b{*,c}}"},
		{"a{*,b}", "a{*,b}"},
		{"posts.title,id", "id,posts.title"},
		{"`odd name`", "`odd name`"},
		{"`plain`", "plain"},
		{"`a.b`.c", "`a.b`.c"},
		{"`*`", "`*`"},
		{"user_id,$ref,x-y,名前", "$ref,user_id,x-y,名前"},
		{"a\n,\tb", "a,b"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			m, err := Parse(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, m.String())
			again, err := Parse(m.String())
			require.NoError(t, err)
			assert.Equal(t, m.String(), again.String())
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in     string
		offset int
		want   string
	}{
		{",", 0, `fieldmask: syntax error at byte 0: expected field name or "*", found ','`},
		{"a,", 2, `fieldmask: syntax error at byte 2: expected field name or "*", found end of input`},
		{"a,,b", 2, `fieldmask: syntax error at byte 2: expected field name or "*", found ','`},
		{"a{", 2, `fieldmask: syntax error at byte 2: expected field name or "*", found end of input`},
		{"a{}", 2, `fieldmask: syntax error at byte 2: expected field name or "*", found '}'`},
		{"a{b", 3, `fieldmask: syntax error at byte 3: expected "," or "}", found end of input`},
		{"a{b}}", 4, `fieldmask: syntax error at byte 4: expected "," or end of input, found '}'`},
		{"a b", 2, `fieldmask: syntax error at byte 2: expected "," or end of input, found 'b'`},
		{"a.", 2, `fieldmask: syntax error at byte 2: expected field name or "*", found end of input`},
		{"a..b", 2, `fieldmask: syntax error at byte 2: expected field name or "*", found '.'`},
		{"a. b", 2, `fieldmask: syntax error at byte 2: expected field name or "*", found ' '`},
		{"a.*.b", 3, `fieldmask: syntax error at byte 3: expected "," or end of input, found '.'`},
		{"**", 1, `fieldmask: syntax error at byte 1: expected "," or end of input, found '*'`},
		{"*.a", 1, `fieldmask: syntax error at byte 1: expected "," or end of input, found '.'`},
		{"a(b)", 1, `fieldmask: syntax error at byte 1: expected "," or end of input, found '('`},
		{"``", 1, "fieldmask: syntax error at byte 1: expected a name between backquotes, found '`'"},
		{"`abc", 4, "fieldmask: syntax error at byte 4: expected closing \"`\", found end of input"},
		{"a\xff", 1, `fieldmask: syntax error at byte 1: expected "," or end of input, found byte 0xff`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := Parse(tt.in)
			var se *SyntaxError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, tt.offset, se.Offset)
			assert.EqualError(t, err, tt.want)
			assert.ErrorIs(t, err, ErrInvalid)
		})
	}
}

func TestParseLimits(t *testing.T) {
	t.Parallel()
	t.Run("length", func(t *testing.T) {
		_, err := Parse(strings.Repeat("a", DefaultMaxLength+1))
		var le *LimitError
		require.ErrorAs(t, err, &le)
		assert.Equal(t, "length", le.Limit)
		assert.ErrorIs(t, err, ErrInvalid)
		assert.EqualError(t, err, "fieldmask: mask longer than 2048 bytes")
		_, err = Parse(strings.Repeat("a", DefaultMaxLength))
		require.NoError(t, err)
	})
	t.Run("depth", func(t *testing.T) {
		_, err := Parse("a.b.c.d.e.f.g.h")
		require.NoError(t, err)
		for _, in := range []string{"a.b.c.d.e.f.g.h.i", "a{b{c{d{e{f{g{h{i}}}}}}}}", "a.b.c.d{e.f.g.h.i}"} {
			_, err = Parse(in)
			var le *LimitError
			require.ErrorAs(t, err, &le, in)
			assert.Equal(t, "depth", le.Limit)
			assert.Equal(t, 16, le.Offset, in)
		}
		assert.EqualError(t, err, "fieldmask: path deeper than 8 levels at byte 16")
		_, err = ParseLimits("a.b.c", Limits{MaxDepth: 2})
		require.Error(t, err)
		_, err = ParseLimits(strings.Repeat("a.", 100)+"a", Limits{MaxDepth: -1})
		require.NoError(t, err)
	})
	t.Run("paths", func(t *testing.T) {
		in := strings.TrimSuffix(strings.Repeat("a,", 256), ",")
		_, err := Parse(in)
		require.NoError(t, err)
		_, err = Parse(in + ",b")
		var le *LimitError
		require.ErrorAs(t, err, &le)
		assert.Equal(t, "paths", le.Limit)
		assert.EqualError(t, err, "fieldmask: more than 256 paths at byte 512")
		_, err = ParseLimits("a{b,c,d}", Limits{MaxPaths: 2})
		require.ErrorAs(t, err, &le)
		assert.Equal(t, 6, le.Offset)
	})
	t.Run("deep braces do not recurse past the limit", func(t *testing.T) {
		_, err := ParseLimits(strings.Repeat("a{", 100000), Limits{MaxLength: -1})
		var le *LimitError
		require.ErrorAs(t, err, &le)
	})
}

func TestMustParsePanics(t *testing.T) {
	t.Parallel()
	assert.Panics(t, func() { MustParse("a,") })
	assert.Equal(t, "a", MustParse("a").String())
}

func TestErrorsMatch(t *testing.T) {
	t.Parallel()
	_, err := Parse("a{")
	assert.True(t, errors.Is(err, ErrInvalid))
}
