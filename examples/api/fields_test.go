package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFieldMask(t *testing.T) {
	s, ts := newTestServer(t, config{})
	d := s.repo.data

	for _, tc := range []struct {
		name, query string
		keys        []string // top-level keys of the answer
		loaded      []string // repository calls made (cold caches: each test its own user)
		id          int64
	}{
		{"default", "", []string{"id", "name", "email", "created_at"}, []string{"users.get"}, 21},
		{"star is the core: parts are opt-in", "fields=*", []string{"id", "name", "email", "created_at"}, []string{"users.get"}, 22},
		{"some core fields", "fields=id,name", []string{"id", "name"}, []string{"users.get"}, 23},
		{"one field of one part loads that part only", "fields=profile.bio", []string{"profile"}, []string{"profiles.get"}, 24},
		{"include adds whole parts", "fields=id&include=preferences", []string{"id", "preferences"}, []string{"users.get", "preferences.get"}, 25},
		{"braces", "fields=name,profile{location,company},preferences.theme", []string{"name", "profile", "preferences"},
			[]string{"users.get", "profiles.get", "preferences.get"}, 26},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := s.repo.Calls()
			a := call(t, ts, "GET", "/users/"+itoa(tc.id)+"?"+tc.query, "")
			require.Equal(t, http.StatusOK, a.status, "%s", a.body)
			after, _ := s.repo.Calls()
			var m map[string]any
			a.json(t, &m)
			var keys []string
			for k := range m {
				keys = append(keys, k)
			}
			assert.ElementsMatch(t, tc.keys, keys)
			var called []string
			for _, op := range repoOps {
				if after[op] != before[op] {
					called = append(called, op)
				}
			}
			assert.ElementsMatch(t, tc.loaded, called, "the mask decides what is loaded")
		})
	}

	t.Run("nested selection writes only what was asked", func(t *testing.T) {
		a := call(t, ts, "GET", "/users/30?fields=name,profile{location,company}", "")
		require.Equal(t, http.StatusOK, a.status)
		p := d.profile(30)
		assert.JSONEq(t, `{"name":`+jsonString(d.user(30).Name)+`,"profile":{"location":`+jsonString(p.Location)+`,"company":`+jsonString(p.Company)+`}}`, string(a.body))
	})

	t.Run("bad masks are a 400 that says why", func(t *testing.T) {
		for _, tc := range []struct{ query, msg string }{
			{"fields=id,nmae", `unknown field "nmae"`},
			{"fields=id,nmae", `did you mean "name"`},
			{"fields=profile.avatar", `unknown field "profile.avatar"`},
			{"fields=profile{bio", "byte"},
			{"fields=" + strings.Repeat("a,", 3000), "longer than"},
			{"include=friends", `unknown field "friends"`},
		} {
			a := call(t, ts, "GET", "/users/1?"+(&url.URL{RawQuery: tc.query}).Query().Encode(), "")
			label := tc.query[:min(len(tc.query), 40)]
			require.Equal(t, http.StatusBadRequest, a.status, "%s: %s", label, a.body)
			var e apiError
			a.json(t, &e)
			assert.Contains(t, e.Message, tc.msg, label)
			assert.Equal(t, "invalid_fields", e.Code)
			assert.NotEmpty(t, e.Param)
		}
	})
}

func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}
