// Package stout is a library of scaling primitives for Go services that are
// outgrowing one box. This package holds no code: it is the map from each
// problem such a service meets to the package that answers it. Every package
// stands alone; import the one you need into an existing service.
//
// # Stampedes and stale caches: package cache
//
// Typed cache-aside with one load per key under any number of concurrent
// misses, invalidation that no in-flight load can undo, and an optional Redis
// level shared by every instance:
//
//	users, _ := cache.New[User](cache.Options{Namespace: "user", TTL: 10 * time.Minute})
//	u, err := users.Get(ctx, "42", loadUser) // get-or-load
//	err = users.Invalidate(ctx, "42")        // after every write
//
// # Abusive clients: package ratelimit
//
// Exact GCRA token buckets per key, in memory or on Redis, with Wait/Reserve and
// HTTP middleware that sends the standard RateLimit and Retry-After headers:
//
//	lim := ratelimit.NewMemory(ratelimit.Limit{Rate: rate.Every(100 * time.Millisecond), Burst: 20}, nil)
//	d, err := lim.Allow(ctx, "user:42") // d.Allowed, d.Remaining, d.RetryAfter
//	h := ratelimit.Middleware(lim, ratelimit.KeyByIP(trustedProxies...), nil)(mux)
//
// # Deep pages: package paginate
//
// Keyset pagination whose page 50,000 costs what page 1 costs, with sealed
// cursors that clients cannot forge and placeholder-only SQL fragments:
//
//	req, err := users.Parse(r, paginate.Binding{Tenant: orgID}) // 400 on a bad cursor
//	where, args := req.Where(paginate.Postgres, 1)            // "(created_at, id) < ($1, $2)"
//	page, err := paginate.NewPage(rows, req, keyOf)           // items, next_cursor, has_more
//
// # Over-fetching: package fieldmask
//
// ?fields= and ?include= parsed, validated against your types with
// hidden and opt-in fields, and encoded by a compiled encoder:
//
//	m, err := fieldmask.FromRequest(r, &fieldmask.RequestOptions{Codec: codec, Type: reflect.TypeFor[User]()})
//	if m.Has("posts") { u.Posts = loadPosts(ctx, u.ID) } // the mask drives loading
//	b, err := codec.Marshal(&u, m)                     // only the selected fields
//
// # Invisible slowness: package slowlog
//
// Per-operation latency histograms (p50 to p99.9 over the last minute, five
// minutes and since start) and slow logs that stay readable on a bad day:
//
//	rec, err := slowlog.New(&slowlog.Options{Threshold: 200 * time.Millisecond, Logger: logger})
//	getUser := rec.Op("db.getUser")
//	defer getUser.Start(ctx).Done(&err)
//
// # Risky launches: package flags
//
// Feature flags with sticky percentage rollouts, variants, rules and live
// sources, evaluated without allocating:
//
//	f, err := flags.New(ctx, flags.FileSource("flags.json", nil), nil)
//	on := f.Bool(ctx, "new-checkout", flags.Subject{Key: userID}, false)
//	f.OnChange(func(ev flags.ChangeEvent) { audit(ev.Changes) })
//
// The directory examples holds a runnable service that wires them together,
// and a load generator that shows what each one saves.
package stout
