package l2

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/stout-go/stout/internal/breaker"
)

// batching says how GetMany groups keys into MGETs.
type batching uint8

const (
	batchOne  batching = iota // one server: a single MGET
	batchSlot                 // Cluster: one MGET per hash slot
	batchTag                  // Ring or unknown: one MGET per hash tag
)

// Store is the Redis level of one cache namespace. It is safe for concurrent use
// by multiple goroutines. It runs two goroutines (the invalidation subscriber
// and the version refresher) until [Store.Close], and a third (the budget clock)
// while calls wait on Redis.
type Store struct {
	o     Options
	c     Client
	ks    keyspace
	batch batching
	id    string // instance id: prefixes our messages and lease tokens
	seq   atomic.Uint64
	br    *breaker.Breaker
	ver   atomic.Pointer[verState]
	rd    reads // batches the GETs of hits
	st    counters
	clock *budgetClock // ends the budgets of calls at their deadlines

	kick   chan struct{} // asks the refresher to re-read the version
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex // guards ps and closed
	ps     *redis.PubSub
	closed bool
}

// verState is the locally held namespace version and when Redis confirmed it.
type verState struct {
	v  uint64
	at int64 // Unix ns on Options.Now
}

// New returns a Store for o. It does not wait for Redis: it works, and fails
// over to its failure policy, while Redis is down. The subscription and the
// first version read start in the background.
func New(o Options) (*Store, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	s := &Store{
		o:     o,
		c:     o.Client,
		ks:    newKeyspace(o.Prefix, o.Namespace),
		id:    hex.EncodeToString(id[:]),
		kick:  make(chan struct{}, 1),
		clock: newBudgetClock(o.Budget),
	}
	switch o.Client.(type) {
	case *redis.Client:
		s.batch = batchOne
	case *redis.ClusterClient:
		s.batch = batchSlot
	default:
		s.batch = batchTag
	}
	s.br = breaker.New(breaker.Options{
		Failures:      o.BreakerFailures,
		ProbeInterval: o.BreakerProbeInterval,
		ProbeTimeout:  o.Budget,
		Probe:         func(ctx context.Context) error { return s.c.Ping(ctx).Err() },
		OnChange: func(open bool) {
			if o.OnBreaker != nil {
				o.OnBreaker(open)
			}
		},
	})
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.kick <- struct{}{}
	s.wg.Add(2)
	go s.refresher()
	go s.subscriber()
	return s, nil
}

// Available reports whether Redis is being called: false while the circuit
// breaker is open.
func (s *Store) Available() bool { return s.br.Allow() }

// Close stops the background goroutines and waits for them. It does not close
// the Redis client. It is idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	// Cancel first: the subscriber must see the end of its context, not a lost
	// subscription, when its connection closes.
	s.cancel()
	if s.ps != nil {
		_ = s.ps.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.clock.close()
	s.br.Close()
	return nil
}

// VersionKey returns the Redis key holding the namespace version.
func (s *Store) VersionKey() string { return s.ks.version }

// DataKey returns the Redis key of key under namespace version ver.
func (s *Store) DataKey(ver uint64, key string) string { return s.ks.data(ver, key) }

// Channel returns the pub/sub channel carrying the namespace's invalidations.
func (s *Store) Channel() string { return s.ks.channel }

// now returns the clock in Unix ns.
func (s *Store) now() int64 { return s.o.Now().UnixNano() }

