package paginate

import (
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewSortValidation(t *testing.T) {
	t.Parallel()
	bad := []struct {
		name string
		cols []Column
		msg  string
	}{
		{"empty", nil, "no columns"},
		{"injection", []Column{Asc("id; DROP TABLE x")}, "not an SQL identifier"},
		{"empty name", []Column{Asc("")}, "not an SQL identifier"},
		{"leading digit", []Column{Asc("1id")}, "not an SQL identifier"},
		{"empty qualifier", []Column{Asc("u..id")}, "not an SQL identifier"},
		{"duplicate", []Column{Asc("id"), Desc("id")}, "appears twice"},
		{"nullable last", []Column{Asc("id").Nullable(NullsLast)}, "last column \"id\" is nullable"},
		{"zero precision", []Column{Asc("t").TimePrecision(0), Asc("id")}, "time precision"},
		{"odd precision", []Column{Asc("t").TimePrecision(7 * time.Microsecond), Asc("id")}, "divide one second"},
		{"coarse precision", []Column{Asc("t").TimePrecision(time.Minute), Asc("id")}, "divide one second"},
		{"bad type", []Column{{name: "id", typ: 99}}, "unknown type"},
		{"bad nulls", []Column{Asc("a").Nullable(7), Asc("id")}, "unknown NULL placement"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewSort(tc.cols...)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidSort)
			assert.Contains(t, err.Error(), tc.msg)
			assert.Panics(t, func() { MustSort(tc.cols...) })
		})
	}

	s, err := NewSort(Desc("u.created_at").Time().Nullable(NullsLast), Asc("name").Text(), Desc("u.id"))
	require.NoError(t, err)
	assert.Equal(t, "u.created_at time(1µs) DESC NULLS LAST, name text ASC, u.id int DESC", s.String())
	cols := s.Columns()
	require.Len(t, cols, 3)
	assert.Equal(t, "u.created_at", cols[0].Name())
	assert.True(t, cols[0].Descending())
	assert.Equal(t, Time, cols[0].ColumnType())
	assert.Equal(t, NullsLast, cols[0].NullPlacement())
	assert.Equal(t, Nulls(0), cols[2].NullPlacement())
}

func TestSortFingerprintDiffers(t *testing.T) {
	t.Parallel()
	sorts := []*Sort{
		MustSort(Asc("id")),
		MustSort(Desc("id")),
		MustSort(Asc("id").Text()),
		MustSort(Asc("t").Time(), Asc("id")),
		MustSort(Asc("t").TimePrecision(time.Millisecond), Asc("id")),
		MustSort(Asc("t").Time().Nullable(NullsFirst), Asc("id")),
		MustSort(Asc("t").Time().Nullable(NullsLast), Asc("id")),
	}
	seen := map[[8]byte]string{}
	for _, s := range sorts {
		prev, dup := seen[s.fp]
		assert.False(t, dup, "%s and %s share a fingerprint", s, prev)
		seen[s.fp] = s.String()
	}
}

func TestCompare(t *testing.T) {
	t.Parallel()
	s := MustSort(Desc("score").Nullable(NullsLast), Asc("name").Text().Nullable(NullsFirst), Asc("id").UUID())
	u1 := "00000000-0000-0000-0000-000000000001"
	u2 := "00000000-0000-0000-0000-000000000002"
	ordered := []Key{
		{10, nil, u1},
		{10, "a", u1},
		{10, "a", u2},
		{10, "b", u1},
		{5, nil, u2},
		{nil, nil, u1},
		{nil, "z", u1},
	}
	for i := range ordered {
		for j := range ordered {
			c, err := s.Compare(ordered[i], ordered[j])
			require.NoError(t, err)
			switch {
			case i < j:
				assert.Negative(t, c, "%v vs %v", ordered[i], ordered[j])
			case i > j:
				assert.Positive(t, c, "%v vs %v", ordered[i], ordered[j])
			default:
				assert.Zero(t, c)
			}
		}
	}
}

