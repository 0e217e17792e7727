// Command api is an example service that wires every stout package together:
// a composite user resource with per-part caching and field masks, keyset
// pagination beside a naive OFFSET list, rate limits, slow-operation stats and
// a flag-gated rollout. Its "database" is an in-process data set whose calls
// take a configurable time.
//
//	go run ./examples/api                       # memory backends on :8080
//	go run ./examples/api -redis 127.0.0.1:6379 # cache, limits and flags on Redis
//
// See examples/README.md for the endpoints and the load generator.
package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "api:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("api", flag.ContinueOnError)
	addr := fs.String("addr", ":8080", "listen address")
	var cfg config
	fs.IntVar(&cfg.Users, "users", 200_000, "number of users in the data set")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "data set seed")
	fs.DurationVar(&cfg.Latency, "latency", 3*time.Millisecond, "time one repository (database) call takes")
	fs.DurationVar(&cfg.ScanCost, "scan-cost", 500*time.Nanosecond, "extra time per row an OFFSET query skips")
	fs.StringVar(&cfg.RedisAddr, "redis", "", "Redis address (host:port): cache, rate limits and flags move to Redis")
	cluster := fs.String("redis-cluster", "", "comma-separated Redis Cluster node addresses, instead of -redis")
	fs.StringVar(&cfg.FlagsFile, "flags", "", "flag document file, reloaded when it changes (default: the embedded examples/api/flags.json; with -redis the document lives in Redis)")
	fs.IntVar(&cfg.ReadLimit, "read-limit", 100, "reads per second per client address (burst the same)")
	fs.IntVar(&cfg.WriteLimit, "write-limit", 10, "writes per second per client address (burst twice that)")
	fs.DurationVar(&cfg.CacheTTL, "cache-ttl", time.Minute, "how long a cached part of a user stays fresh")
	publish := fs.String("publish-flags", "", "with -redis or -redis-cluster: publish this flag document file to Redis (every instance applies it within milliseconds) and exit")
	cursorKey := fs.String("cursor-key", "", "hex-encoded 32-byte key sealing list cursors; give every instance the same one (default: random per process)")
	fs.DurationVar(&cfg.SlowThreshold, "slow", 100*time.Millisecond, "log routes and repository calls at least this slow")
	fs.BoolVar(&cfg.TrustLoopbackProxy, "trust-loopback-proxy", false, "take the client address from X-Forwarded-For when the peer is on loopback (for examples/loadgen)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *cluster != "" {
		cfg.RedisCluster = strings.Split(*cluster, ",")
	}
	if cfg.RedisAddr != "" && cfg.RedisCluster != nil {
		return errors.New("-redis and -redis-cluster are exclusive")
	}
	if *cursorKey != "" {
		k, err := hex.DecodeString(*cursorKey)
		if err != nil || len(k) != 32 {
			return errors.New("-cursor-key: want 64 hex digits (32 bytes)")
		}
		cfg.CursorKey = k
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg.Logger = log
	if *publish != "" {
		return publishFlags(cfg, *publish)
	}

	start := time.Now()
	s, err := newServer(cfg)
	if err != nil {
		return err
	}
	defer func() {
		if err := s.Close(); err != nil {
			log.Error("close", "err", err)
		}
	}()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	log.Info("listening", "addr", ln.Addr().String(), "users", s.repo.Len(),
		"latency", cfg.Latency, "redis", cfg.RedisAddr+strings.Join(cfg.RedisCluster, ","), "startup", time.Since(start).Round(time.Millisecond))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
