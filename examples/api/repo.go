package main

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/stout-go/stout/paginate"
	"github.com/stout-go/stout/slowlog"
)

// errNoUser is the repository's "no rows".
var errNoUser = errors.New("user not found")

// repoOps names every repository call, in the order /debug/stats lists them.
var repoOps = []string{
	"users.get", "users.list", "users.offset", "users.update",
	"profiles.get", "preferences.get",
	"activity.ids", "activity.get", "activity.feed",
}

// repo stands in for the service's database. Every call sleeps the configured
// latency (a round trip plus a query) and an OFFSET query also pays for every
// row it skips, as a database does. The sleeping is the point: it is the cost
// that caching, keyset pagination and field masks save.
//
// Rows are generated from the seed; writes are kept in a store of changed
// records, in memory or, with -redis, in Redis so that every instance sees
// them.
type repo struct {
	data     *dataset
	latency  time.Duration
	scanCost time.Duration // per row skipped by an OFFSET query
	store    store

	calls map[string]*atomic.Int64 // fixed at construction; values atomic
	ops   map[string]*slowlog.Op   // timers, one per call name
}

func newRepo(d *dataset, latency, scanCost time.Duration, rec *slowlog.Recorder, st store) *repo {
	if st == nil {
		st = newMemStore()
	}
	r := &repo{
		data: d, latency: latency, scanCost: scanCost, store: st,
		calls: make(map[string]*atomic.Int64, len(repoOps)),
		ops:   make(map[string]*slowlog.Op, len(repoOps)),
	}
	for _, op := range repoOps {
		r.calls[op] = new(atomic.Int64)
		r.ops[op] = rec.Op("db." + op)
	}
	return r
}

// call counts op, times it, and waits the cost of one query of it.
func (r *repo) call(ctx context.Context, op string, extra time.Duration, f func() error) error {
	r.calls[op].Add(1)
	t := r.ops[op].Start(ctx)
	err := r.wait(ctx, r.latency+extra)
	if err == nil {
		err = f()
	}
	if errors.Is(err, errNoUser) {
		t.End(nil) // "no rows" is an answer, not a failed call
	} else {
		t.End(err)
	}
	return err
}

func (r *repo) wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Calls returns the number of calls per operation and in total.
func (r *repo) Calls() (map[string]int64, int64) {
	m := make(map[string]int64, len(r.calls))
	var total int64
	for op, c := range r.calls {
		n := c.Load()
		m[op] = n
		total += n
	}
	return m, total
}

// record reads the changes written to user id, if any.
func (r *repo) record(ctx context.Context, id int64) (record, error) {
	if !r.data.exists(id) {
		return record{}, errNoUser
	}
	return r.store.get(ctx, id)
}

// User reads one user row.
func (r *repo) User(ctx context.Context, id int64) (u User, err error) {
	err = r.call(ctx, "users.get", 0, func() error {
		rec, err := r.record(ctx, id)
		if err == nil {
			u = rec.user(r.data, id)
		}
		return err
	})
	return u, err
}

// Profile reads one user's profile.
func (r *repo) Profile(ctx context.Context, id int64) (p Profile, err error) {
	err = r.call(ctx, "profiles.get", 0, func() error {
		rec, err := r.record(ctx, id)
		if err == nil {
			p = rec.profile(r.data, id)
		}
		return err
	})
	return p, err
}

// Preferences reads one user's preferences.
func (r *repo) Preferences(ctx context.Context, id int64) (p Preferences, err error) {
	err = r.call(ctx, "preferences.get", 0, func() error {
		rec, err := r.record(ctx, id)
		if err == nil {
			p = rec.preferences(r.data, id)
		}
		return err
	})
	return p, err
}

// ActivityIDs is the first query of the old recent-activity path: the ids of
// the latest entries. ActivityByIDs is the second.
func (r *repo) ActivityIDs(ctx context.Context, id int64) (n int, err error) {
	err = r.call(ctx, "activity.ids", 0, func() error {
		if !r.data.exists(id) {
			return errNoUser
		}
		n = activityLen
		return nil
	})
	return n, err
}

// ActivityByIDs loads the entries ActivityIDs returned.
func (r *repo) ActivityByIDs(ctx context.Context, id int64, n int) (a []Activity, err error) {
	err = r.call(ctx, "activity.get", 0, func() error {
		rec, err := r.record(ctx, id)
		if err == nil {
			a = rec.activity(r.data, id)[:n]
		}
		return err
	})
	return a, err
}

