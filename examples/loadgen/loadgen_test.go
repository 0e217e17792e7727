package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckTarget(t *testing.T) {
	for _, ok := range []string{"http://127.0.0.1:8080", "http://localhost:8080/ignored?x=1", "https://[::1]:9000"} {
		u, err := checkTarget(ok)
		require.NoError(t, err, ok)
		assert.Empty(t, u.Path, ok)
		assert.Empty(t, u.RawQuery, ok)
	}
	for _, bad := range []string{"http://10.0.0.1:8080", "http://8.8.8.8", "ftp://127.0.0.1", "127.0.0.1:8080", "http://[::ffff:1.2.3.4]/"} {
		_, err := checkTarget(bad)
		assert.Error(t, err, bad)
	}
}

func TestNextLink(t *testing.T) {
	h := http.Header{}
	h.Add("Link", `<http://127.0.0.1:1/users?limit=20&cursor=abc>; rel="prev", <http://127.0.0.1:1/users?limit=20&cursor=def>; rel="next"`)
	assert.Equal(t, "/users?limit=20&cursor=def", nextLink(h, nil))
	assert.Equal(t, "/users-offset?page=2", nextLink(http.Header{}, []byte(`{"next":"/users-offset?page=2"}`)))
	assert.Empty(t, nextLink(http.Header{}, []byte(`{"items":[]}`)))
	assert.Empty(t, nextLink(http.Header{}, []byte(`not json`)))
}

func TestQuantile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i))
	}
	assert.Equal(t, time.Duration(51), quantile(ds, .5))
	assert.Equal(t, time.Duration(99), quantile(ds, .99))
	assert.Equal(t, time.Duration(100), quantile(ds, 1))
	assert.Zero(t, quantile(nil, .5))
}

func TestPickerSpreadsAndStaysInRange(t *testing.T) {
	p := newPicker(1, 1000)
	seen := map[int64]int{}
	for range 10000 {
		id := p.user()
		require.True(t, id >= 1 && id <= 1000, "id %d", id)
		seen[id]++
	}
	top := 0
	for _, n := range seen {
		top = max(top, n)
	}
	assert.Greater(t, top, 500, "zipf: the most popular user gets a large share")
	assert.Greater(t, len(seen), 100, "and the tail is long")
}

func TestCheckProblems(t *testing.T) {
	o := options{abusers: 2}
	healthy := func() *result {
		r := newResult(modeStout, o)
		r.setStats(&apiStats{Cache: map[string]cacheStats{"user": {}}}, &apiStats{Cache: map[string]cacheStats{"user": {Hits: 10, Misses: 2}}})
		r.record(epRead, "10.1.0.1", 200, time.Millisecond)
		r.record(epAbusive, "203.0.113.1", 429, time.Millisecond)
		r.record(epAbusive, "203.0.113.2", 429, time.Millisecond)
		r.readBack()
		return r
	}
	require.Empty(t, healthy().problems(o))

	for name, spoil := range map[string]func(r *result){
		"5xx":             func(r *result) { r.record(epRead, "10.1.0.2", 503, time.Millisecond) },
		"stale read":      func(r *result) { r.stale("5", "a", "b", "") },
		"transport error": func(r *result) { r.transportError(epRead, assert.AnError) },
		"no cache hits":   func(r *result) { r.after.Cache["user"] = cacheStats{} },
		"abuser not limited": func(r *result) {
			r.clients[clientClass("203.0.113.2")] = &clientCount{requests: 5}
		},
		"well-behaved limited": func(r *result) {
			for range 5 {
				r.record(epRead, "10.1.0.3", 429, time.Millisecond)
			}
		},
	} {
		r := healthy()
		spoil(r)
		assert.NotEmpty(t, r.problems(o), name)
	}
}
