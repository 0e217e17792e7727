package paginatebench

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stout-go/stout/paginate"
)

func seeded(seed uint64) func(int) int {
	r := rand.New(rand.NewPCG(seed, 6))
	return r.IntN
}

// TestWalksAgreeWithOffset: forward pages, backward pages and one OFFSET
// query return the same rows in the same order, for every sort shape, with
// NULLs, ties and microsecond timestamps.
func TestWalksAgreeWithOffset(t *testing.T) {
	conn := connect(t)
	table := newTable(t, conn)
	insertRows(t, conn, table, genRows(seeded(1), 1, 400))
	exec(t, conn, "ANALYZE "+table)

	for _, sc := range sortCases {
		for _, d := range []paginate.Dialect{paginate.Postgres, paginate.MySQL, paginate.SQLite} {
			sc.dialect = d
			sizes := []int{1, 7, 50, 1000}
			if d != paginate.Postgres {
				sizes = []int{3, 50}
			}
			t.Run(sc.name+"/"+d.String(), func(t *testing.T) {
				agree(t, conn, table, sc, sizes)
			})
		}
		if sc.sort.Columns()[0].NullPlacement() != 0 {
			sc.dialect, sc.union = paginate.Postgres, true
			t.Run(sc.name+"/postgres-segments", func(t *testing.T) {
				agree(t, conn, table, sc, []int{1, 7, 50})
			})
		}
	}
}

// agree checks that forward walks, backward walks and the OFFSET oracle
// return the same rows, for each page size.
func agree(t *testing.T, conn *pgx.Conn, table string, sc sortCase, sizes []int) {
	p := newPaginator(t, sc.sort)
	want := ids(offsetOracle(t, conn, table, sc))
	if len(want) != 400 {
		t.Fatalf("oracle returned %d rows", len(want))
	}
	for _, size := range sizes {
		if got := ids(walkForward(t, conn, table, p, sc, size, nil)); !equalIDs(got, want) {
			t.Errorf("size %d: forward walk disagrees with OFFSET: %s", size, firstDiff(got, want))
		}
		if got := ids(walkBackward(t, conn, table, p, sc, size)); !equalIDs(got, want) {
			t.Errorf("size %d: backward walk disagrees with OFFSET: %s", size, firstDiff(got, want))
		}
	}
}

// TestMicrosecondBoundary: a boundary row whose Go timestamp had
// nanoseconds (dropped by PostgreSQL on insert) is neither repeated nor
// skipped, whether the cursor is built from the stored value or from the
// Go value that was inserted: the cursor truncates it to the column's
// microseconds, so it never holds a value finer than the stored one.
func TestMicrosecondBoundary(t *testing.T) {
	conn := connect(t)
	table := newTable(t, conn)
	// Four rows 1 µs apart, inserted with sub-microsecond noise (below half
	// a microsecond, so rounding and truncating drivers store the same).
	var rows [][]any
	inserted := map[int64]time.Time{}
	for i := range 4 {
		at := base.Add(time.Duration(i)*time.Microsecond + 499*time.Nanosecond)
		inserted[int64(i+1)] = at
		rows = append(rows, []any{int64(i + 1), at, at, int64(0), nil, [16]byte{byte(i + 1)}})
	}
	insertRows(t, conn, table, rows)
	stored := sortCases[0] // created DESC, id DESC
	fromGo := stored
	fromGo.key = func(r row) paginate.Key { return paginate.Key{inserted[r.ID], r.ID} }
	for _, sc := range []sortCase{stored, fromGo} {
		p := newPaginator(t, sc.sort)
		if got := ids(walkForward(t, conn, table, p, sc, 1, nil)); !equalIDs(got, []int64{4, 3, 2, 1}) {
			t.Errorf("forward walk = %v, want [4 3 2 1]", got)
		}
		if got := ids(walkBackward(t, conn, table, p, sc, 1)); !equalIDs(got, []int64{4, 3, 2, 1}) {
			t.Errorf("backward walk = %v, want [4 3 2 1]", got)
		}
	}
}

