package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stout-go/stout/paginate"
	"github.com/stout-go/stout/slowlog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testUsers is the size of the data set in tests: small, so that start-up
// and deep pages stay cheap.
const testUsers = 2000

func newTestServer(t *testing.T, cfg config) (*server, *httptest.Server) {
	t.Helper()
	if cfg.Users == 0 {
		cfg.Users = testUsers
	}
	if cfg.ReadLimit == 0 {
		cfg.ReadLimit = 1 << 20 // tests of other things must not hit it
	}
	if cfg.WriteLimit == 0 {
		cfg.WriteLimit = 1 << 20
	}
	s, err := newServer(cfg)
	require.NoError(t, err)
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		ts.Close()
		require.NoError(t, s.Close())
	})
	return s, ts
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(a.body, v), "body: %s", a.body)
}

func (a answer) errorMessage(t *testing.T) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	a.json(t, &e)
	require.NotEmpty(t, e.Error, "error body: %s", a.body)
	return e.Error
}

// call sends one request without Accept-Encoding (so bodies are plain) and
// returns the answer.
func call(t *testing.T, ts *httptest.Server, method, path, body string, hdr ...string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, ts.URL+path, rd)
	require.NoError(t, err)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

func TestGetUser(t *testing.T) {
	s, ts := newTestServer(t, config{})
	want := s.repo.data.user(42)

	t.Run("core only by default", func(t *testing.T) {
		a := call(t, ts, "GET", "/users/42", "")
		require.Equal(t, http.StatusOK, a.status, "%s", a.body)
		assert.Equal(t, "application/json", a.header.Get("Content-Type"))
		var m map[string]any
		a.json(t, &m)
		assert.Equal(t, float64(42), m["id"])
		assert.Equal(t, want.Name, m["name"])
		assert.NotContains(t, m, "profile")
		assert.NotContains(t, m, "preferences")
		assert.NotContains(t, m, "recent-activity")
	})
	t.Run("includes", func(t *testing.T) {
		a := call(t, ts, "GET", "/users/42?include=profile,preferences,recent-activity", "")
		require.Equal(t, http.StatusOK, a.status, "%s", a.body)
		var v userView
		a.json(t, &v)
		assert.Equal(t, want, v.User)
		require.NotNil(t, v.Profile)
		assert.Equal(t, s.repo.data.profile(42), *v.Profile)
		require.NotNil(t, v.Preferences)
		assert.Equal(t, s.repo.data.preferences(42), *v.Preferences)
		assert.Len(t, v.RecentActivity, activityLen)
	})
	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			path   string
			status int
			msg    string
		}{
			{"/users/0", 400, "positive integer"},
			{"/users/abc", 400, "positive integer"},
			{"/users/99999999999999999999", 400, "positive integer"},
			{"/users/2001", 404, "no such user"},
			{"/users/1?include=profile,friends", 400, `unknown field "friends"`},
		} {
			a := call(t, ts, "GET", tc.path, "")
			assert.Equal(t, tc.status, a.status, "%s: %s", tc.path, a.body)
			assert.Contains(t, a.errorMessage(t), tc.msg, tc.path)
		}
	})
}

func TestNaiveUserLoadsEverything(t *testing.T) {
	_, ts := newTestServer(t, config{})
	a := call(t, ts, "GET", "/naive/users/7?fields=id", "")
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	var v userView
	a.json(t, &v)
	assert.Equal(t, int64(7), v.ID)
	assert.NotNil(t, v.Profile)
	assert.NotNil(t, v.Preferences)
	assert.Len(t, v.RecentActivity, activityLen)
}

