package main

import (
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// gzipMinSize is the smallest body worth compressing; smaller bodies go out
// as they are.
const gzipMinSize = 512

// withGzip compresses responses for clients that accept gzip. Bodies are
// buffered up to gzipMinSize to decide; a handler that sets Content-Encoding
// itself is left alone.
func withGzip(next http.Handler) http.Handler {
	pool := &sync.Pool{New: func() any {
		w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
		return w
	}}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Accept-Encoding")
		if r.Method == http.MethodHead || !acceptsGzip(r.Header.Get("Accept-Encoding")) {
			next.ServeHTTP(w, r)
			return
		}
		gw := &gzipWriter{ResponseWriter: w, pool: pool}
		defer gw.finish()
		next.ServeHTTP(gw, r)
	})
}

// acceptsGzip reports whether an Accept-Encoding value allows gzip (or *)
// with a non-zero quality.
func acceptsGzip(h string) bool {
	for part := range strings.SplitSeq(h, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "x-gzip" && coding != "*" {
			continue
		}
		q := 1.0
		for p := range strings.SplitSeq(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
		}
		if q > 0 {
			return true
		}
	}
	return false
}

// gzipWriter buffers the first bytes of a body, then either compresses the
// rest or passes it through.
type gzipWriter struct {
	http.ResponseWriter
	pool    *sync.Pool
	status  int
	buf     []byte
	gz      *gzip.Writer
	decided bool // headers written, compression chosen (gz != nil) or not
}

func (g *gzipWriter) WriteHeader(status int) {
	if g.status == 0 && !g.decided {
		g.status = status
	}
}

func (g *gzipWriter) Write(p []byte) (int, error) {
	if g.status == 0 {
		g.status = http.StatusOK
	}
	if !g.decided {
		if len(g.buf)+len(p) < gzipMinSize {
			g.buf = append(g.buf, p...)
			return len(p), nil
		}
		g.decide(true)
		if _, err := g.out().Write(g.buf); err != nil {
			return 0, err
		}
		g.buf = nil
	}
	return g.out().Write(p)
}

func (g *gzipWriter) out() interface{ Write([]byte) (int, error) } {
	if g.gz != nil {
		return g.gz
	}
	return g.ResponseWriter
}

// decide writes the headers, compressing if big is set and the handler did
// not encode the body itself.
func (g *gzipWriter) decide(big bool) {
	g.decided = true
	h := g.Header()
	if big && h.Get("Content-Encoding") == "" && g.status != http.StatusNoContent && g.status != http.StatusNotModified {
		h.Set("Content-Encoding", "gzip")
		h.Del("Content-Length")
		g.gz = g.pool.Get().(*gzip.Writer)
		g.gz.Reset(g.ResponseWriter)
	}
	g.ResponseWriter.WriteHeader(g.status)
}

// finish flushes a small buffered body or closes the compressor.
func (g *gzipWriter) finish() {
	if !g.decided {
		if g.status == 0 {
			return // nothing written: net/http sends its 200
		}
		g.decide(false)
		_, _ = g.ResponseWriter.Write(g.buf)
		return
	}
	if g.gz != nil {
		_ = g.gz.Close()
		g.gz.Reset(nil)
		g.pool.Put(g.gz)
		g.gz = nil
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (g *gzipWriter) Unwrap() http.ResponseWriter { return g.ResponseWriter }
