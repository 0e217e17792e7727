package ratelimit

import (
	"context"
	"math"
	"sync"
	"time"
)

// InfDuration is the Delay of a Reservation that is not OK.
const InfDuration = time.Duration(math.MaxInt64)

// Reservation is units booked ahead of time by ReserveN: the holder waits
// Delay and then acts, or calls Cancel to give the units back.
type Reservation struct {
	ok     bool
	d      Decision
	actAt  time.Time
	clock  func() time.Time
	cancel func()
	once   sync.Once
}

// OK reports whether the units were booked. A reservation is not OK when it
// would have been too far in the future (see [Limiter.WaitN]).
func (r *Reservation) OK() bool { return r.ok }

// Decision is the decision made when the reservation was booked. Its
// RetryAfter is 0 when OK; Remaining is what is left after the booking
// (0 while the bucket is in debt).
func (r *Reservation) Decision() Decision { return r.d }

// Delay is how long the holder must still wait before acting: 0 when the
// units are available now, [InfDuration] when the reservation is not OK.
func (r *Reservation) Delay() time.Duration {
	if !r.ok {
		return InfDuration
	}
	if r.actAt.IsZero() {
		return 0
	}
	return max(r.actAt.Sub(r.clock()), 0)
}

// Cancel tells the limiter that the holder will not act, and gives back the
// booked units as far as possible: units that later reservations have
// already been scheduled after stay spent (as in x/time/rate), and nothing
// is given back once the reserved time has come, since the holder may have
// acted. Cancel is idempotent and safe for concurrent use. For the Redis
// backend it makes one round trip under the call budget and gives up
// silently if Redis fails.
func (r *Reservation) Cancel() {
	r.once.Do(func() {
		if r.ok && r.cancel != nil {
			r.cancel()
		}
	})
}

type reserveFunc func(ctx context.Context, key string, n int, maxWait time.Duration) (*Reservation, error)

// waitN is WaitN over a backend's bounded reservation.
func waitN(ctx context.Context, key string, n int, reserve reserveFunc) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	maxWait := maxReserve
	if dl, ok := ctx.Deadline(); ok {
		maxWait = time.Until(dl)
		if maxWait < 0 {
			return ErrWouldExceedDeadline
		}
	}
	r, err := reserve(ctx, key, n, maxWait)
	if err != nil {
		return err
	}
	if !r.OK() {
		return ErrWouldExceedDeadline
	}
	delay := r.Delay()
	if delay <= 0 {
		return nil
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		r.Cancel()
		return ctx.Err()
	}
}
