package l2

import (
	"context"
	"errors"
	"time"
	"unsafe"

	"github.com/redis/go-redis/v9"
)

// casScript writes ARGV[2] (with PX ARGV[3] when > 0) only while KEYS[1] still
// holds ARGV[1]: the fill lease the writer took, or the corrupt bytes it found.
var casScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local px = tonumber(ARGV[3])
if px > 0 then redis.call('SET', KEYS[1], ARGV[2], 'PX', px) else redis.call('SET', KEYS[1], ARGV[2]) end
return 1`)

// releaseScript deletes KEYS[1] only while it still holds the lease ARGV[1].
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// casUnlockScript is casScript on KEYS[1] that also deletes the refresh lock
// KEYS[2] while it holds the token ARGV[4], written or not, and, when it wrote,
// publishes ARGV[6] on channel ARGV[5]: the other instances then drop the stale
// value they hold in memory and read the new one.
var casUnlockScript = redis.NewScript(`
if redis.call('GET', KEYS[2]) == ARGV[4] then redis.call('DEL', KEYS[2]) end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local px = tonumber(ARGV[3])
if px > 0 then redis.call('SET', KEYS[1], ARGV[2], 'PX', px) else redis.call('SET', KEYS[1], ARGV[2]) end
redis.call('PUBLISH', ARGV[5], ARGV[6])
return 1`)

// lockScript takes the refresh lock KEYS[2] (SET NX PX ARGV[3] of the token
// ARGV[2]) only while KEYS[1] still holds the stale bytes ARGV[1]: a value
// another instance refreshed between the read and the lock is not refreshed again.
var lockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then return 1 end
return 0`)

// bumpScript creates the version key if missing, increments it and publishes the
// new version: InvalidateAll in one round trip.
var bumpScript = redis.NewScript(`
redis.call('SET', KEYS[1], ARGV[1], 'NX')
redis.call('INCR', KEYS[1])
local v = redis.call('GET', KEYS[1])
redis.call('PUBLISH', ARGV[2], ARGV[3] .. v)
return v`)

// Fill says how the caller of a missed Get may store the value it loads. The
// zero Fill writes nothing.
type Fill struct {
	key   string // Redis data key
	ver   uint64 // namespace version read before the load
	lease string // placeholder value of our lease, or the bytes a refill replaces; "" for an unfenced write
	write bool
	keep  bool   // a refill: Release leaves the key alone
	lock  string // the refresh lock a TryRefresh fill holds, with its token in tok
	tok   string
	msg   string // for a TryRefresh fill: the invalidation its Put publishes
}

// Leased reports whether the fill holds a lease: its [Store.Put] succeeds only
// if nobody invalidated or set the key in between.
func (f Fill) Leased() bool { return f.lease != "" }

// Writes reports whether [Store.Put] with this fill writes anything. It is false
// after a wait for another holder's lease ran out: the caller should load but
// not write.
func (f Fill) Writes() bool { return f.write }

// Version is the namespace version the fill writes under.
func (f Fill) Version() uint64 { return f.ver }

// Get reads key. On a hit it returns the entry and true. On a miss it returns a
// [Fill] for the caller to pass to [Store.Put] (or [Store.Release] when the load
// fails): with leases on, Get takes the key's lease, or waits (polling with
// backoff, up to [Options.LeaseWait]) for the holder's value. With a locally
// known version a hit is one GET, one round trip. Get is [Store.Begin] followed,
// when it asks for it, by [Store.Wait].
//
// Errors are Redis failures (wrapped), [ErrUnavailable] while the breaker is
// open, or ctx's error. Undecodable bytes are a miss.
func (s *Store) Get(ctx context.Context, key string) (Entry, bool, Fill, error) {
	e, hit, f, wait, err := s.Begin(ctx, key)
	if !wait || err != nil {
		return e, hit, f, err
	}
	return s.Wait(ctx, f)
}

