package l2

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// Lookup is the answer [Store.GetMany] gives for one key.
type Lookup struct {
	// Entry is the value when Hit.
	Entry Entry
	// Hit reports whether the key was found.
	Hit bool
	// Fill is how to store a loaded value for a missed key (see [Store.Get]).
	Fill Fill
}

// GetMany reads keys in one pipeline: one MGET on a single server, one MGET per
// hash slot on a Cluster (per hash tag on a Ring), so never a CROSSSLOT error.
// A value past its soft expiry is a miss. With leases on, the misses' leases are
// taken in one more pipeline; a key whose lease another caller holds gets a Fill
// that writes nothing (GetMany does not wait). The answer is in the order of keys.
func (s *Store) GetMany(ctx context.Context, keys []string) ([]Lookup, error) {
	out := make([]Lookup, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	if !s.allow() {
		return nil, ErrUnavailable
	}
	cctx, cancel := s.budget(ctx)
	defer cancel()
	ver, fresh := s.version()
	var vget *redis.StringCmd
	if !fresh && ver == 0 {
		var err error
		if ver, err = s.fetchVersion(cctx); err != nil {
			return nil, s.fail(ctx, err)
		}
		fresh = true
	}
	dks := make([]string, len(keys))
	for i, k := range keys {
		dks[i] = s.ks.data(ver, k)
	}
	pipe := s.c.Pipeline()
	if !fresh {
		vget = pipe.Get(cctx, s.ks.version)
	}
	groups, cmds := s.mget(cctx, pipe, dks)
	_, _ = pipe.Exec(cctx)
	if vget != nil {
		now, err := s.parseVersion(vget)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		if now != 0 && now != ver {
			// The version moved: read again under the new one.
			ver = now
			for i, k := range keys {
				dks[i] = s.ks.data(ver, k)
			}
			pipe = s.c.Pipeline()
			groups, cmds = s.mget(cctx, pipe, dks)
			_, _ = pipe.Exec(cctx)
		}
	}
	raws := make([][]byte, len(keys))
	for g, idx := range groups {
		vals, err := cmds[g].Result()
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		for j, i := range idx {
			if str, ok := vals[j].(string); ok {
				raws[i] = []byte(str)
			}
		}
	}
	s.observe(ctx, nil)

	var missed []int
	for i, raw := range raws {
		if raw != nil {
			if e, ok := s.decode(raw, ver); ok && s.fresh(e) {
				out[i] = Lookup{Entry: e, Hit: true}
				s.st.hits.Add(1)
				continue
			}
		}
		s.st.misses.Add(1)
		out[i].Fill = Fill{key: dks[i], ver: ver, write: true}
		if s.o.LeaseTTL >= 0 {
			if raw == nil || !isLease(raw) {
				missed = append(missed, i)
			} else {
				out[i].Fill.write = false // another caller's lease: leave it be
			}
		}
	}
	if len(missed) == 0 {
		return out, nil
	}
	// Take the misses' leases: SET NX for a missing key, a compare-and-set over
	// corrupt or expired bytes.
	pipe = s.c.Pipeline()
	lcmds := make([]redis.Cmder, len(missed))
	for j, i := range missed {
		out[i].Fill.lease = leaseValue(s.token())
		if raws[i] == nil {
			lcmds[j] = pipe.SetNX(cctx, dks[i], out[i].Fill.lease, s.o.LeaseTTL)
		} else {
			lcmds[j] = casScript.Eval(cctx, pipe, []string{dks[i]}, raws[i], out[i].Fill.lease, s.o.LeaseTTL.Milliseconds())
		}
	}
	_, _ = pipe.Exec(cctx)
	for j, i := range missed {
		var ok bool
		var err error
		switch c := lcmds[j].(type) {
		case *redis.BoolCmd:
			ok, err = c.Result()
		case *redis.Cmd:
			var n int64
			n, err = c.Int64()
			ok = n == 1
		}
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		if !ok {
			out[i].Fill = Fill{key: dks[i], ver: ver}
		}
	}
	s.observe(ctx, nil)
	return out, nil
}

// mget queues the MGETs of dks on pipe, grouped so that no MGET crosses a slot,
// and returns each group's indexes into dks with its command.
func (s *Store) mget(ctx context.Context, pipe redis.Pipeliner, dks []string) ([][]int, []*redis.SliceCmd) {
	var groups [][]int
	switch s.batch {
	case batchOne:
		all := make([]int, len(dks))
		for i := range all {
			all[i] = i
		}
		groups = [][]int{all}
	default:
		at := make(map[string]int)
		for i, dk := range dks {
			var g string
			if s.batch == batchSlot {
				sl := slot(dk)
				g = string([]byte{byte(sl >> 8), byte(sl)})
			} else {
				g = hashTag(dk)
			}
			n, ok := at[g]
			if !ok {
				n = len(groups)
				at[g] = n
				groups = append(groups, nil)
			}
			groups[n] = append(groups[n], i)
		}
	}
	cmds := make([]*redis.SliceCmd, len(groups))
	keys := make([]string, 0, len(dks))
	for g, idx := range groups {
		keys = keys[:0]
		for _, i := range idx {
			keys = append(keys, dks[i])
		}
		cmds[g] = pipe.MGet(ctx, append([]string(nil), keys...)...)
	}
	return groups, cmds
}

// Put is one value for [Store.PutMany].
type Put struct {
	Fill  Fill
	Entry Entry
	// TTL is the hard expiry (<= 0: none).
	TTL time.Duration
}

// PutMany stores the values of several fills in one pipeline; each write is
// fenced by its lease as in [Store.Put]. stored[i] reports whether puts[i] was
// written.
func (s *Store) PutMany(ctx context.Context, puts []Put) (stored []bool, err error) {
	stored = make([]bool, len(puts))
	if !s.allow() {
		return stored, ErrUnavailable
	}
	cctx, cancel := s.budget(ctx)
	defer cancel()
	pipe := s.c.Pipeline()
	cmds := make([]redis.Cmder, len(puts))
	for i, p := range puts {
		if !p.Fill.write {
			continue
		}
		p.Entry.Gen = p.Fill.ver
		b := Encode(nil, p.Entry, s.o.CompressAt)
		if p.Fill.lease == "" {
			cmds[i] = pipe.Set(cctx, p.Fill.key, b, ttlArg(p.TTL))
		} else {
			// EVAL, not EVALSHA: a pipeline cannot fall back on NOSCRIPT.
			cmds[i] = casScript.Eval(cctx, pipe, []string{p.Fill.key}, p.Fill.lease, b, pxArg(p.TTL))
		}
	}
	if pipe.Len() == 0 {
		return stored, nil
	}
	_, _ = pipe.Exec(cctx)
	for i, c := range cmds {
		if c == nil {
			continue
		}
		if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return stored, s.fail(ctx, err)
		}
		switch c := c.(type) {
		case *redis.StatusCmd:
			stored[i] = true
		case *redis.Cmd:
			n, _ := c.Int64()
			stored[i] = n == 1
			if n != 1 {
				s.st.fillsRejected.Add(1)
			}
		}
	}
	s.observe(ctx, nil)
	return stored, nil
}
