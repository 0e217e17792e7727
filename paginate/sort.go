package paginate

import (
	"bytes"
	"crypto/sha256"
	"database/sql/driver"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"
)

// Type is the type of a sort column's values. It decides how cursor values are
// encoded, validated and passed to SQL.
type Type uint8

const (
	// Int is a signed 64-bit integer column (smallint, integer, bigint). Key
	// values may be any Go integer type that fits in an int64.
	Int Type = iota + 1
	// Text is a string column (text, varchar, char). Key values are strings.
	// In-memory pagination ([Slice]) orders them by bytes ([strings.Compare]);
	// SQL pagination orders them by the column's collation. Cursors are
	// limited to 4096 characters, so a text sort value can hold about 2.9 KB;
	// a longer one makes NewPage return an error.
	Text
	// Time is a timestamp column. Key values are [time.Time], truncated to the
	// column's precision and converted to UTC before they are sealed.
	Time
	// UUID is a uuid column. Key values are strings in any case
	// ("0191e7c4-…") or [16]byte; SQL arguments are canonical lower-case strings.
	UUID
)

// String returns the type's name.
func (t Type) String() string {
	switch t {
	case Int:
		return "int"
	case Text:
		return "text"
	case Time:
		return "time"
	case UUID:
		return "uuid"
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// Nulls says where NULLs of a nullable column go in the sort order, whatever
// the column's direction.
type Nulls uint8

const (
	// NullsLast puts NULLs after all non-NULL values.
	NullsLast Nulls = iota + 1
	// NullsFirst puts NULLs before all non-NULL values.
	NullsFirst
)

// Column is one column of a [Sort]: a name from the server's allow-list, a
// direction, a type, and whether it can be NULL. Build one with [Asc] or
// [Desc] and refine it with the chained methods; a Column is a small value, and
// every method returns a modified copy.
type Column struct {
	name      string
	desc      bool
	typ       Type
	nulls     Nulls         // 0: NOT NULL
	precision time.Duration // Time columns only
}

// Asc returns an ascending Int column named name. name is an SQL identifier,
// optionally qualified ("users.created_at"); it is written into SQL as is, so
// it must come from the server, never from a client.
func Asc(name string) Column { return Column{name: name, typ: Int} }

// Desc returns a descending Int column named name. See [Asc].
func Desc(name string) Column { return Column{name: name, desc: true, typ: Int} }

// Int makes c an integer column (the default).
func (c Column) Int() Column { c.typ = Int; return c }

// Text makes c a string column.
func (c Column) Text() Column { c.typ = Text; return c }

// UUID makes c a uuid column.
func (c Column) UUID() Column { c.typ = UUID; return c }

// Time makes c a timestamp column with microsecond precision, the resolution
// of PostgreSQL's timestamp and timestamptz and of MySQL's DATETIME(6).
func (c Column) Time() Column { return c.TimePrecision(time.Microsecond) }

// TimePrecision makes c a timestamp column whose stored values have precision
// p (for example time.Millisecond for MySQL DATETIME(3), time.Second for
// DATETIME). Cursor values are truncated to p and converted to UTC, so a
// cursor never holds a finer value than the database, which would repeat or
// skip the boundary row. p must divide one second.
func (c Column) TimePrecision(p time.Duration) Column {
	c.typ = Time
	c.precision = p
	return c
}

// Nullable marks c as a column that may hold NULL, with NULLs placed as n.
// The last column of a Sort cannot be nullable.
func (c Column) Nullable(n Nulls) Column { c.nulls = n; return c }

// Name returns the column's SQL name.
func (c Column) Name() string { return c.name }

// Descending reports whether the column sorts in descending order.
func (c Column) Descending() bool { return c.desc }

// ColumnType returns the column's type.
func (c Column) ColumnType() Type { return c.typ }

// NullPlacement returns where NULLs sort, or 0 for a NOT NULL column.
func (c Column) NullPlacement() Nulls { return c.nulls }

// Sort is a validated, immutable sort order: the allow-listed columns a list
// is ordered by, ending in a unique NOT NULL key that breaks every tie. Build
// it once at start-up with [NewSort] or [MustSort]. A Sort is safe for
// concurrent use by multiple goroutines.
type Sort struct {
	cols []Column
	fp   [8]byte // fingerprint: binds cursors to this exact sort
	desc string  // canonical description, for messages
}

// ErrInvalidSort is returned (wrapped) by [NewSort] for a sort spec that
// cannot paginate correctly.
var ErrInvalidSort = errors.New("paginate: invalid sort")

// NewSort validates cols and returns the Sort they form. It fails when there
// are no columns, a name is not a plain or qualified SQL identifier, a name
// repeats, a type or NULL placement is unknown, a time precision does not
// divide one second, or the last column is nullable. The last column must be
// unique in the table (a primary key, say): NewSort cannot check that, and
// without it rows that tie on every column are skipped or repeated at page
// boundaries.
func NewSort(cols ...Column) (*Sort, error) {
	if len(cols) == 0 {
		return nil, fmt.Errorf("%w: no columns; end the sort with a unique NOT NULL key such as Asc(\"id\")", ErrInvalidSort)
	}
	seen := make(map[string]bool, len(cols))
	var b strings.Builder
	for i, c := range cols {
		if !validIdent(c.name) {
			return nil, fmt.Errorf("%w: column %d: %q is not an SQL identifier ([A-Za-z_][A-Za-z0-9_]*, optionally qualified with a dot)", ErrInvalidSort, i, c.name)
		}
		if seen[c.name] {
			return nil, fmt.Errorf("%w: column %q appears twice", ErrInvalidSort, c.name)
		}
		seen[c.name] = true
		switch c.typ {
		case Int, Text, UUID:
		case Time:
			if c.precision <= 0 || c.precision > time.Second || time.Second%c.precision != 0 {
				return nil, fmt.Errorf("%w: column %q: time precision %v must be positive and divide one second", ErrInvalidSort, c.name, c.precision)
			}
		default:
			return nil, fmt.Errorf("%w: column %q: unknown type %v", ErrInvalidSort, c.name, c.typ)
		}
		if c.nulls > NullsFirst {
			return nil, fmt.Errorf("%w: column %q: unknown NULL placement %d", ErrInvalidSort, c.name, c.nulls)
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.name)
		b.WriteByte(' ')
		b.WriteString(c.typ.String())
		if c.typ == Time {
			b.WriteString("(" + c.precision.String() + ")")
		}
		if c.desc {
			b.WriteString(" DESC")
		} else {
			b.WriteString(" ASC")
		}
		switch c.nulls {
		case NullsFirst:
			b.WriteString(" NULLS FIRST")
		case NullsLast:
			b.WriteString(" NULLS LAST")
		}
	}
	last := cols[len(cols)-1]
	if last.nulls != 0 {
		return nil, fmt.Errorf("%w: last column %q is nullable; the sort must end in a unique NOT NULL key such as the primary key", ErrInvalidSort, last.name)
	}
	s := &Sort{cols: append([]Column(nil), cols...), desc: b.String()}
	sum := sha256.Sum256([]byte("stout/paginate/sort/v1\x00" + s.desc))
	copy(s.fp[:], sum[:])
	return s, nil
}

// MustSort is like [NewSort] but panics on error. Use it for package-level
// sort specs built from constants.
func MustSort(cols ...Column) *Sort {
	s, err := NewSort(cols...)
	if err != nil {
		panic(err)
	}
	return s
}

// Columns returns a copy of the sort's columns.
func (s *Sort) Columns() []Column { return append([]Column(nil), s.cols...) }

// String describes the sort, for example
// "created_at time(1µs) DESC NULLS LAST, id int DESC".
func (s *Sort) String() string { return s.desc }

func validIdent(name string) bool {
	if name == "" {
		return false
	}
	for part := range strings.SplitSeq(name, ".") {
		if part == "" {
			return false
		}
		for i := 0; i < len(part); i++ {
			ch := part[i]
			switch {
			case ch == '_', 'a' <= ch && ch <= 'z', 'A' <= ch && ch <= 'Z':
			case '0' <= ch && ch <= '9' && i > 0:
			default:
				return false
			}
		}
	}
	return true
}

// Key holds the sort values of one row, one per column of the Sort, in
// order. Use nil (or a nil pointer, a nil []byte, or an invalid sql.Null*)
// for NULL in a nullable column; an empty non-nil []byte is the empty
// string. Values may also be pointers or [driver.Valuer]s of the
// column's type.
type Key []any

// value is a normalized key value: kind 0 is NULL.
type value struct {
	null bool
	i    int64  // Int; Time: unix seconds
	n    int32  // Time: nanoseconds
	s    string // Text
	u    [16]byte
}

// normalize converts k to values, checking count, types and nullability, and
// truncating times to their column's precision.
func (s *Sort) normalize(k Key) ([]value, error) {
	return s.normalizeInto(make([]value, len(s.cols)), k)
}

// normalizeInto is normalize writing into out, which has len(s.cols)
// elements.
func (s *Sort) normalizeInto(out []value, k Key) ([]value, error) {
	if len(k) != len(s.cols) {
		return nil, fmt.Errorf("paginate: key has %d values, sort %q has %d columns", len(k), s.desc, len(s.cols))
	}
	for i, c := range s.cols {
		v, err := c.normalize(k[i])
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (c Column) normalize(x any) (value, error) {
	x = deref(x)
	if x == nil {
		if c.nulls == 0 {
			return value{}, fmt.Errorf("paginate: column %q is NOT NULL but the key value is nil", c.name)
		}
		return value{null: true}, nil
	}
	bad := func() (value, error) {
		return value{}, fmt.Errorf("paginate: column %q (%v): unsupported key value of type %T", c.name, c.typ, x)
	}
	switch c.typ {
	case Int:
		switch n := x.(type) {
		case int:
			return value{i: int64(n)}, nil
		case int8:
			return value{i: int64(n)}, nil
		case int16:
			return value{i: int64(n)}, nil
		case int32:
			return value{i: int64(n)}, nil
		case int64:
			return value{i: n}, nil
		case uint8:
			return value{i: int64(n)}, nil
		case uint16:
			return value{i: int64(n)}, nil
		case uint32:
			return value{i: int64(n)}, nil
		case uint:
			if uint64(n) > math.MaxInt64 {
				return value{}, fmt.Errorf("paginate: column %q: %d overflows int64", c.name, n)
			}
			return value{i: int64(n)}, nil
		case uint64:
			if n > math.MaxInt64 {
				return value{}, fmt.Errorf("paginate: column %q: %d overflows int64", c.name, n)
			}
			return value{i: int64(n)}, nil
		}
		return bad()
	case Text:
		switch t := x.(type) {
		case string:
			return value{s: t}, nil
		case []byte:
			return value{s: string(t)}, nil
		}
		return bad()
	case Time:
		t, ok := x.(time.Time)
		if !ok {
			return bad()
		}
		t = t.Truncate(c.precision)
		return value{i: t.Unix(), n: int32(t.Nanosecond())}, nil
	case UUID:
		switch u := x.(type) {
		case [16]byte:
			return value{u: u}, nil
		case []byte:
			if len(u) == 16 {
				var v value
				copy(v.u[:], u)
				return v, nil
			}
		case string:
			if v, ok := parseUUID(u); ok {
				return value{u: v}, nil
			}
			return value{}, fmt.Errorf("paginate: column %q: %q is not a UUID", c.name, u)
		}
		return bad()
	}
	return bad()
}

// deref unwraps pointers and driver.Valuers to a plain value or nil.
func deref(x any) any {
	for range 4 {
		switch v := x.(type) {
		case nil:
			return nil
		case *int64:
			if v == nil {
				return nil
			}
			x = *v
		case *int:
			if v == nil {
				return nil
			}
			x = *v
		case *int32:
			if v == nil {
				return nil
			}
			x = *v
		case *string:
			if v == nil {
				return nil
			}
			x = *v
		case *time.Time:
			if v == nil {
				return nil
			}
			x = *v
		case *[16]byte:
			if v == nil {
				return nil
			}
			x = *v
		case []byte:
			if v == nil {
				return nil // database/sql scans NULL into a []byte as nil
			}
			return x
		case time.Time, string, int, int64, int32, [16]byte:
			return x
		case driver.Valuer:
			// A nil *sql.NullTime (say) is NULL; calling its value method
			// would panic. database/sql treats it the same way.
			if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
				return nil
			}
			dv, err := v.Value()
			if err != nil {
				return x // reported as unsupported type by the caller
			}
			x = dv
		default:
			return derefReflect(x)
		}
	}
	return x
}

var timeType = reflect.TypeFor[time.Time]()

// derefReflect handles named types (type UserID int64) and other pointers.
func derefReflect(x any) any {
	v := reflect.ValueOf(x)
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint()
	case reflect.String:
		return v.String()
	case reflect.Array:
		if v.Len() == 16 && v.Type().Elem().Kind() == reflect.Uint8 {
			var u [16]byte
			reflect.Copy(reflect.ValueOf(&u).Elem(), v)
			return u
		}
	case reflect.Struct:
		if v.Type().ConvertibleTo(timeType) { // time.Time or type T time.Time
			return v.Convert(timeType).Interface()
		}
	}
	return x
}

func parseUUID(s string) ([16]byte, bool) {
	var u [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	h := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36]
	if _, err := hex.Decode(u[:], []byte(h)); err != nil {
		return u, false
	}
	return u, true
}

func formatUUID(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:36], u[10:16])
	return string(b[:])
}

