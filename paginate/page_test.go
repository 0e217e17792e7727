package paginate

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type row struct {
	At    *time.Time
	Score int64
	Name  *string
	ID    int64
}

var rowSort = MustSort(
	Desc("at").Time().Nullable(NullsLast),
	Asc("score"),
	Asc("name").Text().Nullable(NullsFirst),
	Desc("id"),
)

func rowKey(r row) Key { return Key{r.At, r.Score, r.Name, r.ID} }

// randomRows returns n rows with many NULLs and ties, sorted by rowSort.
func randomRows(rng *rand.Rand, n int) []row {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rows := make([]row, n)
	for i := range rows {
		r := row{ID: int64(i + 1), Score: rng.Int64N(3)}
		if rng.IntN(4) > 0 {
			at := base.Add(time.Duration(rng.IntN(5)) * time.Microsecond)
			r.At = &at
		}
		if rng.IntN(3) > 0 {
			s := string(rune('a' + rng.IntN(3)))
			r.Name = &s
		}
		rows[i] = r
	}
	sortRows(rows)
	return rows
}

func sortRows(rows []row) {
	slices.SortFunc(rows, func(a, b row) int {
		c, err := rowSort.Compare(rowKey(a), rowKey(b))
		if err != nil {
			panic(err)
		}
		return c
	})
}

// simulateSQL returns what the query built from req returns: the rows on
// the request's side of the boundary, in the request's ORDER BY, LIMIT
// req.Limit().
func simulateSQL(t testing.TB, rows []row, req *Request) []row {
	var out []row
	for _, r := range rows {
		if req.bound != nil {
			vs, err := rowSort.normalize(rowKey(r))
			require.NoError(t, err)
			c := rowSort.compare(vs, req.bound)
			if req.dir == Backward {
				c = -c
			}
			if c < 0 || c == 0 && !req.inclusive {
				continue
			}
		}
		out = append(out, r)
	}
	if req.dir == Backward {
		slices.Reverse(out)
	}
	if len(out) > req.Limit() {
		out = out[:req.Limit()]
	}
	return out
}

type pager func(req *Request) (Page[row], error)

func sqlPager(t testing.TB, rows *[]row) pager {
	return func(req *Request) (Page[row], error) {
		return NewPage(simulateSQL(t, *rows, req), req, rowKey)
	}
}

func slicePager(rows *[]row) pager {
	return func(req *Request) (Page[row], error) { return Slice(*rows, req, rowKey) }
}

func get(t testing.TB, p *Paginator, pg pager, cursor string, size int) Page[row] {
	t.Helper()
	req, err := p.Request(size, cursor, nil, Binding{})
	require.NoError(t, err)
	page, err := pg(req)
	require.NoError(t, err)
	require.LessOrEqual(t, len(page.Items), size)
	assert.Equal(t, page.NextCursor != "", page.HasMore)
	return page
}

func ids(rows []row) []int64 {
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out
}

// walkForward follows next cursors from the first page; between calls
// before each page it runs mutate.
func walkForward(t testing.TB, p *Paginator, pg pager, size int, mutate func(page int)) []int64 {
	var got []int64
	cursor := ""
	for i := 0; ; i++ {
		require.Less(t, i, 10000, "walk does not end")
		if mutate != nil {
			mutate(i)
		}
		page := get(t, p, pg, cursor, size)
		if i > 0 {
			assert.NotEmpty(t, page.PrevCursor, "page %d has a previous page", i)
		} else {
			assert.Empty(t, page.PrevCursor, "the first page has no previous page")
		}
		got = append(got, ids(page.Items)...)
		if page.NextCursor == "" {
			return got
		}
		cursor = page.NextCursor
	}
}

func walkBackward(t testing.TB, p *Paginator, pg pager, size int) []int64 {
	req, err := p.Request(size, "", nil, Binding{})
	require.NoError(t, err)
	var got []int64
	cursor := req.LastPageCursor()
	for i := 0; ; i++ {
		require.Less(t, i, 10000, "walk does not end")
		page := get(t, p, pg, cursor, size)
		if i == 0 {
			assert.Empty(t, page.NextCursor, "the last page has no next page")
		}
		got = append(ids(page.Items), got...)
		if page.PrevCursor == "" {
			return got
		}
		cursor = page.PrevCursor
	}
}

