package l2

import (
	"errors"
	"net"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Message kinds on the invalidation channel: "<id> k <key>", "<id> v <version>".
const (
	msgKey     = 'k'
	msgVersion = 'v'
)

func (s *Store) message(kind byte, body string) string {
	return s.id + " " + string(kind) + " " + body
}

// silentPeriods is how many health periods ([Options.SubscriberHealth]) may pass
// without anything heard on the subscription's connection before it is taken
// to be dead. A PING is sent after each quiet period, so a live connection is
// heard from (its PONG) once a period.
const silentPeriods = 3

// subscriber receives invalidations from other instances until Close.
//
// A read that times out is not an error: the connection is PINGed and the wait
// goes on. The PING only proves that the request was written, so the
// subscriber also watches for the PONG: when nothing at all (message,
// subscription confirmation or PONG) was heard for silentPeriods, the
// connection is half-open (the peer or something between dropped it without a
// reset) and go-redis, which reconnects on errors but not on read timeouts,
// would wait on it forever. The subscription is then reported lost and made
// again with a new PubSub.
func (s *Store) subscriber() {
	defer s.wg.Done()
	ps := s.subscribe(nil)
	if ps == nil {
		return
	}
	health := s.o.SubscriberHealth
	heard := time.Now()
	subscribed, missed, first := false, false, true
	lost := func() {
		if subscribed || !missed {
			s.st.subscriptionLost.Add(1)
			if s.o.OnSubscription != nil {
				s.o.OnSubscription(false)
			}
		}
		subscribed, missed = false, true
	}
	backoff := 10 * time.Millisecond
	for {
		msg, err := ps.ReceiveTimeout(s.ctx, health)
		if s.ctx.Err() != nil {
			return
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if time.Since(heard) >= silentPeriods*health {
					lost()
					if ps = s.subscribe(ps); ps == nil {
						return
					}
					heard = time.Now()
					continue
				}
				if ps.Ping(s.ctx) == nil {
					continue
				}
			}
			lost()
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		heard = time.Now()
		backoff = 10 * time.Millisecond
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind != "subscribe" {
				continue
			}
			subscribed = true
			if missed {
				s.st.resubscribes.Add(1)
				s.staleVersion()
			}
			if (missed || first) && s.o.OnSubscription != nil {
				s.o.OnSubscription(true)
			}
			missed, first = false, false
		case *redis.Message:
			s.handle(m.Payload)
		}
	}
}

// subscribe closes prev (if any), subscribes to the invalidation channel on a
// new PubSub and makes it the one [Store.Close] closes. It returns nil, with
// nothing left open, once the store is closed.
func (s *Store) subscribe(prev *redis.PubSub) *redis.PubSub {
	if prev != nil {
		_ = prev.Close()
	}
	ps := s.c.Subscribe(s.ctx, s.ks.channel)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = ps.Close()
		return nil
	}
	s.ps = ps
	return ps
}

// handle applies one invalidation message.
func (s *Store) handle(p string) {
	if len(p) < len(s.id)+3 || p[len(s.id)] != ' ' || p[len(s.id)+2] != ' ' {
		return
	}
	self := p[:len(s.id)] == s.id
	body := p[len(s.id)+3:]
	switch p[len(s.id)+1] {
	case msgKey:
		if !self && s.o.OnInvalidate != nil {
			s.o.OnInvalidate(body)
		}
	case msgVersion:
		v, err := strconv.ParseUint(body, 10, 64)
		if err != nil {
			return
		}
		old := s.ver.Load()
		s.setVersion(v, 0)
		if !self && (old == nil || v > old.v) && s.o.OnInvalidateAll != nil {
			s.o.OnInvalidateAll(v)
		}
	}
}
