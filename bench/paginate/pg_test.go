// Package paginatebench checks package paginate against a real PostgreSQL
// and measures keyset pages against OFFSET pages.
//
// The database is STOUT_PG_DSN, or postgres://postgres@127.0.0.1:5432/test.
// Without a reachable server the tests skip, unless STOUT_REQUIRE_PG=1.
package paginatebench

import (
	"bytes"
	"context"
	"crypto/rand"
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

const defaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// connect returns a connection closed in tb.Cleanup, or skips the test
// when PostgreSQL is unreachable (fails when STOUT_REQUIRE_PG=1).
func connect(tb testing.TB) *pgx.Conn {
	tb.Helper()
	dsn := os.Getenv("STOUT_PG_DSN")
	if dsn == "" {
		dsn = defaultDSN
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err == nil {
		err = conn.Ping(ctx)
	}
	if err != nil {
		if os.Getenv("STOUT_REQUIRE_PG") == "1" {
			tb.Fatalf("PostgreSQL at %s is required (STOUT_REQUIRE_PG=1): %v", redact(dsn), err)
		}
		tb.Skipf("PostgreSQL at %s unreachable, skipping (set STOUT_PG_DSN, or STOUT_REQUIRE_PG=1 to fail): %v", redact(dsn), err)
	}
	tb.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

var passwordRE = regexp.MustCompile(`:[^:@/]*@`)

func redact(dsn string) string { return passwordRE.ReplaceAllString(dsn, ":***@") }

// tableName returns a table name unique to this test run.
func tableName(tb testing.TB) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(tb.Name(), "_"))
	if len(name) > 40 {
		name = name[:40]
	}
	return fmt.Sprintf("paginate_t_%s_%x", name, b)
}

func exec(tb testing.TB, conn *pgx.Conn, sql string, args ...any) {
	tb.Helper()
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}

// row is one row of the test table.
type row struct {
	ID      int64
	At      *time.Time // nullable, many ties
	Created time.Time  // NOT NULL, many ties
	Score   int64
	Name    *string // nullable, many ties
	UID     string  // unique
}

const rowCols = "id, at, created, score, name, uid::text"

// newTable creates a test table dropped in tb.Cleanup.
func newTable(tb testing.TB, conn *pgx.Conn) string {
	tb.Helper()
	name := tableName(tb)
	exec(tb, conn, `CREATE TABLE `+name+` (
		id bigint PRIMARY KEY,
		at timestamptz,
		created timestamptz NOT NULL,
		score bigint NOT NULL,
		name text,
		uid uuid NOT NULL UNIQUE)`)
	tb.Cleanup(func() {
		_, _ = conn.Exec(context.Background(), "DROP TABLE IF EXISTS "+name)
	})
	return name
}

var base = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

// genRows returns n rows with ids from firstID, with NULLs, ties and
// timestamps that carry nanoseconds PostgreSQL rounds to microseconds.
func genRows(rng func(int) int, firstID int64, n int) [][]any {
	out := make([][]any, n)
	for i := range out {
		var at any
		if rng(10) >= 3 {
			at = base.Add(time.Duration(rng(6))*time.Microsecond + time.Duration(rng(1000))) // ns part is rounded away
		}
		var name any
		if rng(4) > 0 {
			name = string(rune('a' + rng(3)))
		}
		var uid [16]byte
		_, _ = rand.Read(uid[:])
		out[i] = []any{firstID + int64(i), at, base.Add(time.Duration(rng(20)) * time.Microsecond), int64(rng(4)), name, uid}
	}
	return out
}

func insertRows(tb testing.TB, conn *pgx.Conn, table string, rows [][]any) {
	tb.Helper()
	_, err := conn.CopyFrom(context.Background(), pgx.Identifier{table},
		[]string{"id", "at", "created", "score", "name", "uid"}, pgx.CopyFromRows(rows))
	if err != nil {
		tb.Fatalf("copy into %s: %v", table, err)
	}
}

func scanRows(tb testing.TB, rows pgx.Rows) []row {
	tb.Helper()
	var out []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.ID, &r.At, &r.Created, &r.Score, &r.Name, &r.UID); err != nil {
			tb.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// sortCase is a sort spec, the key of a row under it, and the ORDER BY an
// OFFSET query uses, written by hand so it checks the package's own.
type sortCase struct {
	name    string
	sort    *paginate.Sort
	key     func(row) paginate.Key
	orderBy string
	// dialect is the SQL the package writes; 0 means Postgres. MySQL and
	// SQLite output runs on PostgreSQL too once "?" becomes "$n": that
	// checks their argument order and MySQL's IS NULL ordering terms.
	dialect paginate.Dialect
	// union runs the page as a UNION ALL of Request.Segments.
	union bool
}

func (sc sortCase) d() paginate.Dialect {
	if sc.dialect == 0 {
		return paginate.Postgres
	}
	return sc.dialect
}

// numbered rewrites "?" placeholders to $1, $2, … for PostgreSQL.
func numbered(sql string) string {
	var b strings.Builder
	n := 0
	for _, r := range sql {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

var sortCases = []sortCase{
	{
		"created DESC, id DESC (row value)",
		paginate.MustSort(paginate.Desc("created").Time(), paginate.Desc("id")),
		func(r row) paginate.Key { return paginate.Key{r.Created, r.ID} },
		"created DESC, id DESC",
		paginate.Postgres, false,
	},
	{
		"score DESC, id ASC (mixed)",
		paginate.MustSort(paginate.Desc("score"), paginate.Asc("id")),
		func(r row) paginate.Key { return paginate.Key{r.Score, r.ID} },
		"score DESC, id ASC",
		paginate.Postgres, false,
	},
	{
		"at DESC NULLS LAST, id DESC",
		paginate.MustSort(paginate.Desc("at").Time().Nullable(paginate.NullsLast), paginate.Desc("id")),
		func(r row) paginate.Key { return paginate.Key{r.At, r.ID} },
		"at DESC NULLS LAST, id DESC",
		paginate.Postgres, false,
	},
	{
		"at ASC NULLS FIRST, score ASC, uid ASC",
		paginate.MustSort(paginate.Asc("at").Time().Nullable(paginate.NullsFirst), paginate.Asc("score"), paginate.Asc("uid").UUID()),
		func(r row) paginate.Key { return paginate.Key{r.At, r.Score, r.UID} },
		"at ASC NULLS FIRST, score ASC, uid ASC",
		paginate.Postgres, false,
	},
	{
		"name ASC NULLS FIRST, at DESC NULLS FIRST, id DESC",
		paginate.MustSort(paginate.Asc("name").Text().Nullable(paginate.NullsFirst), paginate.Desc("at").Time().Nullable(paginate.NullsFirst), paginate.Desc("id")),
		func(r row) paginate.Key { return paginate.Key{r.Name, r.At, r.ID} },
		"name ASC NULLS FIRST, at DESC NULLS FIRST, id DESC",
		paginate.Postgres, false,
	},
	{
		"name DESC NULLS LAST, created ASC, score DESC, id ASC",
		paginate.MustSort(paginate.Desc("name").Text().Nullable(paginate.NullsLast), paginate.Asc("created").Time(), paginate.Desc("score"), paginate.Asc("id")),
		func(r row) paginate.Key { return paginate.Key{r.Name, r.Created, r.Score, r.ID} },
		"name DESC NULLS LAST, created ASC, score DESC, id ASC",
		paginate.Postgres, false,
	},
}

func newPaginator(tb testing.TB, s *paginate.Sort) *paginate.Paginator {
	tb.Helper()
	codec, err := paginate.NewCodec(paginate.Secret{ID: "test", Key: bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		tb.Fatal(err)
	}
	p, err := paginate.New(paginate.Options{Sort: s, Codec: codec, MaxLimit: 1000})
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// fetch runs the page query for cursor and returns the page.
func fetch(tb testing.TB, conn *pgx.Conn, table string, p *paginate.Paginator, sc sortCase, size int, cursor string) paginate.Page[row] {
	tb.Helper()
	page, _ := fetchProbe(tb, conn, table, p, sc, size, cursor)
	return page
}

// fetchProbe is fetch that also runs the WhereBehind probe and reports
// whether rows exist behind the boundary.
func fetchProbe(tb testing.TB, conn *pgx.Conn, table string, p *paginate.Paginator, sc sortCase, size int, cursor string) (paginate.Page[row], bool) {
	tb.Helper()
	req, err := p.Request(size, cursor, nil, paginate.Binding{})
	if err != nil {
		tb.Fatalf("cursor rejected: %v", err)
	}
	where, args := req.Where(sc.d(), 1)
	q := numbered("SELECT " + rowCols + " FROM " + table + " WHERE " + where +
		" ORDER BY " + req.OrderBy(sc.d()) + " LIMIT " + strconv.Itoa(req.Limit()))
	if sc.union {
		q, args = unionSQL(table, req, sc.d())
	}
	rows, err := conn.Query(context.Background(), q, args...)
	if err != nil {
		tb.Fatalf("%s %v: %v", q, args, err)
	}
	page, err := paginate.NewPage(scanRows(tb, rows), req, sc.key)
	if err != nil {
		tb.Fatal(err)
	}
	if len(page.Items) > size {
		tb.Fatalf("page of %d items for size %d", len(page.Items), size)
	}
	return page, behind(tb, conn, table, req, sc.d())
}

// behind runs the EXISTS probe for rows behind req's boundary.
func behind(tb testing.TB, conn *pgx.Conn, table string, req *paginate.Request, d paginate.Dialect) bool {
	tb.Helper()
	where, args := req.WhereBehind(d, 1)
	where = numbered(where)
	var exists bool
	if err := conn.QueryRow(context.Background(), "SELECT EXISTS (SELECT 1 FROM "+table+" WHERE "+where+")", args...).Scan(&exists); err != nil {
		tb.Fatalf("%s: %v", where, err)
	}
	return exists
}

func ids(rows []row) []int64 {
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out
}

// walkForward follows next cursors from the first page, calling between
// (if non-nil) before every page after the first.
func walkForward(tb testing.TB, conn *pgx.Conn, table string, p *paginate.Paginator, sc sortCase, size int, between func()) []row {
	tb.Helper()
	var got []row
	cursor := ""
	for i := 0; ; i++ {
		if i > 100000 {
			tb.Fatal("forward walk does not end")
		}
		if i > 0 && between != nil {
			between()
		}
		page, hasBehind := fetchProbe(tb, conn, table, p, sc, size, cursor)
		if hasBehind != (i > 0) {
			tb.Errorf("page %d: WhereBehind probe says rows behind = %v", i, hasBehind)
		}
		got = append(got, page.Items...)
		if page.NextCursor == "" {
			return got
		}
		cursor = page.NextCursor
	}
}

// walkBackward starts at the last page and follows previous cursors.
func walkBackward(tb testing.TB, conn *pgx.Conn, table string, p *paginate.Paginator, sc sortCase, size int) []row {
	tb.Helper()
	req, err := p.Request(size, "", nil, paginate.Binding{})
	if err != nil {
		tb.Fatal(err)
	}
	var got []row
	cursor := req.LastPageCursor()
	for i := 0; ; i++ {
		if i > 100000 {
			tb.Fatal("backward walk does not end")
		}
		page, hasBehind := fetchProbe(tb, conn, table, p, sc, size, cursor)
		if hasBehind != (i > 0) {
			tb.Errorf("page %d from the end: WhereBehind probe says rows behind = %v", i, hasBehind)
		}
		got = append(append([]row(nil), page.Items...), got...)
		if page.PrevCursor == "" {
			return got
		}
		cursor = page.PrevCursor
	}
}

// offsetOracle returns every row in the hand-written order, with one
// OFFSET/LIMIT query.
func offsetOracle(tb testing.TB, conn *pgx.Conn, table string, sc sortCase) []row {
	tb.Helper()
	rows, err := conn.Query(context.Background(), "SELECT "+rowCols+" FROM "+table+" ORDER BY "+sc.orderBy+" OFFSET 0 LIMIT ALL")
	if err != nil {
		tb.Fatal(err)
	}
	return scanRows(tb, rows)
}

func equalIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func firstDiff(a, b []int64) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("first difference at %d: %d vs %d (lengths %d, %d)", i, a[i], b[i], len(a), len(b))
		}
	}
	return fmt.Sprintf("lengths %d and %d", len(a), len(b))
}

// unionSQL is the page query as a UNION ALL of the request's segments, each
// an ordered, limited SELECT.
func unionSQL(table string, req *paginate.Request, d paginate.Dialect) (string, []any) {
	order := " ORDER BY " + req.OrderBy(d) + " LIMIT " + strconv.Itoa(req.Limit())
	var parts []string
	var args []any
	for _, seg := range req.Segments(d, 1) {
		parts = append(parts, "(SELECT "+rowCols+" FROM "+table+" WHERE "+seg.Where+order+")")
		args = append(args, seg.Args...)
	}
	if len(parts) == 1 {
		return numbered(parts[0][1 : len(parts[0])-1]), args
	}
	// uid is selected as text; order by the uuid value (a subquery allows
	// the expression).
	return numbered("SELECT * FROM (" + strings.Join(parts, " UNION ALL ") + ") AS u" +
		strings.ReplaceAll(order, "uid", "uid::uuid")), args
}
