package flags

import (
	"encoding/json"
	"net/http"
)

// Handler returns a read-only HTTP handler that serves the client's status,
// the document in force and the evaluation counters as JSON:
//
//	{"status": {"state": "ok", "since": "…", "version": 7, "origin": "source", …},
//	 "document": {…the document as published…},
//	 "counts": {"variants": [{"flag": "new-checkout", "variant": "true", "n": 1234}, …], …}}
//
// with "document": null when none is loaded. Only GET and HEAD are allowed
// (405 otherwise). Mount it behind your own authentication: flag documents
// may list subject keys.
func (c *Client) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "flags: read-only", http.StatusMethodNotAllowed)
			return
		}
		var doc json.RawMessage
		if d := c.Document(); d != nil {
			doc = d.raw
		}
		body, err := json.Marshal(struct {
			Status   Status          `json:"status"`
			Document json.RawMessage `json:"document"`
			Counts   Counts          `json:"counts"`
		}{c.Status(), doc, c.Counts()})
		if err != nil {
			http.Error(w, "flags: encoding status", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(body)
	})
}