// arg returns the SQL argument for a non-NULL value.
func (c Column) arg(v value) any {
	switch c.typ {
	case Int:
		return v.i
	case Text:
		return v.s
	case Time:
		return time.Unix(v.i, int64(v.n)).UTC()
	case UUID:
		return formatUUID(v.u)
	}
	return nil
}

// Compare orders two keys by the sort: it returns a negative number when a
// comes before b, zero when they are equal, and a positive number when a
// comes after b. It returns an error when either key does not fit the sort.
func (s *Sort) Compare(a, b Key) (int, error) {
	va, err := s.normalize(a)
	if err != nil {
		return 0, err
	}
	vb, err := s.normalize(b)
	if err != nil {
		return 0, err
	}
	return s.compare(va, vb), nil
}

func (s *Sort) compare(a, b []value) int {
	for i, c := range s.cols {
		if r := c.compare(a[i], b[i]); r != 0 {
			return r
		}
	}
	return 0
}

// compare orders two values of c in sort order (direction and NULL
// placement applied).
func (c Column) compare(a, b value) int {
	if a.null || b.null {
		switch {
		case a.null && b.null:
			return 0
		case a.null == (c.nulls == NullsFirst):
			return -1
		default:
			return 1
		}
	}
	var r int
	switch c.typ {
	case Int:
		r = cmpInt(a.i, b.i)
	case Time:
		r = cmpInt(a.i, b.i)
		if r == 0 {
			r = cmpInt(int64(a.n), int64(b.n))
		}
	case Text:
		r = strings.Compare(a.s, b.s)
	case UUID:
		r = bytes.Compare(a.u[:], b.u[:])
	}
	if c.desc {
		r = -r
	}
	return r
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// appendValues encodes vs for a cursor.
func (s *Sort) appendValues(dst []byte, vs []value) []byte {
	for i, c := range s.cols {
		v := vs[i]
		if c.nulls != 0 {
			if v.null {
				dst = append(dst, 0)
				continue
			}
			dst = append(dst, 1)
		}
		switch c.typ {
		case Int:
			dst = binary.AppendVarint(dst, v.i)
		case Time:
			dst = binary.AppendVarint(dst, v.i)
			dst = binary.AppendUvarint(dst, uint64(v.n))
		case Text:
			dst = binary.AppendUvarint(dst, uint64(len(v.s)))
			dst = append(dst, v.s...)
		case UUID:
			dst = append(dst, v.u[:]...)
		}
	}
	return dst
}

var errValues = errors.New("sort values do not fit the sort")

// readValues decodes values written by appendValues, validating each one.
func (s *Sort) readValues(src []byte) ([]value, []byte, error) {
	vs := make([]value, len(s.cols))
	for i, c := range s.cols {
		if c.nulls != 0 {
			if len(src) == 0 || src[0] > 1 {
				return nil, nil, errValues
			}
			null := src[0] == 0
			src = src[1:]
			if null {
				vs[i].null = true
				continue
			}
		}
		switch c.typ {
		case Int:
			x, n := binary.Varint(src)
			if n <= 0 {
				return nil, nil, errValues
			}
			vs[i].i, src = x, src[n:]
		case Time:
			x, n := binary.Varint(src)
			if n <= 0 {
				return nil, nil, errValues
			}
			src = src[n:]
			ns, m := binary.Uvarint(src)
			if m <= 0 || ns >= uint64(time.Second) || ns%uint64(c.precision) != 0 {
				return nil, nil, errValues
			}
			src = src[m:]
			vs[i].i, vs[i].n = x, int32(ns)
		case Text:
			l, n := binary.Uvarint(src)
			if n <= 0 || l > uint64(len(src)-n) {
				return nil, nil, errValues
			}
			vs[i].s = string(src[n : n+int(l)])
			src = src[n+int(l):]
		case UUID:
			if len(src) < 16 {
				return nil, nil, errValues
			}
			copy(vs[i].u[:], src[:16])
			src = src[16:]
		}
	}
	return vs, src, nil
}
