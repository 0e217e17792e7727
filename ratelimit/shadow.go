package ratelimit

import (
	"context"
	"time"
)

// ShadowReport receives what a shadowed limiter would have done: every
// decision that would have denied a request, or failed.
type ShadowReport func(ctx context.Context, key string, d Decision, err error)

// Shadow returns a Limiter that asks l and reports, but never blocks: every
// call is allowed, Wait returns at once, Reserve has no delay. Requests l
// would have allowed still spend l's tokens, so the reports show exactly
// what turning the limit on would do (a dry run, or "dark launch").
// report may be nil.
func Shadow(l Limiter, report ShadowReport) Limiter {
	return &shadow{l: l, report: report}
}

type shadow struct {
	l      Limiter
	report ShadowReport
}

func (s *shadow) note(ctx context.Context, key string, d Decision, err error) Decision {
	if s.report != nil && (err != nil || !d.Allowed) {
		s.report(ctx, key, d, err)
	}
	d.Allowed, d.RetryAfter = true, 0
	return d
}

func (s *shadow) Allow(ctx context.Context, key string) (Decision, error) {
	return s.AllowN(ctx, key, 1)
}

func (s *shadow) AllowN(ctx context.Context, key string, n int) (Decision, error) {
	d, err := s.l.AllowN(ctx, key, n)
	return s.note(ctx, key, d, err), nil
}

func (s *shadow) Peek(ctx context.Context, key string) (Decision, error) {
	return s.l.Peek(ctx, key)
}

func (s *shadow) Reserve(ctx context.Context, key string) (*Reservation, error) {
	return s.ReserveN(ctx, key, 1)
}

func (s *shadow) ReserveN(ctx context.Context, key string, n int) (*Reservation, error) {
	d, err := s.AllowN(ctx, key, n)
	return &Reservation{ok: true, d: d, clock: time.Now}, err
}

func (s *shadow) Wait(ctx context.Context, key string) error { return s.WaitN(ctx, key, 1) }

func (s *shadow) WaitN(ctx context.Context, key string, n int) error {
	_, err := s.AllowN(ctx, key, n)
	return err
}
