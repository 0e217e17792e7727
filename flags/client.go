package flags

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a [Client]. A nil *Options means all defaults.
type Options struct {
	// LastGoodPath, when set, is a file where the client keeps a copy of the
	// last good document it applied from the source (written atomically:
	// temporary file, then rename). At start, when the source does not
	// deliver a document before New returns, the client serves this copy
	// with status stale until the source recovers. Default: no file.
	LastGoodPath string
	// Logger receives rejected documents and source errors. Default: none.
	Logger *slog.Logger
	// Now is the clock used by progressive rollouts and the $now
	// attribute. Default: time.Now.
	Now func() time.Time
	// InitTimeout bounds how long New waits for the source's first
	// document (New's ctx also bounds it). Default 5s; -1 means do not wait.
	InitTimeout time.Duration
}

// Client evaluates flags from the latest good document of its [Source].
//
// Evaluation reads an immutable compiled snapshot through an atomic
// pointer: it never blocks, never does I/O and allocates nothing (except
// [Value] for types that need JSON decoding). Documents are parsed,
// validated and compiled by the source's goroutine; a bad document is
// rejected whole and the previous one stays in force.
//
// A Client is safe for concurrent use by multiple goroutines. Close stops
// the source.
type Client struct {
	snap atomic.Pointer[snapshot]
	now  func() time.Time
	opts Options

	nMissing     atomic.Uint64 // evaluations of a flag the document lacks
	nUnavailable atomic.Uint64 // evaluations with no document at all
	nWrongType   atomic.Uint64

	applyMu sync.Mutex // serializes applying documents; held while calling OnChange listeners

	mu        sync.Mutex // protects the fields below
	status    Status
	listeners map[int]func(ChangeEvent)
	nextID    int
	counters  map[counterKey]*counter
	first     chan struct{} // closed on the source's first outcome
	firstDone bool

	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
}

type counterKey struct{ flag, variant string }

// New starts a client on src and waits (bounded by ctx and
// [Options.InitTimeout]) for the source's first document. It does not fail
// because the source is unavailable: the client then serves the last-good
// file if there is one, or callers' defaults with [ReasonUnavailable],
// until the source delivers. Close stops the source.
func New(ctx context.Context, src Source, opts *Options) (*Client, error) {
	if src == nil {
		return nil, errors.New("flags: nil source")
	}
	c := &Client{
		listeners: map[int]func(ChangeEvent){},
		counters:  map[counterKey]*counter{},
		first:     make(chan struct{}),
		done:      make(chan struct{}),
	}
	if opts != nil {
		c.opts = *opts
	}
	c.now = c.opts.Now
	if c.now == nil {
		c.now = time.Now
	}
	c.status = Status{State: StateInitializing, Since: c.now()}
	runCtx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go func() {
		defer close(c.done)
		src.Watch(runCtx, updater{c})
	}()
	wait := c.opts.InitTimeout
	if wait == 0 {
		wait = 5 * time.Second
	}
	if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-c.first:
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	if c.snap.Load() == nil && c.opts.LastGoodPath != "" {
		c.loadLastGood()
	}
	return c, nil
}

// Close stops the source and waits for its goroutines. Evaluation keeps
// working on the last document. Close is idempotent.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.cancel()
		<-c.done
	})
	return nil
}

func (c *Client) loadLastGood() {
	data, err := os.ReadFile(c.opts.LastGoodPath)
	if err != nil {
		c.log("flags: no last-good file", "path", c.opts.LastGoodPath, "err", err)
		return
	}
	doc, err := Parse(data)
	if err != nil {
		c.log("flags: last-good file rejected", "path", c.opts.LastGoodPath, "err", err)
		return
	}
	c.applyMu.Lock()
	defer c.applyMu.Unlock()
	if c.snap.Load() != nil { // the source delivered meanwhile
		return
	}
	cause := c.Status().Err // why the source gave nothing usable
	if cause == nil {
		cause = ErrUnavailable
	}
	c.install(doc, "last-good file", StateStale, cause)
}

func (c *Client) log(msg string, args ...any) {
	if c.opts.Logger != nil {
		c.opts.Logger.Warn(msg, args...)
	}
}

func (c *Client) signalFirst() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.firstDone {
		c.firstDone = true
		close(c.first)
	}
}

// updater is the [Updater] a client hands to its source.
type updater struct{ c *Client }

func (u updater) Apply(data []byte) error     { return u.c.apply(data) }
func (u updater) ApplyDocument(doc *Document) { u.c.applyDocument(doc) }
func (u updater) Unavailable(err error)       { u.c.unavailable(err) }
func (u updater) Unchanged()                  { u.c.unchanged() }