func TestPutUser(t *testing.T) {
	s, ts := newTestServer(t, config{})
	t.Run("write then read", func(t *testing.T) {
		a := call(t, ts, "PUT", "/users/9", `{"name":"Grace Hopper","profile":{"bio":"COBOL"},"preferences":{"theme":"dark","newsletter":false}}`)
		require.Equal(t, http.StatusOK, a.status, "%s", a.body)
		var u User
		a.json(t, &u)
		assert.Equal(t, "Grace Hopper", u.Name)
		assert.Equal(t, s.repo.data.user(9).Email, u.Email, "fields not in the body keep their value")

		a = call(t, ts, "GET", "/users/9?include=profile,preferences,recent-activity", "")
		require.Equal(t, http.StatusOK, a.status)
		var v userView
		a.json(t, &v)
		assert.Equal(t, "Grace Hopper", v.Name)
		assert.Equal(t, "COBOL", v.Profile.Bio)
		assert.Equal(t, "dark", v.Preferences.Theme)
		assert.False(t, v.Preferences.Newsletter)
		assert.Equal(t, "update", v.RecentActivity[0].Kind)
	})
	t.Run("bad bodies", func(t *testing.T) {
		for _, tc := range []struct {
			name, path, body string
			status           int
			msg              string
		}{
			{"malformed", "/users/1", `{"name":"x",}`, 400, "malformed JSON at byte 13"},
			{"truncated", "/users/1", `{"name":"x"`, 400, "ends in the middle"},
			{"empty", "/users/1", ``, 400, "empty body"},
			{"unknown field", "/users/1", `{"nmae":"x"}`, 400, `unknown field "nmae"`},
			{"wrong type", "/users/1", `{"name":5}`, 400, `"name" must be a JSON string`},
			{"two values", "/users/1", `{"name":"a"}{"name":"b"}`, 400, "single JSON object"},
			{"empty name", "/users/1", `{"name":"  "}`, 400, "name must not be empty"},
			{"bad email", "/users/1", `{"email":"nobody"}`, 400, "has no @"},
			{"bad theme", "/users/1", `{"preferences":{"theme":"neon"}}`, 400, "allowed are light, dark, system"},
			{"bad time zone", "/users/1", `{"preferences":{"timezone":"Mars/Base"}}`, 400, "preferences.timezone"},
			{"too large", "/users/1", `{"name":"` + strings.Repeat("a", maxBody) + `"}`, 413, "larger than"},
			{"no such user", "/users/5000", `{"name":"x"}`, 404, "no such user"},
			{"bad id", "/users/-1", `{"name":"x"}`, 400, "positive integer"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := call(t, ts, "PUT", tc.path, tc.body, "Content-Type", "application/json")
				assert.Equal(t, tc.status, a.status, "%s", a.body)
				assert.Contains(t, a.errorMessage(t), tc.msg)
			})
		}
	})
}

func TestListOffset(t *testing.T) {
	s, ts := newTestServer(t, config{})
	a := call(t, ts, "GET", "/users-offset?page=3&limit=7", "")
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	var p offsetPage
	a.json(t, &p)
	require.Len(t, p.Items, 7)
	for i, u := range p.Items {
		assert.Equal(t, int64(s.repo.data.order[21+i]), u.ID)
	}
	assert.Equal(t, "/users-offset?page=4&limit=7", p.Next)

	for _, q := range []string{"page=-1", "page=x", "limit=0", "limit=101", "limit=1000000"} {
		a := call(t, ts, "GET", "/users-offset?"+q, "")
		assert.Equal(t, http.StatusBadRequest, a.status, q)
		assert.NotEmpty(t, a.errorMessage(t), q)
	}
}

func TestGzip(t *testing.T) {
	_, ts := newTestServer(t, config{})
	t.Run("compressed when accepted", func(t *testing.T) {
		a := call(t, ts, "GET", "/users-offset?limit=50", "", "Accept-Encoding", "gzip")
		require.Equal(t, http.StatusOK, a.status)
		assert.Equal(t, "gzip", a.header.Get("Content-Encoding"))
		assert.Contains(t, a.header.Values("Vary"), "Accept-Encoding")
		zr, err := gzip.NewReader(bytes.NewReader(a.body))
		require.NoError(t, err)
		plain, err := io.ReadAll(zr)
		require.NoError(t, err)
		var p offsetPage
		require.NoError(t, json.Unmarshal(plain, &p))
		assert.Len(t, p.Items, 50)
	})
	t.Run("plain when refused or small", func(t *testing.T) {
		for _, ae := range []string{"", "identity", "gzip;q=0", "br"} {
			a := call(t, ts, "GET", "/users-offset?limit=50", "", "Accept-Encoding", ae)
			assert.Empty(t, a.header.Get("Content-Encoding"), ae)
			assert.True(t, json.Valid(a.body), ae)
		}
		a := call(t, ts, "GET", "/healthz", "", "Accept-Encoding", "gzip")
		assert.Empty(t, a.header.Get("Content-Encoding"), "a small body is not worth compressing")
		assert.JSONEq(t, `{"status":"ok"}`, string(a.body))
	})
}

