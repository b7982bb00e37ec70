package reader

import (
	"context"
	"math"
	"sort"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/node"
	"github.com/accretedb/accrete/pss"
)

// treeIter walks one index tree merged with the overlay of the log tail,
// pull-style, over the inclusive range [lo, hi]: the stored tree's datoms
// minus the overlay's deletions, plus the overlay's additions, in index
// order. With an empty overlay it is a plain tree iterator.
type treeIter struct {
	cmp       func(a, b datom.Datom) int
	hi        datom.Datom
	t, a, d   *pss.Iter[datom.Datom]
	tOK, aOK  bool
	dOK       bool
	cur       datom.Datom
	started   bool
	lo        datom.Datom
	onlyTree  bool
	onlyAdds  bool
	checkDel  bool
	exhausted bool
}

// init prepares it (a zero treeIter, usually on the caller's stack: a
// point lookup then allocates only the pss iterators) to walk tree i. hist
// walks current tree i as a history scan reads it: masked by the overlay's
// xdels only (see overlay).
func (it *treeIter) init(ctx context.Context, db *DB, i int, lo, hi datom.Datom, hist bool) error {
	tree, err := db.trees[i].get(ctx)
	if err != nil {
		return err
	}
	it.cmp, it.lo, it.hi = datom.Comparator(treeIndex(i)), lo, hi
	adds, dels := db.ov.within(i, lo, hi, hist)
	hasAdds := adds.Len() > 0
	hasDels := dels.Len() > 0
	if tree.Len() > 0 {
		// Stored leaves past hi are not worth prefetching, nor loading:
		// the tree's fences tell where the leaf after the range starts.
		o := &pss.IterOptions[datom.Datom]{PrefetchLimit: &hi}
		if fb := newFenceBound(i, hi); fb.ok {
			o.Past = fb.past
		}
		it.t = tree.NewIter(ctx, o)
	}
	if hasAdds {
		it.a = adds.NewIter(ctx, nil)
	}
	if hasDels && it.t != nil {
		it.d = dels.NewIter(ctx, nil)
		it.checkDel = true
	}
	it.onlyTree = it.a == nil && it.d == nil
	it.onlyAdds = it.t == nil
	return nil
}

func (it *treeIter) start() {
	it.started = true
	if it.t != nil {
		it.tOK = it.t.SeekGE(it.lo) && it.cmp(it.t.Key(), it.hi) <= 0
	}
	if it.a != nil {
		it.aOK = it.a.SeekGE(it.lo) && it.cmp(it.a.Key(), it.hi) <= 0
	}
	if it.d != nil {
		it.dOK = it.d.SeekGE(it.lo)
	}
}

// next moves to the next datom; it returns false at the end or on error
// (see close).
func (it *treeIter) next() bool {
	if !it.started {
		it.start()
	} else if it.onlyTree {
		it.tOK = it.tOK && it.t.Next() && it.cmp(it.t.Key(), it.hi) <= 0
	}
	if it.onlyTree {
		if it.tOK {
			it.cur = it.t.Key()
		}
		return it.tOK
	}
	if it.onlyAdds {
		if it.started && it.exhausted {
			return false
		}
		if !it.aOK {
			it.exhausted = true
			return false
		}
		it.cur = it.a.Key()
		it.aOK = it.a.Next() && it.cmp(it.a.Key(), it.hi) <= 0
		return true
	}
	for it.tOK || it.aOK {
		var c int
		switch {
		case !it.aOK:
			c = -1
		case !it.tOK:
			c = 1
		default:
			c = it.cmp(it.t.Key(), it.a.Key())
		}
		if c > 0 {
			it.cur = it.a.Key()
			it.aOK = it.a.Next() && it.cmp(it.a.Key(), it.hi) <= 0
			return true
		}
		d := it.t.Key()
		it.tOK = it.t.Next() && it.cmp(it.t.Key(), it.hi) <= 0
		if c == 0 {
			it.aOK = it.a.Next() && it.cmp(it.a.Key(), it.hi) <= 0
		}
		if it.checkDel && it.deleted(d) {
			continue
		}
		it.cur = d
		return true
	}
	return false
}

// deleted reports whether d is in the overlay's deletions. Calls come in
// increasing order, so the deletion iterator only moves forward.
func (it *treeIter) deleted(d datom.Datom) bool {
	for it.dOK {
		c := it.cmp(it.d.Key(), d)
		if c == 0 {
			return true
		}
		if c > 0 {
			return false
		}
		it.dOK = it.d.Next()
	}
	return false
}

