package slowlog

import (
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// Entry is one slow call kept in the recent ring, like an entry of Redis
// SLOWLOG.
type Entry struct {
	// ID increases by one per entry and is never reused while the Recorder
	// lives, so tools can deduplicate.
	ID        uint64        `json:"id"`
	Time      time.Time     `json:"time"`
	Op        string        `json:"op"`
	Duration  time.Duration `json:"duration_ns"` // elapsed so far if Running
	Threshold time.Duration `json:"threshold_ns"`
	Err       string        `json:"error,omitempty"`
	// Running marks a watchdog report of a call that had not ended yet.
	Running bool `json:"running,omitempty"`
	// Attrs are the call's attributes (caller's, then from ctx), at most
	// Options.MaxAttrs, string values cut at Options.MaxAttrLen bytes; values
	// of other kinds than strings, numbers, booleans, durations and times are
	// kept as their cut string form.
	Attrs []slog.Attr `json:"-"`
}

// ring is a bounded FIFO of recent entries.
type ring struct {
	mu       sync.Mutex // guards the fields below
	buf      []Entry
	next     int    // index of the next write
	n        int    // entries held
	id       uint64 // last ID given
	maxAttrs int
	maxLen   int
}

func (r *ring) init(size, maxAttrs, maxLen int) {
	r.buf = make([]Entry, size)
	r.maxAttrs, r.maxLen = maxAttrs, maxLen
}

func (r *ring) add(e Entry) {
	if len(r.buf) == 0 {
		return
	}
	e.Attrs = capAttrs(e.Attrs, r.maxAttrs, r.maxLen)
	e.Err = capString(e.Err, r.maxLen)
	r.mu.Lock()
	r.id++
	e.ID = r.id
	r.buf[r.next] = e
	r.next = (r.next + 1) % len(r.buf)
	r.n = min(r.n+1, len(r.buf))
	r.mu.Unlock()
}

// entries returns up to n entries, newest first (n < 0: all).
func (r *ring) entries(n int) []Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n < 0 || n > r.n {
		n = r.n
	}
	out := make([]Entry, n)
	for i := range out {
		out[i] = r.buf[(r.next-1-i+2*len(r.buf))%len(r.buf)]
	}
	return out
}

// capAttrs copies at most maxAttrs attributes, with long values cut.
func capAttrs(attrs []slog.Attr, maxAttrs, maxLen int) []slog.Attr {
	if len(attrs) == 0 {
		return nil
	}
	out := make([]slog.Attr, 0, min(len(attrs), maxAttrs))
	for _, a := range attrs {
		if len(out) == maxAttrs {
			break
		}
		v := a.Value.Resolve()
		switch v.Kind() {
		case slog.KindString:
			v = slog.StringValue(capString(v.String(), maxLen))
		case slog.KindAny, slog.KindGroup, slog.KindLogValuer:
			v = slog.StringValue(capString(v.String(), maxLen))
		}
		out = append(out, slog.Attr{Key: capString(a.Key, maxLen), Value: v})
	}
	return out
}

// capString cuts s to max bytes (on a UTF-8 boundary) and says how many
// bytes were dropped.
func capString(s string, maxLen int) string {
	if len(s) <= maxLen {
		return s
	}
	cut := maxLen
	for cut > 0 && cut < len(s) && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "... (" + strconv.Itoa(len(s)-cut) + " more bytes)"
}

// Recent returns up to n recent slow calls, newest first; n < 0 returns all
// that are kept (Options.RecentSize).
func (r *Recorder) Recent(n int) []Entry { return r.recent.entries(n) }
