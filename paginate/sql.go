package paginate

import (
	"strconv"
	"strings"
)

// Dialect selects the SQL that [Request.Where] and [Request.OrderBy] write.
type Dialect uint8

const (
	// Postgres writes $n placeholders, NULLS FIRST/LAST, and a row-value
	// comparison "(a, b) > ($1, $2)" when every column has the same
	// direction and none is nullable, which PostgreSQL turns into an index
	// range condition.
	Postgres Dialect = iota + 1
	// MySQL writes ? placeholders, the expanded OR form with a redundant
	// leading bound on the first column (MySQL's optimizer handles row
	// constructors poorly), and "c IS NULL" ordering terms for nullable
	// columns, since MySQL has no NULLS FIRST/LAST. MySQL cannot serve such
	// a term from an index, so prefer NOT NULL sort columns there (or a NOT
	// NULL generated column).
	MySQL
	// SQLite writes ? placeholders, the expanded OR form with a leading
	// bound, and NULLS FIRST/LAST (SQLite 3.30 or later).
	SQLite
)

// String returns the dialect's name.
func (d Dialect) String() string {
	switch d {
	case Postgres:
		return "postgres"
	case MySQL:
		return "mysql"
	case SQLite:
		return "sqlite"
	}
	return "Dialect(" + strconv.Itoa(int(d)) + ")"
}

// OrderBy returns the ORDER BY list of the sort in dialect d, for example
// "created_at DESC NULLS LAST, id DESC". The same list, in PostgreSQL or
// SQLite syntax, declares the index the pagination needs:
//
//	CREATE INDEX ON users (created_at DESC NULLS LAST, id DESC)
func (s *Sort) OrderBy(d Dialect) string { return s.orderBy(d, false) }

// OrderBy returns the ORDER BY list for this request in dialect d: the
// sort's order, or its exact reverse for a [Backward] page.
func (r *Request) OrderBy(d Dialect) string { return r.p.o.Sort.orderBy(d, r.dir == Backward) }

func (s *Sort) orderBy(d Dialect, reverse bool) string {
	var b strings.Builder
	for i, c := range s.cols {
		if i > 0 {
			b.WriteString(", ")
		}
		desc := c.desc != reverse
		dir := " ASC"
		if desc {
			dir = " DESC"
		}
		if c.nulls == 0 {
			b.WriteString(c.name + dir)
			continue
		}
		nullsFirst := (c.nulls == NullsFirst) != reverse
		if d == MySQL {
			// false (0) sorts before true (1).
			if nullsFirst {
				b.WriteString(c.name + " IS NULL DESC, ")
			} else {
				b.WriteString(c.name + " IS NULL ASC, ")
			}
			b.WriteString(c.name + dir)
			continue
		}
		b.WriteString(c.name + dir)
		if nullsFirst {
			b.WriteString(" NULLS FIRST")
		} else {
			b.WriteString(" NULLS LAST")
		}
	}
	return b.String()
}

// Where returns a boolean SQL expression selecting the rows of this page's
// side of the boundary, and its arguments. Placeholders are numbered from
// first in [Postgres] ($first, $first+1, …) and are "?" in the other
// dialects. Cursor values only ever appear as arguments, never as SQL text.
// On a first page the expression is "1 = 1" with no arguments, so it can
// always be ANDed into a WHERE clause:
//
//	where, args := req.Where(paginate.Postgres, 2)
//	q := "SELECT … FROM users WHERE org_id = $1 AND " + where +
//		" ORDER BY " + req.OrderBy(paginate.Postgres) + " LIMIT " + strconv.Itoa(req.Limit())
//
// The expression depends on which boundary values are NULL, so there are a
// few distinct statements per sort, not one per cursor.
func (r *Request) Where(d Dialect, first int) (string, []any) {
	if r.bound == nil {
		return "1 = 1", nil
	}
	w := r.builder(d, first, r.dir == Backward)
	return w.build(r.inclusive), w.args
}

