package paginate

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestSQLGolden pins the SQL written for every dialect, direction and NULL
// shape. Run with -update after an intended change and review the diff.
func TestSQLGolden(t *testing.T) {
	t.Parallel()
	ts := time.Date(2026, 11, 27, 9, 30, 0, 123456000, time.UTC)
	sorts := []struct {
		name string
		s    *Sort
		keys []Key
	}{
		{"id", MustSort(Asc("id")), []Key{{7}}},
		{"created_at DESC, id DESC", MustSort(Desc("created_at").Time(), Desc("id")), []Key{{ts, 7}}},
		{"score DESC, id ASC (mixed)", MustSort(Desc("score"), Asc("id")), []Key{{10, 7}}},
		{"due_at ASC NULLS LAST, id ASC", MustSort(Asc("due_at").Time().Nullable(NullsLast), Asc("id")), []Key{{ts, 7}, {nil, 7}}},
		{"name ASC NULLS FIRST, id DESC", MustSort(Asc("name").Text().Nullable(NullsFirst), Desc("id")), []Key{{"bob", 7}, {nil, 7}}},
		{"t.team, t.rank DESC NULLS FIRST, t.uid uuid", MustSort(Asc("t.team").Text(), Desc("t.rank").Nullable(NullsFirst), Asc("t.uid").UUID()),
			[]Key{{"red", 3, "0191e7c4-0000-7000-8000-00000000000a"}, {"red", nil, [16]byte{15: 1}}}},
	}
	var out strings.Builder
	for _, sc := range sorts {
		p := testPaginator(t, sc.s, nil)
		fmt.Fprintf(&out, "=== sort: %s\n", sc.name)
		for _, d := range []Dialect{Postgres, MySQL, SQLite} {
			fmt.Fprintf(&out, "--- %s ORDER BY %s\n", d, sc.s.OrderBy(d))
			first := &Request{p: p, Size: 3}
			w, args := first.Where(d, 1)
			fmt.Fprintf(&out, "first page: WHERE %s %v\n", w, args)
			for _, k := range sc.keys {
				vs, err := sc.s.normalize(k)
				require.NoError(t, err)
				for _, c := range []struct {
					label string
					dir   Direction
					incl  bool
				}{{"forward", Forward, false}, {"backward", Backward, false}, {"forward incl", Forward, true}, {"backward incl", Backward, true}} {
					r := &Request{p: p, Size: 3, dir: c.dir, inclusive: c.incl, bound: vs}
					w, args := r.Where(d, 2)
					fmt.Fprintf(&out, "%s from %v:\n  WHERE %s\n  ORDER BY %s\n  args %s\n", c.label, fmtKey(k), w, r.OrderBy(d), fmtArgs(args))
					if segs := r.Segments(d, 2); len(segs) > 1 {
						for i, seg := range segs {
							fmt.Fprintf(&out, "  segment %d: %s %s\n", i+1, seg.Where, fmtArgs(seg.Args))
						}
					} else {
						assert.Equal(t, Segment{Where: w, Args: args}, segs[0])
					}
					if d == Postgres {
						assert.NotContains(t, w, "?")
					} else {
						assert.Equal(t, strings.Count(w, "?"), len(args))
					}
				}
			}
		}
	}
	path := filepath.Join("testdata", "golden", "where.txt")
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(out.String()), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -run TestSQLGolden -update")
	assert.Equal(t, string(want), out.String())
}

