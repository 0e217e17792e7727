package paginate

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var idSort = MustSort(Asc("id"))

func TestNewValidation(t *testing.T) {
	t.Parallel()
	c := testCodec(t)
	cases := []struct {
		name string
		o    Options
		msg  string
	}{
		{"no sort", Options{Codec: c}, "Sort is required"},
		{"no codec", Options{Sort: idSort}, "Codec is required"},
		{"zero codec", Options{Sort: idSort, Codec: &Codec{}}, "Codec is required"},
		{"default over max", Options{Sort: idSort, Codec: c, DefaultLimit: 50, MaxLimit: 10}, "DefaultLimit"},
		{"negative", Options{Sort: idSort, Codec: c, DefaultLimit: -1}, "DefaultLimit"},
		{"huge max", Options{Sort: idSort, Codec: c, MaxLimit: 1 << 30}, "too large"},
		{"same params", Options{Sort: idSort, Codec: c, LimitParam: "x", CursorParam: "x"}, "both named"},
		{"filter is cursor", Options{Sort: idSort, Codec: c, FilterParams: []string{"cursor"}}, "paging parameter"},
		{"bad ttl", Options{Sort: idSort, Codec: c, TTL: -2}, "negative"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.o)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
	p, err := New(Options{Sort: idSort, Codec: c})
	require.NoError(t, err)
	assert.Equal(t, idSort, p.Sort())
	req, err := p.ParseValues(nil, Binding{})
	require.NoError(t, err)
	assert.Equal(t, 20, req.Size, "default DefaultLimit")
	req, err = p.ParseValues(url.Values{"limit": {"1000"}}, Binding{})
	require.NoError(t, err)
	assert.Equal(t, 100, req.Size, "default MaxLimit")
}

func TestParseLimit(t *testing.T) {
	t.Parallel()
	coerce := testPaginator(t, idSort, nil)
	reject := testPaginator(t, idSort, func(o *Options) { o.RejectOverMax = true; o.LimitParam = "page_size" })
	cases := []struct {
		q          string
		coerce     int // 0: error
		reject     int
		rejectName string
	}{
		{"", 3, 3, ""},
		{"limit=", 3, 3, ""},
		{"limit=0", 3, 3, ""},
		{"limit=7", 7, 3, ""},
		{"limit=10", 10, 3, ""},
		{"limit=11", 10, 3, ""},
		{"limit=99999999999999999999", 10, 3, ""},
		{"limit=999999999999999999999999999999", 10, 3, ""},
		{"limit=999999999999999", 10, 3, ""},
		{"limit=-1", 0, 3, ""},
		{"limit=+5", 0, 3, ""},
		{"limit=%205", 0, 3, ""},
		{"limit=5.0", 0, 3, ""},
		{"limit=abc", 0, 3, ""},
		{"limit=1&limit=2", 0, 3, ""},
		{"page_size=10", 3, 10, ""},
		{"page_size=11", 3, 0, "above the maximum"},
		{"page_size=1&page_size=1", 3, 0, "given 2 times"},
		{"page_size=99999999999999999999", 3, 0, "page_size 99999999999999999999 is above the maximum of 10"},
		{"page_size=0000000000000000000000000011", 3, 0, "page_size 000000000000000000000000… is above"},
		{"page_size=0000000000000000000000000010", 3, 10, ""},
	}
	for _, tc := range cases {
		t.Run(tc.q, func(t *testing.T) {
			q, err := url.ParseQuery(tc.q)
			require.NoError(t, err)
			check := func(p *Paginator, want int, msg string) {
				req, err := p.ParseValues(q, Binding{})
				if want == 0 {
					require.Error(t, err)
					assert.ErrorIs(t, err, ErrInvalidLimit)
					var re *RequestError
					require.ErrorAs(t, err, &re)
					assert.Equal(t, "invalid_limit", re.Code())
					assert.Equal(t, p.o.LimitParam, re.Param)
					assert.Contains(t, err.Error(), msg)
					return
				}
				require.NoError(t, err)
				assert.Equal(t, want, req.Size)
				assert.Equal(t, want+1, req.Limit())
			}
			check(coerce, tc.coerce, "")
			check(reject, tc.reject, tc.rejectName)
		})
	}

	req, err := coerce.Request(0, "", nil, Binding{})
	require.NoError(t, err)
	assert.Equal(t, 3, req.Size)
	req, err = coerce.Request(50, "", nil, Binding{})
	require.NoError(t, err)
	assert.Equal(t, 10, req.Size)
	_, err = coerce.Request(-1, "", nil, Binding{})
	assert.ErrorIs(t, err, ErrInvalidLimit)
	_, err = reject.Request(11, "", nil, Binding{})
	assert.ErrorIs(t, err, ErrInvalidLimit)
}

// nextCursor returns a forward cursor after key k for the request q/b.
func nextCursor(t *testing.T, p *Paginator, q url.Values, b Binding, k Key) string {
	t.Helper()
	req, err := p.ParseValues(q, b)
	require.NoError(t, err)
	c, err := req.Cursor(k, Forward)
	require.NoError(t, err)
	return c
}

func TestCursorBinding(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
	opts := func(o *Options) {
		o.FilterParams = []string{"status", "q"}
		o.TTL = time.Hour
		o.Now = clock.Now
	}
	p := testPaginator(t, idSort, opts)
	q := url.Values{"status": {"b", "a"}, "q": {"x"}, "other": {"ignored"}}
	b := Binding{Tenant: "acme", Filter: []string{"org-1"}}
	cur := nextCursor(t, p, q, b, Key{41})

	parse := func(p *Paginator, q url.Values, b Binding, cursor string) (*Request, error) {
		q2 := url.Values{}
		for k, v := range q {
			q2[k] = v
		}
		q2.Set("cursor", cursor)
		return p.ParseValues(q2, b)
	}

	req, err := parse(p, q, b, cur)
	require.NoError(t, err)
	assert.False(t, req.First())
	assert.Equal(t, Forward, req.Direction())
	where, args := req.Where(Postgres, 1)
	assert.Equal(t, "id > $1", where)
	assert.Equal(t, []any{int64(41)}, args)

	t.Run("filter values are a set per parameter", func(t *testing.T) {
		_, err := parse(p, url.Values{"status": {"a", "b"}, "q": {"x"}, "other": {"changed"}}, b, cur)
		assert.NoError(t, err)
	})

	reject := []struct {
		name   string
		p      *Paginator
		q      url.Values
		b      Binding
		reason error
		code   string
	}{
		{"other sort", testPaginator(t, MustSort(Desc("id")), func(o *Options) { opts(o); o.Codec = p.o.Codec }), q, b, ErrCursorMismatch, "cursor_mismatch"},
		{"other filter value", p, url.Values{"status": {"a"}, "q": {"x"}}, b, ErrCursorMismatch, "cursor_mismatch"},
		{"filter moved between params", p, url.Values{"status": {"a", "b", "x"}}, b, ErrCursorMismatch, "cursor_mismatch"},
		{"other path filter", p, q, Binding{Tenant: "acme", Filter: []string{"org-2"}}, ErrCursorMismatch, "cursor_mismatch"},
		{"other tenant", p, q, Binding{Tenant: "evil", Filter: b.Filter}, ErrCursorMismatch, "cursor_mismatch"},
		{"no tenant", p, q, Binding{Filter: b.Filter}, ErrCursorMismatch, "cursor_mismatch"},
		{"other key", testPaginator(t, idSort, func(o *Options) { opts(o); o.Codec, _ = NewCodec(testSecret("k1", 2)) }), q, b, ErrCursorForged, "invalid_cursor"},
	}
	for _, tc := range reject {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(tc.p, tc.q, tc.b, cur)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidCursor)
			assert.ErrorIs(t, err, tc.reason)
			var re *RequestError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, tc.code, re.Code())
			assert.Equal(t, "cursor", re.Param)
		})
	}

	t.Run("untenanted cursor under a tenant", func(t *testing.T) {
		c := nextCursor(t, p, q, Binding{Filter: b.Filter}, Key{1})
		_, err := parse(p, q, b, c)
		assert.ErrorIs(t, err, ErrCursorMismatch)
	})

	t.Run("expiry", func(t *testing.T) {
		clock := &fakeClock{t: clock.t}
		p := testPaginator(t, idSort, func(o *Options) { o.TTL = time.Hour; o.Now = clock.Now })
		c := nextCursor(t, p, nil, Binding{}, Key{1})
		clock.t = clock.t.Add(time.Hour - time.Second)
		_, err := parse(p, nil, Binding{}, c)
		require.NoError(t, err)
		clock.t = clock.t.Add(time.Second)
		_, err = parse(p, nil, Binding{}, c)
		assert.ErrorIs(t, err, ErrCursorExpired)
		assert.ErrorIs(t, err, ErrInvalidCursor)
		var re *RequestError
		require.ErrorAs(t, err, &re)
		assert.Equal(t, "expired_cursor", re.Code())

		// A TTL below a second still gives the cursor its full TTL.
		short := testPaginator(t, idSort, func(o *Options) { o.TTL = 300 * time.Millisecond; o.Now = clock.Now; o.Codec = p.o.Codec })
		clock.t = time.Date(2026, 11, 27, 10, 0, 0, 900_000_000, time.UTC)
		c = nextCursor(t, short, nil, Binding{}, Key{1})
		clock.t = clock.t.Add(299 * time.Millisecond)
		_, err = parse(short, nil, Binding{}, c)
		require.NoError(t, err, "not expired before its TTL")
		clock.t = clock.t.Add(2 * time.Second)
		_, err = parse(short, nil, Binding{}, c)
		assert.ErrorIs(t, err, ErrCursorExpired)

		never := testPaginator(t, idSort, func(o *Options) { o.TTL = -1; o.Now = clock.Now; o.Codec = p.o.Codec })
		c = nextCursor(t, never, nil, Binding{}, Key{1})
		clock.t = clock.t.Add(100 * 365 * 24 * time.Hour)
		_, err = parse(never, nil, Binding{}, c)
		assert.NoError(t, err)
		_, err = parse(p, nil, Binding{}, c)
		assert.ErrorIs(t, err, ErrCursorExpired, "a cursor without expiry is refused once cursors expire")
	})

	t.Run("repeated cursor parameter", func(t *testing.T) {
		_, err := p.ParseValues(url.Values{"cursor": {cur, cur}}, b)
		assert.ErrorIs(t, err, ErrCursorMalformed)
	})

	t.Run("custom cursor param is named in the error", func(t *testing.T) {
		p := testPaginator(t, idSort, func(o *Options) { o.CursorParam = "page_token" })
		_, err := p.ParseValues(url.Values{"page_token": {"nope"}}, Binding{})
		var re *RequestError
		require.ErrorAs(t, err, &re)
		assert.Equal(t, "page_token", re.Param)
		_, err = p.Request(5, "nope", nil, Binding{})
		require.ErrorAs(t, err, &re)
		assert.Equal(t, "page_token", re.Param)
	})
}

