package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stout-go/stout/cache"
	"github.com/stout-go/stout/fieldmask"
	"github.com/stout-go/stout/flags"
	"github.com/stout-go/stout/paginate"
	"github.com/stout-go/stout/slowlog"
)

// config is everything main's flags decide.
type config struct {
	Users    int           // size of the data set
	Seed     uint64        // data set seed
	Latency  time.Duration // cost of one repository call
	ScanCost time.Duration // cost per row an OFFSET query skips

	RedisAddr    string   // -redis: one Redis for cache, limits and flags
	RedisCluster []string // -redis-cluster: a Redis Cluster instead
	RedisPrefix  string   // starts every Redis key; default "stout-example:"

	// TrustLoopbackProxy makes X-Forwarded-For from a loopback peer the
	// client's address, so that a load generator on this machine can act as
	// many clients.
	TrustLoopbackProxy bool

	// ReadLimit and WriteLimit are the requests per second each client
	// (IP address) may send: reads with a burst of ReadLimit, writes with a
	// burst of 2×WriteLimit. Defaults 100 and 10.
	ReadLimit, WriteLimit int

	// CursorKey seals list cursors (32 bytes). Instances that serve the same
	// clients need the same key; nil means a random key per process.
	CursorKey []byte

	// FlagsFile is the flag document's file (reloaded on change); "" means
	// the embedded default. Ignored with Redis, which holds the document.
	FlagsFile string
	FlagsPoll time.Duration // how often the file is checked; default 1s

	// CacheTTL is how long a cached part stays fresh. Default 1 minute.
	CacheTTL time.Duration

	// SlowThreshold is the duration from which a route or repository call
	// is logged as slow. Default 100ms.
	SlowThreshold time.Duration

	Logger *slog.Logger     // nil discards
	Now    func() time.Time // clock; nil means time.Now
}

