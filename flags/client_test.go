package flags

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// manualSource hands its Updater to the test, which then plays the source.
type manualSource struct{ ready chan Updater }

func newManual() *manualSource { return &manualSource{ready: make(chan Updater, 1)} }

func (m *manualSource) Watch(ctx context.Context, u Updater) {
	m.ready <- u
	<-ctx.Done()
}

const docV1 = `{"version": 1, "flags": {
	"a": {"type": "bool", "default": "true"},
	"b": {"type": "string", "variants": {"x": "X", "y": "Y"}, "default": "x"},
	"gone": {"type": "bool"}}}`

const docV2 = `{"version": 2, "flags": {
	"a": {"type": "bool", "default": "true"},
	"b": {"type": "string", "variants": {"x": "X", "y": "Y"}, "default": "y"},
	"new": {"type": "int", "variants": {"n": 1}, "default": "n"}}}`

func TestClientLifecycle(t *testing.T) {
	ctx := context.Background()
	src := newManual()
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	c, err := New(ctx, src, &Options{Now: clock.Now, InitTimeout: -1})
	require.NoError(t, err)
	defer c.Close()
	u := <-src.ready

	// Before any document: callers' defaults, with a distinct reason.
	st := c.Status()
	assert.Equal(t, StateInitializing, st.State)
	v, d := c.BoolDetail(ctx, "a", Subject{}, false)
	assert.False(t, v)
	assert.Equal(t, Detail{Reason: ReasonUnavailable, Err: ErrUnavailable}, d)
	started := st.Since
	assert.Equal(t, clock.t, started)
	clock.t = clock.t.Add(time.Second)
	u.Unavailable(errors.New("down"))
	assert.Equal(t, StateInitializing, c.Status().State, "no document yet: still initializing")
	assert.Equal(t, started, c.Status().Since, "initializing since New")
	assert.Nil(t, c.Document())

	// Listeners run outside the client's locks: they may read the client,
	// which already serves the new document.
	var events []ChangeEvent
	var seen []Status
	stop := c.OnChange(func(ev ChangeEvent) {
		events = append(events, ev)
		seen = append(seen, c.Status())
		_ = c.Counts()
		require.NotNil(t, c.Document())
		assert.Equal(t, ev.Version, c.Document().Version())
	})

	clock.t = clock.t.Add(time.Minute)
	require.NoError(t, u.Apply([]byte(docV1)))
	st = c.Status()
	assert.Equal(t, Status{State: StateOK, Since: clock.t, Version: 1, Origin: "source", Updated: clock.t}, st)
	assert.True(t, c.Bool(ctx, "a", Subject{}, false))
	require.Len(t, events, 1)
	assert.Equal(t, int64(1), events[0].Version)
	assert.Equal(t, st, seen[0])
	var kinds []string
	for _, ch := range events[0].Changes {
		kinds = append(kinds, ch.Key+":"+string(ch.Kind))
	}
	assert.Equal(t, []string{"a:added", "b:added", "gone:added"}, kinds)

	// A bad document is rejected whole: the old one stays, status is stale.
	clock.t = clock.t.Add(time.Minute)
	err = u.Apply([]byte(`{"version": 9, "flags": {"a": {"type": "bool", "default": "true"}, "b": {"type": "nope"}}}`))
	require.ErrorIs(t, err, ErrInvalidDocument)
	st = c.Status()
	assert.Equal(t, StateStale, st.State)
	assert.Equal(t, clock.t, st.Since)
	assert.ErrorIs(t, st.Err, ErrInvalidDocument)
	assert.Equal(t, int64(1), st.Version)
	assert.Equal(t, "X", c.String(ctx, "b", Subject{}, ""))
	assert.Len(t, events, 1, "no change event for a rejected document")

	// A good one replaces it, with a per-flag diff.
	clock.t = clock.t.Add(time.Minute)
	require.NoError(t, u.Apply([]byte(docV2)))
	assert.Equal(t, "Y", c.String(ctx, "b", Subject{}, ""))
	assert.Equal(t, StateOK, c.Status().State)
	require.Len(t, events, 2)
	ev := events[1]
	assert.Equal(t, int64(1), ev.OldVersion)
	assert.Equal(t, int64(2), ev.Version)
	assert.Equal(t, clock.t, ev.Time)
	require.Len(t, ev.Changes, 3)
	assert.Equal(t, FlagChange{Key: "b", Kind: FlagUpdated,
		Old: json.RawMessage(`{"default":"x","type":"string","variants":{"x":"X","y":"Y"}}`),
		New: json.RawMessage(`{"default":"y","type":"string","variants":{"x":"X","y":"Y"}}`)}, ev.Changes[0])
	assert.Equal(t, "gone", ev.Changes[1].Key)
	assert.Equal(t, FlagRemoved, ev.Changes[1].Kind)
	assert.Nil(t, ev.Changes[1].New)
	assert.Equal(t, "new", ev.Changes[2].Key)
	assert.Equal(t, FlagAdded, ev.Changes[2].Kind)

	// Same document again: no event. Unavailable: stale, still serving.
	require.NoError(t, u.Apply([]byte(docV2)))
	assert.Len(t, events, 2)
	clock.t = clock.t.Add(time.Minute)
	u.Unavailable(errors.New("connection refused"))
	st = c.Status()
	assert.Equal(t, StateStale, st.State)
	assert.Equal(t, clock.t, st.Since)
	staleSince := clock.t
	assert.Equal(t, int64(1), c.Int(ctx, "new", Subject{}, 0))
	clock.t = clock.t.Add(time.Minute)
	u.Unavailable(errors.New("timeout"))
	st = c.Status()
	assert.Equal(t, StateStale, st.State)
	assert.Equal(t, staleSince, st.Since, "still stale since the first failure")
	assert.EqualError(t, st.Err, "timeout", "the latest error")
	clock.t = clock.t.Add(time.Minute)
	u.Unchanged()
	st = c.Status()
	assert.Equal(t, StateOK, st.State)
	assert.Equal(t, clock.t, st.Since, "ok since the recovery")
	assert.NoError(t, st.Err)
	clock.t = clock.t.Add(time.Minute)
	u.Unchanged()
	assert.Equal(t, st, c.Status(), "still ok since the recovery")

	stop()
	require.NoError(t, u.Apply([]byte(docV1)))
	assert.Len(t, events, 2, "unregistered listener is not called")

	require.NoError(t, c.Close())
	require.NoError(t, c.Close(), "Close is idempotent")
	assert.True(t, c.Bool(ctx, "a", Subject{}, false), "evaluation works after Close")
}

