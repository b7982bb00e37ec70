package reader

import (
	"context"
	"math"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/pss"
)

// minSplitPart is the fewest datoms a part of a split scan holds: below
// it, starting a goroutine and waking a core costs more than the datoms.
// (A variable for tests.)
var minSplitPart = 4096

// maxSplitParts bounds the parts of one split scan.
const maxSplitParts = 16

// SplitDatomChunks cuts DatomChunks(idx, components) into at most n
// consecutive parts of about equal size (each a scan of its own sub-range),
// which may run concurrently, each on its own goroutine: the runs of part 0, then those of part 1, and so
// on, are the runs DatomChunks hands out. Each run is valid only during
// its call, as in DatomChunks. It returns a single part (the whole scan)
// when n < 2, when the range holds fewer than 2×4,096 datoms, when the
// value reads history or another point in time, and when novelty not yet
// merged into the stored tree lies in the range: parts are cut at keys of
// the stored tree, by rank (pss.Set.Nth), at a cost of one descent each.
func (db *DB) SplitDatomChunks(ctx context.Context, idx datom.Index, components []any, n int) ([]func(fn func([]datom.Datom) bool) error, error) {
	whole := []func(fn func([]datom.Datom) bool) error{func(fn func([]datom.Datom) bool) error {
		return db.DatomChunks(ctx, idx, components, fn)
	}}
	v := db.v
	if n < 2 || idx > datom.VAET || v.history || v.asOf != math.MaxInt64 || v.since >= 0 {
		return whole, nil
	}
	comps := normalizeComponents(idx, components)
	lo, hi := bounds(idx, comps)
	i := curTree(idx)
	tree, err := db.trees[i].get(ctx)
	if err != nil {
		return nil, err
	}
	cmp := datom.Comparator(idx)
	// The range is cut in the one set that holds its datoms: the stored
	// tree, or the novelty not yet merged into it (a value built with
	// With); where both do, a part would have to merge them.
	adds, dels := db.ov.within(i, lo, hi, false)
	if dels.Len() > 0 {
		return whole, nil
	}
	set := tree
	r0, r1, err := rankRange(ctx, tree, lo, hi)
	if err != nil {
		return nil, err
	}
	if adds.Len() > 0 {
		if r1 > r0 {
			return whole, nil
		}
		set = adds
		if r0, r1, err = rankRange(ctx, adds, lo, hi); err != nil {
			return nil, err
		}
	}
	n = min(n, maxSplitParts, (r1-r0)/minSplitPart)
	if n < 2 {
		return whole, nil
	}
	// cuts[j] is the first datom of part j+1.
	cuts := make([]datom.Datom, n-1)
	for j := range cuts {
		k, ok, err := set.Nth(ctx, r0+(r1-r0)*(j+1)/n)
		if err != nil {
			return nil, err
		}
		if !ok {
			return whole, nil
		}
		cuts[j] = k
	}
	parts := make([]func(fn func([]datom.Datom) bool) error, n)
	for j := range parts {
		from, last := lo, j == n-1
		if j > 0 {
			from = cuts[j-1]
		}
		var stop datom.Datom
		if !last {
			stop = cuts[j]
		}
		parts[j] = func(fn func([]datom.Datom) bool) error {
			return scanPart(ctx, set, i, cmp, from, stop, last, hi, fn)
		}
	}
	return parts, nil
}

// rankRange returns the ranks in set of lo and of the first key above hi:
// [lo, hi] holds r1-r0 of its keys.
func rankRange(ctx context.Context, set pss.Set[datom.Datom], lo, hi datom.Datom) (r0, r1 int, err error) {
	if r0, err = set.Rank(ctx, lo, false); err != nil {
		return 0, 0, err
	}
	r1, err = set.Rank(ctx, hi, true)
	return r0, r1, err
}

// scanPart hands fn the runs of set (a tree or the overlay of tree i) from from up to stop (exclusive),
// or to hi (inclusive) when last.
func scanPart(ctx context.Context, tree pss.Set[datom.Datom], i int, cmp func(a, b datom.Datom) int, from, stop datom.Datom, last bool, hi datom.Datom, fn func([]datom.Datom) bool) error {
	bound := hi
	if !last {
		bound = stop
	}
	o := &pss.IterOptions[datom.Datom]{PrefetchLimit: &bound}
	if fb := newFenceBound(i, bound); fb.ok {
		o.Past = fb.past
	}
	x := tree.NewIter(ctx, o)
	// past reports whether d lies beyond the part.
	past := func(d datom.Datom) bool {
		if last {
			return cmp(d, hi) > 0
		}
		return cmp(d, stop) >= 0
	}
	if x.SeekGE(from) {
		handRuns(x, past, fn)
	}
	return x.Close()
}