// close releases the iterators and returns the first error any of them met.
func (it *treeIter) close() error {
	var first error
	for _, i := range [...]*pss.Iter[datom.Datom]{it.t, it.a, it.d} {
		if i == nil {
			continue
		}
		if err := i.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// rangeEnd tests whether a datom at or after a scan's lower bound is
// still within its upper bound. The bounds of a prefix of ids of EAVT or
// AEVT (an entity's datoms, an entity's attribute, an attribute's datoms:
// the usual point lookups) are tested on the ids alone, without a call
// through the comparator and a value comparison per datom.
type rangeEnd struct {
	kind endKind
	x, y int64
	cmp  func(a, b datom.Datom) int
	hi   datom.Datom
	key  pss.SortKey[datom.Datom] // the tree's sort key, for past
}

type endKind uint8

const (
	endCmp endKind = iota // the comparator against hi
	endE                  // EAVT, entity x
	endEA                 // EAVT, entity x and attribute y
	endA                  // AEVT, attribute x
	endAE                 // AEVT, attribute x and entity y
)

// newRangeEnd returns the test for hi of a scan of tree i from lo. A datom
// d >= lo of a prefix bound (see bounds) is <= hi exactly when its
// leading ids equal the prefix's: every other component of hi is the
// largest there is (maxValue sorts after every stored value).
func newRangeEnd(i int, lo, hi datom.Datom) rangeEnd {
	r := rangeEnd{kind: endCmp, cmp: datom.Comparator(treeIndex(i)), hi: hi, key: overlayKeys[i]}
	if !prefixLo(lo) || hi.Tx != math.MaxInt64 || !hi.Added {
		return r
	}
	if _, ok := hi.V.(maxValue); !ok {
		return r
	}
	switch idx := treeIndex(i); {
	case idx == datom.EAVT && lo.E == hi.E && lo.A == hi.A:
		r.kind, r.x, r.y = endEA, lo.E, lo.A
	case idx == datom.EAVT && lo.E == hi.E && lo.A == math.MinInt64 && hi.A == math.MaxInt64:
		r.kind, r.x = endE, lo.E
	case idx == datom.AEVT && lo.A == hi.A && lo.E == hi.E:
		r.kind, r.x, r.y = endAE, lo.A, lo.E
	case idx == datom.AEVT && lo.A == hi.A && lo.E == math.MinInt64 && hi.E == math.MaxInt64:
		r.kind, r.x = endA, lo.A
	}
	return r
}

// within reports whether d (at or after the scan's lower bound) is <= hi.
func (r *rangeEnd) within(d *datom.Datom) bool {
	switch r.kind {
	case endEA:
		return d.E == r.x && d.A == r.y
	case endE:
		return d.E == r.x
	case endAE:
		return d.A == r.x && d.E == r.y
	case endA:
		return d.A == r.x
	}
	return r.cmp(*d, r.hi) <= 0
}

// past reports whether the next leaf, whose first datom has fence f (the
// tree's sort key, overlayKeys), starts past the range. The bound's sort
// key is made only here: most point lookups end inside their leaf and
// never ask.
func (r *rangeEnd) past(f node.Fence) bool { return fenceBoundOf(r.key, r.hi).past(f) }

// fenceBound is the sort key (overlayKeys) of a scan's inclusive upper
// bound hi, to tell from a leaf's fence whether the leaf starts past the
// range: its sort key is then above hi's, and a sort key never decreases
// along the tree's order, so its first datom, and every datom after, is
// above hi. A bound without a sort key (a VAET bound whose value is not
// an id, the log's) tells nothing.
type fenceBound struct {
	h, l uint64
	ok   bool
}

func newFenceBound(i int, hi datom.Datom) fenceBound { return fenceBoundOf(overlayKeys[i], hi) }

// fenceBoundOf is the fenceBound of hi in a tree of sort key key (nil:
// none).
func fenceBoundOf(key pss.SortKey[datom.Datom], hi datom.Datom) fenceBound {
	if key == nil {
		return fenceBound{}
	}
	h, l, ok := key(hi)
	return fenceBound{h: h, l: l, ok: ok}
}

// past reports whether a leaf whose fence is f starts past the bound.
func (b fenceBound) past(f node.Fence) bool {
	return b.ok && f.Known && (f.Hi > b.h || (f.Hi == b.h && f.Lo > b.l))
}

// scanTree calls fn for each datom of tree i (with its overlay) in
// [lo, hi], in order, until fn returns false.
func (db *DB) scanTree(ctx context.Context, i int, lo, hi datom.Datom, fn func(datom.Datom) bool) error {
	return db.scanTreeEnd(ctx, i, lo, newRangeEnd(i, lo, hi), fn)
}

// scanTreeEnd is scanTree with the upper bound as its test, end (whose hi
// is the bound).
func (db *DB) scanTreeEnd(ctx context.Context, i int, lo datom.Datom, end rangeEnd, fn func(datom.Datom) bool) error {
	hi := end.hi
	// after, when set, is the last datom the short run yielded: the
	// iterators go on from there.
	var after *datom.Datom
	if run, ok, more, err := db.shortRun(ctx, i, lo, &end); err != nil || ok {
		if err != nil {
			return err
		}
		for j := range run {
			if !end.within(&run[j]) || !fn(run[j]) {
				return nil
			}
		}
		if !more {
			return nil
		}
		// The run ended with its leaf, inside the range: the rest needs
		// iterators (a caller that stops at the first datom, as point
		// lookups do, never gets here).
		after = &run[len(run)-1]
		lo = *after
	}
	var it treeIter
	if err := it.init(ctx, db, i, lo, hi, false); err != nil {
		return err
	}
	if it.onlyTree {
		if it.t == nil {
			return nil // an empty tree and no overlay
		}
		// No overlay: walk the tree directly, one Key copy per datom.
		t, cmp := it.t, it.cmp
		for ok := t.SeekGE(lo); ok; ok = t.Next() {
			d := t.Key()
			if after != nil && cmp(d, *after) <= 0 {
				continue
			}
			if !end.within(&d) || !fn(d) {
				break
			}
		}
		return it.close()
	}
	for it.next() {
		if after != nil && it.cmp(it.cur, *after) <= 0 {
			continue
		}
		if !fn(it.cur) {
			break
		}
	}
	return it.close()
}

// shortRun serves a scan of tree i from lo to end that starts within one
// leaf (a point lookup, the usual case for an entity's attribute) without
// iterators: ok reports that run starts with the first datoms of the scan,
// all of them unless more is set (it then ends with its leaf, inside the
// range; otherwise it goes on past the end, where the caller stops). It
// does not try when the overlay deletes datoms from the tree, or when both
// the tree and the overlay's additions hold datoms in range.
func (db *DB) shortRun(ctx context.Context, i int, lo datom.Datom, end *rangeEnd) (run []datom.Datom, ok, more bool, err error) {
	adds, dels := db.ov.within(i, lo, end.hi, false)
	if dels.Len() > 0 {
		return nil, false, false, nil
	}
	tree, err := db.trees[i].get(ctx)
	if err != nil {
		return nil, false, false, err
	}
	inRange := func(r []datom.Datom) bool { return len(r) > 0 && end.within(&r[0]) }
	// next is the fence of the leaf after run's, when known.
	var next node.Fence
	switch {
	case tree.Len() == 0 && adds.Len() == 0:
		return nil, true, false, nil
	case adds.Len() == 0:
		run, next, err = seekRun(ctx, tree, i, lo, &db.trees[i].finger)
	case tree.Len() == 0:
		run, next, err = seekRun(ctx, adds, i, lo, nil)
	default:
		var r2 []datom.Datom
		var next2 node.Fence
		if run, next, err = seekRun(ctx, tree, i, lo, &db.trees[i].finger); err != nil {
			return nil, false, false, err
		}
		if r2, next2, err = seekRun(ctx, adds, i, lo, nil); err != nil {
			return nil, false, false, err
		}
		switch in1, in2 := inRange(run), inRange(r2); {
		case in1 && in2:
			return nil, false, false, nil // a merge: the iterators do it
		case in2:
			run, next = r2, next2 // the tree holds nothing in range
		case !in1:
			return nil, true, false, nil
		}
	}
	if err != nil {
		return nil, false, false, err
	}
	if !inRange(run) {
		return nil, true, false, nil
	}
	// The range may go on in the next leaf, unless its fence says it
	// starts past the range.
	return run, true, end.within(&run[len(run)-1]) && !end.past(next), nil
}

// prefixLo reports whether lo is the lower bound bounds gives a prefix of
// ids (no value): the smallest datom with its leading ids.
func prefixLo(lo datom.Datom) bool {
	return lo.V == nil && lo.Tx == math.MinInt64 && !lo.Added
}

// idsFind returns the search for the first datom of ks, in the order of
// index idx (EAVT or AEVT), whose two leading ids are >= (strict: >) x
// and y, the ids in that order.
func idsFind(idx datom.Index, x, y int64, strict bool) func(ks []datom.Datom) int {
	if idx == datom.AEVT {
		return func(ks []datom.Datom) int {
			l, h := 0, len(ks)
			for l < h {
				m := int(uint(l+h) >> 1)
				if k := &ks[m]; k.A < x || (k.A == x && (k.E < y || (strict && k.E == y))) {
					l = m + 1
				} else {
					h = m
				}
			}
			return l
		}
	}
	return func(ks []datom.Datom) int {
		l, h := 0, len(ks)
		for l < h {
			m := int(uint(l+h) >> 1)
			if k := &ks[m]; k.E < x || (k.E == x && (k.A < y || (strict && k.A == y))) {
				l = m + 1
			} else {
				h = m
			}
		}
		return l
	}
}

// countPrefix is set.Count(ctx, lo, hi) for tree i when lo and hi bound a
// prefix of ids of EAVT or AEVT (ok false otherwise): two descents with
// the ids searched inline.
func countPrefix(ctx context.Context, set pss.Set[datom.Datom], i int, lo, hi datom.Datom) (n int, ok bool, err error) {
	idx := treeIndex(i)
	if (idx != datom.EAVT && idx != datom.AEVT) || !prefixLo(lo) || hi.Tx != math.MaxInt64 || !hi.Added {
		return 0, false, nil
	}
	if _, isMax := hi.V.(maxValue); !isMax {
		return 0, false, nil
	}
	x, y, hx, hy := lo.E, lo.A, hi.E, hi.A
	if idx == datom.AEVT {
		x, y, hx, hy = lo.A, lo.E, hi.A, hi.E
	}
	// Every datom with hi's leading ids sorts below hi (its value below
	// maxValue): hi's rank is that of the first datom past those ids.
	r1, err := set.RankFunc(ctx, idsFind(idx, hx, hy, true))
	if err != nil {
		return 0, true, err
	}
	r0, err := set.RankFunc(ctx, idsFind(idx, x, y, false))
	if err != nil {
		return 0, true, err
	}
	return max(r1-r0, 0), true, nil
}

// searchIDs returns the index of the first datom of ks (sorted by EAVT,
// or by AEVT when aevt is set) whose two leading ids are >= (p, q): a
// binary search on the ids inline, with no comparator call per probe.
func searchIDs(ks []datom.Datom, aevt bool, p, q int64) int {
	l, h := 0, len(ks)
	for l < h {
		m := int(uint(l+h) >> 1)
		k1, k2 := ks[m].E, ks[m].A
		if aevt {
			k1, k2 = k2, k1
		}
		if k1 < p || (k1 == p && k2 < q) {
			l = m + 1
		} else {
			h = m
		}
	}
	return l
}

// seekRun is set.SeekRun(ctx, lo) for tree i. lo is the smallest datom of
// a prefix (see bounds): when the prefix is an entity and attribute of
// EAVT or an attribute and entity of AEVT, the first datom >= lo is the
// first whose two leading ids are >= lo's, which a search on the two ids
// finds without a call per probe or a value comparison. Such a seek goes
// through f, if not nil, the finger of the tree set belongs to (see
// lazyTree.finger).
func seekRun(ctx context.Context, set pss.Set[datom.Datom], i int, lo datom.Datom, f *pss.Finger[datom.Datom]) ([]datom.Datom, node.Fence, error) {
	if lo.V != nil || lo.Tx != math.MinInt64 || lo.Added {
		run, err := set.SeekRun(ctx, lo)
		return run, node.Fence{}, err
	}
	var aevt bool
	switch treeIndex(i) {
	case datom.EAVT:
	case datom.AEVT:
		aevt = true
	default:
		run, err := set.SeekRun(ctx, lo)
		return run, node.Fence{}, err
	}
	p, q := lo.E, lo.A
	if aevt {
		p, q = q, p
	}
	find := func(ks []datom.Datom) int { return searchIDs(ks, aevt, p, q) }
	if f == nil {
		return set.SeekRunFence(ctx, find)
	}
	return f.SeekRunFence(ctx, set, find, func(ks []datom.Datom) bool {
		return idsBelow(&ks[0], aevt, p, q) && !idsBelow(&ks[len(ks)-1], aevt, p, q)
	})
}

// idsBelow reports whether d's two leading ids (in EAVT order, or AEVT
// when aevt is set) sort before (p, q).
func idsBelow(d *datom.Datom, aevt bool, p, q int64) bool {
	k1, k2 := d.E, d.A
	if aevt {
		k1, k2 = k2, k1
	}
	return k1 < p || (k1 == p && k2 < q)
}

// chunkSize is how many datoms scanChunks gathers before calling fn when
// it cannot hand out leaves as they are (merged overlay, filtered views).
const chunkSize = 128

// scanTreeChunks is scanTree a run of datoms at a time: fn gets the leaves
// of the tree (or of the overlay's additions) as they are, without a copy,
// when only one of them holds datoms in range and nothing is deleted;
// otherwise it gets the merged datoms gathered into a buffer.
func (db *DB) scanTreeChunks(ctx context.Context, i int, lo, hi datom.Datom, fn func([]datom.Datom) bool) error {
	var it treeIter
	if err := it.init(ctx, db, i, lo, hi, false); err != nil {
		return err
	}
	var one *pss.Iter[datom.Datom]
	switch {
	case it.onlyTree:
		one = it.t
	case it.onlyAdds:
		one = it.a
	}
	if one == nil && it.t != nil && it.a != nil && it.d == nil {
		// Both hold datoms, but maybe not in [lo, hi]: a point lookup in a
		// database with a small overlay usually needs only one of them.
		tOK := it.t.SeekGE(lo) && it.cmp(it.t.Key(), hi) <= 0
		aOK := it.a.SeekGE(lo) && it.cmp(it.a.Key(), hi) <= 0
		switch {
		case !tOK && !aOK:
			return it.close()
		case !aOK:
			return db.runChunks(&it, it.t, hi, fn)
		case !tOK:
			return db.runChunks(&it, it.a, hi, fn)
		}
	}
	if one != nil {
		if one.SeekGE(lo) {
			return db.runChunks(&it, one, hi, fn)
		}
		return it.close()
	}
	buf := make([]datom.Datom, 0, chunkSize)
	for it.next() {
		buf = append(buf, it.cur)
		if len(buf) == cap(buf) {
			if !fn(buf) {
				return it.close()
			}
			buf = buf[:0]
		}
	}
	if len(buf) > 0 {
		fn(buf)
	}
	return it.close()
}

// runChunks hands fn the leaves of x, positioned on its first datom, up to
// hi, then closes it.
func (db *DB) runChunks(it *treeIter, x *pss.Iter[datom.Datom], hi datom.Datom, fn func([]datom.Datom) bool) error {
	cmp := it.cmp
	handRuns(x, func(d datom.Datom) bool { return cmp(d, hi) > 0 }, fn)
	return it.close()
}

// handRuns hands fn the leaves of x from its position on, the last one cut
// before the first datom that past reports beyond the range, until fn
// returns false.
func handRuns(x *pss.Iter[datom.Datom], past func(datom.Datom) bool, fn func([]datom.Datom) bool) {
	for ok := x.Valid(); ok; ok = x.NextRun() {
		run := x.Run()
		if past(run[len(run)-1]) {
			if n := sort.Search(len(run), func(i int) bool { return past(run[i]) }); n > 0 {
				fn(run[:n])
			}
			return
		}
		if !fn(run) {
			return
		}
	}
}

// scanUnion walks the current tree i and its history tree together, in
// order: every assertion and retraction ever made, within [lo, hi]. The
// stored datoms the overlay deletes from tree i were asserted, and the
// history additions hold only their retractions (see overlay), so the
// current tree is read without those deletions.
func (db *DB) scanUnion(ctx context.Context, i int, lo, hi datom.Datom, fn func(datom.Datom) bool) error {
	var c, h treeIter
	if err := c.init(ctx, db, i, lo, hi, true); err != nil {
		return err
	}
	if err := h.init(ctx, db, i+nCur, lo, hi, false); err != nil {
		c.close()
		return err
	}
	cmp := c.cmp
	cOK, hOK := c.next(), h.next()
	for cOK || hOK {
		var d datom.Datom
		if hOK && (!cOK || cmp(h.cur, c.cur) < 0) {
			d = h.cur
			hOK = h.next()
		} else {
			d = c.cur
			cOK = c.next()
		}
		if !fn(d) {
			break
		}
	}
	err1, err2 := c.close(), h.close()
	if err1 != nil {
		return err1
	}
	return err2
}
