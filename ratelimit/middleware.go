package ratelimit

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// HeaderMode chooses the rate-limit headers [Middleware] sends.
type HeaderMode int

const (
	// HeadersDraft sends RateLimit-Policy and RateLimit as in the IETF draft
	// draft-ietf-httpapi-ratelimit-headers (the default).
	HeadersDraft HeaderMode = iota
	// HeadersLegacy sends X-RateLimit-Limit, X-RateLimit-Remaining and
	// X-RateLimit-Reset (delta seconds).
	HeadersLegacy
	// HeadersBoth sends both sets.
	HeadersBoth
	// HeadersNone sends neither; Retry-After is still sent on a 429.
	HeadersNone
)

// MiddlewareOptions configure [Middleware]. The zero value (or nil) gives
// the defaults.
type MiddlewareOptions struct {
	// Cost is the cost of a request. Default 1 for every request.
	Cost func(r *http.Request) int

	// Exempt, if it returns true, lets a request through without limiting
	// it (health checks, internal callers).
	Exempt func(r *http.Request) bool

	// Headers chooses the headers sent. Default HeadersDraft.
	Headers HeaderMode

	// ProblemJSON makes 429, 413 and 503 answers carry an
	// application/problem+json body (RFC 9457) with the draft's problem
	// types. Default: a short text/plain body.
	ProblemJSON bool

	// FailOpen lets a request through when the limiter returns an error
	// other than ErrCostExceedsBurst. By default such a request gets 503.
	// Limiters in this package return errors for a backend only under their
	// own FailClosed policy; the other errors are configuration errors (a
	// Resolver that fails, an invalid limit), which also get 503.
	FailOpen bool
}

// Middleware limits requests to next by key. On every limited request it
// sets the rate-limit headers; a request over the limit gets 429 Too Many
// Requests with Retry-After in whole seconds, rounded up (so that a client
// that waits that long succeeds); a request whose cost exceeds the burst
// gets 413 (it can never succeed); a limiter that cannot decide gets 503
// under the FailClosed policy.
//
// The draft headers for a bucket are RateLimit-Policy: "name";q=Burst;w=W
// (W the seconds a drained bucket takes to refill) and RateLimit:
// "name";r=Remaining;t=T, with T = 0 while a token is left and otherwise
// the seconds until the next one, rounded up.
func Middleware(lim Limiter, key KeyFunc, opts *MiddlewareOptions) func(http.Handler) http.Handler {
	var o MiddlewareOptions
	if opts != nil {
		o = *opts
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if o.Exempt != nil && o.Exempt(r) {
				next.ServeHTTP(w, r)
				return
			}
			k := key(r)
			if k == "" {
				next.ServeHTTP(w, r)
				return
			}
			cost := 1
			if o.Cost != nil {
				cost = max(o.Cost(r), 0)
			}
			d, err := lim.AllowN(r.Context(), k, cost)
			switch {
			case errors.Is(err, ErrCostExceedsBurst):
				writeHeaders(w.Header(), o.Headers, d)
				o.problem(w, http.StatusRequestEntityTooLarge, "content-too-large",
					"Request too large for the rate limit",
					"The cost of this request exceeds the rate limit's burst; it can never be admitted.", d, 0)
			case err != nil:
				if r.Context().Err() != nil {
					return // the client is gone
				}
				if o.FailOpen {
					next.ServeHTTP(w, r)
					return
				}
				o.problem(w, http.StatusServiceUnavailable, "temporary-reduced-capacity",
					"Service Unavailable", "The rate limiter is unavailable; try again shortly.", d, max(d.RetryAfter, time.Second))
			case !d.Allowed:
				writeHeaders(w.Header(), o.Headers, d)
				// At least 1s even from a Limiter that gives no RetryAfter:
				// every 429 carries Retry-After.
				o.problem(w, http.StatusTooManyRequests, "quota-exceeded",
					"Too Many Requests", "", d, max(d.RetryAfter, time.Second))
			default:
				writeHeaders(w.Header(), o.Headers, d)
				next.ServeHTTP(w, r)
			}
		})
	}
}

