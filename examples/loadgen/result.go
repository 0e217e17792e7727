package main

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// result is what one phase measured. It is safe for concurrent use.
type result struct {
	mode    mode
	o       options
	elapsed time.Duration

	mu         sync.Mutex // guards everything below
	lat        map[string][]time.Duration
	status     map[string]map[int]int // endpoint → status → count
	clients    map[string]*clientCount
	transport  map[string]int
	firstErr   error
	rolloutOn  int
	rolloutAll int
	rolloutBy  map[string]bool // user → served the new path
	deepest    int
	staleN     int
	staleFirst string
	verified   int

	before, after *apiStats
}

type clientCount struct{ requests, limited int }

func newResult(m mode, o options) *result {
	return &result{
		mode: m, o: o,
		lat:       map[string][]time.Duration{},
		status:    map[string]map[int]int{},
		clients:   map[string]*clientCount{},
		transport: map[string]int{},
		rolloutBy: map[string]bool{},
	}
}

// clientClass groups addresses for the 429 report: each abusive client on
// its own, the well-behaved population and the crawler as one each.
func clientClass(ip string) string {
	switch {
	case strings.HasPrefix(ip, "203.0.113."):
		return "abusive " + ip
	case strings.HasPrefix(ip, "10.9."):
		return "crawler"
	}
	return fmt.Sprintf("well-behaved (%d addresses)", clientPopulation)
}

func (r *result) record(ep, ip string, status int, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lat[ep] = append(r.lat[ep], d)
	if r.status[ep] == nil {
		r.status[ep] = map[int]int{}
	}
	r.status[ep][status]++
	c := r.clients[clientClass(ip)]
	if c == nil {
		c = &clientCount{}
		r.clients[clientClass(ip)] = c
	}
	c.requests++
	if status == http.StatusTooManyRequests {
		c.limited++
	}
}

func (r *result) transportError(ep string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.transport[ep]++
	if r.firstErr == nil {
		r.firstErr = fmt.Errorf("%s: %w", ep, err)
	}
}

// rollout counts one response for user id that included recent activity,
// by the X-Rollout header the api sets ("activity-feed=on" or "=off").
func (r *result) rollout(id, h string) {
	if h == "" {
		return
	}
	on := strings.HasSuffix(h, "=on")
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rolloutAll++
	if on {
		r.rolloutOn++
	}
	r.rolloutBy[id] = on
}

func (r *result) crawled(rows int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deepest = max(r.deepest, rows)
}

func (r *result) readBack() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.verified++
}

func (r *result) stale(id, want, gotName, gotBio string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.staleN++
	if r.staleFirst == "" {
		r.staleFirst = fmt.Sprintf("user %s: wrote name %q, then read %q (bio %q)", id, want, gotName, gotBio)
	}
}

func (r *result) setStats(before, after *apiStats) { r.before, r.after = before, after }

// cache returns the lookups during the phase, summed over the api's caches:
// hits in process memory, hits in Redis (of the memory misses), and misses
// of both, which went to the repository.
func (r *result) cache() (hits, redisHits, misses int64) {
	for ns, a := range r.after.Cache {
		b := r.before.Cache[ns]
		hits += a.Hits - b.Hits
		redisHits += a.RedisHits - b.RedisHits
		misses += a.Misses - b.Misses
	}
	return hits, redisHits, misses - redisHits
}

// repoCalls returns the repository calls during the phase: all of them, and
// those for composite parts, needed without a cache and made.
func (r *result) repoCalls() (total, needed, made int64) {
	a, b := r.after, r.before
	return a.Repository.Total - b.Repository.Total, a.Composite.CallsNeeded - b.Composite.CallsNeeded, a.Composite.CallsMade - b.Composite.CallsMade
}

// totals sums the status classes over every endpoint.
func (r *result) totals() (requests, s5xx, s429 int) {
	for _, m := range r.status {
		for st, n := range m {
			requests += n
			switch {
			case st >= 500:
				s5xx += n
			case st == http.StatusTooManyRequests:
				s429 += n
			}
		}
	}
	return
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(q*float64(len(sorted)-1)+0.5)]
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}

type quantiles struct{ p50, p95, p99 time.Duration }

func (r *result) quantiles(ep string) quantiles {
	ds := slices.Clone(r.lat[ep])
	slices.Sort(ds)
	return quantiles{quantile(ds, .50), quantile(ds, .95), quantile(ds, .99)}
}

