package redistest

import (
	"context"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// Counter is a go-redis hook that counts round trips (one per command or
// pipeline) and commands, so a test can prove how many trips an operation costs:
//
//	var c redistest.Counter
//	client.AddHook(&c)
//	c.Reset()
//	... // the operation
//	trips, cmds := c.Counts()
//
// It is safe for concurrent use.
type Counter struct{ trips, cmds atomic.Int64 }

// DialHook implements [redis.Hook]; dials are not counted.
func (c *Counter) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements [redis.Hook]: one trip, one command.
func (c *Counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.trips.Add(1)
		c.cmds.Add(1)
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook implements [redis.Hook]: one trip, len(cmds) commands.
func (c *Counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.trips.Add(1)
		c.cmds.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// Reset sets both counts to zero.
func (c *Counter) Reset() { c.trips.Store(0); c.cmds.Store(0) }

// Counts returns the round trips and commands counted since the last Reset.
func (c *Counter) Counts() (trips, cmds int64) { return c.trips.Load(), c.cmds.Load() }