// Begin is the bounded first part of [Store.Get]: the read, and on a miss the
// attempt to take the lease. It never waits for another holder: when it finds
// one it returns wait true, and the caller goes on with [Store.Wait] (on another
// goroutine, if it likes). It costs at most two round trips.
func (s *Store) Begin(ctx context.Context, key string) (e Entry, hit bool, f Fill, wait bool, err error) {
	if !s.allow() {
		return Entry{}, false, Fill{}, false, ErrUnavailable
	}
	ver, raw, err := s.read(ctx, key)
	if err != nil {
		return Entry{}, false, Fill{}, false, s.fail(ctx, err)
	}
	dk := s.ks.data(ver, key)
	if raw != nil {
		if e, ok := s.decode(raw, ver); ok && s.usable(&e) {
			s.st.hits.Add(1)
			return e, true, Fill{}, false, nil
		}
	}
	s.st.misses.Add(1)
	if s.o.LeaseTTL < 0 {
		return Entry{}, false, Fill{key: dk, ver: ver, write: true}, false, nil
	}
	f, ok, err := s.tryLease(ctx, dk, ver, raw)
	if err != nil || ok {
		return Entry{}, false, f, false, err
	}
	return Entry{}, false, Fill{key: dk, ver: ver}, true, nil
}

// read returns the version and the raw value of key under it (nil when
// missing): one GET with a usable local version, else one pipeline of the
// version and the value under the last known version (plus one GET when the
// version moved), or two round trips when no version was ever known.
func (s *Store) read(ctx context.Context, key string) (uint64, []byte, error) {
	cctx, cancel := s.budget(ctx)
	defer cancel()
	ver, fresh := s.version()
	if fresh {
		raw, err := s.get(cctx, s.ks.data(ver, key))
		return ver, raw, err
	}
	if ver != 0 {
		pipe := s.c.Pipeline()
		vget := pipe.Get(cctx, s.ks.version)
		dget := pipe.Get(cctx, s.ks.data(ver, key))
		_, _ = pipe.Exec(cctx)
		now, err := s.parseVersion(vget)
		if err != nil {
			return 0, nil, err
		}
		if now == ver {
			raw, err := getBytes(dget)
			return ver, raw, err
		}
		if now != 0 {
			raw, err := getBytes(s.c.Get(cctx, s.ks.data(now, key)))
			return now, raw, err
		}
	}
	ver, err := s.fetchVersion(cctx)
	if err != nil {
		return 0, nil, err
	}
	raw, err := getBytes(s.c.Get(cctx, s.ks.data(ver, key)))
	return ver, raw, err
}

// getBytes returns a GET's value, nil for a missing key.
func getBytes(cmd *redis.StringCmd) ([]byte, error) {
	v, err := cmd.Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return ownBytes(v), nil
}

// ownBytes returns the bytes of v, a reply go-redis just read, without copying them:
// go-redis reads every bulk string into a new allocation that only the reply refers to,
// and the reply is dropped once its bytes are taken. Never nil.
func ownBytes(v string) []byte {
	if len(v) == 0 {
		return []byte{}
	}
	return unsafe.Slice(unsafe.StringData(v), len(v))
}

// decode decodes raw read under version ver; a value of another generation is a
// miss (defence in depth: the key name carries the version too).
func (s *Store) decode(raw []byte, ver uint64) (Entry, bool) {
	if isLease(raw) {
		return Entry{}, false
	}
	e, ok := Decode(raw)
	if !ok || e.Gen != ver {
		s.st.corrupt.Add(1)
		return Entry{}, false
	}
	e.Raw = raw
	return e, true
}

// Reclaim takes the lease of key over e, a value [Store.Get] or [Store.GetMany]
// returned that the caller cannot use (its payload does not decode with the
// caller's codec): the returned fill's Put replaces it, unless the key changed
// meanwhile (then the fill writes nothing).
func (s *Store) Reclaim(ctx context.Context, key string, e Entry) (Fill, error) {
	if e.Raw == nil || s.o.LeaseTTL < 0 || !s.allow() {
		return Fill{}, nil
	}
	s.st.corrupt.Add(1)
	f, ok, err := s.tryLease(ctx, s.ks.data(e.Gen, key), e.Gen, e.Raw)
	if err != nil || !ok {
		return Fill{}, err
	}
	return f, nil
}

// fresh reports whether e is before its soft expiry. A value past it is a miss
// whose fill replaces it (the Redis key lives on to the hard expiry only so that
// the fill can take its place).
func (s *Store) fresh(e Entry) bool {
	return e.SoftExpiry == 0 || s.now() < e.SoftExpiry
}