func (c *config) defaults() {
	if c.Users <= 0 {
		c.Users = 200_000
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.RedisPrefix == "" {
		c.RedisPrefix = "stout-example:"
	}
	if c.ReadLimit <= 0 {
		c.ReadLimit = 100
	}
	if c.WriteLimit <= 0 {
		c.WriteLimit = 10
	}
	if c.CacheTTL == 0 {
		c.CacheTTL = time.Minute
	}
	if c.SlowThreshold == 0 {
		c.SlowThreshold = 100 * time.Millisecond
	}
}

// parts are the pieces of the composite user resource, each its own query.
type parts uint8

const (
	partUser parts = 1 << iota
	partProfile
	partPreferences
	partActivity
)

// userView is the composite resource GET /users/{id} returns.
type userView struct {
	User
	Profile        *Profile     `json:"profile,omitempty"`
	Preferences    *Preferences `json:"preferences,omitempty"`
	RecentActivity []Activity   `json:"recent-activity,omitempty"`
}

// server is the example service: its handler and everything it must close.
type server struct {
	cfg     config
	repo    *repo
	handler http.Handler

	slow  *slowlog.Recorder   // timings of every route and repository call
	pages *paginate.Paginator // GET /users

	masks *fieldmask.Codec // ?fields= and ?include= of GET /users/{id}

	// rate limits per client address: reads, and stricter writes
	readLimit, writeLimit func(http.Handler) http.Handler

	rdb   redis.UniversalClient // nil without -redis / -redis-cluster
	flags *flags.Client         // the activity-feed rollout

	// cache-aside, one cache per part of the composite resource
	users    *cache.Cache[User]
	profiles *cache.Cache[Profile]
	prefs    *cache.Cache[Preferences]
	activity *cache.Cache[[]Activity]

	partsAsked  atomic.Int64 // parts of composite resources requested
	callsNeeded atomic.Int64 // repository calls those parts cost without a cache

	closeOnce sync.Once
	closers   []func() error // run in reverse order by Close
	closeErr  error
}

// newServer builds the service. Close releases everything it started.
func newServer(cfg config) (*server, error) {
	cfg.defaults()
	s := &server{cfg: cfg}
	ok := false
	defer func() {
		if !ok {
			_ = s.Close()
		}
	}()

	var err error
	s.slow, err = slowlog.New(&slowlog.Options{Threshold: cfg.SlowThreshold, Logger: cfg.Logger, Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, s.slow.Close)
	s.newRedis()
	var st store
	if s.rdb != nil {
		st = &redisStore{rdb: s.rdb, prefix: cfg.RedisPrefix}
	}
	s.repo = newRepo(newDataset(cfg.Users, cfg.Seed), cfg.Latency, cfg.ScanCost, s.slow, st)
	ctx, cancel := context.WithTimeout(context.Background(), redisTimeout)
	defer cancel()
	if err := s.newFlags(ctx); err != nil {
		return nil, err
	}
	if err := s.newCaches(); err != nil {
		return nil, err
	}
	s.newLimits()
	s.masks, err = fieldmask.New(&fieldmask.Options{Policies: map[reflect.Type]fieldmask.Policy{
		reflect.TypeFor[userView](): {
			// The parts are separate queries: sent only when asked for by
			// name (in fields= or include=), never through "*".
			OptIn:   map[string]string{"profile": "", "preferences": "", "recent-activity": ""},
			Default: "id,name,email,created_at",
		},
	}})
	if err != nil {
		return nil, err
	}

	key := cfg.CursorKey
	if key == nil {
		key = make([]byte, 32)
		_, _ = rand.Read(key) // never fails (crypto/rand)
	}
	codec, err := paginate.NewCodec(paginate.Secret{ID: "1", Key: key})
	if err != nil {
		return nil, err
	}
	s.pages, err = paginate.New(paginate.Options{
		Sort: listSort, Codec: codec,
		DefaultLimit: defaultLimit, MaxLimit: maxLimit, RejectOverMax: true,
		Now: cfg.Now,
	})
	if err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	s.route(mux, "GET /users/{id}", s.readLimit, s.getUser)
	s.route(mux, "PUT /users/{id}", s.writeLimit, s.putUser)
	s.route(mux, "GET /users", s.readLimit, s.listUsers)
	s.route(mux, "GET /users-offset", s.readLimit, s.listUsersOffset)
	s.route(mux, "GET /naive/users/{id}", s.readLimit, s.getUserNaive)
	mux.HandleFunc("GET /debug/stats", s.debugStats)
	mux.Handle("GET /debug/slow", s.slow.Handler()) // HTML; JSON with ?format=json
	mux.HandleFunc("GET /debug/flags", s.debugFlags)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.handler = withGzip(mux)
	ok = true
	return s, nil
}

// route registers h under pattern behind the rate limit, timed by slowlog
// as the op "http <pattern>" (a 5xx answer counts as an error; a 429 is not
// timed: it never reaches the handler).
func (s *server) route(mux *http.ServeMux, pattern string, limit func(http.Handler) http.Handler, h http.HandlerFunc) {
	name := "http " + pattern
	timed := slowlog.Middleware(s.slow, func(*http.Request) string { return name })
	mux.Handle(pattern, limit(timed(h)))
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Close closes every stout type the server started, newest first. It is safe
// to call more than once.
func (s *server) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		for i := len(s.closers) - 1; i >= 0; i-- {
			errs = append(errs, s.closers[i]())
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// --- errors -----------------------------------------------------------------

type apiError struct {
	Status  int    `json:"-"`
	Message string `json:"error"`
	Code    string `json:"code,omitempty"`  // machine-readable, when there is one
	Param   string `json:"param,omitempty"` // the query parameter at fault
}

func (e *apiError) Error() string { return e.Message }

func badRequest(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

// writeError answers err as JSON: client errors with their message, anything
// else as a 500 that does not leak internals.
func writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	var pe *paginate.RequestError
	var fe *fieldmask.RequestError
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &pe):
		ae = &apiError{Status: http.StatusBadRequest, Message: pe.Error(), Code: pe.Code(), Param: pe.Param}
	case errors.As(err, &fe):
		ae = &apiError{Status: http.StatusBadRequest, Message: fe.Error(), Code: "invalid_fields"}
		if len(fe.Params) > 0 {
			ae.Param = fe.Params[0].Param
		}
	case errors.Is(err, errNoUser), errors.Is(err, cache.ErrNotFound):
		ae = &apiError{Status: http.StatusNotFound, Message: "no such user"}
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads this. 499 as nginx logs it, so
		// that it does not count as a server error.
		ae = &apiError{Status: statusClientClosed, Message: "request cancelled by the client"}
	case errors.Is(err, context.DeadlineExceeded):
		ae = &apiError{Status: http.StatusServiceUnavailable, Message: "request timed out"}
	default:
		ae = &apiError{Status: http.StatusInternalServerError, Message: "internal error"}
	}
	writeJSON(w, ae.Status, ae)
}

// statusClientClosed is nginx's "client closed request".
const statusClientClosed = 499

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":"internal error"}`, http.StatusInternalServerError)
		return
	}
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	_, _ = w.Write([]byte("\n"))
}

// --- GET /users/{id} ----------------------------------------------------------

