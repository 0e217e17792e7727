package flags

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"time"
)

// A Source delivers flag documents to a [Client].
type Source interface {
	// Watch runs until ctx is done, delivering every new document to u
	// (u.Apply) and reporting failures to read it (u.Unavailable). It is
	// called once, on the client's goroutine, and must return promptly when
	// ctx is done, having stopped every goroutine it started.
	Watch(ctx context.Context, u Updater)
}

// Updater receives documents from a [Source]: a [Client] hands one to its
// source's Watch. Its methods are safe for concurrent use.
type Updater interface {
	// Apply validates and applies a raw document; it returns the
	// validation error if the document was rejected.
	Apply(data []byte) error
	// ApplyDocument applies an already parsed document.
	ApplyDocument(doc *Document)
	// Unavailable reports that the source could not be read.
	Unavailable(err error)
	// Unchanged reports that the source was read and still holds the
	// document last applied (it ends a stale period after an outage).
	Unchanged()
}

// SourceFunc adapts a function to [Source].
type SourceFunc func(ctx context.Context, u Updater)

// Watch calls f(ctx, u).
func (f SourceFunc) Watch(ctx context.Context, u Updater) { f(ctx, u) }

// Static returns a source that delivers doc once and never changes.
func Static(doc *Document) Source {
	return SourceFunc(func(ctx context.Context, u Updater) {
		u.ApplyDocument(doc)
		<-ctx.Done()
	})
}

// FileOptions configure [FileSource]. A nil *FileOptions means defaults.
type FileOptions struct {
	// Interval is how often the file is read and compared with the last
	// content seen. Default 1s.
	Interval time.Duration
}

// FileSource returns a source that reads the flag document in the file at
// path and polls it every [FileOptions.Interval] for changes (by content,
// not modification time, so coarse timestamps cannot hide a change).
//
// A file caught half written fails to parse and is rejected whole, leaving
// the last good document in force; the complete file is applied at the next
// poll after it is finished. Writers should still replace the file
// atomically (write a temporary file, then rename). A missing or unreadable
// file is reported as unavailable.
func FileSource(path string, opts *FileOptions) Source {
	interval := time.Second
	if opts != nil && opts.Interval > 0 {
		interval = opts.Interval
	}
	return &fileSource{path: path, interval: interval}
}

type fileSource struct {
	path     string
	interval time.Duration
}

func (s *fileSource) Watch(ctx context.Context, u Updater) {
	var last uint64
	var seen bool
	check := func() {
		data, err := os.ReadFile(s.path)
		if err != nil {
			u.Unavailable(fmt.Errorf("flags: reading %s: %w", s.path, err))
			seen = false
			return
		}
		h := fnv.New64a()
		h.Write(data)
		sum := h.Sum64()
		if seen && sum == last {
			return
		}
		if len(bytes.TrimSpace(data)) == 0 {
			// Forget the last content: when it is written back (os.WriteFile
			// truncates first), it must be applied again to end the stale period.
			seen = false
			u.Unavailable(fmt.Errorf("flags: %s is empty: %w", s.path, ErrNoDocument))
			return
		}
		seen, last = true, sum
		if err := u.Apply(data); err != nil && !errors.Is(err, ErrInvalidDocument) {
			u.Unavailable(err)
		}
	}
	check()
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			check()
		}
	}
}
