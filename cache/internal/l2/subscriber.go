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

// subscriberHealth is how long the subscriber waits for a message before it
// PINGs the connection to find out whether it is still alive.
const subscriberHealth = time.Second

// subscriber receives invalidations from other instances until Close.
func (s *Store) subscriber() {
	defer s.wg.Done()
	ps := s.c.Subscribe(s.ctx, s.ks.channel)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ps.Close()
		return
	}
	s.ps = ps
	s.mu.Unlock()

	subscribed, missed, first := false, false, true
	backoff := 10 * time.Millisecond
	for {
		msg, err := ps.ReceiveTimeout(s.ctx, subscriberHealth)
		if s.ctx.Err() != nil {
			return
		}
		if err != nil {
			var ne net.Error
			if subscribed && errors.As(err, &ne) && ne.Timeout() {
				if ps.Ping(s.ctx) == nil {
					continue
				}
			}
			if subscribed || !missed {
				s.st.subscriptionLost.Add(1)
				if s.o.OnSubscription != nil {
					s.o.OnSubscription(false)
				}
			}
			subscribed, missed = false, true
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
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
