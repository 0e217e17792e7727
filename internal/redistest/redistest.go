// Package redistest gives tests a real Redis: a throwaway redis-server on a free
// loopback port, an existing server named by STOUT_REDIS_ADDR, or a three-node
// Redis Cluster.
//
// It is the one way stout's tests reach Redis. No fake stands in for the server.
//
// # Environment
//
//   - STOUT_REDIS_ADDR=host:port makes [Start] use that server instead of starting
//     one. Every test still gets its own [Server.Prefix]; the server is never
//     flushed.
//   - STOUT_REQUIRE_REDIS=1 turns "redis-server is not installed" from a skip
//     into a test failure. CI sets it.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Environment variables read by this package.
const (
	EnvAddr    = "STOUT_REDIS_ADDR"
	EnvRequire = "STOUT_REQUIRE_REDIS"
)

// installHint is shown when redis-server is missing.
const installHint = "redis-server not found on PATH: install it (Debian/Ubuntu: apt-get install redis-server; " +
	"macOS: brew install redis) or set " + EnvAddr + "=host:port to use a running server"

// startTimeout bounds how long a server may take to answer PING.
const startTimeout = 15 * time.Second

// Server is one Redis server available to a test.
type Server struct {
	// Addr is the server's host:port.
	Addr string
	// Prefix is unique to the test; every key the test writes should start with it,
	// so that tests sharing a server (STOUT_REDIS_ADDR) never see each other's keys.
	Prefix string

	proc *process // nil when the server is not owned by this test
}

// Start returns a Redis server for tb. When STOUT_REDIS_ADDR is set, it is that
// server; otherwise a new redis-server is started on a free loopback port with
// persistence off and stopped in tb.Cleanup. Without redis-server on PATH the test
// is skipped, or fails when STOUT_REQUIRE_REDIS=1.
func Start(tb testing.TB) *Server {
	tb.Helper()
	if addr := os.Getenv(EnvAddr); addr != "" {
		if err := ping(addr); err != nil {
			tb.Fatalf("redistest: %s=%s does not answer PING: %v", EnvAddr, addr, err)
		}
		return &Server{Addr: addr, Prefix: prefix(tb)}
	}
	return StartOwned(tb)
}

// StartOwned always starts a new redis-server for tb, ignoring STOUT_REDIS_ADDR.
// Fault tests use it: only an owned server can be stopped and restarted.
func StartOwned(tb testing.TB) *Server {
	tb.Helper()
	bin := lookPath(tb)
	p, err := startProcess(tb, bin, nil)
	if err != nil {
		tb.Fatalf("redistest: %v", err)
	}
	return &Server{Addr: p.addr(), Prefix: prefix(tb), proc: p}
}

// Owned reports whether the server was started by this package for the test, and
// so can be stopped and restarted.
func (s *Server) Owned() bool { return s.proc != nil }

// Client returns a new client connected to s; it is closed in tb.Cleanup.
func (s *Server) Client(tb testing.TB) *redis.Client {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// Key returns the test's prefix followed by the parts joined with ':'.
func (s *Server) Key(parts ...string) string { return s.Prefix + strings.Join(parts, ":") }

// Stop kills the server, as an outage would. It fails the test for a server the
// test does not own.
func (s *Server) Stop(tb testing.TB) {
	tb.Helper()
	if s.proc == nil {
		tb.Fatalf("redistest: Stop needs a server from StartOwned, not %s", s.Addr)
	}
	s.proc.stop()
}

// Restart starts a stopped server again on the same port and waits until it
// answers. The data is gone, as after a restart without persistence.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	if s.proc == nil {
		tb.Fatalf("redistest: Restart needs a server from StartOwned, not %s", s.Addr)
	}
	if err := s.proc.restart(); err != nil {
		tb.Fatalf("redistest: restart %s: %v", s.Addr, err)
	}
}

// lookPath finds redis-server or skips (fails under STOUT_REQUIRE_REDIS=1).
func lookPath(tb testing.TB) string {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err == nil {
		return bin
	}
	if os.Getenv(EnvRequire) == "1" {
		tb.Fatalf("redistest: %s is 1 but %s", EnvRequire, installHint)
	}
	tb.Skip("redistest: " + installHint)
	return ""
}

// prefix makes a key prefix unique to the test.
func prefix(tb testing.TB) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			return r
		}
		return '_'
	}, tb.Name())
	return "t:" + name + ":" + hex.EncodeToString(b[:]) + ":"
}

// ping dials addr and sends PING once.
func ping(addr string) error {
	_, err := serverPID(addr)
	return err
}

// serverPID dials addr and returns the process id of the server answering there.
func serverPID(addr string) (int, error) {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			return strconv.Atoi(v)
		}
	}
	return 0, errors.New("INFO server has no process_id")
}

// process is one redis-server child process.
type process struct {
	bin   string
	dir   string
	port  int
	extra []string

	mu   sync.Mutex // guards cmd and done
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

func (p *process) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)) }

// startProcess starts redis-server on a free port (and, with cluster set, a free
// cluster bus port too), retrying when the port was taken in between.
func startProcess(tb testing.TB, bin string, extra []string) (*process, error) {
	tb.Helper()
	dir := tb.TempDir()
	cluster := len(extra) > 0
	var lastErr error
	for range 5 {
		port, err := freePort(cluster)
		if err != nil {
			return nil, err
		}
		p := &process{bin: bin, dir: dir, port: port, extra: extra}
		if lastErr = p.restart(); lastErr == nil {
			tb.Cleanup(p.stop)
			return p, nil
		}
	}
	return nil, fmt.Errorf("start redis-server: %w", lastErr)
}

// restart runs the server process and waits for PING.
func (p *process) restart() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return errors.New("already running")
	}
	args := []string{
		"--port", strconv.Itoa(p.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", p.dir,
		"--logfile", "redis-" + strconv.Itoa(p.port) + ".log",
	}
	args = append(args, p.extra...)
	cmd := exec.Command(p.bin, args...)
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	deadline := time.Now().Add(startTimeout)
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		pid, err := serverPID(p.addr())
		if err == nil && pid != cmd.Process.Pid {
			// Another server (of a test running in parallel) took the port between
			// freePort and the start: ours cannot bind it. Try another port.
			_ = cmd.Process.Kill()
			<-done
			return fmt.Errorf("port %d is taken by another redis-server (pid %d)", p.port, pid)
		}
		if err == nil {
			p.cmd, p.done = cmd, done
			return nil
		}
		select {
		case <-done:
			log, _ := os.ReadFile(p.dir + "/redis-" + strconv.Itoa(p.port) + ".log")
			return fmt.Errorf("redis-server on port %d exited: %s", p.port, lastLines(string(log), 3))
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			return fmt.Errorf("redis-server on port %d: no PING answer after %v: %w", p.port, startTimeout, err)
		}
		time.Sleep(wait)
	}
}

// stop kills the process and waits for it; a stopped process stays stopped.
func (p *process) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	p.cmd, p.done = nil, nil
}

// freePort returns a loopback port that was free a moment ago; for a cluster node
// its bus port (port+10000) is checked too.
func freePort(cluster bool) (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if !cluster {
			return port, nil
		}
		if port+10000 > 65535 {
			continue
		}
		bus, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000))
		if err != nil {
			continue
		}
		_ = bus.Close()
		return port, nil
	}
	return 0, errors.New("no free port pair for a cluster node")
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
