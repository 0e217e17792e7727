package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

type mode int

const (
	modeStout mode = iota // the endpoints built with stout
	modeNaive             // the naive ones beside them
)

func (m mode) String() string {
	if m == modeNaive {
		return "naive endpoints (/naive/users/{id}, /users-offset)"
	}
	return "stout endpoints (/users/{id}, /users)"
}

// Endpoint labels of the report.
const (
	epRead    = "GET  user"
	epWrite   = "PUT  user"
	epVerify  = "GET  user around PUT"
	epList    = "GET  list (short walks)"
	epCrawl   = "GET  list (crawler)"
	epAbusive = "GET  user (abusive)"
	epAbuseW  = "PUT  user (abusive)"
)

var endpointOrder = []string{epRead, epWrite, epVerify, epList, epCrawl, epAbusive, epAbuseW}

// Traffic shape.
const (
	clientPopulation = 1000 // distinct addresses of well-behaved traffic
	zipfS            = 1.1  // zipf exponent of user popularity
	walkPages        = 5    // longest short list walk
	walkLimit        = 20
	crawlLimit       = 100
	crawlRate        = 50 // pages per second at most: a polite crawler, under the api's default limit
	abuserInFlight   = 8  // concurrent requests per abusive client
)

type gen struct {
	o      options
	client *http.Client
	users  int
}

