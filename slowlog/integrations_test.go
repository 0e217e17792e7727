package slowlog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stout-go/stout/internal/redistest"
)

func TestMiddleware(t *testing.T) {
	t.Parallel()
	r, clk, cp := newTestRecorder(t, Options{Threshold: 100 * time.Millisecond})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, req *http.Request) {
		clk.Advance(150 * time.Millisecond)
		if req.PathValue("id") == "bad" {
			http.Error(w, "db down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	mux.HandleFunc("GET /panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	mux.HandleFunc("GET /stream", func(w http.ResponseWriter, _ *http.Request) {
		w.(http.Flusher).Flush()
		require.NoError(t, http.NewResponseController(w).Flush())
	})
	h := Middleware(r, nil)(mux)
	for _, path := range []string{"/users/1", "/users/2", "/users/bad", "/nowhere", "/stream"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
	}
	assert.PanicsWithValue(t, "boom", func() { h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/panic", nil)) }, "re-raised as is")

	snap := r.Snapshot()
	users, ok := snap.Op("GET /users/{id}")
	require.True(t, ok, "ops are named by route, not path: %+v", snap.Ops)
	assert.Equal(t, uint64(3), users.Total.Count)
	assert.Equal(t, uint64(1), users.Total.Errors, "5xx is an error")
	un, ok := snap.Op("unmatched")
	require.True(t, ok)
	assert.Equal(t, uint64(1), un.Total.Count)
	assert.Zero(t, un.Total.Errors, "a 404 is not an error")
	pan, ok := snap.Op("GET /panic")
	require.True(t, ok)
	assert.Equal(t, uint64(1), pan.Total.Errors)

	lines := cp.lines("slow operation")
	require.Len(t, lines, 3)
	assert.Equal(t, "GET /users/{id}", lines[2]["op"].String())
	assert.Equal(t, int64(503), lines[2]["status"].Int64())
	assert.Equal(t, "/users/bad", lines[2]["path"].String())
	assert.Equal(t, "slowlog: HTTP status 503", lines[2]["error"].String())
	var se *StatusError
	require.ErrorAs(t, error(&StatusError{Code: 503}), &se)

	custom := Middleware(r, func(*http.Request) string { return "api" })(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	custom.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))
	api, ok := r.Snapshot().Op("api")
	require.True(t, ok)
	assert.Equal(t, uint64(1), api.Total.Count)
}

func TestHandler(t *testing.T) {
	t.Parallel()
	r, clk, _ := newTestRecorder(t, Options{Threshold: 100 * time.Millisecond})
	for i := range 10 {
		call(clk, r.Op("fast"), time.Duration(i+1)*time.Millisecond, nil)
		call(clk, r.Op("slow<script>"), time.Duration(i+1)*100*time.Millisecond, nil, slog.String("q", "<b>x</b>"))
	}
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()

	res, err := http.Get(srv.URL + "?format=json")
	require.NoError(t, err)
	defer res.Body.Close()
	assert.Equal(t, "application/json", res.Header.Get("Content-Type"))
	var doc struct {
		Ops []struct {
			Op     string `json:"op"`
			Last1m struct {
				Count uint64 `json:"count"`
				P99   int64  `json:"p99_ns"`
			} `json:"last_1m"`
		} `json:"ops"`
		Recent []struct {
			ID    uint64         `json:"id"`
			Op    string         `json:"op"`
			Attrs map[string]any `json:"attrs"`
		} `json:"recent"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&doc))
	require.Len(t, doc.Ops, 2)
	assert.Equal(t, "slow<script>", doc.Ops[0].Op, "slowest first")
	assert.Equal(t, uint64(10), doc.Ops[0].Last1m.Count)
	assert.Equal(t, int64(time.Second), doc.Ops[0].Last1m.P99)
	require.Len(t, doc.Recent, 10, "calls at the threshold are slow")
	assert.Equal(t, uint64(10), doc.Recent[0].ID)
	assert.Equal(t, "<b>x</b>", doc.Recent[0].Attrs["q"])

	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Accept", "application/json")
	res2, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res2.Body.Close()
	assert.Equal(t, "application/json", res2.Header.Get("Content-Type"))

	res3, err := http.Get(srv.URL)
	require.NoError(t, err)
	defer res3.Body.Close()
	assert.Equal(t, "text/html; charset=utf-8", res3.Header.Get("Content-Type"))
	body, err := io.ReadAll(res3.Body)
	require.NoError(t, err)
	html := string(body)
	assert.Contains(t, html, "slow&lt;script&gt;", "names are escaped")
	assert.NotContains(t, html, "<script>")
	assert.Contains(t, html, "q=&lt;b&gt;x&lt;/b&gt;")
	assert.Less(t, strings.Index(html, "slow&lt;script&gt;"), strings.Index(html, ">fast<"), "slowest first")
	assert.Contains(t, html, "1.000s")
}

func TestDo(t *testing.T) {
	t.Parallel()
	r, clk, cp := newTestRecorder(t, Options{Threshold: 10 * time.Millisecond})
	op := r.Op("sql.getUser")
	v, err := Do(context.Background(), op, func(context.Context) (int, error) {
		clk.Advance(20 * time.Millisecond)
		return 7, nil
	}, slog.String("query", "SELECT 1"))
	require.NoError(t, err)
	assert.Equal(t, 7, v)
	_, err = Do(context.Background(), op, func(context.Context) (int, error) { return 0, sql.ErrNoRows })
	require.ErrorIs(t, err, sql.ErrNoRows)
	err = Exec(context.Background(), op, func(context.Context) error { return errBoom })
	require.ErrorIs(t, err, errBoom)
	assert.Panics(t, func() {
		_ = Exec(context.Background(), op, func(context.Context) error { panic("x") })
	})
	s := op.Stats()
	assert.Equal(t, uint64(4), s.Total.Count)
	assert.Equal(t, uint64(2), s.Total.Errors, "ErrNoRows is not an error; the panic is")
	lines := cp.lines("slow operation")
	require.Len(t, lines, 1)
	assert.Equal(t, "SELECT 1", lines[0]["query"].String())

	assert.PanicsWithValue(t, "slow panic", func() {
		_, _ = Do(context.Background(), op, func(context.Context) (int, error) {
			clk.Advance(20 * time.Millisecond)
			panic("slow panic")
		})
	}, "the panic is re-raised with its value")
	lines = cp.lines("slow operation")
	require.Len(t, lines, 2)
	assert.Equal(t, ErrPanicked.Error(), lines[1]["error"].String(), "a panic is recorded as ErrPanicked")
	assert.Equal(t, uint64(3), op.Stats().Total.Errors)
}

func TestRedisHook(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	client := srv.Client(t)
	cp := &capture{}
	r, err := New(&Options{Threshold: time.Nanosecond, Logger: slog.New(cp), LogBurst: 1000})
	require.NoError(t, err)
	defer r.Close()
	client.AddHook(NewRedisHook(r, ""))
	ctx := context.Background()
	key := srv.Key("k")
	require.NoError(t, client.Set(ctx, key, strings.Repeat("v", 300), time.Minute).Err())
	require.NoError(t, client.Get(ctx, key).Err())
	require.ErrorIs(t, client.Get(ctx, srv.Key("missing")).Err(), redis.Nil)
	require.Error(t, client.Do(ctx, "NOSUCHCOMMAND").Err())
	cmds, err := client.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Incr(ctx, srv.Key("n"))
		p.Incr(ctx, srv.Key("n"))
		p.Expire(ctx, srv.Key("n"), time.Minute)
		return nil
	})
	require.NoError(t, err)
	require.Len(t, cmds, 3)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				assert.NoError(t, client.Incr(ctx, srv.Key("c")).Err())
			}
		})
	}
	wg.Wait()

	snap := r.Snapshot()
	get, ok := snap.Op("redis.get")
	require.True(t, ok, "%+v", snap.Ops)
	assert.Equal(t, uint64(2), get.Total.Count)
	assert.Zero(t, get.Total.Errors, "redis.Nil is not an error")
	bad, ok := snap.Op("redis.nosuchcommand")
	require.True(t, ok)
	assert.Equal(t, uint64(1), bad.Total.Errors)
	pipe, ok := snap.Op("redis.pipeline")
	require.True(t, ok)
	assert.GreaterOrEqual(t, pipe.Total.Count, uint64(1), "connection set-up pipelines count too")
	incr, ok := snap.Op("redis.incr")
	require.True(t, ok)
	assert.Equal(t, uint64(400), incr.Total.Count)
	assert.Positive(t, incr.Total.P50)

	var setLine, pipeLine map[string]slog.Value
	for _, l := range cp.lines("slow operation") {
		switch l["op"].String() {
		case "redis.set":
			setLine = l
		case "redis.pipeline":
			if strings.Contains(l["args"].String(), "incr") {
				pipeLine = l
			}
		}
	}
	require.NotNil(t, setLine)
	assert.Contains(t, setLine["args"].String(), "... (172 more bytes)", "values are capped as in SLOWLOG")
	require.NotNil(t, pipeLine)
	assert.Equal(t, int64(3), pipeLine["commands"].Int64())
	assert.Contains(t, pipeLine["args"].String(), "incr "+srv.Key("n"))

	dial, ok := snap.Op("redis.dial")
	require.True(t, ok)
	assert.GreaterOrEqual(t, dial.Total.Count, uint64(1), "new connections are timed")
	assert.Zero(t, dial.Total.Errors)
}

func TestRedisArgsNeverShowCredentials(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "auth ... (2 arguments not logged)", formatArgs([]any{"auth", "user", "s3cret"}))
	assert.Equal(t, "HELLO ... (4 arguments not logged)", formatArgs([]any{"HELLO", 3, "AUTH", "u", "p"}))
	assert.Equal(t, "config ... (3 arguments not logged)", formatArgs([]any{"config", "set", "requirepass", "x"}))
	assert.Equal(t, "get k", formatArgs([]any{"get", "k"}))
	assert.Equal(t, "set k [1 2] 3", formatArgs([]any{"set", []byte("k"), []int{1, 2}, 3}))
	many := make([]any, 40)
	for i := range many {
		many[i] = "a"
	}
	assert.True(t, strings.HasSuffix(formatArgs(many), "a ... (8 more arguments)"))

	srv := redistest.Start(t)
	cp := &capture{}
	r, err := New(&Options{Threshold: time.Nanosecond, Logger: slog.New(cp), LogBurst: 1000})
	require.NoError(t, err)
	defer r.Close()
	client := srv.Client(t)
	client.AddHook(NewRedisHook(r, "r."))
	ctx := context.Background()
	_ = client.Do(ctx, "AUTH", "nobody", "hunter2").Err() // fails: no such user; must not be logged
	require.NoError(t, client.Ping(ctx).Err())
	for _, l := range cp.lines("slow operation") {
		assert.NotContains(t, l["args"].String(), "hunter2")
	}
	_, ok := r.Snapshot().Op("r.auth")
	assert.True(t, ok, "custom prefix")
}

func TestHandlerHistogramsMergeAcrossInstances(t *testing.T) {
	t.Parallel()
	var snaps []Snapshot
	for k := range 3 {
		r, clk, _ := newTestRecorder(t, Options{})
		for i := range 100 {
			call(clk, r.Op("checkout"), time.Duration(100*k+i+1)*time.Millisecond, nil)
		}
		srv := httptest.NewServer(r.Handler())
		res, err := http.Get(srv.URL + "?format=json&histograms=1")
		require.NoError(t, err)
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		res.Body.Close()
		s, err := DecodeSnapshot(body)
		require.NoError(t, err)
		srv.Close()
		snaps = append(snaps, s)
	}
	m := snaps[0].Merge(snaps[1]).Merge(snaps[2])
	s, ok := m.Op("checkout")
	require.True(t, ok)
	assert.Equal(t, uint64(300), s.Total.Count)
	assert.InEpsilon(t, float64(150*time.Millisecond), float64(s.Total.P50), 0.01)
	assert.InEpsilon(t, float64(297*time.Millisecond), float64(s.Total.P99), 0.01)
	assert.Equal(t, 300*time.Millisecond, s.Total.Max)

	r, _, _ := newTestRecorder(t, Options{})
	r.Op("x").Observe(context.Background(), time.Millisecond, nil)
	w := httptest.NewRecorder()
	r.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/?format=json", nil))
	assert.NotContains(t, w.Body.String(), `"histogram"`, "histograms only on request")
}

func TestDecodeSnapshot(t *testing.T) {
	t.Parallel()
	h := histOf([]uint64{1000, 2000, 3000})
	hj, err := json.Marshal(h)
	require.NoError(t, err)
	good := `{"time":"2026-01-01T00:00:00Z","ops":[{"op":"b","total":{"count":999,"errors":7,"histogram":` + string(hj) + `}},{"op":"a"}],"recent":[]}`
	s, err := DecodeSnapshot([]byte(good))
	require.NoError(t, err)
	require.Len(t, s.Ops, 2)
	assert.Equal(t, "a", s.Ops[0].Op, "sorted by name")
	b := s.Ops[1]
	assert.Equal(t, uint64(3), b.Total.Count, "recomputed from the histogram, not the claimed count")
	assert.Equal(t, uint64(3), b.Total.Errors, "errors capped at the count")
	assert.Equal(t, 3*time.Microsecond, b.Total.Max)
	assert.Zero(t, b.Last1m.Count)

	for _, bad := range []string{
		`nope`,
		`{"ops":[{"op":"a","in_flight":-1}]}`,
		`{"ops":[{"op":"a"},{"op":"a"}]}`,
		`{"ops":[{"op":"a","total":{"histogram":{"max_ns":1,"buckets":[[9999,1]]}}}]}`,
	} {
		_, err := DecodeSnapshot([]byte(bad))
		require.ErrorIs(t, err, ErrInvalidSnapshot, bad)
	}
	_, err = DecodeSnapshot([]byte(`{"ops":[{"op":"a","total":{"histogram":{"max_ns":1,"buckets":[[9999,1]]}}}]}`))
	require.ErrorIs(t, err, ErrInvalidHistogram)
}

func FuzzDecodeSnapshot(f *testing.F) {
	h, _ := json.Marshal(histOf([]uint64{1000, 2000, 3000}))
	f.Add([]byte(`{"time":"2026-01-01T00:00:00Z","ops":[{"op":"b","total":{"count":3,"errors":1,"histogram":` + string(h) + `}}]}`))
	f.Add([]byte(`{"ops":[{"op":"a"},{"op":"b","last_1m":{"histogram":{"max_ns":5,"buckets":[[5,2]]}}}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeSnapshot(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidSnapshot) {
				t.Fatalf("error does not wrap ErrInvalidSnapshot: %v", err)
			}
			return
		}
		m := s.Merge(s)
		if len(m.Ops) != len(s.Ops) {
			t.Fatalf("merging a snapshot with itself changed the ops: %d → %d", len(s.Ops), len(m.Ops))
		}
		for i, o := range s.Ops {
			if o.Total.Errors > o.Total.Count || o.Last1m.P99 > o.Last1m.Max {
				t.Fatalf("inconsistent stats: %+v", o)
			}
			if o.Total.Count < 1<<62 && m.Ops[i].Total.Count != 2*o.Total.Count {
				t.Fatalf("merge count %d, want %d", m.Ops[i].Total.Count, 2*o.Total.Count)
			}
		}
	})
}

func TestHandlerJSONSurvivesOddAttrs(t *testing.T) {
	t.Parallel()
	r, _, _ := newTestRecorder(t, Options{Threshold: time.Millisecond})
	far := time.Date(12345, 1, 2, 3, 4, 5, 0, time.UTC)
	r.Op("odd").Observe(context.Background(), time.Second, nil,
		slog.Float64("nan", math.NaN()), slog.Float64("inf", math.Inf(-1)), slog.Float64("half", 0.5),
		slog.Time("far", far), slog.Time("near", time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)))
	for _, q := range []string{"/?format=json", "/?format=json&histograms=1"} {
		w := httptest.NewRecorder()
		r.Handler().ServeHTTP(w, httptest.NewRequest("GET", q, nil))
		require.Equal(t, http.StatusOK, w.Code, q)
		var doc struct {
			Recent []struct {
				Attrs map[string]any `json:"attrs"`
			} `json:"recent"`
		}
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &doc), q)
		require.Len(t, doc.Recent, 1, q)
		assert.Equal(t, map[string]any{
			"nan": "NaN", "inf": "-Inf", "half": 0.5,
			"far": far.Format(time.RFC3339Nano), "near": "2026-01-02T03:04:05.000000006Z",
		}, doc.Recent[0].Attrs, q)
	}
}