// version returns the local version and whether it may be used as is (within
// the staleness bound); it asks for a background re-read past half the bound.
func (s *Store) version() (uint64, bool) {
	st := s.ver.Load()
	if st == nil {
		return 0, false
	}
	if s.o.VersionStaleness < 0 {
		return st.v, false
	}
	age := s.now() - st.at
	bound := int64(s.o.VersionStaleness)
	if age > bound {
		return st.v, false
	}
	if age > bound/2 {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	return st.v, true
}

// setVersion merges v, read from Redis at time at (or 0 when only heard of over
// pub/sub), into the local version: versions only go up. It reports whether v
// raised a known, non-zero version.
func (s *Store) setVersion(v uint64, at int64) (raised bool) {
	for {
		old := s.ver.Load()
		nv := &verState{v: v, at: at}
		if old != nil {
			switch {
			case old.v > v:
				nv.v = old.v
				nv.at = old.at
			case old.v == v:
				nv.at = max(old.at, at)
			}
			if *nv == *old {
				return false
			}
		}
		if s.ver.CompareAndSwap(old, nv) {
			return old != nil && old.v != 0 && v > old.v
		}
	}
}

// staleVersion keeps the local version but makes the next call re-read it.
func (s *Store) staleVersion() {
	for {
		old := s.ver.Load()
		if old == nil || old.at == 0 {
			return
		}
		if s.ver.CompareAndSwap(old, &verState{v: old.v}) {
			return
		}
	}
}

// initialVersion is the value a missing version key is created with: the
// current Unix time in microseconds, so a re-created version is above every
// version handed out before (unless more than a million bumps a second ran).
func (s *Store) initialVersion() int64 { return time.Now().UnixMicro() }

// fetchVersion reads the version from Redis, creating it when missing, and
// records it locally. It is one round trip (SET NX + GET in one pipeline).
func (s *Store) fetchVersion(ctx context.Context) (uint64, error) {
	pipe := s.c.Pipeline()
	pipe.SetNX(ctx, s.ks.version, s.initialVersion(), 0)
	get := pipe.Get(ctx, s.ks.version)
	_, _ = pipe.Exec(ctx)
	return s.parseVersion(get)
}

// parseVersion turns a GET of the version key into the version; a missing key
// is returned as 0 with a nil error.
func (s *Store) parseVersion(get *redis.StringCmd) (uint64, error) {
	raw, err := get.Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(raw, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("l2: version key %s holds %q: %w", s.ks.version, raw, err)
	}
	if s.setVersion(v, s.now()) && s.o.OnVersionRaised != nil {
		// A bump this instance did not hear of: its message was lost, or Redis
		// re-created the version key. Only the one read that raised it reports it.
		s.o.OnVersionRaised(v)
	}
	return v, nil
}

// refresher re-reads the version when kicked, and retries with backoff while
// the read fails (so that a version unknown at start is learnt without waiting
// for a caller).
func (s *Store) refresher() {
	defer s.wg.Done()
	var retry <-chan time.Time
	backoff := 50 * time.Millisecond
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.kick:
		case <-retry:
		}
		retry = nil
		var err error
		if s.br.Allow() {
			ctx, cancel := context.WithTimeout(s.ctx, s.o.Budget)
			_, err = s.fetchVersion(ctx)
			cancel()
			s.observe(s.ctx, err)
		} else {
			err = ErrUnavailable
		}
		if err == nil {
			backoff = 50 * time.Millisecond
			continue
		}
		retry = time.After(backoff)
		backoff = min(2*backoff, 2*time.Second)
	}
}

// budget returns ctx bounded by the per-call budget. The budget is closed by the
// store's budget clock rather than a timer of its own (see [budgetCtx]); after Close,
// a budget ends as soon as it is waited on.
func (s *Store) budget(ctx context.Context) (context.Context, context.CancelFunc) {
	return withBudget(ctx, s.clock, time.Now().Add(s.o.Budget))
}

// budgetUntil returns ctx bounded by deadline, like budget.
func (s *Store) budgetUntil(ctx context.Context, deadline time.Time) (context.Context, context.CancelFunc) {
	return withBudget(ctx, s.clock, deadline)
}

// observe reports the outcome of a Redis call to the breaker and the counters.
// Answers (a missing key, an error reply) mean the server is up; a caller's own
// cancellation says nothing about Redis.
func (s *Store) observe(parent context.Context, err error) {
	if err == nil || errors.Is(err, redis.Nil) || isReply(err) {
		s.br.Record(nil)
		return
	}
	if parent.Err() != nil {
		return
	}
	s.st.errors.Add(1)
	s.br.Record(err)
}

// isReply reports whether err is an error reply from the server.
func isReply(err error) bool {
	var re redis.Error
	if !errors.As(err, &re) {
		return false
	}
	msg := re.Error()
	// The cluster being down or moving is an outage, not an answer.
	return !strings.HasPrefix(msg, "CLUSTERDOWN") && !strings.HasPrefix(msg, "LOADING") &&
		!strings.HasPrefix(msg, "TRYAGAIN") && !strings.HasPrefix(msg, "MASTERDOWN")
}

// fail records err and returns it wrapped.
func (s *Store) fail(parent context.Context, err error) error {
	s.observe(parent, err)
	if parent.Err() != nil {
		return parent.Err()
	}
	return fmt.Errorf("l2: %w", err)
}

// allow reports whether Redis may be called; while the breaker is open it counts
// the skipped call.
func (s *Store) allow() bool {
	if s.br.Allow() {
		return true
	}
	s.st.unavailable.Add(1)
	return false
}

// token returns a new lease token, unique across instances.
func (s *Store) token() string {
	return s.id + strconv.FormatUint(s.seq.Add(1), 36)
}
