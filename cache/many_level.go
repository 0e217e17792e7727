package cache

import (
	"context"
	"time"
)

// batchLevel is a shared level that serves GetMany's batches in parts, so that a batch
// never waits for other instances while it holds leases of its own, and ends the fills of
// a batch in one round trip. runMany uses it when the level has it, else [shared.getMany]
// and one [filler] call per key.
//
// The order matters across instances: two batches that share keys may each take some of
// the keys' leases. Were each to wait for the other's keys before loading its own, both
// would wait until LeaseWait ran out and then load everything. Loading (and writing) the
// keys it holds first, and only then waiting for the rest, lets every batch finish.
type batchLevel interface {
	shared
	// beginMany reads keys as getMany does, taking the misses' leases, without waiting:
	// wait[i] reports a miss of a key another instance is filling (wait is nil when there
	// is none). Such a lookup goes to waitMany once the other keys are loaded.
	beginMany(ctx context.Context, keys []string) (ls []lookup, wait []bool)
	// waitMany waits, up to the level's bound, for other instances' fills of the keys
	// whose lookups ls beginMany marked wait. Each answer is a hit or a miss: the miss's
	// filler holds the key's lease when the other instance gave it up, and writes nothing
	// when the wait ran out.
	waitMany(ctx context.Context, ls []lookup) []lookup
	// finishMany ends the fills of one batch in one round trip: each of puts writes its
	// record through its filler, fenced as [filler.put] is; release gives up the rest.
	// stored[i] reports whether puts[i] was written.
	finishMany(ctx context.Context, puts []batchPut, release []filler) (stored []bool, err error)
}

// batchPut is one write of [batchLevel.finishMany].
type batchPut struct {
	fill filler
	rec  record
	ttl  time.Duration
}

// writeBackMany hands the entries a batch load produced (es[i] nil after a failed load,
// stored[i] false when the flight was detached) to their fills: in one round trip with a
// [batchLevel], else one writeBack per key. The writes run under ctx without its
// cancellation (the level bounds each round trip): a load cut short by its timeout or by
// Close must still give up its leases, or other instances wait for them.
func (c *Cache[V]) writeBackMany(ctx context.Context, keys []string, fills []filler, es []*entry[V], stored []bool) {
	bl, ok := c.l2.(batchLevel)
	if !ok {
		for i, key := range keys {
			c.writeBack(ctx, key, fills[i], es[i], stored[i])
		}
		return
	}
	var (
		puts    []batchPut
		putKeys []string
		release []filler
	)
	for i, f := range fills {
		if f == nil {
			continue
		}
		if es[i] == nil || !stored[i] {
			release = append(release, f)
			continue
		}
		rec, ttl, err := c.toRecord(es[i])
		if err != nil {
			c.cfg.logger.Warn("cache: write to shared level failed", "namespace", c.cfg.ns, "key", keys[i], "error", err)
			release = append(release, f)
			continue
		}
		puts, putKeys = append(puts, batchPut{fill: f, rec: rec, ttl: ttl}), append(putKeys, keys[i])
	}
	if len(puts) == 0 && len(release) == 0 {
		return
	}
	if _, err := bl.finishMany(context.WithoutCancel(ctx), puts, release); err != nil {
		c.cfg.logger.Warn("cache: write to shared level failed", "namespace", c.cfg.ns, "keys", putKeys, "released", len(release), "error", err)
	}
}
