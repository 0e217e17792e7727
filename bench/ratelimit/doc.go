// Package ratelimitbench holds the side-by-side benchmarks of
// github.com/stout-go/stout/ratelimit against a mutex-guarded
// map[string]*rate.Limiter, a raw rate.Limiter and go-redis/redis_rate.
//
// The benchmarks build with -tags ratelimitbench until this module's go.sum
// lists golang.org/x/time, which the ratelimit package imports.
package ratelimitbench
