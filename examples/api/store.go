package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/redis/go-redis/v9"
)

// record holds what writes changed of one user; nil fields are as generated.
type record struct {
	User        *User        `json:"user,omitempty"`
	Profile     *Profile     `json:"profile,omitempty"`
	Preferences *Preferences `json:"preferences,omitempty"`
	Activity    []Activity   `json:"activity,omitempty"`
}

func (r record) user(d *dataset, id int64) User {
	if r.User != nil {
		return *r.User
	}
	return d.user(id)
}

func (r record) profile(d *dataset, id int64) Profile {
	if r.Profile != nil {
		return *r.Profile
	}
	return d.profile(id)
}

func (r record) preferences(d *dataset, id int64) Preferences {
	if r.Preferences != nil {
		return *r.Preferences
	}
	return d.preferences(id)
}

func (r record) activity(d *dataset, id int64) []Activity {
	if r.Activity != nil {
		return r.Activity
	}
	out := make([]Activity, activityLen)
	for i := range out {
		out[i] = d.activity(id, i)
	}
	return out
}

// store keeps the records of written users.
type store interface {
	get(ctx context.Context, id int64) (record, error)
	getMany(ctx context.Context, ids []int32) (map[int64]record, error)
	// update changes the record of id with fn atomically.
	update(ctx context.Context, id int64, fn func(*record)) error
}

// memStore is the store of one instance.
type memStore struct {
	mu sync.RWMutex // guards m
	m  map[int64]record
}

func newMemStore() *memStore { return &memStore{m: map[int64]record{}} }

func (s *memStore) get(_ context.Context, id int64) (record, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.m[id], nil
}

func (s *memStore) getMany(_ context.Context, ids []int32) (map[int64]record, error) {
	out := make(map[int64]record)
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, id := range ids {
		if r, ok := s.m[int64(id)]; ok {
			out[int64(id)] = r
		}
	}
	return out, nil
}

func (s *memStore) update(_ context.Context, id int64, fn func(*record)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.m[id]
	fn(&r)
	s.m[id] = r
	return nil
}

// redisStore keeps records in Redis, one JSON string per user, so that every
// instance with the same -redis sees every write. Single-key commands only:
// it works on Redis Cluster.
type redisStore struct {
	rdb    redis.UniversalClient
	prefix string
}

func (s *redisStore) key(id int64) string { return s.prefix + "db:user:" + strconv.FormatInt(id, 10) }

func decodeRecord(b string) (record, error) {
	var r record
	if err := json.Unmarshal([]byte(b), &r); err != nil {
		return r, fmt.Errorf("decode stored user: %w", err)
	}
	return r, nil
}

func (s *redisStore) get(ctx context.Context, id int64) (record, error) {
	b, err := s.rdb.Get(ctx, s.key(id)).Result()
	if errors.Is(err, redis.Nil) {
		return record{}, nil
	}
	if err != nil {
		return record{}, err
	}
	return decodeRecord(b)
}

// getMany pipelines one GET per id: one round trip per node.
func (s *redisStore) getMany(ctx context.Context, ids []int32) (map[int64]record, error) {
	cmds := make([]*redis.StringCmd, len(ids))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.Get(ctx, s.key(int64(id)))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	out := make(map[int64]record)
	for i, c := range cmds {
		b, err := c.Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if out[int64(ids[i])], err = decodeRecord(b); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// update is an optimistic transaction (WATCH, MULTI/EXEC), retried when
// another writer got in between.
func (s *redisStore) update(ctx context.Context, id int64, fn func(*record)) error {
	key := s.key(id)
	for range 10 {
		err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
			var r record
			b, err := tx.Get(ctx, key).Result()
			switch {
			case errors.Is(err, redis.Nil):
			case err != nil:
				return err
			default:
				if r, err = decodeRecord(b); err != nil {
					return err
				}
			}
			fn(&r)
			nb, err := json.Marshal(r)
			if err != nil {
				return err
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, key, nb, 0)
				return nil
			})
			return err
		}, key)
		if !errors.Is(err, redis.TxFailedErr) {
			return err
		}
	}
	return errors.New("update user: too much contention")
}
