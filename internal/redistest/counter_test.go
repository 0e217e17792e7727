package redistest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCounter(t *testing.T) {
	s := Start(t)
	c := s.Client(t)
	ctx := context.Background()
	require.NoError(t, c.Ping(ctx).Err()) // connect before counting
	var n Counter
	c.AddHook(&n)

	require.NoError(t, c.Set(ctx, s.Key("a"), "1", 0).Err())
	trips, cmds := n.Counts()
	assert.Equal(t, [2]int64{1, 1}, [2]int64{trips, cmds}, "a command is one trip")

	pipeline := func() {
		p := c.Pipeline()
		p.Get(ctx, s.Key("a"))
		p.Set(ctx, s.Key("b"), "2", 0)
		p.Get(ctx, s.Key("b"))
		_, err := p.Exec(ctx)
		require.NoError(t, err)
	}
	pipeline() // a connection set up on the way would add its own handshake trips
	n.Reset()
	pipeline()
	trips, cmds = n.Counts()
	assert.Equal(t, [2]int64{1, 3}, [2]int64{trips, cmds}, "a pipeline is one trip of three commands")
}
