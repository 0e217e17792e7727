package cache_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stout-go/stout/cache"
)

type User struct {
	ID   string
	Name string
}

// db is a stand-in for a database table.
var db = map[string]User{"1": {"1", "Ann"}, "2": {"2", "Bob"}, "3": {"3", "Cy"}}

func ExampleCache_Get() {
	users, err := cache.New[User](cache.Options{Namespace: "user", TTL: 10 * time.Minute})
	if err != nil {
		panic(err)
	}
	defer users.Close()

	loadUser := func(ctx context.Context, id string) (User, error) {
		fmt.Println("loading", id)
		return db[id], nil
	}
	ctx := context.Background()
	for range 3 {
		u, err := users.Get(ctx, "1", loadUser)
		fmt.Println(u.Name, err)
	}
	s := users.Stats()
	fmt.Println("loads:", s.Loads, "hits:", s.Hits)
	// Output:
	// loading 1
	// Ann <nil>
	// Ann <nil>
	// Ann <nil>
	// loads: 1 hits: 2
}

func ExampleCache_Invalidate() {
	users, err := cache.New[User](cache.Options{Namespace: "user"})
	if err != nil {
		panic(err)
	}
	defer users.Close()

	// The database row and the code that reads it.
	var mu sync.Mutex
	row := User{"1", "Ann"}
	loadUser := func(ctx context.Context, id string) (User, error) {
		mu.Lock()
		defer mu.Unlock()
		return row, nil
	}
	ctx := context.Background()
	u, _ := users.Get(ctx, "1", loadUser)
	fmt.Println(u.Name)

	// A write: update the source of truth, then invalidate.
	mu.Lock()
	row.Name = "Ann Smith"
	mu.Unlock()
	if err := users.Invalidate(ctx, "1"); err != nil {
		panic(err)
	}

	u, _ = users.Get(ctx, "1", loadUser)
	fmt.Println(u.Name)
	// Output:
	// Ann
	// Ann Smith
}

func ExampleCache_Get_notFound() {
	users, err := cache.New[User](cache.Options{Namespace: "user", NegativeTTL: time.Minute})
	if err != nil {
		panic(err)
	}
	defer users.Close()

	var loads atomic.Int64
	loadUser := func(ctx context.Context, id string) (User, error) {
		loads.Add(1)
		u, ok := db[id]
		if !ok {
			return User{}, fmt.Errorf("user %s: %w", id, cache.ErrNotFound)
		}
		return u, nil
	}
	ctx := context.Background()
	for range 3 {
		_, err := users.Get(ctx, "404", loadUser)
		fmt.Println(errors.Is(err, cache.ErrNotFound))
	}
	fmt.Println("loads:", loads.Load())
	// Output:
	// true
	// true
	// true
	// loads: 1
}

func ExampleCache_GetMany() {
	users, err := cache.New[User](cache.Options{Namespace: "user"})
	if err != nil {
		panic(err)
	}
	defer users.Close()

	ctx := context.Background()
	_ = users.Set(ctx, "1", db["1"])

	loadUsers := func(ctx context.Context, ids []string) (map[string]User, error) {
		slices.Sort(ids)
		fmt.Println("loading", ids) // one query: SELECT ... WHERE id = ANY($1)
		m := make(map[string]User, len(ids))
		for _, id := range ids {
			if u, ok := db[id]; ok {
				m[id] = u
			}
		}
		return m, nil
	}
	got, err := users.GetMany(ctx, []string{"1", "2", "3", "404"}, loadUsers)
	if err != nil {
		panic(err)
	}
	for _, id := range []string{"1", "2", "3", "404"} {
		u, ok := got[id]
		fmt.Println(id, u.Name, ok)
	}
	// Output:
	// loading [2 3 404]
	// 1 Ann true
	// 2 Bob true
	// 3 Cy true
	// 404  false
}

// Many concurrent requests for one missing key cost one load.
func Example_stampede() {
	users, err := cache.New[User](cache.Options{Namespace: "user"})
	if err != nil {
		panic(err)
	}
	defer users.Close()

	var loads atomic.Int64
	release := make(chan struct{})
	loadUser := func(ctx context.Context, id string) (User, error) {
		loads.Add(1)
		<-release // a slow query
		return db[id], nil
	}
	var wg sync.WaitGroup
	for range 1000 {
		wg.Go(func() {
			if _, err := users.Get(context.Background(), "2", loadUser); err != nil {
				panic(err)
			}
		})
	}
	close(release)
	wg.Wait()
	fmt.Println("loads:", loads.Load())
	// Output:
	// loads: 1
}
