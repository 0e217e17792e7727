package paginatebench

import (
	"context"
	"reflect"
	"slices"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/stout-go/stout/paginate"
)

// TestBoundaryPredicates checks every predicate the package writes against
// PostgreSQL, row by row: for boundary rows across the table (NULL and
// non-NULL, first and last), the rows after, after-or-at, before and
// before-or-at the boundary (the inclusive forms come from empty pages) are
// exactly the matching slice of the OFFSET oracle, in the request's order,
// and WhereBehind selects exactly the other rows.
func TestBoundaryPredicates(t *testing.T) {
	conn := connect(t)
	table := newTable(t, conn)
	insertRows(t, conn, table, genRows(seeded(7), 1, 400))
	exec(t, conn, "ANALYZE "+table)
	for _, sc := range withSegments(sortCases) {
		dialects := []paginate.Dialect{paginate.Postgres, paginate.MySQL, paginate.SQLite}
		if sc.union {
			dialects = []paginate.Dialect{paginate.Postgres}
		}
		for _, d := range dialects {
			sc.dialect = d
			t.Run(sc.name+"/"+d.String(), func(t *testing.T) {
				checkBoundaries(t, conn, table, sc)
			})
		}
	}
}

func checkBoundaries(t *testing.T, conn *pgx.Conn, table string, sc sortCase) {
	p := newPaginator(t, sc.sort)
	all := offsetOracle(t, conn, table, sc)
	want := ids(all)
	first, err := p.Request(1000, "", nil, paginate.Binding{})
	if err != nil {
		t.Fatal(err)
	}
	open := func(cursor string) *paginate.Request {
		t.Helper()
		req, err := p.Request(1000, cursor, nil, paginate.Binding{})
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
	// emptyPage returns the page NewPage builds when req finds no rows.
	emptyPage := func(req *paginate.Request) paginate.Page[row] {
		t.Helper()
		page, err := paginate.NewPage([]row(nil), req, sc.key)
		if err != nil {
			t.Fatal(err)
		}
		return page
	}
	reversed := func(s []int64) []int64 {
		s = slices.Clone(s)
		slices.Reverse(s)
		return s
	}
	null0 := func(i int) bool {
		v := reflect.ValueOf(sc.key(all[i])[0])
		return v.Kind() == reflect.Pointer && v.IsNil()
	}
	nulls := 0
	for i := 0; i < len(all); i++ {
		// Every 50th row, the first and last, and both rows at each border
		// between NULL and non-NULL values of the first column.
		border := i > 0 && null0(i) != null0(i-1) || i+1 < len(all) && null0(i) != null0(i+1)
		if i%50 != 0 && i != len(all)-1 && !border {
			continue
		}
		if null0(i) {
			nulls++
		}
		k := sc.key(all[i])
		fc, err := first.Cursor(k, paginate.Forward)
		if err != nil {
			t.Fatal(err)
		}
		bc, err := first.Cursor(k, paginate.Backward)
		if err != nil {
			t.Fatal(err)
		}
		fwd, bwd := open(fc), open(bc)
		fwdIncl := open(emptyPage(bwd).NextCursor) // rows from the boundary on
		bwdIncl := open(emptyPage(fwd).PrevCursor) // rows up to the boundary
		for _, c := range []struct {
			name string
			req  *paginate.Request
			want []int64
		}{
			{"after", fwd, want[i+1:]},
			{"after or at", fwdIncl, want[i:]},
			{"before", bwd, reversed(want[:i])},
			{"before or at", bwdIncl, reversed(want[:i+1])},
		} {
			got := selectIDs(t, conn, table, sc, c.req, false)
			if !equalIDs(got, c.want) {
				t.Errorf("row %d (%v), %s: %s", i, k, c.name, firstDiff(got, c.want))
			}
			behind := selectIDs(t, conn, table, sc, c.req, true)
			slices.Sort(behind)
			rest := slices.DeleteFunc(slices.Clone(want), func(id int64) bool { return slices.Contains(c.want, id) })
			slices.Sort(rest)
			if !equalIDs(behind, rest) {
				t.Errorf("row %d (%v), %s: WhereBehind is not the complement: %s", i, k, c.name, firstDiff(behind, rest))
			}
		}
	}
	if first := sc.sort.Columns()[0]; first.NullPlacement() != 0 && nulls == 0 {
		t.Fatal("no NULL boundary was checked")
	}
}

// selectIDs returns the ids of the rows req's Where (or WhereBehind) selects,
// in req's order.
func selectIDs(t *testing.T, conn *pgx.Conn, table string, sc sortCase, req *paginate.Request, behind bool) []int64 {
	t.Helper()
	d := sc.d()
	var q string
	var args []any
	switch {
	case behind:
		where, a := req.WhereBehind(d, 1)
		q, args = numbered("SELECT "+rowCols+" FROM "+table+" WHERE "+where), a
	case sc.union:
		q, args = unionSQL(table, req, d)
	default:
		where, a := req.Where(d, 1)
		q, args = numbered("SELECT "+rowCols+" FROM "+table+" WHERE "+where+
			" ORDER BY "+req.OrderBy(d)+" LIMIT "+strconv.Itoa(req.Limit())), a
	}
	rows, err := conn.Query(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s %v: %v", q, args, err)
	}
	return ids(scanRows(t, rows))
}
