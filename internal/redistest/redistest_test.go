package redistest

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStartStandalone(t *testing.T) {
	t.Setenv(EnvAddr, "")
	s := Start(t)
	require.True(t, s.Owned())
	require.True(t, strings.HasPrefix(s.Prefix, "t:TestStartStandalone:"), s.Prefix)

	ctx := context.Background()
	c := s.Client(t)
	require.NoError(t, c.Set(ctx, s.Key("k"), "v", 0).Err())
	got, err := c.Get(ctx, s.Key("k")).Result()
	require.NoError(t, err)
	assert.Equal(t, "v", got)

	// Persistence is off.
	cfg, err := c.ConfigGet(ctx, "save").Result()
	require.NoError(t, err)
	assert.Equal(t, "", cfg["save"])
	cfg, err = c.ConfigGet(ctx, "appendonly").Result()
	require.NoError(t, err)
	assert.Equal(t, "no", cfg["appendonly"])
}

func TestStartUsesEnvAddr(t *testing.T) {
	owner := StartOwned(t)
	t.Setenv(EnvAddr, owner.Addr)

	a := Start(t)
	b := Start(t)
	assert.Equal(t, owner.Addr, a.Addr)
	assert.False(t, a.Owned(), "a server from STOUT_REDIS_ADDR is not owned")
	assert.NotEqual(t, a.Prefix, b.Prefix, "every Start gets its own prefix")

	ctx := context.Background()
	c := owner.Client(t)
	require.NoError(t, c.Set(ctx, "outside", "1", 0).Err())

	// Stop on a borrowed server must fail the test and leave the server alone.
	ft := &fatalRecorder{TB: t}
	func() {
		defer func() { _ = recover() }()
		a.Stop(ft)
	}()
	assert.True(t, ft.failed, "Stop on a shared server must fail")
	require.NoError(t, ping(owner.Addr), "the shared server still answers")
	n, err := c.Exists(ctx, "outside").Result()
	require.NoError(t, err)
	assert.EqualValues(t, 1, n, "nothing was flushed")
}

func TestStopRestart(t *testing.T) {
	s := StartOwned(t)
	ctx := context.Background()
	c := s.Client(t)
	require.NoError(t, c.Set(ctx, s.Key("k"), "v", 0).Err())

	s.Stop(t)
	require.Error(t, ping(s.Addr), "a stopped server must not answer")
	s.Stop(t) // idempotent

	s.Restart(t)
	require.NoError(t, c.Ping(ctx).Err(), "the old client reconnects")
	err := c.Get(ctx, s.Key("k")).Err()
	assert.ErrorIs(t, err, redis.Nil, "a restart without persistence loses the data")
}

func TestCluster(t *testing.T) {
	cl := StartCluster(t)
	require.Len(t, cl.Addrs, 3)
	ctx := context.Background()
	cc := cl.Client(t)

	// Find keys that live on three different masters.
	owners := map[string]string{}
	for i := 0; len(owners) < 3 && i < 1000; i++ {
		k := cl.Key("k", string(rune('a'+i%26)), strings.Repeat("x", i/26))
		master, err := cc.MasterForKey(ctx, k)
		require.NoError(t, err)
		owner := master.Options().Addr
		if _, ok := owners[owner]; !ok {
			owners[owner] = k
		}
	}
	require.Len(t, owners, 3, "keys spread over all three masters")
	for _, k := range owners {
		require.NoError(t, cc.Set(ctx, k, k, 0).Err())
	}
	for _, k := range owners {
		got, err := cc.Get(ctx, k).Result()
		require.NoError(t, err)
		assert.Equal(t, k, got)
	}

	for _, addr := range cl.Addrs {
		var info string
		require.NoError(t, withNode(addr, func(n *redis.Client) (err error) {
			info, err = n.ClusterInfo(ctx).Result()
			return err
		}))
		assert.Contains(t, info, "cluster_state:ok")
		assert.Contains(t, info, "cluster_slots_assigned:16384")
	}

	t.Run("restart node", func(t *testing.T) {
		cl.StopNode(t, 1)
		require.Error(t, ping(cl.Addrs[1]))
		cl.RestartNode(t, 1)
		for _, k := range owners {
			require.Eventually(t, func() bool {
				return cc.Set(ctx, k, "again", 0).Err() == nil
			}, 10*time.Second, 20*time.Millisecond, "key %s writable after restart", k)
		}
	})

	t.Run("stop all", func(t *testing.T) {
		cl.Stop(t)
		for _, addr := range cl.Addrs {
			require.Error(t, ping(addr))
		}
	})
}

// TestMissingRedis runs a child test binary with an empty PATH: it must skip with
// an install hint, or fail under STOUT_REQUIRE_REDIS=1.
func TestMissingRedis(t *testing.T) {
	if os.Getenv("REDISTEST_CHILD") == "1" {
		Start(t)
		t.Fatal("Start returned without redis-server on PATH")
		return
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	run := func(require string) (string, error) {
		cmd := exec.Command(exe, "-test.run=^TestMissingRedis$", "-test.v")
		cmd.Env = []string{"PATH=" + t.TempDir(), "REDISTEST_CHILD=1", EnvRequire + "=" + require}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	out, err := run("")
	require.NoError(t, err, out)
	assert.Contains(t, out, "--- SKIP: TestMissingRedis")
	assert.Contains(t, out, "apt-get install redis-server")

	out, err = run("1")
	require.Error(t, err, out)
	assert.Contains(t, out, "--- FAIL: TestMissingRedis")
	assert.Contains(t, out, EnvRequire+" is 1")
}

// fatalRecorder records Fatalf instead of stopping the test.
type fatalRecorder struct {
	testing.TB
	failed bool
}

func (f *fatalRecorder) Fatalf(string, ...any) {
	f.failed = true
	panic("fatal")
}