// ceilSeconds rounds d up to whole seconds.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	s := int64(d / time.Second)
	if d%time.Second != 0 {
		s++ // not d + time.Second - 1, which overflows near MaxInt64
	}
	return s
}

// RetryAfterSeconds is the Retry-After value for a denied decision: its
// RetryAfter in whole seconds, rounded up, and at least 1.
func RetryAfterSeconds(d Decision) int64 { return max(ceilSeconds(d.RetryAfter), 1) }

func policyName(l Limit) string {
	if l.Name == "" {
		return "default"
	}
	// A Structured Field string holds printable ASCII; \ and " are escaped.
	var b strings.Builder
	for i := 0; i < len(l.Name); i++ {
		c := l.Name[i]
		switch {
		case c == '\\' || c == '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c >= 0x20 && c < 0x7f:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// nextTokenSeconds is the seconds until one more token, rounded up; 0 when
// one is left. The bucket is full at ResetAfter and the first token comes
// Burst−1 emission intervals earlier; the interval is the integer one the
// memory backend uses (the Redis backend's, rounded to µs, is no shorter,
// so there the figure errs late, never early).
func nextTokenSeconds(d Decision) int64 {
	if d.Remaining >= 1 {
		return 0
	}
	p, err := newParams(d.Limit, time.Nanosecond, spanNanos)
	if err != nil || p.inf {
		return 0
	}
	return ceilSeconds(d.ResetAfter - time.Duration((p.burst-1)*p.t))
}

func writeHeaders(h http.Header, mode HeaderMode, d Decision) {
	if d.Limit.Burst == 0 {
		return
	}
	if mode == HeadersDraft || mode == HeadersBoth {
		name := `"` + policyName(d.Limit) + `"`
		h.Set("RateLimit-Policy", name+";q="+strconv.Itoa(d.Limit.Burst)+";w="+strconv.FormatInt(ceilSeconds(d.Limit.Window()), 10))
		t := nextTokenSeconds(d)
		if !d.Allowed && d.RetryAfter > 0 {
			// The draft: Retry-After must not point earlier than t, which
			// can err late on Redis (see nextTokenSeconds).
			t = min(t, RetryAfterSeconds(d))
		}
		h.Set("RateLimit", name+";r="+strconv.Itoa(d.Remaining)+";t="+strconv.FormatInt(t, 10))
	}
	if mode == HeadersLegacy || mode == HeadersBoth {
		h.Set("X-RateLimit-Limit", strconv.Itoa(d.Limit.Burst))
		h.Set("X-RateLimit-Remaining", strconv.Itoa(d.Remaining))
		h.Set("X-RateLimit-Reset", strconv.FormatInt(ceilSeconds(d.ResetAfter), 10))
	}
}

// problem writes an error answer, with Retry-After when retry > 0.
func (o *MiddlewareOptions) problem(w http.ResponseWriter, status int, typ, title, detail string, d Decision, retry time.Duration) {
	h := w.Header()
	var secs int64
	if retry > 0 {
		secs = max(ceilSeconds(retry), 1)
		h.Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	if detail == "" {
		detail = "Rate limit exceeded; retry in " + strconv.FormatInt(secs, 10) + "s."
	}
	if !o.ProblemJSON {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(detail + "\n"))
		return
	}
	body := map[string]any{
		"type":   "https://iana.org/assignments/http-problem-types#" + typ,
		"title":  title,
		"status": status,
		"detail": detail,
	}
	if status == http.StatusTooManyRequests {
		name := d.Limit.Name
		if name == "" {
			name = "default"
		}
		body["violated-policies"] = []string{name}
	}
	b, _ := json.Marshal(body)
	h.Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