func parseID(r *http.Request) (int64, error) {
	raw := r.PathValue("id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id < 1 {
		return 0, badRequest("user id %q is not a positive integer", raw)
	}
	return id, nil
}

// userViewType is the type ?fields= is validated against.
var userViewType = reflect.TypeFor[userView]()

// coreFields are the fields of the users row.
var coreFields = []string{"id", "name", "email", "created_at"}

// getUser serves the composite resource. The field mask (fields= plus
// include=) decides which parts are loaded at all, then which fields are
// written.
func (s *server) getUser(w http.ResponseWriter, r *http.Request) {
	id, err := parseID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	m, err := fieldmask.FromRequest(r, &fieldmask.RequestOptions{Codec: s.masks, Type: userViewType})
	if err != nil {
		writeError(w, err)
		return
	}
	var want parts
	for _, f := range coreFields {
		if m.Has(f) {
			want |= partUser
		}
	}
	for name, p := range map[string]parts{"profile": partProfile, "preferences": partPreferences, "recent-activity": partActivity} {
		if m.Has(name) {
			want |= p
		}
	}
	if want == 0 {
		want = partUser // nothing selected: still answer 404 for an unknown user
	}
	feed := false
	if want&partActivity != 0 {
		feed = s.useFeed(r.Context(), id)
		w.Header().Set("X-Rollout", flagActivityFeed+"="+map[bool]string{true: "on", false: "off"}[feed])
	}
	v, err := s.load(r.Context(), id, want, true, feed)
	if err != nil {
		writeError(w, err)
		return
	}
	b, err := s.masks.Marshal(v, m)
	if err != nil {
		writeError(w, err)
		return
	}
	writeRaw(w, http.StatusOK, b)
}

// getUserNaive is GET /users/{id} as it is often first written: every part
// loaded on every request whatever the client asked for, no cache, the whole
// struct encoded.
func (s *server) getUserNaive(w http.ResponseWriter, r *http.Request) {
	id, err := parseID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	v, err := s.load(r.Context(), id, partUser|partProfile|partPreferences|partActivity, false, false)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// --- PUT /users/{id} ----------------------------------------------------------

// maxBody bounds a PUT body.
const maxBody = 64 << 10

func decodePatch(r *http.Request, w http.ResponseWriter) (userPatch, error) {
	var p userPatch
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, jsonError(err)
	}
	if dec.More() {
		return p, badRequest("body must be a single JSON object")
	}
	return p, validatePatch(p)
}

// jsonError turns a decoding error into a message that says where and what.
func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var big *http.MaxBytesError
	switch {
	case errors.As(err, &syn):
		return badRequest("malformed JSON at byte %d: %v", syn.Offset, err)
	case errors.As(err, &typ):
		return badRequest("field %q must be a JSON %s, not %s", typ.Field, typ.Type, typ.Value)
	case errors.As(err, &big):
		return &apiError{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("body larger than %d bytes", big.Limit)}
	case errors.Is(err, io.EOF):
		return badRequest("empty body: send a JSON object such as {\"name\":\"Ada Lovelace\"}")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("malformed JSON: the body ends in the middle of a value")
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return badRequest("%s: allowed are name, email, profile{bio,location,company}, preferences{theme,language,timezone,newsletter}", strings.TrimPrefix(err.Error(), "json: "))
	}
	return badRequest("malformed JSON: %v", err)
}