func fmtKey(k Key) string {
	parts := make([]string, len(k))
	for i, v := range k {
		parts[i] = fmt.Sprint(v)
		if v == nil {
			parts[i] = "NULL"
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func fmtArgs(args []any) string {
	parts := make([]string, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case time.Time:
			parts[i] = v.Format(time.RFC3339Nano)
		case string:
			parts[i] = fmt.Sprintf("%q", v)
		default:
			parts[i] = fmt.Sprint(v)
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func TestSQLPlaceholders(t *testing.T) {
	t.Parallel()
	p := testPaginator(t, MustSort(Desc("score"), Asc("id")), nil)
	vs, err := p.o.Sort.normalize(Key{10, 7})
	require.NoError(t, err)
	r := &Request{p: p, Size: 3, bound: vs}
	w, args := r.Where(Postgres, 5)
	assert.Equal(t, "score <= $5 AND ((score < $5) OR (score = $5 AND id > $6))", w)
	assert.Equal(t, []any{int64(10), int64(7)}, args, "each value is passed once and its placeholder reused")
	w, _ = r.Where(Postgres, 0)
	assert.Contains(t, w, "$1", "placeholders start at 1 at the least")
	w, args = r.Where(MySQL, 5)
	assert.Equal(t, "score <= ? AND ((score < ?) OR (score = ? AND id > ?))", w)
	assert.Equal(t, []any{int64(10), int64(10), int64(10), int64(7)}, args)
	assert.Equal(t, "postgres", Postgres.String())
	assert.Equal(t, "mysql", MySQL.String())
	assert.Equal(t, "sqlite", SQLite.String())
	assert.Equal(t, "Dialect(9)", Dialect(9).String())
	assert.Equal(t, "Type(9)", Type(9).String())
}

func TestSQLNeverContainsValues(t *testing.T) {
	t.Parallel()
	evil := "x' OR '1'='1"
	p := testPaginator(t, MustSort(Asc("name").Text().Nullable(NullsLast), Asc("id")), nil)
	vs, err := p.o.Sort.normalize(Key{evil, 1})
	require.NoError(t, err)
	for _, d := range []Dialect{Postgres, MySQL, SQLite} {
		for _, dir := range []Direction{Forward, Backward} {
			r := &Request{p: p, Size: 3, bound: vs, dir: dir}
			w, args := r.Where(d, 1)
			assert.NotContains(t, w, "'")
			assert.Contains(t, args, evil)
		}
	}
}

func TestWhereBehind(t *testing.T) {
	t.Parallel()
	p := testPaginator(t, MustSort(Desc("score"), Asc("id")), nil)
	vs, err := p.o.Sort.normalize(Key{10, 7})
	require.NoError(t, err)
	cases := []struct {
		dir  Direction
		incl bool
		want string
	}{
		{Forward, false, "score >= $1 AND ((score > $1) OR (score = $1 AND id <= $2))"},
		{Forward, true, "score >= $1 AND ((score > $1) OR (score = $1 AND id < $2))"},
		{Backward, false, "score <= $1 AND ((score < $1) OR (score = $1 AND id >= $2))"},
	}
	for _, tc := range cases {
		r := &Request{p: p, Size: 3, bound: vs, dir: tc.dir, inclusive: tc.incl}
		w, args := r.WhereBehind(Postgres, 1)
		assert.Equal(t, tc.want, w)
		assert.Equal(t, []any{int64(10), int64(7)}, args)
	}
	w, args := (&Request{p: p, Size: 3}).WhereBehind(Postgres, 1)
	assert.Equal(t, "1 = 0", w)
	assert.Empty(t, args)

	fwd := Page[int]{PrevCursor: "p", NextCursor: "n", HasMore: true}
	fwd.SetBehind(&Request{dir: Forward}, true)
	assert.Equal(t, "p", fwd.PrevCursor)
	fwd.SetBehind(&Request{dir: Forward}, false)
	assert.Equal(t, Page[int]{NextCursor: "n", HasMore: true}, fwd)
	bwd := Page[int]{PrevCursor: "p", NextCursor: "n", HasMore: true}
	bwd.SetBehind(&Request{dir: Backward}, false)
	assert.Equal(t, Page[int]{PrevCursor: "p"}, bwd)
}

func TestSegmentsSingle(t *testing.T) {
	t.Parallel()
	p := testPaginator(t, MustSort(Asc("due").Nullable(NullsLast), Asc("id")), nil)
	first := &Request{p: p, Size: 3}
	assert.Equal(t, []Segment{{Where: "1 = 1"}}, first.Segments(Postgres, 1), "first page")
	vs, err := p.o.Sort.normalize(Key{nil, 7})
	require.NoError(t, err)
	// Forward from a NULL with NULLs last: only NULL rows remain, one range.
	r := &Request{p: p, Size: 3, bound: vs}
	w, args := r.Where(Postgres, 1)
	assert.Equal(t, []Segment{{Where: w, Args: args}}, r.Segments(Postgres, 0))
	// Backward from a non-NULL row with NULLs last: no NULL rows, one range.
	vs, err = p.o.Sort.normalize(Key{5, 7})
	require.NoError(t, err)
	r = &Request{p: p, Size: 3, bound: vs, dir: Backward}
	w, args = r.Where(MySQL, 1)
	assert.Equal(t, []Segment{{Where: w, Args: args}}, r.Segments(MySQL, 1))
	assert.NotContains(t, w, "IS NULL")
}