// builder returns a whereBuilder for r's boundary, reading backward through
// the sort when reverse is set, with Postgres placeholders from first (at
// least 1).
func (r *Request) builder(d Dialect, first int, reverse bool) *whereBuilder {
	return &whereBuilder{d: d, cols: r.p.o.Sort.cols, vals: r.bound, reverse: reverse, next: max(first, 1)}
}

type whereBuilder struct {
	d       Dialect
	cols    []Column
	vals    []value
	reverse bool
	// Segment modes (see Request.Segments): nonNull0 leaves out the NULL rows
	// of the first column, null0 keeps only them.
	nonNull0, null0 bool
	next            int   // next Postgres placeholder number
	pg              []int // Postgres placeholder number of each column's value, 0 = none yet
	args            []any
}

func (w *whereBuilder) ph(i int) string {
	if w.d != Postgres {
		w.args = append(w.args, w.cols[i].arg(w.vals[i]))
		return "?"
	}
	if w.pg == nil {
		w.pg = make([]int, len(w.cols))
	}
	if w.pg[i] == 0 {
		w.pg[i] = w.next
		w.next++
		w.args = append(w.args, w.cols[i].arg(w.vals[i]))
	}
	return "$" + strconv.Itoa(w.pg[i])
}

// greater reports whether "after" means a larger value for column i.
func (w *whereBuilder) greater(i int) bool { return w.cols[i].desc == w.reverse }

// nullsAfter reports whether NULLs come after every value of nullable column
// i in the direction of travel.
func (w *whereBuilder) nullsAfter(i int) bool {
	return (w.cols[i].nulls == NullsLast) != w.reverse
}

func (w *whereBuilder) eq(i int) string {
	c := w.cols[i]
	if w.vals[i].null {
		return c.name + " IS NULL"
	}
	return c.name + " = " + w.ph(i)
}

// after returns the condition "column i is strictly after its boundary
// value", or "" when nothing can be.
func (w *whereBuilder) after(i int, orEqual bool) string {
	c := w.cols[i]
	nullable := c.nulls != 0
	if w.vals[i].null {
		switch {
		case orEqual && w.nullsAfter(i):
			return c.name + " IS NULL"
		case orEqual:
			return "1 = 1"
		case w.nullsAfter(i):
			return ""
		default:
			return c.name + " IS NOT NULL"
		}
	}
	op := "<"
	if w.greater(i) {
		op = ">"
	}
	if orEqual {
		op += "="
	}
	cond := c.name + " " + op + " " + w.ph(i)
	if nullable && w.nullsAfter(i) && (i != 0 || !w.nonNull0) {
		return "(" + cond + " OR " + c.name + " IS NULL)"
	}
	return cond
}

func (w *whereBuilder) rowValue() bool {
	if w.d != Postgres || len(w.cols) < 2 {
		return false
	}
	for _, c := range w.cols {
		if c.nulls != 0 || c.desc != w.cols[0].desc {
			return false
		}
	}
	return true
}