// TestDeletesBetweenPages: rows deleted between pages, including the
// boundary row a cursor points at, do not make any other row skipped or
// repeated.
func TestDeletesBetweenPages(t *testing.T) {
	conn := connect(t)
	for i, sc := range withSegments(sortCases) {
		t.Run(sc.name, func(t *testing.T) {
			table := newTable(t, conn)
			insertRows(t, conn, table, genRows(seeded(uint64(10+i)), 1, 300))
			rng := seeded(uint64(100 + i))
			p := newPaginator(t, sc.sort)
			deleted := map[int64]bool{}
			var lastPage []row
			between := func() {
				// The boundary row (last row read), then a few random rows,
				// some already read, some not yet.
				if len(lastPage) > 0 && rng(2) == 0 {
					id := lastPage[len(lastPage)-1].ID
					exec(t, conn, "DELETE FROM "+table+" WHERE id = $1", id)
					deleted[id] = true
				}
				for range rng(4) {
					id := int64(1 + rng(300))
					exec(t, conn, "DELETE FROM "+table+" WHERE id = $1", id)
					deleted[id] = true
				}
			}
			var got []row
			cursor := ""
			for n := 0; ; n++ {
				if n > 0 {
					between()
				}
				page := fetch(t, conn, table, p, sc, 1+rng(9), cursor)
				lastPage = page.Items
				got = append(got, page.Items...)
				if page.NextCursor == "" {
					break
				}
				cursor = page.NextCursor
			}
			checkNoRepeats(t, got)
			var kept []int64
			for _, id := range ids(got) {
				if !deleted[id] {
					kept = append(kept, id)
				}
			}
			want := ids(offsetOracle(t, conn, table, sc)) // the rows present throughout
			if !equalIDs(kept, want) {
				t.Fatalf("rows present throughout: %s", firstDiff(kept, want))
			}
			if len(deleted) == 0 {
				t.Fatal("nothing was deleted; the test proves nothing")
			}
		})
	}
}

// TestConcurrentInserts: a writer inserts rows on another connection while
// the walk runs. Every row present from the start is read exactly once, in
// order, and the whole walk is in sort order.
func TestConcurrentInserts(t *testing.T) {
	conn := connect(t)
	for i, sc := range withSegments(sortCases) {
		t.Run(sc.name, func(t *testing.T) {
			writer := connect(t) // cancelling its copy closes it
			table := newTable(t, conn)
			insertRows(t, conn, table, genRows(seeded(uint64(20+i)), 1, 300))
			want := ids(offsetOracle(t, conn, table, sc))
			initial := map[int64]bool{}
			for _, id := range want {
				initial[id] = true
			}
			p := newPaginator(t, sc.sort)

			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			var inserted int
			var werr error
			wg.Go(func() {
				rng := seeded(uint64(200 + i))
				next := int64(100000)
				for ctx.Err() == nil {
					rows := genRows(rng, next, 1+rng(3))
					next += int64(len(rows))
					_, err := writer.CopyFrom(ctx, pgx.Identifier{table},
						[]string{"id", "at", "created", "score", "name", "uid"}, pgx.CopyFromRows(rows))
					if err != nil {
						if ctx.Err() == nil {
							werr = err
						}
						return
					}
					inserted += len(rows)
				}
			})
			// Also insert deterministically between pages, so inserts land
			// on both sides of the cursor even on a slow writer.
			rng := seeded(uint64(300 + i))
			nextID := int64(200000)
			got := walkForward(t, conn, table, p, sc, 7, func() {
				insertRows(t, conn, table, genRows(rng, nextID, 2))
				nextID += 2
			})
			cancel()
			wg.Wait()
			if werr != nil {
				t.Fatalf("writer: %v", werr)
			}
			t.Logf("%d rows inserted concurrently, %d read", inserted, len(got))

			checkNoRepeats(t, got)
			var stable []int64
			for _, id := range ids(got) {
				if initial[id] {
					stable = append(stable, id)
				}
			}
			if !equalIDs(stable, want) {
				t.Fatalf("rows present throughout: %s", firstDiff(stable, want))
			}
			for j := 1; j < len(got); j++ {
				c, err := sc.sort.Compare(sc.key(got[j-1]), sc.key(got[j]))
				if err != nil {
					t.Fatal(err)
				}
				if c >= 0 {
					t.Fatalf("rows %d and %d out of order", got[j-1].ID, got[j].ID)
				}
			}
		})
	}
}

func checkNoRepeats(t *testing.T, rows []row) {
	t.Helper()
	seen := map[int64]bool{}
	for _, r := range rows {
		if seen[r.ID] {
			t.Fatalf("row %d read twice", r.ID)
		}
		seen[r.ID] = true
	}
}

// withSegments returns cases plus, for each sort with a nullable first
// column, a copy that runs pages as a UNION ALL of Request.Segments.
func withSegments(cases []sortCase) []sortCase {
	out := append([]sortCase(nil), cases...)
	for _, sc := range cases {
		if sc.sort.Columns()[0].NullPlacement() != 0 {
			sc.name += " (segments)"
			sc.union = true
			out = append(out, sc)
		}
	}
	return out
}
