package slowlog

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// StatusError is the error recorded for an HTTP response with a status of
// 500 or more.
type StatusError struct {
	Code int
}

// Error returns "slowlog: HTTP status N".
func (e *StatusError) Error() string {
	return "slowlog: HTTP status " + strconv.Itoa(e.Code)
}

// Middleware times every request of the wrapped handler under the op that
// route names, counting responses with status ≥ 500 (and panics, which it
// re-raises) as errors. route must return a low-cardinality name (a route,
// never the raw path). It is called before the handler: a name known then
// makes the request visible to the watchdog while it runs. If it returns
// "", it is called again after the handler, when [http.ServeMux] has set
// r.Pattern; if that is "" too, the op is "unmatched". A nil route uses
// r.Pattern.
//
// Slow requests are logged with method, path and status attributes.
func Middleware(rec *Recorder, route func(*http.Request) string) func(http.Handler) http.Handler {
	if route == nil {
		route = func(r *http.Request) string { return r.Pattern }
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var t Timer
			start := int64(0)
			if name := route(r); name != "" {
				t = rec.Op(name).Start(r.Context())
			} else {
				start = rec.since()
			}
			sw := &statusWriter{ResponseWriter: w}
			panicked := true
			defer func() {
				status := sw.status
				if status == 0 {
					status = http.StatusOK
				}
				var err error
				switch {
				case panicked:
					err = ErrPanicked
					status = http.StatusInternalServerError
				case status >= 500:
					err = &StatusError{Code: status}
				}
				attrs := [...]slog.Attr{
					slog.String("method", r.Method),
					slog.String("path", r.URL.Path),
					slog.Int("status", status),
				}
				if t.op != nil {
					t.End(err, attrs[:]...)
					return
				}
				name := route(r)
				if name == "" {
					name = "unmatched"
				}
				rec.Op(name).Observe(r.Context(), time.Duration(rec.since()-start), err, attrs[:]...)
			}()
			next.ServeHTTP(sw, r)
			panicked = false
		})
	}
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

