package flags

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisClient is the subset of go-redis that [RedisSource] uses;
// *redis.Client, *redis.ClusterClient and *redis.Ring satisfy it.
type RedisClient interface {
	HGet(ctx context.Context, key, field string) *redis.StringCmd
	HMGet(ctx context.Context, key string, fields ...string) *redis.SliceCmd
	Subscribe(ctx context.Context, channels ...string) *redis.PubSub
}

// RedisOptions configure [RedisSource]. A nil *RedisOptions means defaults.
type RedisOptions struct {
	// PollInterval is the mean interval between version checks, the
	// fallback for missed notifications; each wait is jittered uniformly
	// within ±20% so that instances do not poll in step. Default 10s.
	PollInterval time.Duration
	// Timeout bounds each Redis round trip. Default 1s.
	Timeout time.Duration
	// NoSubscribe disables the pub/sub subscription: changes are then
	// picked up by polling only.
	NoSubscribe bool
}

// RedisChannel returns the pub/sub channel on which [PublishRedis]
// announces new versions of the document stored at key.
func RedisChannel(key string) string { return key + ":changed" }

// RedisSource returns a source that reads one versioned flag document from
// Redis: a hash at key with fields "version" (an integer that
// [PublishRedis] increments) and "doc" (the JSON document). Both fields are
// read with one HMGET, so a version and its document always match.
//
// Changes are announced on the channel [RedisChannel](key) and applied as
// soon as the notification arrives (typically within milliseconds); a poll
// of the version field every [RedisOptions.PollInterval] (jittered) catches
// missed notifications, for instance across a reconnection. Only a changed
// version is fetched and applied. While Redis is unreachable the client
// keeps the last good document and its status is stale; evaluation never
// touches Redis.
func RedisSource(client RedisClient, key string, opts *RedisOptions) Source {
	s := &redisSource{client: client, key: key, poll: 10 * time.Second, timeout: time.Second}
	if opts != nil {
		if opts.PollInterval > 0 {
			s.poll = opts.PollInterval
		}
		if opts.Timeout > 0 {
			s.timeout = opts.Timeout
		}
		s.noSub = opts.NoSubscribe
	}
	return s
}

type redisSource struct {
	client  RedisClient
	key     string
	poll    time.Duration
	timeout time.Duration
	noSub   bool
}

func (s *redisSource) jittered() time.Duration {
	return time.Duration(float64(s.poll) * (0.8 + 0.4*rand.Float64()))
}

func (s *redisSource) Watch(ctx context.Context, u Updater) {
	var notes <-chan *redis.Message
	if !s.noSub {
		ps := s.client.Subscribe(ctx, RedisChannel(s.key))
		defer ps.Close()
		notes = ps.Channel()
	}
	var version int64 = -1
	var applied bool // the document of version was accepted
	check := func() {
		cctx, cancel := context.WithTimeout(ctx, s.timeout)
		defer cancel()
		v, err := s.client.HGet(cctx, s.key, "version").Int64()
		if errors.Is(err, redis.Nil) {
			version = -1 // the key is gone: whatever comes next is new
			u.Unavailable(fmt.Errorf("flags: redis key %q: %w", s.key, ErrNoDocument))
			return
		}
		if err != nil {
			if ctx.Err() == nil {
				u.Unavailable(fmt.Errorf("flags: redis: %w", err))
			}
			return
		}
		if v == version && applied {
			u.Unchanged()
			return
		}
		vals, err := s.client.HMGet(cctx, s.key, "version", "doc").Result()
		if err != nil {
			if ctx.Err() == nil {
				u.Unavailable(fmt.Errorf("flags: redis: %w", err))
			}
			return
		}
		vs, _ := vals[0].(string)
		doc, _ := vals[1].(string)
		v, err = strconv.ParseInt(vs, 10, 64)
		if err != nil || doc == "" {
			u.Unavailable(fmt.Errorf("flags: redis key %q: %w", s.key, ErrNoDocument))
			return
		}
		version = v
		applied = u.Apply([]byte(doc)) == nil // a rejected document is reported by the client
	}
	check()
	t := time.NewTimer(s.jittered())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-notes:
			if !ok {
				notes = nil
				continue
			}
			check()
		case <-t.C:
			check()
			t.Reset(s.jittered())
		}
	}
}

// publishScript bumps the version, stores the document and announces the
// new version, atomically. The version is the larger of the previous one
// plus one and the Redis clock in milliseconds, so that it keeps increasing
// even when Redis lost the key (a restart without persistence).
var publishScript = redis.NewScript(`
local cur = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if ARGV[2] ~= '' and tonumber(ARGV[2]) ~= cur then
  return redis.error_reply('STOUTVERSION ' .. cur)
end
local t = redis.call('TIME')
local v = math.max(cur + 1, tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
local vs = string.format('%d', v)
redis.call('HSET', KEYS[1], 'version', vs, 'doc', ARGV[1])
redis.call('PUBLISH', ARGV[3], vs)
return v
`)

// ErrVersionConflict is returned by [PublishRedis] when the stored version
// is not the expected one.
var ErrVersionConflict = errors.New("flags: version conflict")

// PublishRedis validates doc and stores it at key as the next version,
// atomically (one Lua script: version bump, store, announcement on
// [RedisChannel](key)), returning the new version. Versions increase
// strictly and are at least the Redis clock in milliseconds, so they keep
// increasing across a loss of the key. An invalid document is
// rejected with its [*ValidationError] and Redis is not touched. When
// ifVersion is >= 0 the document is stored only if the current version is
// ifVersion (0 when there is none), else [ErrVersionConflict] is returned:
// use it for read-modify-write editors.
func PublishRedis(ctx context.Context, client redis.Scripter, key string, doc []byte, ifVersion int64) (int64, error) {
	if _, err := Parse(doc); err != nil {
		return 0, err
	}
	want := ""
	if ifVersion >= 0 {
		want = strconv.FormatInt(ifVersion, 10)
	}
	v, err := publishScript.Run(ctx, client, []string{key}, string(doc), want, RedisChannel(key)).Int64()
	if err != nil {
		var re redis.Error
		if errors.As(err, &re) && len(err.Error()) > 12 && err.Error()[:12] == "STOUTVERSION" {
			return 0, fmt.Errorf("%w: stored version is %s", ErrVersionConflict, err.Error()[13:])
		}
		return 0, fmt.Errorf("flags: publishing to redis: %w", err)
	}
	return v, nil
}