func TestNewNilSource(t *testing.T) {
	_, err := New(context.Background(), nil, nil)
	assert.Error(t, err)
}

func TestNewWaitsForFirstDocumentBoundedByContext(t *testing.T) {
	src := newManual()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c, err := New(ctx, src, nil)
	require.NoError(t, err, "a source that never answers does not fail New")
	defer c.Close()
	assert.Equal(t, StateInitializing, c.Status().State)
}

func TestCounts(t *testing.T) {
	ctx := context.Background()
	src := newManual()
	c, err := New(ctx, src, &Options{InitTimeout: -1})
	require.NoError(t, err)
	defer c.Close()
	u := <-src.ready
	c.Bool(ctx, "a", Subject{}, false) // unavailable
	require.NoError(t, u.Apply([]byte(docV1)))
	for range 3 {
		c.Bool(ctx, "a", Subject{}, false)
	}
	c.String(ctx, "b", Subject{}, "")
	c.Bool(ctx, "b", Subject{}, false)   // wrong type
	c.Bool(ctx, "zzz", Subject{}, false) // missing
	require.NoError(t, u.Apply([]byte(docV2)))
	c.String(ctx, "b", Subject{}, "")
	got := c.Counts()
	assert.Equal(t, uint64(1), got.Unavailable)
	assert.Equal(t, uint64(1), got.WrongType)
	assert.Equal(t, uint64(1), got.Missing)
	want := map[string]uint64{"a/true": 3, "a/false": 0, "b/x": 1, "b/y": 1, "gone/false": 0, "gone/true": 0, "new/n": 0}
	gotm := map[string]uint64{}
	for _, ct := range got.Variants {
		gotm[ct.Flag+"/"+ct.Variant] = ct.N
	}
	assert.Equal(t, want, gotm, "counts survive document changes")
}

