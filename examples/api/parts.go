package main

import (
	"context"
	"errors"
	"strings"

	"github.com/stout-go/stout/cache"
	"golang.org/x/sync/errgroup"
)

// cacheEntries bounds each part's cache in process memory: with zipf
// popularity a small fraction of the users gets most reads.
const cacheEntries = 50_000

// newCaches builds one cache-aside cache per part of the composite resource,
// so that a request loads only the parts it asks for, and a write invalidates
// only the parts it changed.
func (s *server) newCaches() error {
	opts := func(ns string) cache.Options {
		o := cache.Options{Namespace: ns, TTL: s.cfg.CacheTTL, MaxEntries: cacheEntries, Logger: s.cfg.Logger}
		if s.rdb != nil {
			// A second level in Redis, shared by every instance; invalidations
			// reach the other instances' memory over pub/sub.
			o.Redis = &cache.RedisOptions{Client: s.rdb, Prefix: strings.TrimSuffix(s.cfg.RedisPrefix, ":")}
		}
		return o
	}
	var err error
	if s.users, err = cache.New[User](opts("user")); err != nil {
		return err
	}
	s.closers = append(s.closers, s.users.Close)
	if s.profiles, err = cache.New[Profile](opts("profile")); err != nil {
		return err
	}
	s.closers = append(s.closers, s.profiles.Close)
	if s.prefs, err = cache.New[Preferences](opts("preferences")); err != nil {
		return err
	}
	s.closers = append(s.closers, s.prefs.Close)
	if s.activity, err = cache.New[[]Activity](opts("activity")); err != nil {
		return err
	}
	s.closers = append(s.closers, s.activity.Close)
	return nil
}

// cacheStats are the counters /debug/stats shows per cache.
type cacheStats struct {
	Hits   uint64 `json:"hits"`   // from process memory
	Misses uint64 `json:"misses"` // in process memory
	// RedisHits counts misses in memory answered by Redis (with -redis).
	RedisHits          uint64 `json:"redis_hits"`
	RedisMisses        uint64 `json:"redis_misses"`
	InvalidationsHeard uint64 `json:"invalidations_heard"`
	RedisErrors        uint64 `json:"redis_errors"`
	Loads              uint64 `json:"loads"`
	Coalesced          uint64 `json:"coalesced"`
	LoadErrors         uint64 `json:"load_errors"`
	StaleServed        uint64 `json:"stale_served"`
	Evictions          uint64 `json:"evictions"`
}

func statsOf(st cache.Stats) cacheStats {
	return cacheStats{
		Hits: st.Hits, Misses: st.Misses, Loads: st.Loads, Coalesced: st.Coalesced,
		LoadErrors: st.LoadErrors, StaleServed: st.StaleServed, Evictions: st.Evictions,
		RedisHits: st.Redis.Hits, RedisMisses: st.Redis.Misses, InvalidationsHeard: st.Redis.InvalidationsHeard,
		RedisErrors: st.Redis.Errors + st.Redis.Unavailable,
	}
}

func (s *server) cacheStats() map[string]cacheStats {
	return map[string]cacheStats{
		"user":        statsOf(s.users.Stats()),
		"profile":     statsOf(s.profiles.Stats()),
		"preferences": statsOf(s.prefs.Stats()),
		"activity":    statsOf(s.activity.Stats()),
	}
}

// notFound turns the repository's "no rows" into the cache's, so that
// lookups of users that do not exist are remembered too (negative caching).
func notFound[V any](v V, err error) (V, error) {
	if errors.Is(err, errNoUser) {
		return v, cache.ErrNotFound
	}
	return v, err
}

// load fetches the wanted parts of a user concurrently: through the caches
// (cache-aside) when cached is set, else straight from the repository.
// feed chooses the new recent-activity path.
func (s *server) load(ctx context.Context, id int64, want parts, cached, feed bool) (*userView, error) {
	var v userView
	key := itoa(id)
	g, ctx := errgroup.WithContext(ctx)
	for _, p := range []parts{partUser, partProfile, partPreferences, partActivity} {
		if want&p == 0 {
			continue
		}
		s.partsAsked.Add(1)
		s.callsNeeded.Add(1)
		if p == partActivity && !feed {
			s.callsNeeded.Add(1) // the old path costs two calls
		}
		g.Go(func() error {
			var err error
			switch p {
			case partUser:
				load := func(ctx context.Context, _ string) (User, error) { return notFound(s.repo.User(ctx, id)) }
				if cached {
					v.User, err = s.users.Get(ctx, key, load)
				} else {
					v.User, err = load(ctx, key)
				}
			case partProfile:
				load := func(ctx context.Context, _ string) (Profile, error) { return notFound(s.repo.Profile(ctx, id)) }
				var pr Profile
				if cached {
					pr, err = s.profiles.Get(ctx, key, load)
				} else {
					pr, err = load(ctx, key)
				}
				v.Profile = &pr
			case partPreferences:
				load := func(ctx context.Context, _ string) (Preferences, error) {
					return notFound(s.repo.Preferences(ctx, id))
				}
				var pr Preferences
				if cached {
					pr, err = s.prefs.Get(ctx, key, load)
				} else {
					pr, err = load(ctx, key)
				}
				v.Preferences = &pr
			case partActivity:
				load := func(ctx context.Context, _ string) ([]Activity, error) {
					if feed {
						return notFound(s.repo.ActivityFeed(ctx, id))
					}
					return notFound(s.loadActivity(ctx, id))
				}
				if cached {
					v.RecentActivity, err = s.activity.Get(ctx, key, load)
				} else {
					v.RecentActivity, err = load(ctx, key)
				}
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return &v, nil
}

// loadActivity is the old recent-activity path: two queries.
func (s *server) loadActivity(ctx context.Context, id int64) ([]Activity, error) {
	n, err := s.repo.ActivityIDs(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.repo.ActivityByIDs(ctx, id, n)
}

// invalidate drops the cached parts a write changed, once it is committed.
// The caches fence loads that started before: none of them can put the old
// value back.
func (s *server) invalidate(ctx context.Context, id int64, changed parts) error {
	key := itoa(id)
	var errs []error
	if changed&partUser != 0 {
		errs = append(errs, s.users.Invalidate(ctx, key))
	}
	if changed&partProfile != 0 {
		errs = append(errs, s.profiles.Invalidate(ctx, key))
	}
	if changed&partPreferences != 0 {
		errs = append(errs, s.prefs.Invalidate(ctx, key))
	}
	if changed&partActivity != 0 {
		errs = append(errs, s.activity.Invalidate(ctx, key))
	}
	return errors.Join(errs...)
}
