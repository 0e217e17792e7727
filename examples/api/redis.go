package main

import (
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stout-go/stout/slowlog"
)

// redisTimeout bounds start-up calls to Redis.
const redisTimeout = 5 * time.Second

// newRedis connects to -redis or -redis-cluster, if given.
func (s *server) newRedis() {
	switch {
	case s.cfg.RedisAddr != "":
		s.rdb = redis.NewClient(&redis.Options{Addr: s.cfg.RedisAddr, ContextTimeoutEnabled: true, DisableIdentity: true})
	case len(s.cfg.RedisCluster) > 0:
		s.rdb = redis.NewClusterClient(&redis.ClusterOptions{Addrs: s.cfg.RedisCluster, ContextTimeoutEnabled: true, DisableIdentity: true})
	default:
		return
	}
	s.rdb.AddHook(slowlog.NewRedisHook(s.slow, "redis.")) // every command timed in /debug/slow
	s.closers = append(s.closers, s.rdb.Close)
}