// usable reports whether e answers a read: fresh, or with [Options.ServeStale]
// a value (not a negative entry) within that long past its soft expiry, which it
// flags stale.
func (s *Store) usable(e *Entry) bool {
	if s.fresh(*e) {
		return true
	}
	if s.o.ServeStale > 0 && !e.Negative && s.now()-e.SoftExpiry < int64(s.o.ServeStale) {
		e.Stale = true
		s.st.staleHits.Add(1)
		return true
	}
	return false
}

// Wait waits for the value of the key whose lease another holder has (f from
// [Store.Begin] with wait true), polling with backoff for up to
// [Options.LeaseWait]. It returns the holder's value, or a Fill: its own lease
// when the holder gave up or the key was invalidated meanwhile, or one that
// writes nothing when the wait ran out.
func (s *Store) Wait(ctx context.Context, f Fill) (Entry, bool, Fill, error) {
	dk, ver := f.key, f.ver
	s.st.leaseWaits.Add(1)
	deadline := time.Now().Add(s.o.LeaseWait)
	t := time.NewTimer(0)
	defer t.Stop()
	for backoff := 2 * time.Millisecond; ; backoff = min(2*backoff, 50*time.Millisecond) {
		left := time.Until(deadline)
		if left <= 0 {
			s.st.leaseTimeouts.Add(1)
			return Entry{}, false, Fill{key: dk, ver: ver}, nil
		}
		t.Reset(min(backoff, left))
		select {
		case <-ctx.Done():
			return Entry{}, false, Fill{}, ctx.Err()
		case <-t.C:
		}
		if !s.allow() {
			return Entry{}, false, Fill{}, ErrUnavailable
		}
		cctx, cancel := s.budget(ctx)
		raw, err := getBytes(s.c.Get(cctx, dk))
		cancel()
		if err != nil {
			return Entry{}, false, Fill{}, s.fail(ctx, err)
		}
		s.observe(ctx, nil)
		if raw != nil && isLease(raw) {
			continue
		}
		if raw != nil {
			if e, ok := s.decode(raw, ver); ok && s.usable(&e) {
				s.st.leaseWaitHits.Add(1)
				return e, true, Fill{}, nil
			}
		}
		// The holder released its lease or the key was invalidated: try again.
		if f, ok, err := s.tryLease(ctx, dk, ver, raw); err != nil || ok {
			return Entry{}, false, f, err
		}
	}
}

// tryLease tries to take the lease of dk, which held raw (nil, or corrupt or
// expired bytes; a lease is left alone).
func (s *Store) tryLease(ctx context.Context, dk string, ver uint64, raw []byte) (Fill, bool, error) {
	if raw != nil && isLease(raw) {
		return Fill{}, false, nil
	}
	f := Fill{key: dk, ver: ver, lease: leaseValue(s.token()), write: true}
	cctx, cancel := s.budget(ctx)
	defer cancel()
	var ok bool
	var err error
	if raw == nil {
		ok, err = s.c.SetNX(cctx, dk, f.lease, s.o.LeaseTTL).Result()
	} else {
		// Corrupt or expired bytes: replace them with our lease, unless someone
		// else did first.
		var n int64
		n, err = casScript.Run(cctx, s.c, []string{dk}, raw, f.lease, s.o.LeaseTTL.Milliseconds()).Int64()
		ok = n == 1
	}
	if err != nil {
		// A lease nobody fills would make every instance wait for it.
		s.releaseLost(ctx, cctx, err, dk, f.lease)
		return Fill{}, false, s.fail(ctx, err)
	}
	s.observe(ctx, nil)
	return f, ok, nil
}

// Put stores e as the value of the missed key f came from, under f's version,
// with hard expiry ttl (<= 0: none). With a lease it is a compare-and-set that
// fails (false, nil) when the lease is gone: the key was invalidated or set
// since the miss. A fill without [Fill.Writes] writes nothing.
func (s *Store) Put(ctx context.Context, f Fill, e Entry, ttl time.Duration) (bool, error) {
	if !f.write {
		return false, nil
	}
	if !s.allow() {
		return false, ErrUnavailable
	}
	e.Gen = f.ver
	b := Encode(nil, e, s.o.CompressAt)
	cctx, cancel := s.budget(ctx)
	defer cancel()
	if f.lease == "" {
		if err := s.c.Set(cctx, f.key, b, ttlArg(ttl)).Err(); err != nil {
			return false, s.fail(ctx, err)
		}
		s.observe(ctx, nil)
		return true, nil
	}
	var n int64
	var err error
	if f.lock != "" {
		n, err = casUnlockScript.Run(cctx, s.c, []string{f.key, f.lock}, f.lease, b, pxArg(ttl), f.tok, s.ks.channel, f.msg).Int64()
	} else {
		n, err = casScript.Run(cctx, s.c, []string{f.key}, f.lease, b, pxArg(ttl)).Int64()
	}
	if err != nil {
		return false, s.fail(ctx, err)
	}
	s.observe(ctx, nil)
	if n != 1 {
		s.st.fillsRejected.Add(1)
		return false, nil
	}
	return true, nil
}