func (w *whereBuilder) build(inclusive bool) string {
	n := len(w.cols)
	if w.rowValue() {
		var l, r strings.Builder
		for i, c := range w.cols {
			if i > 0 {
				l.WriteString(", ")
				r.WriteString(", ")
			}
			l.WriteString(c.name)
			r.WriteString(w.ph(i))
		}
		op := "<"
		if w.greater(0) {
			op = ">"
		}
		if inclusive {
			op += "="
		}
		return "(" + l.String() + ") " + op + " (" + r.String() + ")"
	}
	if n == 1 {
		return w.after(0, inclusive)
	}
	// Redundant leading bound: lets the planner seek on the first column.
	lead := w.after(0, true)
	start := 0
	if w.null0 {
		lead, start = w.cols[0].name+" IS NULL", 1
	}
	var branches []string
	for i := start; i < n; i++ {
		orEqual := inclusive && i == n-1
		if w.vals[i].null && !orEqual && w.nullsAfter(i) {
			continue // nothing comes after NULL in this column
		}
		// Terms are written in text order, so "?" arguments line up.
		var b strings.Builder
		for j := range i {
			b.WriteString(w.eq(j))
			b.WriteString(" AND ")
		}
		b.WriteString(w.after(i, orEqual))
		br := b.String()
		if i > 0 || !strings.HasPrefix(br, "(") {
			br = "(" + br + ")"
		}
		branches = append(branches, br)
	}
	or := strings.Join(branches, " OR ")
	if len(branches) == 1 {
		or = strings.TrimSuffix(strings.TrimPrefix(or, "("), ")")
	}
	if lead == "1 = 1" {
		return "(" + or + ")"
	}
	return lead + " AND (" + or + ")"
}

// WhereBehind returns the condition for the rows on the other side of the
// boundary — those a cursor pointing back the way the client came would
// read — and its arguments, numbered like [Request.Where]. On a boundless
// request it is "1 = 0": nothing is behind the start (or the end) of the
// list.
//
// Page cursors in the direction of travel are exact; the one pointing back
// is given whenever the request came from a cursor. To make it exact as
// well, at the cost of one more (index-only) probe, run
//
//	SELECT EXISTS (SELECT 1 FROM t WHERE <filters> AND <WhereBehind>)
//
// and pass the answer to [Page.SetBehind].
func (r *Request) WhereBehind(d Dialect, first int) (string, []any) {
	if r.bound == nil {
		return "1 = 0", nil
	}
	w := r.builder(d, first, r.dir == Forward)
	return w.build(!r.inclusive), w.args
}

// Segment is one index range of a page's rows: a boolean SQL condition and
// its arguments.
type Segment struct {
	Where string
	Args  []any
}

// Segments returns the page's condition (the rows [Request.Where] selects)
// split into conditions that each cover one index range, in the order of
// travel. There is one segment, equal to Where, except when the first sort
// column is nullable and the rows after the boundary span both its non-NULL
// and its NULL rows: PostgreSQL cannot search "c < $1 OR c IS NULL" as one
// index range, so a single query filters every row before the boundary (25
// ms instead of 0.1 ms at depth 90,000 in the benchmark module). Then there
// are two segments, and each becomes its own ordered, limited SELECT:
//
//	(SELECT … WHERE <filters> AND <seg 1> ORDER BY <o> LIMIT <n>)
//	UNION ALL
//	(SELECT … WHERE <filters> AND <seg 2> ORDER BY <o> LIMIT <n>)
//	ORDER BY <o> LIMIT <n>
//
// with o = [Request.OrderBy] and n = [Request.Limit]; PostgreSQL answers it
// with a Merge Append of two index range scans. The outer ORDER BY names
// output columns, so the sort columns must be selected and unqualified.
// Postgres placeholders of later segments continue where earlier ones stop;
// for "?" dialects, pass each segment's arguments in text order.
func (r *Request) Segments(d Dialect, first int) []Segment {
	cols := r.p.o.Sort.cols
	if r.bound != nil && cols[0].nulls != 0 {
		w := r.builder(d, first, r.dir == Backward)
		switch {
		case !r.bound[0].null && w.nullsAfter(0):
			w.nonNull0 = true
			seg := Segment{Where: w.build(r.inclusive)}
			seg.Args = w.args
			return []Segment{seg, {Where: cols[0].name + " IS NULL"}}
		case r.bound[0].null && !w.nullsAfter(0):
			w.null0 = true
			seg := Segment{Where: w.build(r.inclusive)}
			seg.Args = w.args
			return []Segment{seg, {Where: cols[0].name + " IS NOT NULL"}}
		}
	}
	where, args := r.Where(d, first)
	return []Segment{{Where: where, Args: args}}
}