func TestWalkAgreesWithFullSort(t *testing.T) {
	t.Parallel()
	p := testPaginator(t, rowSort, nil)
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 1))
		rows := randomRows(rng, rng.IntN(60))
		want := ids(rows)
		for _, size := range []int{1, 2, 3, 7, 10} {
			for name, pg := range map[string]pager{"sql": sqlPager(t, &rows), "slice": slicePager(&rows)} {
				t.Run(fmt.Sprintf("seed=%d/n=%d/size=%d/%s", seed, len(rows), size, name), func(t *testing.T) {
					assert.Equal(t, want, orEmpty(walkForward(t, p, pg, size, nil)), "forward")
					assert.Equal(t, want, orEmpty(walkBackward(t, p, pg, size)), "backward")
				})
			}
		}
	}
}

func orEmpty(s []int64) []int64 {
	if s == nil {
		return []int64{}
	}
	return s
}

// TestWalkWithDeletesAndInserts: rows present throughout the walk are seen
// exactly once, in order, whatever is deleted or inserted between pages.
func TestWalkWithDeletesAndInserts(t *testing.T) {
	t.Parallel()
	p := testPaginator(t, rowSort, nil)
	for seed := range uint64(30) {
		for _, name := range []string{"sql", "slice"} {
			t.Run(fmt.Sprintf("seed=%d/%s", seed, name), func(t *testing.T) {
				walkWithChanges(t, p, seed, name)
			})
		}
	}
}

// walkWithChanges walks one dataset forward with pager name ("sql" or
// "slice"), deleting and inserting rows before every page, and checks that
// the rows present throughout are each read once, in order.
func walkWithChanges(t *testing.T, p *Paginator, seed uint64, name string) {
	rng := rand.New(rand.NewPCG(seed, 2))
	rows := randomRows(rng, 40+rng.IntN(40))
	nextID := int64(len(rows) + 1)
	deleted := map[int64]bool{}
	inserted := map[int64]bool{}
	every := map[int64]row{} // every row that ever existed, by ID
	for _, r := range rows {
		every[r.ID] = r
	}
	mutate := func(int) {
		for range rng.IntN(4) { // delete a few, sometimes the boundary row
			if len(rows) == 0 {
				break
			}
			i := rng.IntN(len(rows))
			deleted[rows[i].ID] = true
			rows = slices.Delete(rows, i, i+1)
		}
		for range rng.IntN(3) {
			r := randomRows(rng, 1)[0]
			r.ID = nextID
			nextID++
			inserted[r.ID] = true
			every[r.ID] = r
			rows = append(rows, r)
		}
		sortRows(rows)
	}
	initial := ids(rows)
	pg := slicePager(&rows)
	if name == "sql" {
		pg = sqlPager(t, &rows)
	}
	got := walkForward(t, p, pg, 1+rng.IntN(5), mutate)
	seen := map[int64]bool{}
	for _, id := range got {
		assert.False(t, seen[id], "row %d repeated", id)
		seen[id] = true
	}
	var want, stable []int64
	for _, id := range initial {
		if !deleted[id] {
			want = append(want, id)
		}
	}
	for _, id := range got {
		if !inserted[id] {
			stable = append(stable, id)
		}
	}
	// Rows deleted after they were read are in got; drop them.
	var kept []int64
	for _, id := range stable {
		if !deleted[id] {
			kept = append(kept, id)
		}
	}
	assert.Equal(t, want, kept, "every row present throughout, once, in order")
	assert.NotEmpty(t, deleted, "nothing was deleted; the walk proves nothing")
	for j := 1; j < len(got); j++ {
		c, err := rowSort.Compare(rowKey(every[got[j-1]]), rowKey(every[got[j]]))
		require.NoError(t, err)
		assert.Negative(t, c, "rows %d and %d out of order", got[j-1], got[j])
	}
}

