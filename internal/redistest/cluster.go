package redistest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterNodes is the number of masters in a test cluster.
const clusterNodes = 3

// Cluster is a Redis Cluster of three masters (no replicas) on loopback, owned by
// one test. Slots are split evenly; a stopped node's slots are unavailable, the
// others keep serving (cluster-require-full-coverage is off).
type Cluster struct {
	// Addrs are the nodes' host:port, node i at Addrs[i].
	Addrs []string
	// Prefix is unique to the test, as [Server.Prefix].
	Prefix string

	nodes []*process
}

// StartCluster starts a three-master Redis Cluster, assigns the slots with
// CLUSTER ADDSLOTSRANGE, joins the nodes with CLUSTER MEET and waits until every
// node reports cluster_state:ok. The nodes are stopped in tb.Cleanup. Without
// redis-server on PATH the test is skipped (or fails, as [Start]).
func StartCluster(tb testing.TB) *Cluster {
	tb.Helper()
	bin := lookPath(tb)
	c := &Cluster{Prefix: prefix(tb)}
	for i := range clusterNodes {
		p, err := startProcess(tb, bin, []string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes-" + strconv.Itoa(i) + ".conf",
			"--cluster-node-timeout", "1000",
			"--cluster-require-full-coverage", "no",
		})
		if err != nil {
			tb.Fatalf("redistest: cluster node %d: %v", i, err)
		}
		c.nodes = append(c.nodes, p)
		c.Addrs = append(c.Addrs, p.addr())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.form(ctx); err != nil {
		tb.Fatalf("redistest: form cluster: %v", err)
	}
	if err := c.waitOK(ctx); err != nil {
		tb.Fatalf("redistest: %v", err)
	}
	return c
}

// form assigns slot ranges and introduces the nodes to each other.
func (c *Cluster) form(ctx context.Context) error {
	per := 16384 / clusterNodes
	for i, addr := range c.Addrs {
		lo, hi := i*per, (i+1)*per-1
		if i == clusterNodes-1 {
			hi = 16383
		}
		err := withNode(addr, func(n *redis.Client) error {
			return n.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi).Err()
		})
		if err != nil {
			return fmt.Errorf("ADDSLOTSRANGE on %s: %w", addr, err)
		}
	}
	return withNode(c.Addrs[0], func(n *redis.Client) error {
		for _, p := range c.nodes[1:] {
			if err := n.ClusterMeet(ctx, "127.0.0.1", strconv.Itoa(p.port)).Err(); err != nil {
				return fmt.Errorf("CLUSTER MEET %s: %w", p.addr(), err)
			}
		}
		return nil
	})
}

// waitOK waits until every node reports cluster_state:ok, knows all the masters
// and sees all 16384 slots assigned (with cluster-require-full-coverage off, a node
// says ok before gossip has told it who serves the other nodes' slots).
func (c *Cluster) waitOK(ctx context.Context) error {
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		pending := ""
		for i, addr := range c.Addrs {
			if pending != "" {
				break
			}
			err := withNode(addr, func(n *redis.Client) error {
				info, err := n.ClusterInfo(ctx).Result()
				if err != nil {
					return err
				}
				if !strings.Contains(info, "cluster_state:ok") ||
					!strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(clusterNodes)) ||
					!strings.Contains(info, "cluster_slots_assigned:16384") {
					return fmt.Errorf("node %d not ready", i)
				}
				return nil
			})
			if err != nil {
				pending = err.Error()
			}
		}
		if pending == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster not ready: %s: %w", pending, ctx.Err())
		case <-time.After(wait):
		}
	}
}

// Client returns a ready ClusterClient for c; it is closed in tb.Cleanup.
func (c *Cluster) Client(tb testing.TB) *redis.ClusterClient {
	tb.Helper()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	tb.Cleanup(func() { _ = cc.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cc.ForEachShard(ctx, func(ctx context.Context, n *redis.Client) error {
		return n.Ping(ctx).Err()
	}); err != nil {
		tb.Fatalf("redistest: cluster client: %v", err)
	}
	return cc
}

// Key returns the test's prefix followed by the parts joined with ':'.
func (c *Cluster) Key(parts ...string) string { return c.Prefix + strings.Join(parts, ":") }

// StopNode kills node i; the slots it serves become unavailable.
func (c *Cluster) StopNode(tb testing.TB, i int) {
	tb.Helper()
	c.nodes[i].stop()
}

// RestartNode starts node i again with its saved cluster configuration, and waits
// until the cluster is ok again.
func (c *Cluster) RestartNode(tb testing.TB, i int) {
	tb.Helper()
	if err := c.nodes[i].restart(); err != nil {
		tb.Fatalf("redistest: restart cluster node %d: %v", i, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.waitOK(ctx); err != nil {
		tb.Fatalf("redistest: after restarting node %d: %v", i, err)
	}
}

// Stop kills every node.
func (c *Cluster) Stop(tb testing.TB) {
	tb.Helper()
	for _, p := range c.nodes {
		p.stop()
	}
}

// withNode runs f with a short-lived client to one node.
func withNode(addr string, f func(*redis.Client) error) error {
	n := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer func() { _ = n.Close() }()
	return f(n)
}