func TestAcceptsGzip(t *testing.T) {
	for h, want := range map[string]bool{
		"gzip": true, "GZIP": true, "deflate, gzip;q=0.5": true, "*": true, "x-gzip": true,
		"": false, "gzip;q=0": false, "gzip; q=0.0": false, "br, zstd": false, "identity": false,
	} {
		assert.Equal(t, want, acceptsGzip(h), h)
	}
}

func TestDebugStats(t *testing.T) {
	s, ts := newTestServer(t, config{})
	for _, id := range []int64{1, 2, 3, 4} {
		call(t, ts, "GET", fmt.Sprintf("/users/%d?include=profile,recent-activity", id), "")
	}
	call(t, ts, "GET", "/users/1?include=profile,recent-activity", "") // cached
	cost := func(id int64) int64 {                                     // user, profile and activity
		if s.useFeed(context.Background(), id) {
			return 3
		}
		return 4 // the old activity path is two calls
	}
	want := cost(1) + cost(2) + cost(3) + cost(4)
	a := call(t, ts, "GET", "/debug/stats", "")
	require.Equal(t, http.StatusOK, a.status)
	var st debugStats
	a.json(t, &st)
	assert.Equal(t, testUsers, st.Users)
	assert.Equal(t, int64(5*3), st.Composite.Parts)
	assert.Equal(t, want+cost(1), st.Composite.CallsNeeded, "without a cache the last read would cost as much again")
	assert.Equal(t, want, st.Composite.CallsMade)
	assert.Equal(t, uint64(1), st.Cache["user"].Hits)
	assert.Equal(t, uint64(4), st.Cache["user"].Misses)
}

