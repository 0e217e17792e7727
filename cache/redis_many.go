package cache

import (
	"context"

	"github.com/stout-go/stout/cache/internal/l2"
)

// The Redis level's [batchLevel]: GetMany's batches on Redis.

func (r *redisLevel) beginMany(ctx context.Context, keys []string) ([]lookup, []bool) {
	out := make([]lookup, len(keys))
	ls, err := r.s.GetMany(ctx, keys)
	if err != nil {
		err = redisErr(err)
		for i := range out {
			out[i].err = err
		}
		return out, nil
	}
	var wait []bool
	for i, l := range ls {
		if l.Wait {
			if wait == nil {
				wait = make([]bool, len(keys))
			}
			wait[i] = true
		}
		out[i] = r.fromLookup(l)
	}
	return out, wait
}

func (r *redisLevel) waitMany(ctx context.Context, ls []lookup) []lookup {
	out := make([]lookup, len(ls))
	fills := make([]l2.Fill, len(ls))
	for i, l := range ls {
		if f, ok := l.fill.(redisFill); ok {
			fills[i] = f.f
		}
	}
	got, err := r.s.WaitMany(ctx, fills)
	if err != nil {
		err = redisErr(err)
		for i := range out {
			out[i].err = err
		}
		return out
	}
	for i, l := range got {
		out[i] = r.fromLookup(l)
	}
	return out
}

// fromLookup is the lookup of one key of a batch.
func (r *redisLevel) fromLookup(l l2.Lookup) lookup {
	if l.Hit {
		return lookup{rec: toRecord(l.Entry), hit: true}
	}
	return lookup{fill: redisFill{s: r.s, f: l.Fill}}
}

func (r *redisLevel) finishMany(ctx context.Context, puts []batchPut, release []filler) ([]bool, error) {
	stored := make([]bool, len(puts))
	var (
		ps    []l2.Put
		at    []int
		rs    []l2.Fill
		first error
	)
	for i, p := range puts {
		f, ok := p.fill.(redisFill)
		if !ok {
			// Not a fill of this level's batch: written on its own.
			var err error
			if stored[i], err = p.fill.put(ctx, p.rec, p.ttl); err != nil && first == nil {
				first = err
			}
			continue
		}
		ps, at = append(ps, l2.Put{Fill: f.f, Entry: toEntry(p.rec), TTL: p.ttl}), append(at, i)
	}
	for _, fl := range release {
		f, ok := fl.(redisFill)
		if !ok {
			if err := fl.release(ctx); err != nil && first == nil {
				first = err
			}
			continue
		}
		rs = append(rs, f.f)
	}
	got, err := r.s.FinishMany(ctx, ps, rs)
	for j, i := range at {
		stored[i] = got[j]
	}
	if err != nil && first == nil {
		first = redisErr(err)
	}
	return stored, first
}
