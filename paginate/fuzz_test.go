package paginate

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fuzzPaginator uses a fixed key and no expiry, so that the sealed cursors in
// testdata/fuzz stay valid.
func fuzzPaginator(t testing.TB) *Paginator {
	c, err := NewCodec(testSecret("fuzz", 7), testSecret("old", 8))
	require.NoError(t, err)
	p, err := New(Options{
		Sort:  MustSort(Desc("at").Time().Nullable(NullsLast), Asc("name").Text().Nullable(NullsFirst), Asc("u").UUID(), Desc("id")),
		Codec: c, DefaultLimit: 10, MaxLimit: 50, TTL: -1,
	})
	require.NoError(t, err)
	return p
}

func fuzzKeys() []Key {
	at := time.Date(2026, 11, 27, 9, 30, 0, 123456000, time.UTC)
	return []Key{
		{at, "bob", "0191e7c4-0000-7000-8000-00000000000a", 42},
		{nil, nil, [16]byte{}, -1},
		{at, "", [16]byte{0xff}, int64(1 << 40)},
	}
}

// validCursors are the cursors written to the seed corpus by
// TestWriteFuzzCorpus -update.
func validCursors(t testing.TB, p *Paginator) []string {
	req, err := p.Request(0, "", nil, Binding{})
	require.NoError(t, err)
	out := []string{req.LastPageCursor()}
	for _, k := range fuzzKeys() {
		for _, d := range []Direction{Forward, Backward} {
			c, err := req.Cursor(k, d)
			require.NoError(t, err)
			out = append(out, c)
		}
	}
	return out
}

func checkRequestError(t *testing.T, err error) {
	t.Helper()
	var re *RequestError
	if !errors.As(err, &re) {
		t.Fatalf("error is not a *RequestError: %v", err)
	}
	if !errors.Is(err, ErrInvalidCursor) && !errors.Is(err, ErrInvalidLimit) {
		t.Fatalf("error matches no sentinel: %v", err)
	}
	if re.Code() == "" || re.Param == "" || re.Message == "" {
		t.Fatalf("incomplete error: %#v", re)
	}
}

// FuzzCursor feeds arbitrary cursors to the decoder: it must never panic,
// must reject with a *RequestError, and must accept nothing but the exact
// cursors it sealed (the seed corpus holds valid ones for the fuzzer to
// mutate).
func FuzzCursor(f *testing.F) {
	p := fuzzPaginator(f)
	known := corpusCursors(f)
	f.Add("")
	f.Add("AQRmdXp6")
	f.Fuzz(func(t *testing.T, cursor string) {
		req, err := p.Request(5, cursor, nil, Binding{})
		if err != nil {
			if known[corpusFile(cursor)] {
				t.Fatalf("rejected a cursor it sealed: %v", err)
			}
			checkRequestError(t, err)
			return
		}
		if cursor == "" {
			return
		}
		// Accepted: it must be a cursor from the seed corpus, which
		// re-opens to the same request.
		if !known[corpusFile(cursor)] {
			t.Fatalf("accepted a cursor that was never sealed: %q", cursor)
		}
		w, args := req.Where(Postgres, 1)
		if w == "" || (req.bound != nil && len(args) == 0) {
			t.Fatalf("bad SQL from accepted cursor: %q %v", w, args)
		}
	})
}

// corpusCursors returns the contents of the valid* FuzzCursor seed corpus
// files (the others hold rejected inputs).
func corpusCursors(tb testing.TB) map[string]bool {
	dir := filepath.Join("testdata", "fuzz", "FuzzCursor")
	entries, err := os.ReadDir(dir)
	require.NoError(tb, err)
	known := map[string]bool{}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "valid") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(tb, err)
		known[string(b)] = true
	}
	return known
}

func corpusFile(s string) string {
	return fmt.Sprintf("go test fuzz v1\nstring(%q)\n", s)
}

