package l2

import (
	"context"
	"errors"
	"slices"
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
	// Wait reports a miss whose lease another caller holds: Fill writes nothing,
	// and [Store.WaitMany] waits for that caller's value.
	Wait bool
}

// GetMany reads keys in one pipeline: one MGET on a single server, one MGET per
// hash slot on a Cluster (per hash tag on a Ring), so never a CROSSSLOT error.
// A value past its soft expiry is a miss. With leases on, the misses' leases are
// taken in one more pipeline. A key whose lease another caller holds is a miss
// with Wait set: GetMany does not wait for it, so that the caller can first load
// and write the keys whose leases it took, and only then pass the Wait fills to
// [Store.WaitMany]. (Waiting while holding leases would let two batches that
// share keys wait for each other until LeaseWait runs out.) The answer is in the
// order of keys; it costs at most three round trips.
//
// When the lease pipeline fails (a Redis failure, the budget or ctx ending while
// the commands were on the wire), every lease it may have taken is released, in
// one pipeline under a budget of its own, before the error is returned.
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
	raws, err := mgetResult(groups, cmds, len(dks))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	s.observe(ctx, nil)

	var missed []int
	for i, raw := range raws {
		if raw != nil {
			if e, ok := s.decode(raw, ver); ok && s.usable(&e) {
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
				out[i] = Lookup{Fill: Fill{key: dks[i], ver: ver}, Wait: true} // another caller's lease
			}
		}
	}
	if len(missed) == 0 {
		return out, nil
	}
	// Take the misses' leases: SET NX for a missing key, a compare-and-set over
	// corrupt or expired bytes.
	tries := make([]leaseTry, len(missed))
	for j, i := range missed {
		tries[j] = leaseTry{dk: dks[i], ver: ver, raw: raws[i]}
	}
	fills, err := s.leaseMany(ctx, cctx, tries)
	if err != nil {
		return nil, err
	}
	for j, i := range missed {
		if fills[j].write {
			out[i].Fill = fills[j]
		} else {
			// Another caller took it between our read and our SET NX.
			out[i] = Lookup{Fill: Fill{key: dks[i], ver: ver}, Wait: true}
		}
	}
	return out, nil
}

// mgetResult gathers the values of the MGETs of n keys grouped by [Store.mget]:
// nil for a missing key.
func mgetResult(groups [][]int, cmds []*redis.SliceCmd, n int) ([][]byte, error) {
	raws := make([][]byte, n)
	for g, idx := range groups {
		vals, err := cmds[g].Result()
		if err != nil {
			return nil, err
		}
		for j, i := range idx {
			if str, ok := vals[j].(string); ok {
				raws[i] = ownBytes(str)
			}
		}
	}
	return raws, nil
}

// leaseTry is one lease [Store.leaseMany] tries to take: of data key dk, which
// held raw (nil: missing).
type leaseTry struct {
	dk  string
	ver uint64
	raw []byte
}

// leaseMany tries to take the leases of tries in one pipeline under cctx (ctx
// bounded by the budget): a SET NX for a missing key, a compare-and-set over
// the bytes it held. fills[j] is the lease taken for tries[j], or a fill that
// writes nothing when somebody else has the key. When the pipeline fails, a
// command may have run with only its reply lost (ctx or the budget ended while
// it was on the wire, a connection broke): every lease tried is released, best
// effort, in one pipeline under a budget of its own, so no instance waits for a
// lease nobody fills.
func (s *Store) leaseMany(ctx, cctx context.Context, tries []leaseTry) ([]Fill, error) {
	fills := make([]Fill, len(tries))
	pipe := s.c.Pipeline()
	cmds := make([]redis.Cmder, len(tries))
	for j, t := range tries {
		fills[j] = Fill{key: t.dk, ver: t.ver, lease: leaseValue(s.token()), write: true}
		if t.raw == nil {
			cmds[j] = pipe.SetNX(cctx, t.dk, fills[j].lease, s.o.LeaseTTL)
		} else {
			// EVAL, not EVALSHA: a pipeline cannot fall back on NOSCRIPT.
			cmds[j] = casScript.Eval(cctx, pipe, []string{t.dk}, t.raw, fills[j].lease, s.o.LeaseTTL.Milliseconds())
		}
	}
	_, _ = pipe.Exec(cctx)
	for j := range tries {
		var ok bool
		var err error
		switch c := cmds[j].(type) {
		case *redis.BoolCmd:
			ok, err = c.Result()
		case *redis.Cmd:
			var n int64
			n, err = c.Int64()
			ok = n == 1
		}
		if err != nil {
			s.releaseTried(ctx, fills)
			return nil, s.fail(ctx, err)
		}
		if !ok {
			fills[j] = Fill{key: tries[j].dk, ver: tries[j].ver}
		}
	}
	s.observe(ctx, nil)
	return fills, nil
}

// releaseTried gives up the leases of fills after a failed lease pipeline, best
// effort: under a budget of its own that ctx's end does not cut short.
func (s *Store) releaseTried(ctx context.Context, fills []Fill) {
	rctx, cancel := s.budget(context.WithoutCancel(ctx))
	defer cancel()
	pipe := s.c.Pipeline()
	for _, f := range fills {
		releaseScript.Eval(rctx, pipe, []string{f.key}, f.lease)
	}
	_, _ = pipe.Exec(rctx)
}