func TestEmptyPagesKeepTheBoundaryRow(t *testing.T) {
	t.Parallel()
	p := testPaginator(t, MustSort(Asc("id")), nil)
	key := func(i int64) Key { return Key{i} }
	items := []int64{1, 2, 3, 4, 5}
	for name, pg := range map[string]func(*Request) (Page[int64], error){
		"slice": func(r *Request) (Page[int64], error) { return Slice(items, r, key) },
		"sql": func(r *Request) (Page[int64], error) {
			// Rows a database would return for this request.
			var out []int64
			for _, it := range items {
				c := cmpInt(it, r.bound[0].i)
				if r.dir == Backward {
					c = -c
				}
				if c > 0 || c == 0 && r.inclusive {
					out = append(out, it)
				}
			}
			if r.dir == Backward {
				slices.Reverse(out)
			}
			return NewPage(out[:min(len(out), r.Limit())], r, key)
		},
	} {
		t.Run(name, func(t *testing.T) {
			items = []int64{1, 2, 3, 4, 5}
			req, err := p.Request(2, "", nil, Binding{})
			require.NoError(t, err)
			first, err := Slice(items, req, key)
			require.NoError(t, err)
			require.Equal(t, []int64{1, 2}, first.Items)

			items = []int64{1, 2} // 3, 4, 5 deleted
			req, err = p.Request(2, first.NextCursor, nil, Binding{})
			require.NoError(t, err)
			empty, err := pg(req)
			require.NoError(t, err)
			assert.Empty(t, empty.Items)
			assert.NotNil(t, empty.Items)
			assert.Empty(t, empty.NextCursor)
			assert.False(t, empty.HasMore)
			require.NotEmpty(t, empty.PrevCursor)

			req, err = p.Request(2, empty.PrevCursor, nil, Binding{})
			require.NoError(t, err)
			back, err := pg(req)
			require.NoError(t, err)
			assert.Equal(t, []int64{1, 2}, back.Items, "the boundary row is not lost")

			// Backward into a deleted region, then forward again.
			items = []int64{5}
			req, err = p.Request(2, back.NextCursor, nil, Binding{}) // after 2
			require.NoError(t, err)
			fwd, err := pg(req)
			require.NoError(t, err)
			require.Equal(t, []int64{5}, fwd.Items)
			before5, err := req.Cursor(Key{5}, Backward) // fwd.PrevCursor for "sql"; "slice" knows nothing precedes 5
			require.NoError(t, err)
			if name == "sql" {
				assert.NotEmpty(t, fwd.PrevCursor)
			} else {
				assert.Empty(t, fwd.PrevCursor)
			}
			req, err = p.Request(2, before5, nil, Binding{})
			require.NoError(t, err)
			none, err := pg(req)
			require.NoError(t, err)
			assert.Empty(t, none.Items)
			assert.Empty(t, none.PrevCursor)
			require.NotEmpty(t, none.NextCursor)
			req, err = p.Request(2, none.NextCursor, nil, Binding{})
			require.NoError(t, err)
			again, err := pg(req)
			require.NoError(t, err)
			assert.Equal(t, []int64{5}, again.Items, "the boundary row is not lost")
		})
	}
}

func TestNewPageErrors(t *testing.T) {
	t.Parallel()
	p := testPaginator(t, MustSort(Asc("id")), nil)
	req, err := p.Request(2, "", nil, Binding{})
	require.NoError(t, err)
	_, err = NewPage([]string{"a", "b", "c"}, req, func(s string) Key { return Key{s} })
	assert.ErrorContains(t, err, "unsupported key value")
	_, err = Slice([]string{"a", "b", "c"}, req, func(s string) Key { return Key{s} })
	assert.ErrorContains(t, err, "unsupported key value")
	c, err := req.Cursor(Key{1}, Forward)
	require.NoError(t, err)
	req, err = p.Request(2, c, nil, Binding{})
	require.NoError(t, err)
	_, err = Slice([]string{"a", "b", "c"}, req, func(s string) Key { return Key{s} })
	assert.ErrorContains(t, err, "unsupported key value")
	_, err = req.Cursor(Key{"x"}, Forward)
	assert.Error(t, err)
}