func TestRepoLatency(t *testing.T) {
	// The repository waits its latency but gives up with the context.
	rec, err := slowlog.New(nil)
	require.NoError(t, err)
	defer rec.Close()
	r := newRepo(newDataset(10, 1), time.Hour, 0, rec, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = r.User(ctx, 1)
	require.ErrorIs(t, err, context.Canceled)
}

func TestDataset(t *testing.T) {
	a, b := newDataset(500, 7), newDataset(500, 7)
	assert.Equal(t, a.order, b.order, "same seed, same data")
	assert.Equal(t, a.user(3), b.user(3))
	assert.NotEqual(t, a.user(3), newDataset(500, 8).user(3))
	for i := 1; i < len(a.order); i++ {
		assert.Negative(t, a.compare(int64(a.order[i-1]), int64(a.order[i])), "order is strict at %d", i)
	}
}

// linkTarget returns the target of the rel link in a Link header.
func linkTarget(t *testing.T, h http.Header, rel string) string {
	t.Helper()
	for _, v := range h.Values("Link") {
		for l := range strings.SplitSeq(v, ",") {
			target, params, _ := strings.Cut(strings.TrimSpace(l), ";")
			if strings.TrimSpace(params) == `rel="`+rel+`"` {
				return strings.Trim(target, "<>")
			}
		}
	}
	return ""
}

type listPage struct {
	Items      []User `json:"items"`
	NextCursor string `json:"next_cursor"`
	PrevCursor string `json:"prev_cursor"`
	HasMore    bool   `json:"has_more"`
}

func TestListUsers(t *testing.T) {
	s, ts := newTestServer(t, config{})

	t.Run("walk every page by the Link header", func(t *testing.T) {
		var ids []int64
		path, pages := "/users?limit=90", 0
		for path != "" {
			a := call(t, ts, "GET", path, "")
			require.Equal(t, http.StatusOK, a.status, "%s: %s", path, a.body)
			var p listPage
			a.json(t, &p)
			for _, u := range p.Items {
				ids = append(ids, u.ID)
			}
			next := linkTarget(t, a.header, "next")
			assert.Equal(t, p.HasMore, next != "", "has_more matches the next link")
			if next != "" {
				assert.Contains(t, next, "limit=90", "the link keeps the page size")
				assert.Contains(t, next, "cursor="+p.NextCursor)
			}
			path = next
			pages++
			require.Less(t, pages, 100, "the walk ends")
		}
		require.Len(t, ids, testUsers)
		for i, id := range ids {
			require.Equal(t, int64(s.repo.data.order[i]), id, "row %d in list order, none skipped or repeated", i)
		}
	})

	t.Run("back and forth", func(t *testing.T) {
		a := call(t, ts, "GET", "/users?limit=5", "")
		var p1 listPage
		a.json(t, &p1)
		a = call(t, ts, "GET", linkTarget(t, a.header, "next"), "")
		var p2 listPage
		a.json(t, &p2)
		prev := linkTarget(t, a.header, "prev")
		require.NotEmpty(t, prev)
		a = call(t, ts, "GET", prev, "")
		require.Equal(t, http.StatusOK, a.status, "%s", a.body)
		var back listPage
		a.json(t, &back)
		assert.Equal(t, p1.Items, back.Items)
		assert.NotEqual(t, p1.Items[0].ID, p2.Items[0].ID)
	})

	t.Run("bad input is a 400 that says why", func(t *testing.T) {
		other, _ := newTestServer(t, config{}) // another cursor key
		otherReq, err := other.pages.Request(5, "", nil, paginate.Binding{})
		require.NoError(t, err)
		foreign, err := otherReq.Cursor(paginate.Key{time.Unix(s.repo.data.created[0], 0), int64(1)}, paginate.Forward)
		require.NoError(t, err)

		a := call(t, ts, "GET", "/users?limit=5", "")
		var p listPage
		a.json(t, &p)
		tampered := []byte(p.NextCursor)
		tampered[len(tampered)/2] ^= 1
		if tampered[len(tampered)/2] == '-' || tampered[len(tampered)/2] == '_' {
			tampered[len(tampered)/2] = 'A'
		}

		for _, tc := range []struct {
			name, query, code string
		}{
			{"forged", "cursor=forged", "invalid_cursor"},
			{"tampered", "cursor=" + string(tampered), "invalid_cursor"},
			{"sealed by another key", "cursor=" + foreign, "invalid_cursor"},
			{"huge limit", "limit=1000000", "invalid_limit"},
			{"negative limit", "limit=-1", "invalid_limit"},
			{"limit not a number", "limit=ten", "invalid_limit"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := call(t, ts, "GET", "/users?"+tc.query, "")
				require.Equal(t, http.StatusBadRequest, a.status, "%s", a.body)
				var e apiError
				a.json(t, &e)
				assert.Equal(t, tc.code, e.Code)
				assert.NotEmpty(t, e.Message)
				assert.NotEmpty(t, e.Param)
			})
		}
	})
}