// Refill returns a fill that replaces e, a value [Store.Get] returned, with a
// recomputed one, only while the key still holds exactly e's bytes (an
// invalidation, a Set or another refresh in between makes its Put fail). It
// takes no lease, so other readers keep getting e meanwhile: what a background
// refresh before expiry needs. Its [Store.Release] leaves the key alone.
func (s *Store) Refill(key string, e Entry) Fill {
	if e.Raw == nil {
		return Fill{}
	}
	return Fill{key: s.ks.data(e.Gen, key), ver: e.Gen, lease: string(e.Raw), write: true, keep: true}
}

// TryRefresh elects the one instance that refreshes e, a stale value
// [Store.Begin] or [Store.Wait] returned: it takes the key's refresh lock (a
// SET NX, with expiry [Options.LeaseTTL], or [DefaultLeaseTTL] with leases off,
// on a key next to the data key, in its Cluster slot, in one script that first
// checks the key still holds e's bytes). When it gets the lock it
// returns a [Store.Refill]-style fill: no lease, so other readers keep getting
// e meanwhile, and a Put that replaces e only while the key still holds exactly
// e's bytes; the Put and [Store.Release] also give up the lock (Put in the same
// script call). ok is false when another instance holds the lock, or the key no
// longer holds e's bytes (another instance refreshed it since e was read): the
// caller should not refresh.
func (s *Store) TryRefresh(ctx context.Context, key string, e Entry) (f Fill, ok bool, err error) {
	if e.Raw == nil {
		return Fill{}, false, nil
	}
	if !s.allow() {
		return Fill{}, false, ErrUnavailable
	}
	f = s.Refill(key, e)
	f.lock, f.tok, f.msg = f.key+":r", s.token(), s.message(msgKey, key)
	ttl := s.o.LeaseTTL
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	cctx, cancel := s.budget(ctx)
	defer cancel()
	n, err := lockScript.Run(cctx, s.c, []string{f.key, f.lock}, f.lease, f.tok, max(ttl.Milliseconds(), 1)).Int64()
	ok = n == 1
	if err != nil {
		// A lock held with its reply lost would stop every instance refreshing the key
		// until it expires.
		s.releaseLost(ctx, cctx, err, f.lock, f.tok)
		return Fill{}, false, s.fail(ctx, err)
	}
	s.observe(ctx, nil)
	if !ok {
		return Fill{}, false, nil
	}
	return f, true, nil
}

// Release gives up f's lease (after a failed load), so waiters need not wait for
// it to expire. It is a no-op for a fill without a lease.
func (s *Store) Release(ctx context.Context, f Fill) error {
	key, val := f.key, f.lease
	if f.lock != "" {
		key, val = f.lock, f.tok
	}
	if val == "" || (f.keep && f.lock == "") || !s.allow() {
		return nil
	}
	cctx, cancel := s.budget(ctx)
	defer cancel()
	if err := releaseScript.Run(cctx, s.c, []string{key}, val).Err(); err != nil {
		return s.fail(ctx, err)
	}
	s.observe(ctx, nil)
	return nil
}

// ttlArg maps a hard expiry to go-redis's expiration argument (which uses PX
// below a second or for a fraction of one).
func ttlArg(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		return 0
	}
	return max(ttl, time.Millisecond)
}

// pxArg is ttl in whole milliseconds for a script, at least 1; 0 for none.
func pxArg(ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	return max(ttl.Milliseconds(), 1)
}

// currentVersion returns a version usable now: the local one within the bound,
// else read from Redis.
func (s *Store) currentVersion(ctx context.Context) (uint64, error) {
	if v, fresh := s.version(); fresh {
		return v, nil
	}
	return s.fetchVersion(ctx)
}

