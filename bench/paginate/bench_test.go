package paginatebench

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stout-go/stout/paginate"
)

// benchRows is the size of the benchmark table: STOUT_BENCH_ROWS, default
// 20000 so that CI's -benchtime 1x run stays fast. The README's numbers
// use 1000000.
func benchRows(tb testing.TB) int {
	s := os.Getenv("STOUT_BENCH_ROWS")
	if s == "" {
		return 20000
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 100 {
		tb.Fatalf("STOUT_BENCH_ROWS=%q: want a number >= 100", s)
	}
	return n
}

const benchPageSize = 20

// benchTable returns a table of n posts with an index matching the sort,
// building it with one generate_series INSERT unless a table of that size
// already exists. It is kept between runs.
func benchTable(tb testing.TB, conn *pgx.Conn, n int) string {
	tb.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("paginate_bench_%d", n)
	// Serialize concurrent builders (parallel test binaries).
	exec(tb, conn, "SELECT pg_advisory_lock(hashtext($1))", name)
	defer exec(tb, conn, "SELECT pg_advisory_unlock(hashtext($1))", name)

	var count int
	err := conn.QueryRow(ctx, "SELECT count(*) FROM "+name).Scan(&count)
	if err == nil && count == n {
		return name
	}
	start := time.Now()
	exec(tb, conn, "DROP TABLE IF EXISTS "+name)
	exec(tb, conn, `CREATE TABLE `+name+` (
		id bigint PRIMARY KEY,
		created_at timestamptz NOT NULL,
		author_id int NOT NULL,
		title text NOT NULL)`)
	// Four rows share each timestamp, so the id tie-breaker matters.
	exec(tb, conn, `INSERT INTO `+name+`
		SELECT g, timestamptz '2020-01-01 00:00:00+00' + (g / 4) * interval '1 millisecond' + (g % 7) * interval '1 microsecond',
		       g % 1000, md5(g::text)
		FROM generate_series(1, $1::bigint) AS g`, n)
	exec(tb, conn, "CREATE INDEX ON "+name+" (created_at DESC, id DESC)")
	exec(tb, conn, "VACUUM ANALYZE "+name)
	tb.Logf("built %s (%d rows) in %v", name, n, time.Since(start).Round(time.Millisecond))
	return name
}

type post struct {
	ID        int64
	CreatedAt time.Time
	AuthorID  int32
	Title     string
}

const postCols = "id, created_at, author_id, title"

var postSort = paginate.MustSort(paginate.Desc("created_at").Time(), paginate.Desc("id"))

func postKey(p post) paginate.Key { return paginate.Key{p.CreatedAt, p.ID} }

func queryPosts(tb testing.TB, conn *pgx.Conn, sql string, args ...any) []post {
	rows, err := conn.Query(context.Background(), sql, args...)
	if err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
	var out []post
	for rows.Next() {
		var p post
		if err := rows.Scan(&p.ID, &p.CreatedAt, &p.AuthorID, &p.Title); err != nil {
			tb.Fatal(err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// boundaryAt returns the cursor of the page that starts at row depth
// (0-based) of the sort ("" for depth 0) and the boundary row before it.
func boundaryAt(tb testing.TB, conn *pgx.Conn, table string, p *paginate.Paginator, depth int) (string, post) {
	if depth == 0 {
		return "", post{}
	}
	prev := queryPosts(tb, conn, "SELECT "+postCols+" FROM "+table+" ORDER BY "+postSort.OrderBy(paginate.Postgres)+" OFFSET $1 LIMIT 1", depth-1)
	req, err := p.Request(benchPageSize, "", nil, paginate.Binding{})
	if err != nil {
		tb.Fatal(err)
	}
	c, err := req.Cursor(postKey(prev[0]), paginate.Forward)
	if err != nil {
		tb.Fatal(err)
	}
	return c, prev[0]
}

// orNoBoundSQL is the expanded OR predicate without the leading bound, as
// several ORMs write it, for comparison: PostgreSQL cannot turn it into an
// index range, so it reads and filters every row before the boundary.
func orNoBoundSQL(table string, depth int, b post) (string, []any) {
	where := "1 = 1"
	var args []any
	if depth > 0 {
		where = "(created_at < $1) OR (created_at = $1 AND id < $2)"
		args = []any{b.CreatedAt, b.ID}
	}
	return "SELECT " + postCols + " FROM " + table + " WHERE " + where +
		" ORDER BY created_at DESC, id DESC LIMIT " + strconv.Itoa(benchPageSize+1), args
}

// keysetSQL returns the page query and arguments for cursor, in dialect d
// (MySQL's expanded form runs on PostgreSQL once "?" becomes "$n").
func keysetSQL(tb testing.TB, table string, p *paginate.Paginator, cursor string, d paginate.Dialect) (*paginate.Request, string, []any) {
	req, err := p.Request(benchPageSize, cursor, nil, paginate.Binding{})
	if err != nil {
		tb.Fatal(err)
	}
	where, args := req.Where(d, 1)
	return req, numbered("SELECT " + postCols + " FROM " + table + " WHERE " + where +
		" ORDER BY " + req.OrderBy(d) + " LIMIT " + strconv.Itoa(req.Limit())), args
}

func offsetSQL(table string, depth int) string {
	return "SELECT " + postCols + " FROM " + table + " ORDER BY " + postSort.OrderBy(paginate.Postgres) +
		" OFFSET " + strconv.Itoa(depth) + " LIMIT " + strconv.Itoa(benchPageSize+1)
}

var depths = []int{0, 10_000, 100_000, 500_000}

// BenchmarkPage measures one page of 20 rows at several depths, by keyset
// (parse the cursor, query, build the page with its cursors) with the
// row-value predicate (keyset) and with the expanded OR form plus leading
// bound that MySQL, SQLite and mixed directions get (keyset-expanded), and
// by OFFSET. Compare with: benchstat -col /impl.
func BenchmarkPage(b *testing.B) {
	conn := connect(b)
	n := benchRows(b)
	table := benchTable(b, conn, n)
	p := newPaginator(b, postSort)
	for _, depth := range depths {
		b.Run("depth="+strconv.Itoa(depth), func(b *testing.B) {
			if depth+benchPageSize > n {
				b.Skipf("table has %d rows; set STOUT_BENCH_ROWS above %d", n, depth+benchPageSize)
			}
			cursor, boundary := boundaryAt(b, conn, table, p, depth)
			for _, impl := range []struct {
				name string
				d    paginate.Dialect
			}{{"keyset", paginate.Postgres}, {"keyset-expanded", paginate.MySQL}} {
				b.Run("impl="+impl.name, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						req, sql, args := keysetSQL(b, table, p, cursor, impl.d)
						page, err := paginate.NewPage(queryPosts(b, conn, sql, args...), req, postKey)
						if err != nil || len(page.Items) != benchPageSize {
							b.Fatalf("page of %d items: %v", len(page.Items), err)
						}
					}
				})
			}
			b.Run("impl=or-no-bound", func(b *testing.B) {
				b.ReportAllocs()
				sql, args := orNoBoundSQL(table, depth, boundary)
				for b.Loop() {
					if got := queryPosts(b, conn, sql, args...); len(got) != benchPageSize+1 {
						b.Fatalf("page of %d rows", len(got))
					}
				}
			})
			b.Run("impl=offset", func(b *testing.B) {
				b.ReportAllocs()
				sql := offsetSQL(table, depth)
				for b.Loop() {
					if got := queryPosts(b, conn, sql); len(got) != benchPageSize+1 {
						b.Fatalf("page of %d rows", len(got))
					}
				}
			})
			// Both must return the same page.
			_, sql, args := keysetSQL(b, table, p, cursor, paginate.Postgres)
			ks, off := queryPosts(b, conn, sql, args...), queryPosts(b, conn, offsetSQL(table, depth))
			for i := range benchPageSize {
				if ks[i].ID != off[i].ID {
					b.Fatalf("depth %d: keyset and OFFSET pages differ at row %d", depth, i)
				}
			}
		})
	}
}

// TestExplainKeysetUsesIndex logs EXPLAIN (ANALYZE, BUFFERS) for the
// deepest page the benchmark table allows, by keyset and by OFFSET, and
// checks that the keyset query seeks the index (an Index Cond on the row
// value) instead of reading and discarding rows.
func TestExplainKeysetUsesIndex(t *testing.T) {
	conn := connect(t)
	n := benchRows(t)
	table := benchTable(t, conn, n)
	p := newPaginator(t, postSort)
	depth := 0
	for _, d := range depths {
		if d+benchPageSize <= n {
			depth = d
		}
	}
	cursor, boundary := boundaryAt(t, conn, table, p, depth)
	_, sql, args := keysetSQL(t, table, p, cursor, paginate.Postgres)
	_, esql, eargs := keysetSQL(t, table, p, cursor, paginate.MySQL)
	explain := func(sql string, args ...any) string {
		rows, err := conn.Query(context.Background(), "EXPLAIN (ANALYZE, BUFFERS) "+sql, args...)
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for rows.Next() {
			var l string
			if err := rows.Scan(&l); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, l)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return strings.Join(lines, "\n")
	}
	ks := explain(sql, args...)
	off := explain(offsetSQL(table, depth))
	t.Logf("keyset page at depth %d of %d rows:\n%s\n%s", depth, n, sql, ks)
	t.Logf("OFFSET page at depth %d:\n%s", depth, off)
	if !strings.Contains(ks, "Index Scan") || !strings.Contains(ks, "Index Cond: (ROW(created_at, id) < ROW(") {
		t.Errorf("keyset plan does not seek the index:\n%s", ks)
	}
	ex := explain(esql, eargs...)
	t.Logf("expanded form at depth %d:\n%s\n%s", depth, esql, ex)
	for _, plan := range []string{ks, ex} {
		if strings.Contains(plan, "Sort ") || strings.Contains(plan, "Seq Scan") {
			t.Errorf("keyset plan sorts or scans the table:\n%s", plan)
		}
	}
	nsql, nargs := orNoBoundSQL(table, depth, boundary)
	t.Logf("expanded form without the leading bound (not written by this package) at depth %d:\n%s\n%s", depth, nsql, explain(nsql, nargs...))
	// Server-side cost per depth: execution time and buffers touched
	// (shared hit + read) of the top plan node.
	var lines []string
	var ksBuf0, ksBufDeep int
	for _, d := range depths {
		if d+benchPageSize > n {
			break
		}
		c, _ := boundaryAt(t, conn, table, p, d)
		_, q, a := keysetSQL(t, table, p, c, paginate.Postgres)
		kt, kb := planCost(t, explain(q, a...))
		ot, ob := planCost(t, explain(offsetSQL(table, d)))
		if d == 0 {
			ksBuf0 = kb
		}
		ksBufDeep = kb
		lines = append(lines, fmt.Sprintf("| %7d | %8.3f ms | %5d | %9.3f ms | %6d |", d, kt, kb, ot, ob))
	}
	t.Logf("server-side cost, %d rows:\n| depth   | keyset exec | bufs  | OFFSET exec  | bufs   |\n%s", n, strings.Join(lines, "\n"))
	if ksBufDeep > 2*ksBuf0 {
		t.Errorf("keyset touches %d buffers at the deepest page but %d at depth 0", ksBufDeep, ksBuf0)
	}
	// The leading bound turns the expanded form into an index range too.
	if !strings.Contains(ex, "Index Scan") || !strings.Contains(ex, "Index Cond: (created_at <=") {
		t.Errorf("expanded plan does not seek the index:\n%s", ex)
	}
}

var (
	execRE    = regexp.MustCompile(`Execution Time: ([0-9.]+) ms`)
	buffersRE = regexp.MustCompile(`Buffers: shared((?: hit=[0-9]+)?(?: read=[0-9]+)?)`)
	numRE     = regexp.MustCompile(`[0-9]+`)
)

// planCost returns the execution time and the buffers of the top plan node
// of an EXPLAIN (ANALYZE, BUFFERS) output.
func planCost(tb testing.TB, plan string) (ms float64, buffers int) {
	m := execRE.FindStringSubmatch(plan)
	b := buffersRE.FindStringSubmatch(plan)
	if m == nil || b == nil {
		tb.Fatalf("cannot read the plan:\n%s", plan)
	}
	ms, _ = strconv.ParseFloat(m[1], 64)
	for _, x := range numRE.FindAllString(b[1], -1) {
		v, _ := strconv.Atoi(x)
		buffers += v
	}
	return ms, buffers
}

// TestExplainNullableSegments shows why Request.Segments exists: with a
// nullable first sort column, the single predicate from Where crosses the
// border between NULL and non-NULL rows, and PostgreSQL filters every row
// before the boundary; the UNION ALL of the segments is two index range
// scans. It checks the segment plans seek, and logs both.
func TestExplainNullableSegments(t *testing.T) {
	conn := connect(t)
	table := tableName(t)
	exec(t, conn, `CREATE TABLE `+table+` AS
		SELECT g AS id, CASE WHEN g % 5 = 0 THEN NULL
		       ELSE timestamptz '2020-01-01 00:00:00+00' + (g / 3) * interval '1 millisecond' END AS at
		FROM generate_series(1, 100000) AS g`)
	t.Cleanup(func() { _, _ = conn.Exec(context.Background(), "DROP TABLE IF EXISTS "+table) })
	exec(t, conn, "CREATE INDEX ON "+table+" (at DESC NULLS LAST, id DESC)")
	exec(t, conn, "VACUUM ANALYZE "+table)

	sort := paginate.MustSort(paginate.Desc("at").Time().Nullable(paginate.NullsLast), paginate.Desc("id"))
	p := newPaginator(t, sort)
	first, err := p.Request(benchPageSize, "", nil, paginate.Binding{})
	if err != nil {
		t.Fatal(err)
	}
	// Forward from the middle of the non-NULL rows (NULLs come after), and
	// backward from the middle of the NULL rows (non-NULL rows come before).
	mid := time.Date(2020, 1, 1, 0, 0, 15, 0, time.UTC)
	fwd, err := first.Cursor(paginate.Key{mid, int64(45000)}, paginate.Forward)
	if err != nil {
		t.Fatal(err)
	}
	bwd, err := first.Cursor(paginate.Key{nil, int64(50000)}, paginate.Backward)
	if err != nil {
		t.Fatal(err)
	}
	explain := func(sql string, args ...any) string {
		rows, err := conn.Query(context.Background(), "EXPLAIN (ANALYZE, BUFFERS) "+sql, args...)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		var lines []string
		for rows.Next() {
			var l string
			if err := rows.Scan(&l); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, l)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return strings.Join(lines, "\n")
	}
	for name, cursor := range map[string]string{"forward from a non-NULL row": fwd, "backward from a NULL row": bwd} {
		req, err := p.Request(benchPageSize, cursor, nil, paginate.Binding{})
		if err != nil {
			t.Fatal(err)
		}
		order := " ORDER BY " + req.OrderBy(paginate.Postgres) + " LIMIT " + strconv.Itoa(req.Limit())
		where, args := req.Where(paginate.Postgres, 1)
		single := explain("SELECT id, at FROM "+table+" WHERE "+where+order, args...)
		segs := req.Segments(paginate.Postgres, 1)
		if len(segs) != 2 {
			t.Fatalf("%s: %d segments", name, len(segs))
		}
		var parts []string
		args = nil
		for _, s := range segs {
			parts = append(parts, "(SELECT id, at FROM "+table+" WHERE "+s.Where+order+")")
			args = append(args, s.Args...)
		}
		union := explain(strings.Join(parts, " UNION ALL ")+order, args...)
		st, sb := planCost(t, single)
		ut, ub := planCost(t, union)
		t.Logf("%s: single predicate %.3f ms, %d buffers; segments %.3f ms, %d buffers\n--- single:\n%s\n--- segments:\n%s",
			name, st, sb, ut, ub, single, union)
		if strings.Count(union, "Index Cond") != 2 || strings.Contains(union, "Seq Scan") {
			t.Errorf("%s: segment plan does not seek both ranges:\n%s", name, union)
		}
		if ub >= sb {
			t.Errorf("%s: segments touch %d buffers, the single predicate %d; expected fewer", name, ub, sb)
		}
	}
}
