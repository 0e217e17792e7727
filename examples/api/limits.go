package main

import (
	"net/netip"

	"github.com/stout-go/stout/ratelimit"
	"golang.org/x/time/rate"
)

// loopback are the proxies -trust-loopback-proxy trusts.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// newLimits builds the per-client limits: reads at ReadLimit per second, and
// writes, which cost the database more, at WriteLimit. Clients are told apart
// by IP address; X-Forwarded-For is believed only from trusted proxies.
// With Redis the buckets live there, so every instance enforces one limit.
func (s *server) newLimits() {
	read := ratelimit.Limit{Rate: rate.Limit(s.cfg.ReadLimit), Burst: s.cfg.ReadLimit, Name: "reads"}
	write := ratelimit.Limit{Rate: rate.Limit(s.cfg.WriteLimit), Burst: 2 * s.cfg.WriteLimit, Name: "writes"}
	var readLim, writeLim ratelimit.Limiter
	if s.rdb != nil {
		opts := &ratelimit.RedisOptions{Prefix: s.cfg.RedisPrefix + "rl", OnError: ratelimit.FallbackLocal, Logger: s.cfg.Logger}
		r, w := ratelimit.NewRedis(s.rdb, read, opts), ratelimit.NewRedis(s.rdb, write, opts)
		s.closers = append(s.closers, r.Close, w.Close)
		readLim, writeLim = r, w
	} else {
		opts := &ratelimit.MemoryOptions{Now: s.cfg.Now}
		readLim, writeLim = ratelimit.NewMemory(read, opts), ratelimit.NewMemory(write, opts)
	}
	var trusted []netip.Prefix
	if s.cfg.TrustLoopbackProxy {
		trusted = loopback
	}
	key := ratelimit.KeyByIP(trusted...)
	mw := &ratelimit.MiddlewareOptions{ProblemJSON: true}
	s.readLimit = ratelimit.Middleware(readLim, key, mw)
	s.writeLimit = ratelimit.Middleware(writeLim, key, mw)
}