// ActivityFeed is the new recent-activity path: one query against a
// denormalised feed.
func (r *repo) ActivityFeed(ctx context.Context, id int64) (a []Activity, err error) {
	err = r.call(ctx, "activity.feed", 0, func() error {
		rec, err := r.record(ctx, id)
		if err == nil {
			a = rec.activity(r.data, id)
		}
		return err
	})
	return a, err
}

// listSort is the list order: newest first, ties broken by id. created_at
// has one-second precision in this data set.
var listSort = paginate.MustSort(paginate.Desc("created_at").TimePrecision(time.Second), paginate.Desc("id"))

// listKey is a row's position in listSort.
func (d *dataset) listKey(id int32) paginate.Key {
	return paginate.Key{time.Unix(d.created[id-1], 0), int64(id)}
}

// ListPage is the keyset query of one page — `WHERE (created_at, id) <
// ($1, $2) ORDER BY created_at DESC, id DESC LIMIT n` — run against the
// in-memory index with [paginate.Slice]: it seeks to the cursor by binary
// search, so it costs one query at any depth. It returns the page of ids
// (whose cursors and links the handler sends) and their rows.
func (r *repo) ListPage(ctx context.Context, req *paginate.Request) (page paginate.Page[int32], rows []User, err error) {
	err = r.call(ctx, "users.list", 0, func() error {
		page, err = paginate.Slice(r.data.order, req, r.data.listKey)
		if err != nil {
			return err
		}
		rows, err = r.rowsOf(ctx, page.Items)
		return err
	})
	return page, rows, err
}

// ListOffset is the naive query: `ORDER BY created_at DESC, id DESC OFFSET o
// LIMIT n`. The database reads and discards the o skipped rows, so it costs
// more the deeper the page.
func (r *repo) ListOffset(ctx context.Context, offset, limit int) (out []User, err error) {
	extra := time.Duration(offset) * r.scanCost
	err = r.call(ctx, "users.offset", extra, func() error {
		lo := min(offset, len(r.data.order))
		var err error
		out, err = r.rowsOf(ctx, r.data.order[lo:min(lo+limit, len(r.data.order))])
		return err
	})
	return out, err
}

func (r *repo) rowsOf(ctx context.Context, ids []int32) ([]User, error) {
	recs, err := r.store.getMany(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]User, len(ids))
	for i, id := range ids {
		out[i] = recs[int64(id)].user(r.data, int64(id))
	}
	return out, nil
}

// Len is the number of users.
func (r *repo) Len() int { return r.data.n }

// userPatch is the body of PUT /users/{id}: every field optional.
type userPatch struct {
	Name        *string           `json:"name"`
	Email       *string           `json:"email"`
	Profile     *profilePatch     `json:"profile"`
	Preferences *preferencesPatch `json:"preferences"`
}

type profilePatch struct {
	Bio      *string `json:"bio"`
	Location *string `json:"location"`
	Company  *string `json:"company"`
}

type preferencesPatch struct {
	Theme      *string `json:"theme"`
	Language   *string `json:"language"`
	Timezone   *string `json:"timezone"`
	Newsletter *bool   `json:"newsletter"`
}

// Update applies a validated patch in one transaction and records it as
// activity. It reports which parts changed.
func (r *repo) Update(ctx context.Context, id int64, p userPatch, now time.Time) (u User, changed parts, err error) {
	err = r.call(ctx, "users.update", 0, func() error {
		if !r.data.exists(id) {
			return errNoUser
		}
		changed = partUser | partActivity
		return r.store.update(ctx, id, func(rec *record) {
			cur := rec.user(r.data, id)
			set(&cur.Name, p.Name)
			set(&cur.Email, p.Email)
			rec.User = &cur
			u = cur
			if pp := p.Profile; pp != nil {
				pr := rec.profile(r.data, id)
				set(&pr.Bio, pp.Bio)
				set(&pr.Location, pp.Location)
				set(&pr.Company, pp.Company)
				rec.Profile = &pr
				changed |= partProfile
			}
			if pp := p.Preferences; pp != nil {
				pr := rec.preferences(r.data, id)
				set(&pr.Theme, pp.Theme)
				set(&pr.Language, pp.Language)
				set(&pr.Timezone, pp.Timezone)
				set(&pr.Newsletter, pp.Newsletter)
				rec.Preferences = &pr
				changed |= partPreferences
			}
			a := append([]Activity{{Kind: "update", Target: "user/" + itoa(id), At: now.UTC()}}, rec.activity(r.data, id)...)
			rec.Activity = a[:activityLen]
		})
	})
	return u, changed, err
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}