// TestConcurrentEvaluationAndUpdates runs many evaluating goroutines while
// documents are swapped: every evaluation sees one whole document (flag "b"
// and its prerequisite "p" always come from the same version), versions
// never go backwards for one reader, and the counters add up.
func TestConcurrentEvaluationAndUpdates(t *testing.T) {
	ctx := context.Background()
	src := newManual()
	c, err := New(ctx, src, &Options{InitTimeout: -1})
	require.NoError(t, err)
	defer c.Close()
	u := <-src.ready
	// Version v: "p" is on iff v is even; "b" serves v when "p" holds and
	// -v (its off variant) when not. A b from one version and a p from
	// another would give an even -v or an odd v.
	doc := func(v int) string {
		return fmt.Sprintf(`{"version": %d, "flags": {"p": {"type": "bool", "default": "true", "on": %t},
			"b": {"type": "int", "variants": {"v": %d, "off": %d}, "default": "v", "offVariant": "off", "prerequisites": [{"flag": "p"}]}}}`,
			v, v%2 == 0, v, -v)
	}
	require.NoError(t, u.Apply([]byte(doc(1))))
	const workers, evals = 8, 2000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			last := int64(0)
			for i := range evals {
				v := c.Int(ctx, "b", Subject{Key: fmt.Sprint(w, i)}, 0)
				if !assert.NotZero(t, v, "no document served") {
					return
				}
				abs := max(v, -v)
				if v > 0 != (abs%2 == 0) {
					assert.Failf(t, "torn evaluation", "b = %d", v)
				}
				assert.GreaterOrEqual(t, abs, last, "versions never go backwards for one reader")
				last = abs
			}
		})
	}
	for v := 2; v <= 50; v++ {
		require.NoError(t, u.Apply([]byte(doc(v))))
	}
	wg.Wait()
	var total uint64
	for _, ct := range c.Counts().Variants {
		total += ct.N
	}
	assert.Equal(t, uint64(workers*evals), total)
}

func TestHandler(t *testing.T) {
	src := newManual()
	c, err := New(context.Background(), src, &Options{InitTimeout: -1})
	require.NoError(t, err)
	defer c.Close()
	u := <-src.ready
	h := c.Handler()

	get := func(method string) (*httptest.ResponseRecorder, map[string]json.RawMessage) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, "/flags", nil))
		var body map[string]json.RawMessage
		if rec.Code == http.StatusOK && method == http.MethodGet {
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
		}
		return rec, body
	}
	rec, body := get(http.MethodGet)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "null", string(body["document"]))
	assert.Contains(t, string(body["status"]), `"state":"initializing"`)

	require.NoError(t, u.Apply([]byte(docV1)))
	rec, body = get(http.MethodGet)
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.JSONEq(t, docV1, string(body["document"]))
	var st map[string]any
	require.NoError(t, json.Unmarshal(body["status"], &st))
	assert.Equal(t, "ok", st["state"])
	assert.Equal(t, 1.0, st["version"])
	c.Bool(context.Background(), "a", Subject{}, false)
	assert.Contains(t, string(body["counts"]), `"variants":[`)
	_, body = get(http.MethodGet)
	assert.Contains(t, string(body["counts"]), `{"flag":"a","variant":"true","n":1}`)

	_ = u.Apply([]byte(`{"flags": 1}`))
	_, body = get(http.MethodGet)
	require.NoError(t, json.Unmarshal(body["status"], &st))
	assert.Equal(t, "stale", st["state"])
	assert.Contains(t, st["error"], "$.flags: must be an object")

	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		rec, _ := get(m)
		assert.Equal(t, http.StatusMethodNotAllowed, rec.Code, m)
	}
	rec, _ = get(http.MethodHead)
	assert.Equal(t, http.StatusOK, rec.Code)
}

