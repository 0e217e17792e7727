package l2

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/stout-go/stout/internal/redistest"
)

// stallAfterSetNX makes, once armed, a SET NX that ran on the server look to the client as
// if the call's budget ran out before the reply: it waits for the call's deadline and
// fails with its error.
type stallAfterSetNX struct{ armed atomic.Bool }

func (h *stallAfterSetNX) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *stallAfterSetNX) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		args := cmd.Args()
		if cmd.Name() == "set" && len(args) > 0 && args[len(args)-1] == "nx" && h.armed.CompareAndSwap(true, false) {
			<-ctx.Done()
			cmd.SetErr(ctx.Err())
			return ctx.Err()
		}
		return err
	}
}
func (h *stallAfterSetNX) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// A lease taken by a SET NX whose reply was lost to the budget (not to the caller's
// context) is given up: no instance waits LeaseWait for a lease nobody fills.
func TestLeaseReplyLostToBudget(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client(t)
	hook := &stallAfterSetNX{}
	c.AddHook(hook)
	s := newStore(t, c, srv.Prefix, Options{Budget: 200 * time.Millisecond})
	ready(t, s)
	ctx := context.Background()

	hook.armed.Store(true)
	_, hit, _, err := s.Get(ctx, "k")
	require.False(t, hook.armed.Load(), "the SET NX did not run")
	require.Error(t, err)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.False(t, hit)
	require.NoError(t, ctx.Err(), "the caller's context did not end")

	ver, _ := s.version()
	_, err = c.Get(ctx, s.DataKey(ver, "k")).Bytes()
	require.ErrorIs(t, err, redis.Nil, "the lease the SET NX took is given up")
	if errors.Is(err, redis.Nil) {
		_, _, f, err := s.Get(ctx, "k")
		require.NoError(t, err)
		require.True(t, f.Leased(), "the next Get takes the lease at once")
		require.NoError(t, s.Release(ctx, f))
	}
}