// apply parses data and, if it is a valid document, makes it the current
// one (status ok). Otherwise it returns the [*ValidationError], the current
// document stays in force and the status becomes stale.
func (c *Client) apply(data []byte) error {
	defer c.signalFirst()
	doc, err := Parse(data)
	if err != nil {
		if c.setStale(err) {
			c.log("flags: document rejected", "err", err)
		}
		return err
	}
	c.applyDocument(doc)
	return nil
}

// applyDocument makes doc the current document (status ok).
func (c *Client) applyDocument(doc *Document) {
	if doc == nil {
		c.unavailable(ErrNoDocument)
		return
	}
	defer c.signalFirst()
	c.applyMu.Lock()
	defer c.applyMu.Unlock()
	old := c.snap.Load()
	if old != nil && old.doc == doc {
		c.setOK()
		return
	}
	ev := c.install(doc, "source", StateOK, nil)
	if c.opts.LastGoodPath != "" && (old == nil || !slices.Equal(old.doc.raw, doc.raw)) {
		if err := writeFileAtomic(c.opts.LastGoodPath, doc.raw); err != nil {
			c.log("flags: writing last-good file", "path", c.opts.LastGoodPath, "err", err)
		}
	}
	if ev != nil {
		c.notify(*ev)
	}
}

// unavailable reports that the source could not be read. The current
// document stays in force and the status becomes stale (or stays
// initializing when there is none).
func (c *Client) unavailable(err error) {
	defer c.signalFirst()
	if c.setStale(err) {
		c.log("flags: source unavailable", "err", err)
	}
}

// unchanged reports that the source still holds the document in force: the
// status returns to ok after an outage.
func (c *Client) unchanged() {
	defer c.signalFirst()
	if c.snap.Load() != nil {
		c.setOK()
	}
}

// setStale records err and reports whether it is news (a change of state
// or of error), so that a source failing on every poll logs once.
func (c *Client) setStale(err error) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	news := c.status.Err == nil || c.status.Err.Error() != err.Error()
	c.status.Err = err
	if c.status.State == StateOK {
		c.status.State = StateStale
		c.status.Since = c.now()
		news = true
	}
	return news
}

func (c *Client) setOK() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.status.Err = nil
	if c.status.State != StateOK {
		c.status.State = StateOK
		c.status.Since = c.now()
	}
}

// install compiles doc into a snapshot, swaps it in and returns the change
// event (nil when nothing changed). Called with applyMu held.
func (c *Client) install(doc *Document, origin string, state State, err error) *ChangeEvent {
	s := &snapshot{doc: doc, version: doc.version, list: make([]sflag, len(doc.list)), index: make(map[string]*sflag, len(doc.list))}
	c.mu.Lock()
	for i, f := range doc.list {
		sf := sflag{cflag: f, hits: make([]*counter, len(f.variants))}
		for j := range f.variants {
			k := counterKey{f.key, f.variants[j].name}
			ctr := c.counters[k]
			if ctr == nil {
				ctr = new(counter)
				c.counters[k] = ctr
			}
			sf.hits[j] = ctr
		}
		s.list[i] = sf
		s.index[f.key] = &s.list[i]
	}
	now := c.now()
	if c.status.State != state {
		c.status.Since = now
	}
	c.status.State, c.status.Err = state, err
	c.status.Version, c.status.Origin, c.status.Updated = doc.version, origin, now
	c.mu.Unlock()
	old := c.snap.Swap(s)
	var oldDoc *Document
	if old != nil {
		oldDoc = old.doc
	}
	changes := Diff(oldDoc, doc)
	if len(changes) == 0 && old != nil {
		return nil
	}
	ev := &ChangeEvent{Time: now, Origin: origin, Version: doc.version, Changes: changes}
	if old != nil {
		ev.OldVersion = old.version
	}
	return ev
}

func (c *Client) notify(ev ChangeEvent) {
	c.mu.Lock()
	ids := make([]int, 0, len(c.listeners))
	for id := range c.listeners {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	fns := make([]func(ChangeEvent), len(ids))
	for i, id := range ids {
		fns[i] = c.listeners[id]
	}
	c.mu.Unlock()
	for _, fn := range fns {
		fn(ev)
	}
}

// OnChange registers fn to be called after every document change with the
// per-flag differences, in order, from the source's goroutine, outside the
// client's locks: fn may evaluate flags and call [Client.Status],
// [Client.Document] or [Client.Counts], which already reflect the new
// document. A slow fn delays the next update, never evaluation. fn must not
// call [Client.Close], which waits for that goroutine. The first document
// loaded reports every flag as added. It returns a function that
// unregisters fn.
func (c *Client) OnChange(fn func(ChangeEvent)) (stop func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := c.nextID
	c.nextID++
	c.listeners[id] = fn
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.listeners, id)
	}
}