func TestPageJSONAndLinks(t *testing.T) {
	t.Parallel()
	p := testPaginator(t, MustSort(Asc("id")), func(o *Options) { o.FilterParams = []string{"status"} })
	items := []int64{1, 2, 3, 4, 5, 6}
	key := func(i int64) Key { return Key{i} }

	r := httptest.NewRequest("GET", "/v1/items?status=open&limit=2&status=new", nil)
	req, err := p.Parse(r, Binding{})
	require.NoError(t, err)
	first, err := Slice(items, req, key)
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	first.WriteLinkHeader(rec, r)
	link := rec.Header().Get("Link")
	require.Regexp(t, `^</v1/items\?cursor=[A-Za-z0-9_-]+&limit=2&status=open&status=new>; rel="next"$`, link)

	// Follow the link as a client would.
	next := httptest.NewRequest("GET", link[1:len(link)-len(`>; rel="next"`)], nil)
	req, err = p.Parse(next, Binding{})
	require.NoError(t, err)
	second, err := Slice(items, req, key)
	require.NoError(t, err)
	assert.Equal(t, []int64{3, 4}, second.Items)
	rec = httptest.NewRecorder()
	second.WriteLinkHeader(rec, next)
	assert.Regexp(t, `^</v1/items\?cursor=[^>]+>; rel="next", </v1/items\?cursor=[^>]+>; rel="prev"$`, rec.Header().Get("Link"))

	abs, _ := url.Parse("https://api.example.com/v1/items?limit=2")
	assert.Regexp(t, `^https://api.example.com/v1/items\?cursor=.+&limit=2$`, second.NextURL(abs))
	withUser, _ := url.Parse("https://user:secret@api.example.com/v1/items?limit=2#frag")
	assert.Regexp(t, `^https://api.example.com/v1/items\?cursor=[A-Za-z0-9_-]+&limit=2$`, second.NextURL(withUser), "no credentials, no fragment")
	odd := httptest.NewRequest("GET", "/v1/it%3Eems?q=%3E%22%2C%3B&limit=2&status=open&status=new", nil)
	rec = httptest.NewRecorder()
	second.WriteLinkHeader(rec, odd)
	assert.Regexp(t, `^</v1/it%3Eems\?cursor=[A-Za-z0-9_-]+&limit=2&q=%3E%22%2C%3B&status=open&status=new>; rel="next", <[^<>]+>; rel="prev"$`, rec.Header().Get("Link"),
		"characters that would end the link target stay escaped")
	assert.Empty(t, Page[int]{}.NextURL(abs))
	assert.Contains(t, Page[int]{PrevCursor: "x"}.PrevURL(abs), "cursor=x", "pages decoded from JSON use the default parameter name")

	body, err := json.Marshal(second)
	require.NoError(t, err)
	var shape map[string]any
	require.NoError(t, json.Unmarshal(body, &shape))
	assert.Equal(t, []any{3.0, 4.0}, shape["items"])
	assert.Equal(t, second.NextCursor, shape["next_cursor"])
	assert.Equal(t, second.PrevCursor, shape["prev_cursor"])
	assert.Equal(t, true, shape["has_more"])
	assert.NotContains(t, shape, "total")

	total := int64(6)
	empty := Page[int64]{Items: []int64{}, Total: &total}
	body, err = json.Marshal(empty)
	require.NoError(t, err)
	assert.JSONEq(t, `{"items":[],"next_cursor":"","prev_cursor":"","has_more":false,"total":6}`, string(body))

	rec = httptest.NewRecorder()
	empty.WriteLinkHeader(rec, r)
	assert.Empty(t, rec.Header().Values("Link"))

	// An empty list still renders items as [].
	req, err = p.Parse(r, Binding{})
	require.NoError(t, err)
	none, err := NewPage([]int64(nil), req, key)
	require.NoError(t, err)
	body, err = json.Marshal(none)
	require.NoError(t, err)
	assert.JSONEq(t, `{"items":[],"next_cursor":"","prev_cursor":"","has_more":false}`, string(body))
}

func TestOversizedCursor(t *testing.T) {
	t.Parallel()
	p := testPaginator(t, MustSort(Asc("title").Text(), Asc("id")), nil)
	req, err := p.Request(1, "", nil, Binding{})
	require.NoError(t, err)
	long := string(make([]byte, 3100))
	_, err = req.Cursor(Key{long, 1}, Forward)
	assert.ErrorContains(t, err, "too large for a cursor")
	_, err = NewPage([]Key{{long, 1}, {long, 2}}, req, func(k Key) Key { return k })
	assert.ErrorContains(t, err, "too large for a cursor")
	c, err := req.Cursor(Key{long[:2900], 1}, Forward)
	require.NoError(t, err, "a cursor just under the limit is issued")
	_, err = p.Request(1, c, nil, Binding{})
	assert.NoError(t, err, "and accepted")
}

// TestConcurrentUse: one Paginator (and its Codec and Sort) serves many
// goroutines at once; run under -race.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	p := testPaginator(t, MustSort(Asc("id")), func(o *Options) { o.FilterParams = []string{"q"} })
	items := make([]int64, 500)
	for i := range items {
		items[i] = int64(i)
	}
	key := func(i int64) Key { return Key{i} }
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for g := range 32 {
		wg.Go(func() {
			q := url.Values{"q": {fmt.Sprint(g % 4)}, "limit": {fmt.Sprint(1 + g%10)}}
			var got []int64
			for {
				req, err := p.ParseValues(q, Binding{Tenant: fmt.Sprint(g % 3)})
				if err != nil {
					errs <- err
					return
				}
				page, err := Slice(items, req, key)
				if err != nil {
					errs <- err
					return
				}
				got = append(got, page.Items...)
				if !page.HasMore {
					break
				}
				q.Set("cursor", page.NextCursor)
			}
			if !slices.Equal(got, items) {
				errs <- fmt.Errorf("goroutine %d walked %d items", g, len(got))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