// FuzzParseQuery feeds arbitrary query strings to the request parser.
func FuzzParseQuery(f *testing.F) {
	p := fuzzPaginator(f)
	reject, err := New(Options{Sort: p.o.Sort, Codec: p.o.Codec, RejectOverMax: true, TTL: -1,
		AfterParam: "after", BeforeParam: "before", FilterParams: []string{"q"}})
	require.NoError(f, err)
	for _, s := range []string{"", "limit=5", "limit=-1", "limit=1e3", "limit=99999999999999999999999", "cursor=abc&limit=2",
		"limit=1&limit=2", "cursor=&limit=", "limit=%00", "cursor=" + validCursors(f, p)[1] + "&limit=3",
		"before=" + validCursors(f, p)[2], "after=" + validCursors(f, p)[2] + "&q=x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, _ := url.ParseQuery(raw)
		for _, p := range []*Paginator{p, reject} {
			req, err := p.ParseValues(q, Binding{})
			if err != nil {
				checkRequestError(t, err)
				if req != nil {
					t.Fatalf("a request and an error for %q", raw)
				}
				continue
			}
			if req.Size < 1 || req.Size > p.o.MaxLimit {
				t.Fatalf("size %d outside [1, %d] for %q", req.Size, p.o.MaxLimit, raw)
			}
		}
	})
}

// TestWriteFuzzCorpus regenerates the FuzzCursor seed corpus with -update.
func TestWriteFuzzCorpus(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite testdata/fuzz/FuzzCursor")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzCursor")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for i, c := range validCursors(t, fuzzPaginator(t)) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("valid%d", i)), []byte(corpusFile(c)), 0o644))
	}
	other := filepath.Join("testdata", "fuzz", "FuzzParseQuery")
	require.NoError(t, os.MkdirAll(other, 0o755))
	for i, s := range []string{"limit=10&cursor=" + validCursors(t, fuzzPaginator(t))[2] + "&status=x", "limit=%2B3", "cursor=AQRmdXp6&cursor=x"} {
		require.NoError(t, os.WriteFile(filepath.Join(other, fmt.Sprintf("seed%d", i)), []byte(corpusFile(s)), 0o644))
	}
}

var pgPlaceholder = regexp.MustCompile(`\$[0-9]+`)

// FuzzPayload feeds arbitrary plaintext, sealed with the paginator's own
// key, to the cursor parser: defence in depth for a leaked key or a payload
// from an older version. It must never panic, must reject with a
// *RequestError and no request, and whatever it accepts must yield SQL with
// one argument per placeholder.
func FuzzPayload(f *testing.F) {
	clock := &fakeClock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
	base := fuzzPaginator(f)
	p, err := New(Options{Sort: base.o.Sort, Codec: base.o.Codec, FilterParams: []string{"q"}, TTL: time.Hour, Now: clock.Now})
	require.NoError(f, err)
	q := url.Values{"q": {"x"}}
	b := Binding{Tenant: "acme"}
	req, err := p.Request(0, "", q, b)
	require.NoError(f, err)
	seeds := []string{req.LastPageCursor()}
	for _, k := range fuzzKeys() {
		for _, d := range []Direction{Forward, Backward} {
			c, err := req.Cursor(k, d)
			require.NoError(f, err)
			seeds = append(seeds, c)
		}
	}
	for _, c := range seeds {
		pt, err := p.o.Codec.open(c)
		require.NoError(f, err)
		f.Add(pt)
	}
	f.Fuzz(func(t *testing.T, pt []byte) {
		req, err := p.Request(5, p.o.Codec.seal(pt), q, b)
		if err != nil {
			checkRequestError(t, err)
			if req != nil {
				t.Fatal("a request and an error")
			}
			return
		}
		for _, d := range []Dialect{Postgres, MySQL, SQLite} {
			w, args := req.Where(d, 1)
			n := strings.Count(w, "?")
			if d == Postgres {
				n = len(slices.Compact(slices.Sorted(slices.Values(pgPlaceholder.FindAllString(w, -1)))))
			}
			if n != len(args) {
				t.Fatalf("%s: %d placeholders, %d args: %s", d, n, len(args), w)
			}
			if req.bound != nil && len(args) == 0 {
				t.Fatalf("%s: no arguments for a bounded request (the last column is NOT NULL): %s", d, w)
			}
			_ = req.OrderBy(d)
			_, _ = req.WhereBehind(d, 1)
			_ = req.Segments(d, 1)
		}
	})
}