func (r *result) print(w io.Writer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(w, "\n== %s: %v, %d workers + 1 crawler + %d abusive clients\n",
		r.mode, r.elapsed.Round(time.Millisecond), r.o.concurrency, r.o.abusers)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "endpoint\trequests\treq/s\tp50\tp95\tp99\t2xx\t4xx\t429\t5xx\t")
	for _, ep := range endpointOrder {
		if len(r.lat[ep]) == 0 && r.transport[ep] == 0 {
			continue
		}
		var c2, c4, c429, c5 int
		for st, n := range r.status[ep] {
			switch {
			case st == http.StatusTooManyRequests:
				c429 += n
			case st >= 500:
				c5 += n
			case st >= 400:
				c4 += n
			case st >= 200 && st < 300:
				c2 += n
			}
		}
		q := r.quantiles(ep)
		n := len(r.lat[ep])
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t\n", ep, n, float64(n)/r.elapsed.Seconds(),
			ms(q.p50), ms(q.p95), ms(q.p99), c2, c4, c429, c5)
	}
	tw.Flush()
	if len(r.transport) > 0 {
		fmt.Fprintf(w, "transport errors: %v (first: %v)\n", r.transport, r.firstErr)
	}

	hits, redisHits, misses := r.cache()
	if all := hits + redisHits + misses; all > 0 {
		fmt.Fprintf(w, "cache:            hit ratio %.1f%% (%d hits in memory, %d in Redis, %d misses)\n",
			100*float64(hits+redisHits)/float64(all), hits, redisHits, misses)
	} else {
		fmt.Fprintf(w, "cache:            none\n")
	}
	total, needed, made := r.repoCalls()
	requests, _, _ := r.totals()
	fmt.Fprintf(w, "repository:       %d calls in all, %.2f per request\n", total, float64(total)/float64(max(requests, 1)))
	if needed > 0 {
		fmt.Fprintf(w, "composite parts:  %d calls made of %d needed without a cache: %d saved (%.0f%%)\n",
			made, needed, needed-made, 100*float64(needed-made)/float64(needed))
	}
	fmt.Fprintf(w, "429s by client:  ")
	for _, k := range slices.Sorted(maps.Keys(r.clients)) {
		c := r.clients[k]
		fmt.Fprintf(w, " %s %d/%d;", k, c.limited, c.requests)
	}
	fmt.Fprintln(w)
	if r.rolloutAll > 0 {
		users := 0
		for _, on := range r.rolloutBy {
			if on {
				users++
			}
		}
		fmt.Fprintf(w, "rollout:          activity-feed on for %.1f%% of users (%d of %d seen), %.1f%% of responses with recent activity (popular users weigh more)\n",
			100*float64(users)/float64(len(r.rolloutBy)), users, len(r.rolloutBy), 100*float64(r.rolloutOn)/float64(r.rolloutAll))
	}
	fmt.Fprintf(w, "crawler:          reached row %d of %d\n", r.deepest, r.after.Users)
	fmt.Fprintf(w, "read after write: %d writes read back, %d stale\n", r.verified, r.staleN)
	if r.staleN > 0 {
		fmt.Fprintf(w, "  first stale read: %s\n", r.staleFirst)
	}
}

// problems lists what -check requires and the run did not show.
func (r *result) problems(o options) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	requests, s5xx, _ := r.totals()
	if requests == 0 {
		out = append(out, "no requests completed")
	}
	if s5xx > 0 {
		out = append(out, fmt.Sprintf("%d responses were 5xx", s5xx))
	}
	if len(r.transport) > 0 {
		out = append(out, fmt.Sprintf("transport errors %v, first: %v", r.transport, r.firstErr))
	}
	if hits, redisHits, _ := r.cache(); hits+redisHits == 0 {
		out = append(out, "no cache hits reported by /debug/stats")
	}
	for a := range o.abusers {
		k := clientClass(fmt.Sprintf("203.0.113.%d", a+1))
		if c := r.clients[k]; c == nil || c.limited == 0 {
			out = append(out, k+" was never rate limited")
		}
	}
	if c := r.clients[clientClass("10.1.0.1")]; c != nil && c.limited*100 > c.requests {
		out = append(out, fmt.Sprintf("well-behaved clients got %d 429s in %d requests: is the api started with -trust-loopback-proxy?", c.limited, c.requests))
	}
	if r.staleN > 0 {
		out = append(out, fmt.Sprintf("%d stale reads after a write; first: %s", r.staleN, r.staleFirst))
	}
	if r.verified == 0 {
		out = append(out, "no write was read back")
	}
	return out
}

// compare prints the two phases side by side.
func compare(w io.Writer, s, n *result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n.mu.Lock()
	defer n.mu.Unlock()
	fmt.Fprintf(w, "\n== stout vs naive, same mix and duration\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tstout\tnaive\t")
	for _, ep := range []string{epRead, epList, epCrawl} {
		a, b := s.quantiles(ep), n.quantiles(ep)
		fmt.Fprintf(tw, "%s p50 / p99\t%s / %s\t%s / %s\t\n", ep, ms(a.p50), ms(a.p99), ms(b.p50), ms(b.p99))
	}
	rps := func(r *result, ep string) float64 { return float64(len(r.lat[ep])) / r.elapsed.Seconds() }
	fmt.Fprintf(tw, "user reads/s\t%.0f\t%.0f\t\n", rps(s, epRead), rps(n, epRead))
	sc, _, _ := s.repoCalls()
	nc, _, _ := n.repoCalls()
	fmt.Fprintf(tw, "repository calls\t%d\t%d\t\n", sc, nc)
	fmt.Fprintf(tw, "crawler reached row\t%d\t%d\t\n", s.deepest, n.deepest)
	tw.Flush()
}