func newGen(o options) *gen {
	tr := &http.Transport{
		MaxIdleConns:        2 * (o.concurrency + o.abusers*abuserInFlight + 2),
		MaxIdleConnsPerHost: 2 * (o.concurrency + o.abusers*abuserInFlight + 2),
		IdleConnTimeout:     30 * time.Second,
	}
	return &gen{o: o, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

func (g *gen) url(path string) string {
	return g.o.target.String() + path
}

// waitReady polls /debug/stats until the api answers (up to 15 s) and learns
// the size of its data set.
func (g *gen) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for {
		st, err := g.stats(ctx)
		if err == nil {
			g.users = st.Users
			if g.users < 1 {
				return errors.New("the api reports an empty data set")
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s does not answer: %w", g.o.target, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// apiStats is what loadgen reads from GET /debug/stats.
type apiStats struct {
	Users      int `json:"users"`
	Repository struct {
		Calls map[string]int64 `json:"calls"`
		Total int64            `json:"total"`
	} `json:"repository"`
	Composite struct {
		Parts       int64 `json:"parts"`
		CallsNeeded int64 `json:"calls_needed"`
		CallsMade   int64 `json:"calls_made"`
	} `json:"composite"`
	Cache map[string]cacheStats `json:"cache"`
}

type cacheStats struct {
	Hits      int64 `json:"hits"`       // in process memory
	Misses    int64 `json:"misses"`     // in process memory
	RedisHits int64 `json:"redis_hits"` // misses in memory answered by Redis
	Loads     int64 `json:"loads"`
}

func (g *gen) stats(ctx context.Context) (*apiStats, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.url("/debug/stats"), nil)
	if err != nil {
		return nil, err
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /debug/stats: %s", resp.Status)
	}
	var st apiStats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, fmt.Errorf("GET /debug/stats: %w", err)
	}
	return &st, nil
}

// phase runs the mix against one set of endpoints for the configured time.
func (g *gen) phase(ctx context.Context, m mode) (*result, error) {
	before, err := g.stats(ctx)
	if err != nil {
		return nil, err
	}
	res := newResult(m, g.o)
	start := time.Now()
	pctx, cancel := context.WithTimeout(ctx, g.o.duration)
	defer cancel()

	var wg sync.WaitGroup
	for w := range g.o.concurrency {
		wg.Go(func() { g.worker(pctx, m, w, res) })
	}
	wg.Go(func() { g.crawler(pctx, m, res) })
	for a := range g.o.abusers {
		wg.Go(func() { g.abuser(pctx, m, a, res) })
	}
	wg.Wait()
	res.elapsed = time.Since(start)

	after, err := g.stats(ctx)
	if err != nil {
		return nil, err
	}
	res.setStats(before, after)
	return res, nil
}

// picker draws zipf-distributed user ids: rank k is user (k·p mod n)+1 for a
// prime p, so the popular users are spread over the id space.
type picker struct {
	rng  *rand.Rand
	zipf *rand.Zipf
	n    uint64
}

func newPicker(seed int64, n int) *picker {
	rng := rand.New(rand.NewSource(seed))
	return &picker{rng: rng, zipf: rand.NewZipf(rng, zipfS, 1, uint64(n-1)), n: uint64(n)}
}

func (p *picker) user() int64 {
	return int64(p.zipf.Uint64()*2654435761%p.n) + 1
}

func (p *picker) client() string {
	i := p.rng.Intn(clientPopulation)
	return fmt.Sprintf("10.1.%d.%d", i/250, i%250+1)
}

// readQuery picks the include and fields parameters of one read.
func (p *picker) readQuery() (q string, activity bool) {
	var inc []string
	for _, part := range []string{"profile", "preferences", "recent-activity"} {
		if p.rng.Intn(2) == 0 {
			inc = append(inc, part)
		}
	}
	v := url.Values{}
	if len(inc) > 0 {
		v.Set("include", strings.Join(inc, ","))
	}
	switch p.rng.Intn(4) {
	case 0:
		v.Set("fields", "id,name")
	case 1:
		v.Set("fields", "id,name,profile.bio,profile.location")
	}
	activity = strings.Contains(v.Get("include"), "recent-activity")
	if f := v.Get("fields"); f != "" && activity {
		// a field mask limits which parts are loaded: recent activity
		// only when it is asked for by name too.
		v.Set("fields", f+",recent-activity")
	}
	return v.Encode(), activity
}

// worker is one well-behaved client loop: reads, short list walks, writes.
func (g *gen) worker(ctx context.Context, m mode, w int, res *result) {
	p := newPicker(int64(g.o.seed)*1000+int64(w), g.users)
	for ctx.Err() == nil {
		ip := p.client()
		switch r := p.rng.Intn(100); {
		case r < 80:
			q, activity := p.readQuery()
			id := strconv.FormatInt(p.user(), 10)
			path := "/users/" + id + "?" + q
			if m == modeNaive {
				path = "/naive" + path
			}
			rs := g.do(ctx, res, epRead, ip, http.MethodGet, path, "")
			if rs != nil && activity && rs.status == http.StatusOK {
				res.rollout(id, rs.header.Get("X-Rollout"))
			}
		case r < 95:
			path := "/users?limit=" + strconv.Itoa(walkLimit)
			if m == modeNaive {
				path = "/users-offset?page=0&limit=" + strconv.Itoa(walkLimit)
			}
			for range 1 + p.rng.Intn(walkPages) {
				rs := g.do(ctx, res, epList, ip, http.MethodGet, path, "")
				if rs == nil || rs.next == "" {
					break
				}
				path = rs.next
			}
		default:
			g.write(ctx, m, p, w, ip, res)
		}
	}
}

// write reads a user (so that a cache holds it), changes it, and reads it
// again: the second read must see the write. Each writer owns a range of
// users (writer k writes users k·64+1 … k·64+64) so that no other write can
// come in between, and any other answer is a stale read.
func (g *gen) write(ctx context.Context, m mode, p *picker, writer int, ip string, res *result) {
	id := strconv.Itoa((writer*64+p.rng.Intn(64))%g.users + 1)
	path := "/users/" + id + "?include=profile"
	if m == modeNaive {
		path = "/naive" + path
	}
	if rs := g.do(ctx, res, epVerify, ip, http.MethodGet, path, ""); rs == nil || rs.status != http.StatusOK {
		return
	}
	name := fmt.Sprintf("Renamed %d", p.rng.Int63())
	body, _ := json.Marshal(map[string]any{"name": name, "profile": map[string]string{"bio": "Bio of " + name}})
	if rs := g.do(ctx, res, epWrite, ip, http.MethodPut, "/users/"+id, string(body)); rs == nil || rs.status != http.StatusOK {
		return
	}
	rs := g.do(ctx, res, epVerify, ip, http.MethodGet, path, "")
	if rs == nil || rs.status != http.StatusOK {
		return
	}
	var got struct {
		Name    string `json:"name"`
		Profile struct {
			Bio string `json:"bio"`
		} `json:"profile"`
	}
	res.readBack()
	if err := json.Unmarshal(rs.body, &got); err != nil || got.Name != name || got.Profile.Bio != "Bio of "+name {
		res.stale(id, name, got.Name, got.Profile.Bio)
	}
}

// crawler walks the whole list, as an export job or a scraper does, at up
// to crawlRate pages per second.
func (g *gen) crawler(ctx context.Context, m mode, res *result) {
	const ip = "10.9.0.1"
	path := "/users?limit=" + strconv.Itoa(crawlLimit)
	if m == modeNaive {
		path = "/users-offset?page=0&limit=" + strconv.Itoa(crawlLimit)
	}
	first := path
	pages := 0
	tick := time.NewTicker(time.Second / crawlRate)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		rs := g.do(ctx, res, epCrawl, ip, http.MethodGet, path, "")
		if rs == nil || rs.status != http.StatusOK {
			if rs != nil && rs.status == http.StatusTooManyRequests {
				select { // honour Retry-After
				case <-ctx.Done():
					return
				case <-time.After(rs.retryAfter):
				}
			}
			continue
		}
		pages++
		res.crawled(pages * crawlLimit)
		if rs.next == "" {
			path, pages = first, 0
			continue
		}
		path = rs.next
	}
}

// abuser sends abuserRate requests per second from one address, ignoring
// every 429: one write for every nine reads. Up to abuserInFlight requests
// run at once, so that the rate holds even when the api is slow.
func (g *gen) abuser(ctx context.Context, m mode, a int, res *result) {
	p := newPicker(int64(g.o.seed)*7919+int64(a), g.users)
	ip := fmt.Sprintf("203.0.113.%d", a+1)
	tick := time.NewTicker(time.Second / abuserRate)
	defer tick.Stop()
	slots := make(chan struct{}, abuserInFlight)
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		select {
		case slots <- struct{}{}:
		default:
			continue // all in flight: this tick is lost
		}
		id := strconv.FormatInt(p.user(), 10) // the picker is not safe for concurrent use
		write := i%10 == 9
		wg.Go(func() {
			defer func() { <-slots }()
			if write {
				g.do(ctx, res, epAbuseW, ip, http.MethodPut, "/users/"+id, `{"name":"Spam `+id+`"}`)
				return
			}
			path := "/users/" + id
			if m == modeNaive {
				path = "/naive" + path
			}
			g.do(ctx, res, epAbusive, ip, http.MethodGet, path, "")
		})
	}
}

// response is what a worker needs of one answer.
type response struct {
	status     int
	header     http.Header
	body       []byte
	next       string // path of the next page, from the Link header or the body
	retryAfter time.Duration
}

// do sends one request as client ip and records it; it returns nil when the
// request did not complete (transport error, or the phase ended).
func (g *gen) do(ctx context.Context, res *result, ep, ip, method, path, body string) *response {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, g.url(path), rd)
	if err != nil {
		res.transportError(ep, err)
		return nil
	}
	req.Header.Set("X-Forwarded-For", ip)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := g.client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			res.transportError(ep, err)
		}
		return nil
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if err != nil {
		if ctx.Err() == nil {
			res.transportError(ep, err)
		}
		return nil
	}
	res.record(ep, ip, resp.StatusCode, d)
	rs := &response{status: resp.StatusCode, header: resp.Header, body: b}
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
		rs.retryAfter = time.Duration(ra) * time.Second
	}
	if resp.StatusCode == http.StatusOK {
		rs.next = nextLink(resp.Header, b)
	}
	return rs
}

// nextLink finds the next page: a Link rel="next" header (RFC 8288), else
// a "next" field in the body.
func nextLink(h http.Header, body []byte) string {
	for _, v := range h.Values("Link") {
		for l := range strings.SplitSeq(v, ",") {
			target, params, ok := strings.Cut(strings.TrimSpace(l), ";")
			if !ok || !strings.Contains(params, `rel="next"`) && !strings.Contains(params, "rel=next") {
				continue
			}
			target = strings.Trim(strings.TrimSpace(target), "<>")
			if u, err := url.Parse(target); err == nil {
				return u.RequestURI()
			}
		}
	}
	var page struct {
		Next string `json:"next"`
	}
	if json.Unmarshal(body, &page) != nil {
		return ""
	}
	return page.Next
}