func TestRedisHookPipelineErrors(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	// One connection, and no CLIENT SETINFO on connect: that set-up pipeline
	// fails on Redis < 7.2 (go-redis ignores it) and would count here.
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 1, DisableIdentity: true})
	defer client.Close()
	r, err := New(&Options{Threshold: time.Hour})
	require.NoError(t, err)
	defer r.Close()
	client.AddHook(NewRedisHook(r, "p."))
	ctx := context.Background()
	pipeErrors := func() (count, errs uint64) {
		s, _ := r.Snapshot().Op("p.pipeline")
		return s.Total.Count, s.Total.Errors
	}
	require.NoError(t, client.Ping(ctx).Err()) // connection set-up done
	c0, e0 := pipeErrors()

	_, err = client.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Get(ctx, srv.Key("missing"))
		p.Incr(ctx, srv.Key("n"))
		return nil
	})
	require.ErrorIs(t, err, redis.Nil, "go-redis returns the first command's error")
	c, e := pipeErrors()
	assert.Equal(t, c0+1, c)
	assert.Equal(t, e0, e, "redis.Nil inside a pipeline is not an error")

	_, err = client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Get(ctx, srv.Key("missing"))
		p.Incr(ctx, srv.Key("n"))
		return nil
	})
	require.ErrorIs(t, err, redis.Nil)
	c, e = pipeErrors()
	assert.Equal(t, c0+2, c, "a transaction is timed as one pipeline")
	assert.Equal(t, e0, e, "redis.Nil inside a transaction is not an error")

	_, err = client.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Get(ctx, srv.Key("missing"))
		p.Do(ctx, "NOSUCHCOMMAND")
		return nil
	})
	require.Error(t, err)
	c, e = pipeErrors()
	assert.Equal(t, c0+3, c)
	assert.Equal(t, e0+1, e, "a failed command after a redis.Nil makes the pipeline an error")
	_, ok := r.Snapshot().Op("p.get")
	assert.False(t, ok, "commands of a pipeline are not timed one by one")
}