// WriteHeader records the first final status.
func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write implies status 200 if none was written.
func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// ReadFrom keeps the underlying writer's io.ReaderFrom (sendfile for
// http.ServeContent and http.FileServer) working through the middleware.
func (w *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(w.ResponseWriter, r)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush supports streaming handlers that assert http.Flusher.
func (w *statusWriter) Flush() {
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack supports handlers that assert http.Hijacker (websockets).
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// handlerData is the JSON document served by [Recorder.Handler].
type handlerData struct {
	Snapshot
	Recent []entryJSON `json:"recent"`
}

// handlerWire is handlerData with histograms.
type handlerWire struct {
	snapshotWire
	Recent []entryJSON `json:"recent"`
}

type entryJSON struct {
	Entry
	Attrs map[string]any `json:"attrs,omitempty"`
}

func entriesJSON(es []Entry) []entryJSON {
	out := make([]entryJSON, len(es))
	for i, e := range es {
		out[i].Entry = e
		if len(e.Attrs) > 0 {
			out[i].Attrs = make(map[string]any, len(e.Attrs))
			for _, a := range e.Attrs {
				out[i].Attrs[a.Key] = attrJSON(a.Value)
			}
		}
	}
	return out
}

// attrJSON returns the JSON form of an attribute value. Values JSON cannot
// hold (NaN, ±Inf, times outside years 0–9999) become strings, so that one
// attribute cannot break the whole document.
func attrJSON(v slog.Value) any {
	switch v.Kind() {
	case slog.KindDuration:
		return v.Duration().String()
	case slog.KindTime:
		return v.Time().Format(time.RFC3339Nano)
	case slog.KindFloat64:
		if f := v.Float64(); math.IsNaN(f) || math.IsInf(f, 0) {
			return v.String()
		}
		return v.Float64()
	case slog.KindInt64, slog.KindUint64, slog.KindBool, slog.KindString:
		return v.Any()
	}
	return v.String()
}

// Handler serves the snapshot and the recent slow calls: JSON when the
// request asks for it (?format=json or an Accept header naming
// application/json), otherwise an HTML page with one table row per op,
// slowest first (by p99 over the last five minutes, then since start). With
// ?histograms=1 the JSON includes every window's [Histogram], so that a
// collector can read the snapshots of several instances with
// [DecodeSnapshot] and [Snapshot.Merge] them exactly. Mount
// it on an internal port or behind authentication: op names and attributes
// may be sensitive.
func (r *Recorder) Handler() http.Handler {
	page := parsePage()
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		data := handlerData{Snapshot: r.Snapshot(), Recent: entriesJSON(r.Recent(-1))}
		slices.SortStableFunc(data.Ops, func(a, b OpStats) int {
			return cmp.Or(cmp.Compare(b.Last5m.P99, a.Last5m.P99), cmp.Compare(b.Total.P99, a.Total.P99), strings.Compare(a.Op, b.Op))
		})
		w.Header().Set("Cache-Control", "no-store")
		q := req.URL.Query()
		if q.Get("format") == "json" || strings.Contains(req.Header.Get("Accept"), "application/json") {
			var doc any = data
			if q.Get("histograms") == "1" {
				doc = handlerWire{snapshotWire: wireOf(data.Snapshot), Recent: data.Recent}
			}
			body, err := json.MarshalIndent(doc, "", "  ")
			if err != nil { // only a custom clock outside years 0–9999 gets here
				http.Error(w, "slowlog: "+err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(append(body, '\n'))
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = page.Execute(w, data)
	})
}

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "–"
	case d < time.Microsecond:
		return d.String()
	case d < time.Millisecond:
		return fmt.Sprintf("%.1fµs", float64(d)/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.3fs", d.Seconds())
}

func fmtAttrs(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%v", k, m[k])
	}
	return b.String()
}

func parsePage() *template.Template {
	return template.Must(template.New("slowlog").Funcs(template.FuncMap{
		"dur":   fmtDur,
		"attrs": fmtAttrs,
		"pct":   func(f float64) string { return fmt.Sprintf("%.2f%%", 100*f) },
	}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>slow operations</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5em}
table{border-collapse:collapse;margin-bottom:2em}
th,td{padding:.25em .6em;border-bottom:1px solid #ddd;text-align:right;white-space:nowrap}
th{background:#f4f4f4}
td.l,th.l{text-align:left}
tr.err td{color:#a00}
</style></head><body>
<h1>Slow operations</h1>
<p>As of {{.Time.Format "2006-01-02 15:04:05 MST"}}; slowest first (p99 over the last 5 min, then since start). <a href="?format=json">JSON</a></p>
<table>
<tr><th class="l" rowspan="2">op</th><th rowspan="2">in flight</th><th colspan="4">last 1 min</th><th colspan="5">last 5 min</th><th colspan="8">since start</th></tr>
<tr><th>count</th><th>p50</th><th>p99</th><th>max</th>
<th>count</th><th>errors</th><th>p50</th><th>p99</th><th>max</th>
<th>count</th><th>errors</th><th>error rate</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr>
{{range .Ops}}<tr>
<td class="l">{{.Op}}</td><td>{{.InFlight}}</td>
<td>{{.Last1m.Count}}</td><td>{{dur .Last1m.P50}}</td><td>{{dur .Last1m.P99}}</td><td>{{dur .Last1m.Max}}</td>
<td>{{.Last5m.Count}}</td><td>{{.Last5m.Errors}}</td><td>{{dur .Last5m.P50}}</td><td>{{dur .Last5m.P99}}</td><td>{{dur .Last5m.Max}}</td>
<td>{{.Total.Count}}</td><td>{{.Total.Errors}}</td><td>{{pct .Total.ErrorRate}}</td><td>{{dur .Total.P50}}</td><td>{{dur .Total.P90}}</td><td>{{dur .Total.P99}}</td><td>{{dur .Total.P999}}</td><td>{{dur .Total.Max}}</td>
</tr>
{{else}}<tr><td class="l" colspan="19">no operations recorded yet</td></tr>
{{end}}</table>
<h2>Recent slow calls</h2>
<table>
<tr><th>id</th><th class="l">time</th><th class="l">op</th><th>duration</th><th>threshold</th><th class="l">error</th><th class="l">attributes</th></tr>
{{range .Recent}}<tr{{if .Err}} class="err"{{end}}>
<td>{{.ID}}</td><td class="l">{{.Time.Format "15:04:05.000"}}</td><td class="l">{{.Op}}{{if .Running}} (still running){{end}}</td>
<td>{{dur .Duration}}</td><td>{{dur .Threshold}}</td><td class="l">{{.Err}}</td><td class="l">{{attrs .Attrs}}</td>
</tr>
{{else}}<tr><td class="l" colspan="7">none</td></tr>
{{end}}</table>
</body></html>
`))
}
