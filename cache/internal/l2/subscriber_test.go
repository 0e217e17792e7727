package l2

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stout-go/stout/internal/redistest"
)

// freezeProxy forwards TCP connections to a target. Freeze turns every
// connection open at that moment into a half-open one: the sockets stay open,
// but no byte gets through in either direction any more, as when a peer or a
// firewall drops a connection without a reset. Connections made later pass.
type freezeProxy struct {
	ln       net.Listener
	target   string
	accepted atomic.Int64

	mu    sync.Mutex
	links []*link
	wg    sync.WaitGroup
}

// link is one proxied connection.
type link struct {
	client, server net.Conn
	frozen         atomic.Bool
}

func newFreezeProxy(t *testing.T, target string) *freezeProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &freezeProxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *freezeProxy) Addr() string { return p.ln.Addr().String() }

// Accepted returns how many connections the proxy has accepted.
func (p *freezeProxy) Accepted() int64 { return p.accepted.Load() }

// Freeze makes every open connection half-open.
func (p *freezeProxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.links {
		l.frozen.Store(true)
	}
}

func (p *freezeProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.accepted.Add(1)
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		l := &link{client: c, server: s}
		p.mu.Lock()
		p.links = append(p.links, l)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(l, s, c)
		go p.pipe(l, c, s)
	}
}

// pipe copies src to dst until either side closes; bytes read while the link
// is frozen are dropped, never delivered.
func (p *freezeProxy) pipe(l *link, dst, src net.Conn) {
	defer p.wg.Done()
	defer func() { _ = l.client.Close(); _ = l.server.Close() }()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !l.frozen.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *freezeProxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	for _, l := range p.links {
		_ = l.client.Close()
		_ = l.server.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// subEvents records what a store reports about its subscription and the keys
// it hears invalidated.
type subEvents struct {
	sub  chan bool
	keys chan string
}

func newSubEvents() *subEvents {
	return &subEvents{sub: make(chan bool, 64), keys: make(chan string, 64)}
}

func (e *subEvents) options(o Options) Options {
	o.OnSubscription = func(up bool) {
		select {
		case e.sub <- up:
		default:
		}
	}
	o.OnInvalidate = func(key string) {
		select {
		case e.keys <- key:
		default:
		}
	}
	return o
}

// next waits for the next OnSubscription report.
func (e *subEvents) next(t *testing.T, within time.Duration) bool {
	t.Helper()
	select {
	case up := <-e.sub:
		return up
	case <-time.After(within):
		t.Fatalf("no OnSubscription report within %v", within)
		return false
	}
}

// heard waits until key is reported invalidated.
func (e *subEvents) heard(t *testing.T, key string, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case k := <-e.keys:
			if k == key {
				return
			}
		case <-deadline:
			t.Fatalf("invalidation of %q not heard within %v", key, within)
		}
	}
}

// currentPubSub returns the PubSub Close would close.
func currentPubSub(s *Store) *redis.PubSub {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ps
}

// TestSubscriberHalfOpen: a subscription whose connection silently stops
// carrying bytes is noticed (its PINGs get no PONG), reported lost and made
// again on a new connection, and invalidations are heard again.
func TestSubscriberHalfOpen(t *testing.T) {
	t.Parallel()
	srv := redistest.StartOwned(t)
	p := newFreezeProxy(t, srv.Addr)
	ca := redis.NewClient(&redis.Options{Addr: p.Addr(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = ca.Close() })
	health := 100 * time.Millisecond
	ev := newSubEvents()
	a := newStore(t, ca, srv.Prefix, ev.options(Options{SubscriberHealth: health}))
	b := newStore(t, srv.Client(t), srv.Prefix, Options{})
	ctx := context.Background()

	require.True(t, ev.next(t, 20*time.Second), "first report: subscribed")
	ready(t, b)
	waitSubscribed(t, a, 2)
	require.NoError(t, b.Invalidate(ctx, "before"))
	ev.heard(t, "before", 10*time.Second)
	first := currentPubSub(a)
	accepted := p.Accepted()

	start := time.Now()
	p.Freeze()
	require.False(t, ev.next(t, 20*health+5*time.Second), "the half-open subscription is reported lost")
	assert.Less(t, time.Since(start), 20*health+5*time.Second)
	require.True(t, ev.next(t, 10*time.Second), "the subscription is made again")
	assert.Greater(t, p.Accepted(), accepted, "over a new connection")
	assert.NotSame(t, first, currentPubSub(a), "Close closes the new PubSub")
	st := a.Stats()
	assert.Equal(t, uint64(1), st.SubscriptionLost)
	assert.Equal(t, uint64(1), st.Resubscribes)

	require.NoError(t, b.Invalidate(ctx, "after"))
	ev.heard(t, "after", 10*time.Second)
}

// TestSubscriberIdle: a healthy subscription that carries no message for many
// health periods is kept (the PONGs to its PINGs are heard), not reported lost.
func TestSubscriberIdle(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	// Long enough that a loaded machine's stalls (a PONG read late) are not silence.
	health := 500 * time.Millisecond
	ev := newSubEvents()
	a := newStore(t, srv.Client(t), srv.Prefix, ev.options(Options{SubscriberHealth: health}))
	b := newStore(t, srv.Client(t), srv.Prefix, Options{})
	ctx := context.Background()
	require.True(t, ev.next(t, 20*time.Second), "first report: subscribed")
	ready(t, b)
	waitSubscribed(t, a, 2)
	ps := currentPubSub(a)

	idle := 3 * silentPeriods * health
	select {
	case up := <-ev.sub:
		t.Fatalf("OnSubscription(%v) on an idle, healthy subscription", up)
	case <-time.After(idle):
	}
	st := a.Stats()
	assert.Zero(t, st.SubscriptionLost)
	assert.Zero(t, st.Resubscribes)
	assert.Same(t, ps, currentPubSub(a), "the subscription was not made again")
	require.NoError(t, b.Invalidate(ctx, "k"))
	ev.heard(t, "k", 10*time.Second)
}

// TestSubscriberCloseWhileResubscribing: Close during the replacement of a
// dead subscription leaves nothing open (goleak checks the goroutines).
func TestSubscriberCloseWhileResubscribing(t *testing.T) {
	t.Parallel()
	srv := redistest.StartOwned(t)
	p := newFreezeProxy(t, srv.Addr)
	ca := redis.NewClient(&redis.Options{Addr: p.Addr(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = ca.Close() })
	health := 20 * time.Millisecond
	ev := newSubEvents()
	o := ev.options(Options{SubscriberHealth: health})
	o.Client = ca
	o.Prefix = srv.Prefix + "stout"
	o.Now = newFakeClock().Now
	a, err := New(o)
	require.NoError(t, err)
	require.True(t, ev.next(t, 20*time.Second))
	// Keep freezing so every new subscription dies too: the subscriber keeps
	// replacing it.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			p.Freeze()
			select {
			case <-stop:
				return
			case <-time.After(health):
			}
		}
	}()
	require.False(t, ev.next(t, 10*time.Second))
	require.NoError(t, a.Close())
	close(stop)
	<-done
	ps := currentPubSub(a)
	require.NotNil(t, ps)
	assert.Error(t, ps.Ping(context.Background()), "the current PubSub is closed")
}