func TestDebugSlow(t *testing.T) {
	_, ts := newTestServer(t, config{})
	for range 3 {
		require.Equal(t, http.StatusOK, call(t, ts, "GET", "/users/5?include=profile", "").status)
	}
	require.Equal(t, http.StatusOK, call(t, ts, "GET", "/users?limit=3", "").status)
	html := call(t, ts, "GET", "/debug/slow", "")
	require.Equal(t, http.StatusOK, html.status)
	assert.Contains(t, html.header.Get("Content-Type"), "text/html")
	assert.Contains(t, string(html.body), "db.users.list")
	a := call(t, ts, "GET", "/debug/slow?format=json", "")
	require.Equal(t, http.StatusOK, a.status)
	var rep struct {
		Ops []struct {
			Op    string `json:"op"`
			Total struct {
				Count uint64 `json:"count"`
				P95   int64  `json:"p95_ns"`
			} `json:"total"`
		} `json:"ops"`
	}
	a.json(t, &rep)
	counts := map[string]uint64{}
	for _, o := range rep.Ops {
		counts[o.Op] = o.Total.Count
	}
	assert.Equal(t, uint64(3), counts["http GET /users/{id}"])
	assert.Equal(t, uint64(1), counts["http GET /users"])
	assert.Equal(t, uint64(1), counts["db.users.list"])
	assert.GreaterOrEqual(t, counts["db.profiles.get"], uint64(1))
}

func TestCacheAside(t *testing.T) {
	s, ts := newTestServer(t, config{Latency: time.Millisecond})
	calls := func(op string) int64 {
		m, _ := s.repo.Calls()
		return m[op]
	}

	t.Run("a second read is served from the caches", func(t *testing.T) {
		const path = "/users/11?include=profile,preferences,recent-activity"
		first := call(t, ts, "GET", path, "")
		require.Equal(t, http.StatusOK, first.status)
		before, _ := s.repo.Calls()
		second := call(t, ts, "GET", path, "")
		require.Equal(t, http.StatusOK, second.status)
		after, _ := s.repo.Calls()
		assert.Equal(t, before, after, "no repository call")
		assert.JSONEq(t, string(first.body), string(second.body))
		st := s.cacheStats()
		for _, ns := range []string{"user", "profile", "preferences", "activity"} {
			assert.GreaterOrEqual(t, st[ns].Hits, uint64(1), ns)
		}
	})

	t.Run("only the parts asked for are loaded", func(t *testing.T) {
		before, _ := s.repo.Calls()
		require.Equal(t, http.StatusOK, call(t, ts, "GET", "/users/12", "").status)
		after, _ := s.repo.Calls()
		assert.Equal(t, before["users.get"]+1, after["users.get"])
		for _, op := range []string{"profiles.get", "preferences.get", "activity.ids", "activity.feed"} {
			assert.Equal(t, before[op], after[op], "%s not called for a core-only request", op)
		}
	})

	t.Run("a write invalidates what it changed", func(t *testing.T) {
		const path = "/users/13?include=profile,preferences"
		require.Equal(t, http.StatusOK, call(t, ts, "GET", path, "").status)
		prefsBefore := calls("preferences.get")
		a := call(t, ts, "PUT", "/users/13", `{"name":"Edsger W. Dijkstra","profile":{"bio":"GOTO considered harmful"}}`)
		require.Equal(t, http.StatusOK, a.status, "%s", a.body)
		a = call(t, ts, "GET", path, "")
		var v userView
		a.json(t, &v)
		assert.Equal(t, "Edsger W. Dijkstra", v.Name)
		assert.Equal(t, "GOTO considered harmful", v.Profile.Bio)
		assert.Equal(t, prefsBefore, calls("preferences.get"), "preferences were not written: still cached")
	})

	t.Run("unknown users are remembered", func(t *testing.T) {
		before := calls("users.get")
		for range 3 {
			assert.Equal(t, http.StatusNotFound, call(t, ts, "GET", "/users/3000", "").status)
		}
		assert.Equal(t, before+1, calls("users.get"))
	})

	t.Run("concurrent misses of one user load it once", func(t *testing.T) {
		before := calls("users.get")
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				assert.Equal(t, http.StatusOK, call(t, ts, "GET", "/users/14", "").status)
			})
		}
		wg.Wait()
		assert.Equal(t, before+1, calls("users.get"))
	})

	t.Run("the naive endpoint bypasses the caches", func(t *testing.T) {
		before := calls("users.get")
		for range 3 {
			require.Equal(t, http.StatusOK, call(t, ts, "GET", "/naive/users/11", "").status)
		}
		assert.Equal(t, before+3, calls("users.get"))
	})
}