// WaitMany waits for the values of the keys whose leases other callers hold
// (the Fills of [Store.GetMany]'s answers with Wait), polling them with one MGET
// per slot, backing off from 2 ms to 50 ms, for up to [Options.LeaseWait]
// (Wait's counters count each key). It returns, in the order of fills, the
// holder's value, or a Fill: its own lease when the holder gave up or the key
// was invalidated meanwhile, or one that writes nothing when the wait ran out.
// On an error (ctx's, a Redis failure, the breaker opening) the leases it took
// over are released and nothing is returned.
func (s *Store) WaitMany(ctx context.Context, fills []Fill) ([]Lookup, error) {
	out := make([]Lookup, len(fills))
	if len(fills) == 0 {
		return out, nil
	}
	s.st.leaseWaits.Add(uint64(len(fills)))
	pending := make([]int, len(fills)) // indexes still waited for
	for i := range pending {
		pending[i] = i
	}
	var taken []Fill // leases taken over, released on an error
	fail := func(err error) ([]Lookup, error) {
		if len(taken) > 0 {
			_ = s.ReleaseMany(context.WithoutCancel(ctx), taken)
		}
		return nil, err
	}
	deadline := time.Now().Add(s.o.LeaseWait)
	t := time.NewTimer(0)
	defer t.Stop()
	for backoff := 2 * time.Millisecond; ; backoff = min(2*backoff, 50*time.Millisecond) {
		left := time.Until(deadline)
		if left <= 0 {
			s.st.leaseTimeouts.Add(uint64(len(pending)))
			for _, i := range pending {
				out[i] = Lookup{Fill: Fill{key: fills[i].key, ver: fills[i].ver}}
			}
			return out, nil
		}
		t.Reset(min(backoff, left))
		select {
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-t.C:
		}
		if !s.allow() {
			return fail(ErrUnavailable)
		}
		var err error
		pending, err = s.pollMany(ctx, fills, pending, out, &taken)
		if err != nil {
			return fail(err)
		}
		if len(pending) == 0 {
			return out, nil
		}
	}
}

// pollMany reads the keys of fills at pending once: a value answers its key in
// out, a key left without a value (its holder released the lease, or it was
// invalidated) has its lease taken over, when nobody else does first. It returns
// the indexes still waited for.
func (s *Store) pollMany(ctx context.Context, fills []Fill, pending []int, out []Lookup, taken *[]Fill) ([]int, error) {
	cctx, cancel := s.budget(ctx)
	defer cancel()
	dks := make([]string, len(pending))
	for j, i := range pending {
		dks[j] = fills[i].key
	}
	pipe := s.c.Pipeline()
	groups, cmds := s.mget(cctx, pipe, dks)
	_, _ = pipe.Exec(cctx)
	raws, err := mgetResult(groups, cmds, len(dks))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	s.observe(ctx, nil)
	var (
		still []int
		tries []leaseTry
		tryAt []int
	)
	for j, i := range pending {
		raw := raws[j]
		if raw != nil && isLease(raw) {
			still = append(still, i)
			continue
		}
		if raw != nil {
			if e, ok := s.decode(raw, fills[i].ver); ok && s.usable(&e) {
				s.st.leaseWaitHits.Add(1)
				out[i] = Lookup{Entry: e, Hit: true}
				continue
			}
		}
		tries, tryAt = append(tries, leaseTry{dk: dks[j], ver: fills[i].ver, raw: raw}), append(tryAt, i)
	}
	if len(tries) == 0 {
		return still, nil
	}
	// The holder released its lease or the key was invalidated: take it over.
	got, err := s.leaseMany(ctx, cctx, tries)
	if err != nil {
		return nil, err
	}
	for j, i := range tryAt {
		if !got[j].write {
			still = append(still, i)
			continue
		}
		out[i] = Lookup{Fill: got[j]}
		*taken = append(*taken, got[j])
	}
	slices.Sort(still)
	return still, nil
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
	return s.FinishMany(ctx, puts, nil)
}

// ReleaseMany gives up the leases of fills (after a failed load) in one
// pipeline, as [Store.Release] does for one.
func (s *Store) ReleaseMany(ctx context.Context, fills []Fill) error {
	_, err := s.FinishMany(ctx, nil, fills)
	return err
}

// FinishMany ends the fills of one batch in one pipeline: it stores puts, each
// write fenced by its lease as in [Store.Put], and gives up the leases of
// release, as [Store.Release] does. stored[i] reports whether puts[i] was
// written. Fills that write nothing cost nothing; with nothing to send it makes
// no round trip.
func (s *Store) FinishMany(ctx context.Context, puts []Put, release []Fill) (stored []bool, err error) {
	stored = make([]bool, len(puts))
	writes := false
	for _, p := range puts {
		writes = writes || p.Fill.write
	}
	for _, f := range release {
		writes = writes || (f.lease != "" && !f.keep)
	}
	if !writes {
		return stored, nil
	}
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
	var rcmds []redis.Cmder
	for _, f := range release {
		if f.lease != "" && !f.keep {
			rcmds = append(rcmds, releaseScript.Eval(cctx, pipe, []string{f.key}, f.lease))
		}
	}
	_, _ = pipe.Exec(cctx)
	var first error
	for i, c := range cmds {
		if c == nil {
			continue
		}
		if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
			if first == nil {
				first = err
			}
			continue
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
	for _, c := range rcmds {
		if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) && first == nil {
			first = err
		}
	}
	if first != nil {
		return stored, s.fail(ctx, first)
	}
	s.observe(ctx, nil)
	return stored, nil
}