func TestRedisHookCacheIsBounded(t *testing.T) {
	t.Parallel()
	r, _, _ := newTestRecorder(t, Options{MaxOps: 5})
	h := NewRedisHook(r, "")
	for i := range 100 {
		h.op(fmt.Sprint("cmd", i))
	}
	n := 0
	h.ops.Range(func(any, any) bool { n++; return true })
	assert.Equal(t, 3, n, "pipeline and dial take two of the five ops; the overflow op is not cached")
	assert.Equal(t, OverflowOp, h.op("cmd99").Name())
	assert.Equal(t, "redis.cmd0", h.op("CMD0").Name(), "command names are lower-cased")
}

// readerFromRecorder is an httptest.ResponseRecorder that also implements
// io.ReaderFrom, like net/http's own response writer.
type readerFromRecorder struct {
	*httptest.ResponseRecorder
	readFrom int
}

func (w *readerFromRecorder) ReadFrom(r io.Reader) (int64, error) {
	w.readFrom++
	return io.Copy(w.ResponseRecorder, r)
}

func TestMiddlewareKeepsReaderFrom(t *testing.T) {
	t.Parallel()
	r, _, _ := newTestRecorder(t, Options{})
	h := Middleware(r, func(*http.Request) string { return "file" })(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		rf, ok := w.(io.ReaderFrom)
		require.True(t, ok, "the wrapped writer still offers ReadFrom")
		n, err := rf.ReadFrom(strings.NewReader("hello"))
		require.NoError(t, err)
		assert.Equal(t, int64(5), n)
	}))
	w := &readerFromRecorder{ResponseRecorder: httptest.NewRecorder()}
	h.ServeHTTP(w, httptest.NewRequest("GET", "/f", nil))
	assert.Equal(t, 1, w.readFrom, "the underlying ReadFrom did the copy")
	assert.Equal(t, "hello", w.Body.String())
	assert.Equal(t, http.StatusOK, w.Code)
	plain := httptest.NewRecorder() // no ReadFrom underneath: a plain copy
	h.ServeHTTP(plain, httptest.NewRequest("GET", "/f", nil))
	assert.Equal(t, "hello", plain.Body.String())
	s, ok := r.Snapshot().Op("file")
	require.True(t, ok)
	assert.Equal(t, uint64(2), s.Total.Count)
	assert.Zero(t, s.Total.Errors)
}

func TestMiddlewareHijackAndUnwrap(t *testing.T) {
	t.Parallel()
	r, _, _ := newTestRecorder(t, Options{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, _ *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if !assert.NoError(t, err) {
			return
		}
		defer conn.Close()
		_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
		_ = buf.Flush()
	})
	mux.HandleFunc("GET /deadline", func(w http.ResponseWriter, _ *http.Request) {
		// SetWriteDeadline is not a method of the wrapper: only Unwrap reaches it
		assert.NoError(t, http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute)))
		_, _ = w.Write([]byte("ok"))
	})
	srv := httptest.NewServer(Middleware(r, nil)(mux))
	defer srv.Close()
	for path, want := range map[string]string{"/ws": "hi", "/deadline": "ok"} {
		res, err := http.Get(srv.URL + path)
		require.NoError(t, err, path)
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		require.NoError(t, err, path)
		assert.Equal(t, want, string(body), path)
	}
	snap := r.Snapshot()
	for _, op := range []string{"GET /ws", "GET /deadline"} {
		s, ok := snap.Op(op)
		require.True(t, ok, op)
		assert.Equal(t, uint64(1), s.Total.Count, op)
		assert.Zero(t, s.Total.Errors, op)
	}
}