func TestNormalizeValues(t *testing.T) {
	t.Parallel()
	s := MustSort(Asc("t").Time().Nullable(NullsFirst), Asc("n").Text().Nullable(NullsLast), Asc("id"))
	loc := time.FixedZone("X", 3600)
	ts := time.Date(2026, 1, 2, 3, 4, 5, 123456789, loc)
	i64 := int64(7)
	var nilTime *time.Time
	ok := []Key{
		{ts, "x", 1},
		{&ts, []byte("x"), int8(1)},
		{sql.NullTime{Time: ts, Valid: true}, sql.NullString{}, &i64},
		{nilTime, nil, uint32(5)},
		{nil, (*string)(nil), uint64(9)},
		{(*sql.NullTime)(nil), (*sql.NullString)(nil), 1},
		{&sql.NullTime{Time: ts, Valid: true}, &sql.NullString{String: "x", Valid: true}, &sql.NullInt64{Int64: 1, Valid: true}},
	}
	for _, k := range ok {
		_, err := s.normalize(k)
		assert.NoError(t, err, "%v", k)
	}
	vs, err := s.normalize(Key{(*sql.NullTime)(nil), (*sql.NullString)(nil), 1})
	require.NoError(t, err)
	assert.True(t, vs[0].null && vs[1].null, "nil pointers to sql.Null* are NULL")
	vs, err = s.normalize(Key{ts, []byte(nil), 1})
	require.NoError(t, err)
	assert.True(t, vs[1].null, "a nil []byte is NULL, as database/sql scans it")
	vs, err = s.normalize(Key{ts, []byte{}, 1})
	require.NoError(t, err)
	assert.Equal(t, value{}, vs[1], "an empty []byte is the empty string")
	_, err = s.normalize(Key{ts, "x", (*sql.NullInt64)(nil)})
	assert.ErrorContains(t, err, "NOT NULL", "and a nil one in a NOT NULL column is an error, not a panic")
	vs, err = s.normalize(Key{ts, "x", 1})
	require.NoError(t, err)
	got := s.cols[0].arg(vs[0]).(time.Time)
	assert.Equal(t, time.UTC, got.Location(), "times are normalized to UTC")
	assert.Equal(t, 123456000, got.Nanosecond(), "times are truncated to the column precision")
	assert.True(t, got.Equal(ts.Truncate(time.Microsecond)))

	bad := []struct {
		k   Key
		msg string
	}{
		{Key{ts, "x"}, "2 values"},
		{Key{ts, "x", nil}, "NOT NULL"},
		{Key{"2026", "x", 1}, "unsupported key value of type string"},
		{Key{ts, 5, 1}, "unsupported"},
		{Key{ts, "x", 1.5}, "unsupported"},
		{Key{ts, "x", uint64(1 << 63)}, "overflows"},
	}
	for _, tc := range bad {
		_, err := s.normalize(tc.k)
		require.Error(t, err, "%v", tc.k)
		assert.Contains(t, err.Error(), tc.msg)
	}

	type userID int64
	type label string
	type myUUID [16]byte
	type stamp time.Time
	uid := userID(3)
	named := MustSort(Asc("n").Text(), Asc("u").UUID(), Asc("t").Time(), Asc("id"))
	vs, err = named.normalize(Key{label("x"), myUUID{1}, stamp(ts), &uid})
	require.NoError(t, err, "named types are accepted by kind")
	tv := ts.Truncate(time.Microsecond)
	assert.Equal(t, []value{{s: "x"}, {u: [16]byte{1}}, {i: tv.Unix(), n: int32(tv.Nanosecond())}, {i: 3}}, vs)
	var nilID *userID
	_, err = MustSort(Asc("n").Nullable(NullsLast), Asc("id")).normalize(Key{nilID, uint16(1)})
	require.NoError(t, err, "a nil pointer of a named type is NULL")

	us := MustSort(Asc("id").UUID())
	for _, k := range []any{"0191E7C4-0000-7000-8000-00000000000A", [16]byte{1}, make([]byte, 16)} {
		_, err := us.normalize(Key{k})
		assert.NoError(t, err, "%v", k)
	}
	for _, k := range []any{"0191e7c4", "0191e7c4-0000-7000-8000-00000000000g", make([]byte, 15), 5} {
		_, err := us.normalize(Key{k})
		assert.Error(t, err, "%v", k)
	}
	vs, err = us.normalize(Key{"0191E7C4-0000-7000-8000-00000000000A"})
	require.NoError(t, err)
	assert.Equal(t, "0191e7c4-0000-7000-8000-00000000000a", us.cols[0].arg(vs[0]))
}

func TestValuesRoundTrip(t *testing.T) {
	t.Parallel()
	s := MustSort(Asc("t").Time().Nullable(NullsFirst), Desc("n").Text().Nullable(NullsLast), Asc("u").UUID(), Asc("id"))
	keys := []Key{
		{time.Unix(-5, 1000), "héllo", "00000000-0000-0000-0000-0000000000ff", int64(-1 << 63)},
		{nil, nil, [16]byte{9}, int64(1<<63 - 1)},
		{time.Unix(1<<40, 999999000), "", [16]byte{}, 0},
	}
	for _, k := range keys {
		vs, err := s.normalize(k)
		require.NoError(t, err)
		enc := s.appendValues(nil, vs)
		got, rest, err := s.readValues(enc)
		require.NoError(t, err)
		assert.Empty(t, rest)
		assert.Equal(t, vs, got)
		for n := range len(enc) {
			_, _, err := s.readValues(enc[:n])
			assert.Error(t, err, "truncated to %d bytes", n)
		}
	}
}

// TestTimeCursorRoundTrip: a time key goes through a sealed cursor and comes
// back as the SQL argument at exactly the column's precision, in UTC, for
// finer and coarser precisions alike.
func TestTimeCursorRoundTrip(t *testing.T) {
	t.Parallel()
	ts := time.Date(2026, 11, 27, 9, 30, 0, 123456789, time.FixedZone("X", -5*3600))
	for _, prec := range []time.Duration{time.Nanosecond, time.Microsecond, time.Millisecond, time.Second} {
		t.Run(prec.String(), func(t *testing.T) {
			p := testPaginator(t, MustSort(Asc("at").TimePrecision(prec), Asc("id")), nil)
			req, err := p.Request(1, "", nil, Binding{})
			require.NoError(t, err)
			c, err := req.Cursor(Key{ts, 1}, Forward)
			require.NoError(t, err)
			req, err = p.Request(1, c, nil, Binding{})
			require.NoError(t, err)
			_, args := req.Where(Postgres, 1)
			require.Len(t, args, 2)
			got := args[0].(time.Time)
			assert.Equal(t, time.UTC, got.Location())
			assert.True(t, got.Equal(ts.Truncate(prec)), "got %v, want %v", got, ts.Truncate(prec))
			assert.Equal(t, ts.Truncate(prec).Nanosecond(), got.Nanosecond())
		})
	}
}
