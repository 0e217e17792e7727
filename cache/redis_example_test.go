package cache_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/stout-go/stout/cache"
)

// A cache with a Redis level keeps working while Redis is down: New does not wait for
// it, Get answers from the loader (fail-open, the default), and the invalidations say
// that the other instances could not be told.
func ExampleRedisOptions_redisDown() {
	// Nothing listens on port 1: every Redis call fails at once.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, ContextTimeoutEnabled: true})
	defer func() { _ = rdb.Close() }()

	users, err := cache.New[string](cache.Options{
		Namespace: "user",
		TTL:       time.Minute,
		Redis:     &cache.RedisOptions{Client: rdb, Budget: 50 * time.Millisecond},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = users.Close() }()

	ctx := context.Background()
	name, err := users.Get(ctx, "42", func(ctx context.Context, id string) (string, error) {
		return "Ann", nil
	})
	fmt.Println(name, err)

	err = users.Invalidate(ctx, "42")
	fmt.Println(errors.Is(err, cache.ErrRedis))
	// Output:
	// Ann <nil>
	// true
}