func validatePatch(p userPatch) error {
	check := func(field string, v *string, maxLen int) error {
		if v == nil {
			return nil
		}
		if strings.TrimSpace(*v) == "" {
			return badRequest("%s must not be empty", field)
		}
		if len(*v) > maxLen {
			return badRequest("%s is longer than %d bytes", field, maxLen)
		}
		return nil
	}
	errs := []error{check("name", p.Name, 200), check("email", p.Email, 254)}
	if p.Email != nil && !strings.Contains(*p.Email, "@") {
		errs = append(errs, badRequest("email %q has no @", *p.Email))
	}
	if pp := p.Profile; pp != nil {
		errs = append(errs, check("profile.bio", pp.Bio, 2000), check("profile.location", pp.Location, 200), check("profile.company", pp.Company, 200))
	}
	if pp := p.Preferences; pp != nil {
		errs = append(errs, oneOf("preferences.theme", pp.Theme, themes), oneOf("preferences.language", pp.Language, languages),
			oneOf("preferences.timezone", pp.Timezone, timezones))
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func oneOf(field string, v *string, allowed []string) error {
	if v == nil {
		return nil
	}
	for _, a := range allowed {
		if *v == a {
			return nil
		}
	}
	return badRequest("%s %q: allowed are %s", field, *v, strings.Join(allowed, ", "))
}

func (s *server) putUser(w http.ResponseWriter, r *http.Request) {
	id, err := parseID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	p, err := decodePatch(r, w)
	if err != nil {
		writeError(w, err)
		return
	}
	u, changed, err := s.repo.Update(r.Context(), id, p, s.cfg.Now())
	if err != nil {
		writeError(w, err)
		return
	}
	if err := s.invalidate(r.Context(), id, changed); err != nil {
		// The write is committed but a cache may still hold the old value
		// until its TTL: say so rather than pretend.
		s.cfg.Logger.Error("invalidate after write", "user", id, "err", err)
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

// --- lists ------------------------------------------------------------------

const (
	defaultLimit = 20
	maxLimit     = 100
)

func parseLimit(q string) (int, error) {
	if q == "" {
		return defaultLimit, nil
	}
	n, err := strconv.Atoi(q)
	if err != nil || n < 1 || n > maxLimit {
		return 0, badRequest("limit %q: must be an integer from 1 to %d", q, maxLimit)
	}
	return n, nil
}

type offsetPage struct {
	Items []User `json:"items"`
	Page  int    `json:"page"`
	Next  string `json:"next,omitempty"`
}

// listUsersOffset is the naive list: ?page=N&limit=L becomes OFFSET N*L.
func (s *server) listUsersOffset(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		writeError(w, err)
		return
	}
	page := 0
	if v := q.Get("page"); v != "" {
		page, err = strconv.Atoi(v)
		if err != nil || page < 0 || page > s.repo.Len() {
			writeError(w, badRequest("page %q: must be an integer from 0 to %d", v, s.repo.Len()))
			return
		}
	}
	rows, err := s.repo.ListOffset(r.Context(), page*limit, limit)
	if err != nil {
		writeError(w, err)
		return
	}
	out := offsetPage{Items: rows, Page: page}
	if (page+1)*limit < s.repo.Len() {
		out.Next = fmt.Sprintf("/users-offset?page=%d&limit=%d", page+1, limit)
	}
	writeJSON(w, http.StatusOK, out)
}

// listUsers is the keyset list: ?limit=&cursor=, with RFC 8288 Link
// headers to the next and previous pages.
func (s *server) listUsers(w http.ResponseWriter, r *http.Request) {
	req, err := s.pages.Parse(r, paginate.Binding{})
	if err != nil {
		writeError(w, err)
		return
	}
	ids, rows, err := s.repo.ListPage(r.Context(), req)
	if err != nil {
		writeError(w, err)
		return
	}
	ids.WriteLinkHeader(w, r)
	writeJSON(w, http.StatusOK, paginate.Page[User]{
		Items: rows, NextCursor: ids.NextCursor, PrevCursor: ids.PrevCursor, HasMore: ids.HasMore,
	})
}

// --- /debug -----------------------------------------------------------------

type repoStats struct {
	Calls map[string]int64 `json:"calls"`
	Total int64            `json:"total"`
}

type debugStats struct {
	Users      int            `json:"users"`
	Repository repoStats      `json:"repository"`
	Composite  compositeStats `json:"composite"`
	// Cache holds the counters of each part's cache.
	Cache map[string]cacheStats `json:"cache"`
}

// compositeStats counts the parts of GET /users/{id} and /naive/users/{id}.
type compositeStats struct {
	// Parts is the number of parts the handlers needed.
	Parts int64 `json:"parts"`
	// CallsNeeded is what those parts cost in repository calls without a
	// cache; CallsMade is what they cost.
	CallsNeeded int64 `json:"calls_needed"`
	CallsMade   int64 `json:"calls_made"`
}

// compositeOps are the repository calls that load parts of the composite.
var compositeOps = []string{"users.get", "profiles.get", "preferences.get", "activity.ids", "activity.get", "activity.feed"}

func (s *server) stats() debugStats {
	calls, total := s.repo.Calls()
	st := debugStats{
		Users:      s.repo.Len(),
		Repository: repoStats{Calls: calls, Total: total},
		Composite:  compositeStats{Parts: s.partsAsked.Load(), CallsNeeded: s.callsNeeded.Load()},
	}
	for _, op := range compositeOps {
		st.Composite.CallsMade += calls[op]
	}
	st.Cache = s.cacheStats()
	return st
}

func (s *server) debugStats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.stats())
}

func itoa(id int64) string { return strconv.FormatInt(id, 10) }
