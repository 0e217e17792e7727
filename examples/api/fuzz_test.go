package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzClientInput sends arbitrary query strings and bodies to every endpoint
// that reads client input: each must answer, and never with a 5xx.
func FuzzClientInput(f *testing.F) {
	s, err := newServer(config{Users: 100, ReadLimit: 1 << 30, WriteLimit: 1 << 30})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = s.Close() })

	f.Add("fields=id,name&include=profile", []byte(`{"name":"x"}`))
	f.Add("fields=profile{bio,location},recent-activity.kind", []byte(`{"profile":{"bio":"b"},"preferences":{"theme":"dark"}}`))
	f.Add("limit=5&cursor=AAAA", []byte(`{"name":`))
	f.Add("page=3&limit=100", []byte(`[]`))
	f.Add("fields=`quoted`,*,a.*", []byte(`{"email":"a@b","preferences":{"newsletter":"yes"}}`))
	f.Add("include=%00&limit=-1", []byte("\xff\xfe"))

	f.Fuzz(func(t *testing.T, query string, body []byte) {
		for _, target := range []string{"/users/7?", "/users/100000?", "/users?", "/users-offset?", "/naive/users/7?"} {
			req, err := http.NewRequest(http.MethodGet, "http://example.test"+target+query, nil)
			if err != nil {
				return // not a URL a client could send
			}
			w := httptest.NewRecorder()
			s.ServeHTTP(w, req)
			if w.Code >= 500 {
				t.Fatalf("GET %s%s: %d %s", target, query, w.Code, w.Body)
			}
		}
		req := httptest.NewRequest(http.MethodPut, "/users/9", bytes.NewReader(body))
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("PUT %q: %d %s", body, w.Code, w.Body)
		}
	})
}
