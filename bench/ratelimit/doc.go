// Package ratelimitbench holds the side-by-side benchmarks of
// github.com/stout-go/stout/ratelimit against a mutex-guarded
// map[string]*rate.Limiter, a raw rate.Limiter and go-redis/redis_rate.
package ratelimitbench