func TestCursorPayloadValidation(t *testing.T) {
	t.Parallel()
	// Well-sealed payloads with bad contents are still rejected: defence in
	// depth against a leaked key or a bug in an older version.
	p := testPaginator(t, MustSort(Asc("t").Time(), Asc("id")), func(o *Options) { o.TTL = -1 })
	req, err := p.ParseValues(nil, Binding{})
	require.NoError(t, err)
	head := append([]byte{payloadV1, 0}, p.o.Sort.fp[:]...)
	head = append(head, req.filter[:]...)
	good := append(append([]byte(nil), head...), 10, 0, 2) // t=5s, 0ns, id=1
	_, err = p.Request(1, p.o.Codec.seal(good), nil, Binding{})
	require.NoError(t, err)

	bad := map[string][]byte{
		"version":       append([]byte{2}, good[1:]...),
		"unknown flag":  append([]byte{payloadV1, 0x80}, good[2:]...),
		"open forward":  append([]byte{payloadV1, flagOpen}, good[2:len(head)]...),
		"open incl":     append([]byte{payloadV1, flagOpen | flagBackward | flagInclusive}, good[2:len(head)]...),
		"open values":   append([]byte{payloadV1, flagOpen | flagBackward}, good[2:]...),
		"other filter":  append(append(append([]byte{payloadV1, 0}, p.o.Sort.fp[:]...), make([]byte, 16)...), 10, 0, 2),
		"trailing":      append(append([]byte(nil), good...), 0),
		"nanos range":   append(append([]byte(nil), head...), 10, 0xc0, 0xb8, 0x97, 0xe6, 0x03, 2), // 1e9+... ns
		"sub-precision": append(append([]byte(nil), head...), 10, 1, 2),
		"short":         good[:5],
		"no values":     head,
		"tenant short":  append([]byte{payloadV1, flagTenant}, good[2:len(head)]...),
		"expiry short":  append([]byte{payloadV1, flagExpiry}, good[2:len(head)]...),
	}
	for name, pt := range bad {
		t.Run(name, func(t *testing.T) {
			req, err := p.Request(1, p.o.Codec.seal(pt), nil, Binding{})
			assert.ErrorIs(t, err, ErrInvalidCursor)
			assert.Nil(t, req)
		})
	}
	open := append([]byte{payloadV1, flagOpen | flagBackward}, good[2:len(head)]...)
	req, err = p.Request(1, p.o.Codec.seal(open), nil, Binding{})
	require.NoError(t, err, "the last-page layout itself is accepted")
	assert.True(t, req.First())
	assert.Equal(t, Backward, req.Direction())
}

