package l2

import "sync/atomic"

// Stats is a snapshot of a [Store]'s counters.
type Stats struct {
	Hits             uint64 // Get/GetMany found a value
	StaleHits        uint64 // ... past its soft expiry, served stale (counted in Hits too)
	Misses           uint64 // Get/GetMany found none (or undecodable bytes)
	LeaseWaits       uint64 // Get found another holder's lease and waited
	LeaseWaitHits    uint64 // ... and got the holder's value
	LeaseTimeouts    uint64 // ... and gave up after LeaseWait
	FillsRejected    uint64 // a Put lost its lease (invalidated or set meanwhile)
	Corrupt          uint64 // values that did not decode or had another generation
	Errors           uint64 // Redis failures (timeouts, refused connections)
	Unavailable      uint64 // calls refused at once by the open breaker
	SubscriptionLost uint64 // the invalidation subscription was lost (or failed at start)
	Resubscribes     uint64 // the invalidation subscription came back after a loss
	BreakerOpen      bool   // the breaker is open now
	Version          uint64 // the locally held namespace version (0: not known yet)
}

type counters struct {
	hits, staleHits, misses, leaseWaits, leaseWaitHits, leaseTimeouts atomic.Uint64
	fillsRejected, corrupt, errors, unavailable                       atomic.Uint64
	resubscribes, subscriptionLost                                    atomic.Uint64
}

// Stats returns a snapshot of the counters.
func (s *Store) Stats() Stats {
	st := Stats{
		Hits:             s.st.hits.Load(),
		StaleHits:        s.st.staleHits.Load(),
		Misses:           s.st.misses.Load(),
		LeaseWaits:       s.st.leaseWaits.Load(),
		LeaseWaitHits:    s.st.leaseWaitHits.Load(),
		LeaseTimeouts:    s.st.leaseTimeouts.Load(),
		FillsRejected:    s.st.fillsRejected.Load(),
		Corrupt:          s.st.corrupt.Load(),
		Errors:           s.st.errors.Load(),
		Unavailable:      s.st.unavailable.Load(),
		Resubscribes:     s.st.resubscribes.Load(),
		SubscriptionLost: s.st.subscriptionLost.Load(),
		BreakerOpen:      s.br.IsOpen(),
	}
	if v := s.ver.Load(); v != nil {
		st.Version = v.v
	}
	return st
}