// Status returns the state of the source and the document in force.
func (c *Client) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// Document returns the document in force, or nil if none has been loaded.
func (c *Client) Document() *Document {
	if s := c.snap.Load(); s != nil {
		return s.doc
	}
	return nil
}

// Count is the number of evaluations that served one variant of one flag.
type Count struct {
	Flag    string `json:"flag"`
	Variant string `json:"variant"`
	N       uint64 `json:"n"`
}

// Counts reports how many times each variant of each flag has been served
// since the client started (counts survive document changes as long as the
// flag and variant keep their names), plus how often callers' defaults were
// served because a flag was missing, of the wrong type, or no document was
// loaded. Counting is a relaxed atomic add: it never blocks evaluation.
type Counts struct {
	Variants    []Count `json:"variants"`
	Missing     uint64  `json:"missing"`
	WrongType   uint64  `json:"wrongType"`
	Unavailable uint64  `json:"unavailable"`
}

// Counts returns the evaluation counters, sorted by flag and variant.
func (c *Client) Counts() Counts {
	c.mu.Lock()
	out := Counts{Variants: make([]Count, 0, len(c.counters))}
	for k, n := range c.counters {
		out.Variants = append(out.Variants, Count{Flag: k.flag, Variant: k.variant, N: n.load()})
	}
	c.mu.Unlock()
	slices.SortFunc(out.Variants, func(a, b Count) int {
		if a.Flag != b.Flag {
			if a.Flag < b.Flag {
				return -1
			}
			return 1
		}
		if a.Variant < b.Variant {
			return -1
		}
		if a.Variant > b.Variant {
			return 1
		}
		return 0
	})
	out.Missing, out.WrongType, out.Unavailable = c.nMissing.Load(), c.nWrongType.Load(), c.nUnavailable.Load()
	return out
}

// writeFileAtomic writes data to a temporary file in path's directory, syncs
// it and renames it over path, so that readers never see a partial file.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	name := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(name, path)
	}
	if err != nil {
		_ = os.Remove(name)
	}
	return err
}

// ChangeEvent describes one change of the document in force.
type ChangeEvent struct {
	// Time is when the new document was applied (client clock).
	Time time.Time `json:"time"`
	// Origin is "source" or "last-good file".
	Origin string `json:"origin"`
	// OldVersion and Version are the "version" fields of the previous and
	// the new document (OldVersion is 0 for the first document).
	OldVersion int64 `json:"oldVersion"`
	Version    int64 `json:"version"`
	// Changes lists the flags added, removed or updated, sorted by key.
	Changes []FlagChange `json:"changes"`
}

// ChangeKind says how a flag changed.
type ChangeKind string

// Change kinds.
const (
	FlagAdded   ChangeKind = "added"
	FlagRemoved ChangeKind = "removed"
	FlagUpdated ChangeKind = "updated"
)

// FlagChange is the change of one flag: its definition before and after,
// as canonical JSON (keys sorted), nil when absent.
type FlagChange struct {
	Key  string          `json:"key"`
	Kind ChangeKind      `json:"kind"`
	Old  json.RawMessage `json:"old,omitempty"`
	New  json.RawMessage `json:"new,omitempty"`
}

// Diff returns the per-flag differences from old to new (old may be nil),
// sorted by key.
func Diff(old, new *Document) []FlagChange {
	var out []FlagChange
	if old == nil {
		old = &Document{}
	}
	i, j := 0, 0
	for i < len(old.list) || j < len(new.list) {
		switch {
		case j == len(new.list) || (i < len(old.list) && old.list[i].key < new.list[j].key):
			out = append(out, FlagChange{Key: old.list[i].key, Kind: FlagRemoved, Old: old.list[i].json})
			i++
		case i == len(old.list) || new.list[j].key < old.list[i].key:
			out = append(out, FlagChange{Key: new.list[j].key, Kind: FlagAdded, New: new.list[j].json})
			j++
		default:
			if !slices.Equal(old.list[i].json, new.list[j].json) {
				out = append(out, FlagChange{Key: new.list[j].key, Kind: FlagUpdated, Old: old.list[i].json, New: new.list[j].json})
			}
			i++
			j++
		}
	}
	return out
}