func TestWriteError(t *testing.T) {
	t.Parallel()
	p := testPaginator(t, idSort, nil)
	_, err := p.ParseValues(url.Values{"cursor": {"garbage"}}, Binding{})
	require.Error(t, err)
	rec := httptest.NewRecorder()
	require.True(t, WriteError(rec, errors.Join(errors.New("context"), err)))
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	var body struct {
		Error struct{ Code, Param, Message string }
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	assert.Equal(t, "invalid_cursor", body.Error.Code)
	assert.Equal(t, "cursor", body.Error.Param)
	assert.Contains(t, body.Error.Message, "base64")

	rec = httptest.NewRecorder()
	assert.False(t, WriteError(rec, errors.New("db down")))
	assert.Equal(t, 0, rec.Body.Len())
	assert.False(t, WriteError(rec, nil))
}

func TestAfterBeforeParams(t *testing.T) {
	t.Parallel()
	p := testPaginator(t, idSort, func(o *Options) { o.AfterParam = "starting_after"; o.BeforeParam = "ending_before" })
	items := []int64{1, 2, 3, 4, 5, 6, 7}
	key := func(i int64) Key { return Key{i} }
	page := func(raw string) (Page[int64], error) {
		r := httptest.NewRequest("GET", "/items?"+raw, nil)
		req, err := p.Parse(r, Binding{})
		if err != nil {
			return Page[int64]{}, err
		}
		return Slice(items, req, key)
	}
	first, err := page("limit=3")
	require.NoError(t, err)
	u, _ := url.Parse("/items?limit=3&cursor=old")
	next := first.NextURL(u)
	require.Regexp(t, `^/items\?limit=3&starting_after=[A-Za-z0-9_-]+$`, next, "the next link uses AfterParam and drops the other cursor parameters")
	second, err := page(next[len("/items?"):])
	require.NoError(t, err)
	assert.Equal(t, []int64{4, 5, 6}, second.Items)
	prev := second.PrevURL(u)
	require.Regexp(t, `^/items\?ending_before=[A-Za-z0-9_-]+&limit=3$`, prev)
	back, err := page(prev[len("/items?"):])
	require.NoError(t, err)
	assert.Equal(t, []int64{1, 2, 3}, back.Items)

	fwd := url.QueryEscape(second.NextCursor)
	bwd := url.QueryEscape(second.PrevCursor)
	for _, tc := range []struct{ q, msg string }{
		{"ending_before=" + fwd, "send it as starting_after"},
		{"starting_after=" + bwd, "send it as ending_before"},
		{"starting_after=" + fwd + "&cursor=" + fwd, "both cursor and starting_after"},
		{"ending_before=" + bwd + "&ending_before=" + bwd, "given 2 times"},
	} {
		_, err := page(tc.q)
		require.Error(t, err, tc.q)
		assert.ErrorIs(t, err, ErrInvalidCursor)
		assert.Contains(t, err.Error(), tc.msg)
	}
	afterOnly := testPaginator(t, idSort, func(o *Options) { o.AfterParam = "after"; o.Codec = p.o.Codec })
	_, err = afterOnly.ParseValues(url.Values{"after": {second.PrevCursor}}, Binding{})
	assert.ErrorIs(t, err, ErrCursorMismatch)
	assert.ErrorContains(t, err, "send it as cursor", "without BeforeParam, backward cursors go in the plain parameter")

	// The plain cursor parameter still takes cursors of either direction.
	got, err := page("cursor=" + bwd)
	require.NoError(t, err)
	assert.Equal(t, []int64{1, 2, 3}, got.Items)

	_, err = New(Options{Sort: idSort, Codec: p.o.Codec, AfterParam: "after", BeforeParam: "after"})
	assert.ErrorContains(t, err, `both named "after"`)
	_, err = New(Options{Sort: idSort, Codec: p.o.Codec, AfterParam: "limit"})
	assert.ErrorContains(t, err, `both named "limit"`)
	_, err = New(Options{Sort: idSort, Codec: p.o.Codec, BeforeParam: "b", FilterParams: []string{"b"}})
	assert.ErrorContains(t, err, "paging parameter")
}

func TestParseErrorReturnsNoRequest(t *testing.T) {
	t.Parallel()
	p := testPaginator(t, idSort, func(o *Options) { o.AfterParam = "after" })
	for _, q := range []url.Values{
		{"limit": {"x"}},
		{"cursor": {"x"}},
		{"cursor": {"a", "b"}},
		{"cursor": {"a"}, "after": {"b"}},
	} {
		req, err := p.ParseValues(q, Binding{})
		assert.Error(t, err, "%v", q)
		assert.Nil(t, req, "%v", q)
	}
}