func TestLastGoodFileWrittenAndUsed(t *testing.T) {
	ctx := context.Background()
	lg := filepath.Join(t.TempDir(), "flags.lastgood.json")

	src := newManual()
	c, err := New(ctx, src, &Options{LastGoodPath: lg, InitTimeout: -1})
	require.NoError(t, err)
	u := <-src.ready
	require.NoError(t, u.Apply([]byte(docV2)))
	// Rejected documents are never persisted.
	require.ErrorIs(t, u.Apply([]byte(`{"broken`)), ErrInvalidDocument)
	require.ErrorIs(t, u.Apply([]byte(`{"flags": {"a": {"type": "nope"}}}`)), ErrInvalidDocument)
	require.NoError(t, c.Close())
	data, err := os.ReadFile(lg)
	require.NoError(t, err)
	assert.Equal(t, docV2, string(data))
	entries, err := os.ReadDir(filepath.Dir(lg))
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file is left behind")
	assert.Equal(t, filepath.Base(lg), entries[0].Name())

	// A new client whose source is down starts from the file.
	down := SourceFunc(func(ctx context.Context, u Updater) {
		u.Unavailable(errors.New("down"))
		<-ctx.Done()
	})
	c2, err := New(ctx, down, &Options{LastGoodPath: lg})
	require.NoError(t, err)
	defer c2.Close()
	st := c2.Status()
	assert.Equal(t, StateStale, st.State)
	assert.EqualError(t, st.Err, "down", "the status keeps the source's error")
	assert.Equal(t, "last-good file", st.Origin)
	assert.Equal(t, int64(2), st.Version)
	assert.Equal(t, "Y", c2.String(ctx, "b", Subject{}, ""))

	// A corrupt or missing last-good file is ignored.
	require.NoError(t, os.WriteFile(lg, []byte(`{"flags"`), 0o644))
	c3, err := New(ctx, down, &Options{LastGoodPath: lg})
	require.NoError(t, err)
	defer c3.Close()
	assert.Equal(t, StateInitializing, c3.Status().State)
	_, d := c3.StringDetail(ctx, "b", Subject{}, "")
	assert.Equal(t, ReasonUnavailable, d.Reason)
}

func TestLoggerReportsChangesOnce(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	src := newManual()
	c, err := New(context.Background(), src, &Options{Logger: logger, InitTimeout: -1})
	require.NoError(t, err)
	defer c.Close()
	u := <-src.ready
	require.NoError(t, u.Apply([]byte(docV1)))
	for range 5 {
		u.Unavailable(errors.New("connection refused"))
	}
	for range 3 {
		_ = u.Apply([]byte(`{"flags": 1}`))
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 1, strings.Count(buf.String(), "source unavailable"), buf.String())
	assert.Equal(t, 1, strings.Count(buf.String(), "document rejected"), buf.String())
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestLastGoodNeverOverridesTheSource forces both orders of the race
// between the source's first document and the last-good file.
func TestLastGoodNeverOverridesTheSource(t *testing.T) {
	ctx := context.Background()
	lg := filepath.Join(t.TempDir(), "lastgood.json")
	require.NoError(t, os.WriteFile(lg, []byte(docV2), 0o644))

	t.Run("source first", func(t *testing.T) {
		src := SourceFunc(func(ctx context.Context, u Updater) {
			_ = u.Apply([]byte(docV1))
			<-ctx.Done()
		})
		c, err := New(ctx, src, &Options{LastGoodPath: filepath.Join(t.TempDir(), "lg.json")})
		require.NoError(t, err)
		defer c.Close()
		assert.Equal(t, "source", c.Status().Origin)
		assert.Equal(t, "X", c.String(ctx, "b", Subject{}, ""))
	})
	t.Run("file first, then the source", func(t *testing.T) {
		src := newManual()
		c, err := New(ctx, src, &Options{LastGoodPath: lg, InitTimeout: -1})
		require.NoError(t, err)
		defer c.Close()
		assert.Equal(t, "last-good file", c.Status().Origin)
		assert.Equal(t, "Y", c.String(ctx, "b", Subject{}, ""))
		u := <-src.ready
		require.NoError(t, u.Apply([]byte(docV1)))
		st := c.Status()
		assert.Equal(t, "source", st.Origin)
		assert.Equal(t, StateOK, st.State)
		assert.Equal(t, "X", c.String(ctx, "b", Subject{}, ""))
		data, err := os.ReadFile(lg)
		require.NoError(t, err)
		assert.Equal(t, docV1, string(data), "the file follows the source")
	})
	t.Run("static nil document", func(t *testing.T) {
		c, err := New(ctx, Static(nil), &Options{InitTimeout: -1})
		require.NoError(t, err)
		defer c.Close()
		_, d := c.BoolDetail(ctx, "a", Subject{}, false)
		assert.Equal(t, ReasonUnavailable, d.Reason)
	})
}