// Set writes e as key's value under the current version with hard expiry ttl,
// replacing any value or lease (so a fill in flight is rejected), and tells the
// other instances to drop key from memory. Two round trips when the version must
// be read first, else one.
func (s *Store) Set(ctx context.Context, key string, e Entry, ttl time.Duration) error {
	if !s.allow() {
		return ErrUnavailable
	}
	cctx, cancel := s.budget(ctx)
	defer cancel()
	ver, err := s.currentVersion(cctx)
	if err != nil {
		return s.fail(ctx, err)
	}
	e.Gen = ver
	pipe := s.c.Pipeline()
	pipe.Set(cctx, s.ks.data(ver, key), Encode(nil, e, s.o.CompressAt), ttlArg(ttl))
	pipe.Publish(cctx, s.ks.channel, s.message(msgKey, key))
	if _, err := pipe.Exec(cctx); err != nil {
		return s.fail(ctx, err)
	}
	s.observe(ctx, nil)
	return nil
}

// Invalidate deletes key (its value and any fill lease, so the fill's write is
// rejected) under the current namespace version and tells the other instances
// to drop it from memory. The version is confirmed in the same pipeline as the
// DEL; if it moved, the key is deleted under the new version too.
func (s *Store) Invalidate(ctx context.Context, key string) error {
	if !s.allow() {
		return ErrUnavailable
	}
	cctx, cancel := s.budget(ctx)
	defer cancel()
	ver, _ := s.version()
	if ver == 0 {
		var err error
		if ver, err = s.fetchVersion(cctx); err != nil {
			return s.fail(ctx, err)
		}
	}
	for range 4 {
		pipe := s.c.Pipeline()
		pipe.Del(cctx, s.ks.data(ver, key))
		vget := pipe.Get(cctx, s.ks.version)
		pipe.Publish(cctx, s.ks.channel, s.message(msgKey, key))
		_, err := pipe.Exec(cctx)
		if err != nil && !errors.Is(err, redis.Nil) {
			return s.fail(ctx, err)
		}
		now, err := s.parseVersion(vget)
		if err != nil {
			return s.fail(ctx, err)
		}
		if now == 0 || now == ver {
			s.observe(ctx, nil)
			return nil
		}
		ver = now
	}
	s.observe(ctx, nil)
	return nil
}

// InvalidateAll bumps the namespace version (one INCR, creating the key at the
// time-based initial value when missing) and publishes the new version, in one
// script call. Every value written under an older version is unreachable from
// then on and expires on its own.
func (s *Store) InvalidateAll(ctx context.Context) (uint64, error) {
	if !s.allow() {
		return 0, ErrUnavailable
	}
	cctx, cancel := s.budget(ctx)
	defer cancel()
	// The script returns the version as a string: Lua numbers are doubles.
	n, err := bumpScript.Run(cctx, s.c, []string{s.ks.version},
		s.initialVersion(), s.ks.channel, s.message(msgVersion, "")).Uint64()
	if err != nil {
		return 0, s.fail(ctx, err)
	}
	s.observe(ctx, nil)
	s.setVersion(n, s.now())
	return n, nil
}

// Version returns the namespace version, from memory within the staleness bound
// or else from Redis.
func (s *Store) Version(ctx context.Context) (uint64, error) {
	if !s.allow() {
		return 0, ErrUnavailable
	}
	cctx, cancel := s.budget(ctx)
	defer cancel()
	v, err := s.currentVersion(cctx)
	if err != nil {
		return 0, s.fail(ctx, err)
	}
	s.observe(ctx, nil)
	return v, nil
}

// releaseLost deletes key while it holds token (a lease or a lock) after err, the
// failure of the command that set it under cctx (ctx bounded by the budget), when that
// command may have run with only its reply lost: the caller's context ended, or the
// budget ran out, while it was on the wire. Best effort, within a fresh budget.
func (s *Store) releaseLost(ctx, cctx context.Context, err error, key, token string) {
	if (ctx.Err() == nil && cctx.Err() == nil) || isReply(err) {
		return
	}
	rctx, cancel := s.budget(context.WithoutCancel(ctx))
	defer cancel()
	_ = releaseScript.Run(rctx, s.c, []string{key}, token).Err()
}
