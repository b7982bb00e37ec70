package pss

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
)

// MaxPending bounds the keys a chain of lazy updates (AddLazily,
// UpdateLazily) leaves pending, for sets of up to MaxPending/pendingRatio
// keys; a larger set may have pendingRatio times as many keys pending as it
// holds. The call that would pass the bound builds its set at once. So a
// chain holds a bounded number of keys unbuilt, and building it, which may
// copy most of the set when its keys are spread out, costs a bounded amount
// per pending key. A tighter bound would rebuild a set that grows by lazy
// chains more often; with this one each key is copied by builds about
// (pendingRatio+1)/pendingRatio times.
const MaxPending = 8192

// pendingRatio is how many times its own size a set may have pending (see
// MaxPending). With 3, a set that grows by a chain of spread keys (a run of
// retractions over a whole database) was copied by builds 4/3 times per key
// rather than 8/7; the pending keys are mostly the transactions' own
// batches, which their log tail holds anyway.
const pendingRatio = 7

// lazyRoot is the pending content of a set made by AddLazily or
// UpdateLazily: base with a batch of removes and adds applied, not built
// yet. It hangs off a placeholder root node whose other fields are zero
// until the set is built, exactly once, by the first method that reads it
// (force); from then on the placeholder holds the built root's fields and
// the set is an ordinary one.
//
// Everything here is written when the lazy set is made and never again,
// except done (set once, after the placeholder is filled in, so a reader
// that sees done also sees the node) and the mutex that the build holds.
// A link is made per lazy update (one per set per transaction, for a
// database's overlay), so what links share lives in their head: a link is
// 80 bytes, its placeholder node and it one 208-byte allocation.
type lazyRoot[K any] struct {
	mu   sync.Mutex // held by the build (force)
	done atomic.Bool
	// nmore is how many batches of the head's buf, after the head's adds,
	// this link holds: links extending this one appended them (see
	// extend), or AddBatchesLazilyKeyed gave them all at once.
	nmore int32
	// lazyHead is what this link shares with the links that extended it
	// (see extend): its base, its own batch, its bound, its sort key.
	*lazyHead[K]
	pending int // keys pending along the chain, this link's included
	// box bounds the sort keys of every key pending along the chain, this
	// link's included, down to floor (see lazyHead): Within reads floor
	// when a range misses the box, without building the chain.
	box keyBox
	// filter, once not nil, holds the hi of the sort key of every key
	// pending along the chain down to floor (and maybe more: links that
	// extend this one add theirs to it): Within reads floor for a range of
	// one hi it lacks. The first Within that needs it makes it (a chain
	// nobody reads through Within never pays for one), so that reads of a
	// chain that the box cannot rule out (keys spread over the key space,
	// as a run of transactions on random entities) need not build it.
	filter atomic.Pointer[hiFilter]
}

// scanPending is how many pending keys Within checks one by one, rather
// than through a filter, to rule a range out: few enough that the check
// costs less than a build (which every read of the set would then do).
const scanPending = 16

// hiFilter is a Bloom filter of one hash over the hi of sort keys, shared
// by the links of a chain and its forks. Adding is safe concurrently with
// reads (atomics): a fork only adds false positives for its siblings.
type hiFilter struct {
	bits  []atomic.Uint64
	shift uint // 64 - log2(len(bits)*64)
	room  int  // pending keys it is sized for; past it, a chain grows a new one
}

// newHiFilter returns a filter with room for n pending keys and more, at
// no fewer than 8 bits per key (fewer per distinct hi: a transaction's
// datoms share one, their entity's), so that a miss is rarely taken for a
// hit.
func newHiFilter(n int) *hiFilter {
	nbits := 4096
	for nbits < 16*n {
		nbits <<= 1
	}
	return &hiFilter{bits: make([]atomic.Uint64, nbits/64), shift: uint(64 - bits.Len(uint(nbits)-1)), room: nbits / 8}
}

func (f *hiFilter) slot(hi uint64) (int, uint64) {
	h := (hi * 0x9E3779B97F4A7C15) >> f.shift
	return int(h >> 6), 1 << (h & 63)
}

func (f *hiFilter) add(hi uint64) {
	w, b := f.slot(hi)
	if f.bits[w].Load()&b == 0 {
		f.bits[w].Or(b)
	}
}

func (f *hiFilter) has(hi uint64) bool {
	w, b := f.slot(hi)
	return f.bits[w].Load()&b != 0
}

// addKeys adds the his of ks (each has a sort key: the chain's box is
// bounded).
func addKeys[K any](f *hiFilter, key SortKey[K], ks []K) {
	for i := range ks {
		hi, _, _ := key(ks[i])
		f.add(hi)
	}
}

// chainBatches calls fn with every batch pending along l's chain, down to
// its floor, newest link first, until fn returns false. It follows the
// links by structure, not by done: a link below may be built meanwhile,
// and its keys are still pending over floor.
func (l *lazyRoot[K]) chainBatches(fn func([]K) bool) {
	for {
		if !fn(l.removes) || !fn(l.adds) {
			return
		}
		for _, b := range l.more() {
			if !fn(b) {
				return
			}
		}
		r := l.base.root
		if r == l.floor || r == nil || r.lazy == nil {
			return
		}
		l = r.lazy
	}
}

// setFilter gives the new link l (whose own keys are adds, removes and
// the batches more) the filter of its parent link p, with l's keys added,
// while it has room for them; otherwise l has none until a Within makes
// one.
func (l *lazyRoot[K]) setFilter(p *lazyRoot[K], adds, removes []K, more [][]K) {
	if p == nil || l.key == nil || !l.box.bounded {
		return
	}
	if f := p.filter.Load(); f != nil && l.pending <= f.room {
		addKeys(f, l.key, removes)
		addKeys(f, l.key, adds)
		for _, b := range more {
			addKeys(f, l.key, b)
		}
		l.filter.Store(f)
	}
}

// chainFilter returns l's filter, making it from the keys of its chain if
// it has none yet (see filter).
func (l *lazyRoot[K]) chainFilter() *hiFilter {
	if f := l.filter.Load(); f != nil {
		return f
	}
	f := newHiFilter(l.pending)
	l.chainBatches(func(ks []K) bool { addKeys(f, l.key, ks); return true })
	if !l.filter.CompareAndSwap(nil, f) {
		return l.filter.Load()
	}
	return f
}

// pendingMiss reports whether no key pending along l's chain has a sort key
// between (loHi, loLo) and (hiHi, hiLo), checking them one by one.
func (l *lazyRoot[K]) pendingMiss(loHi, loLo, hiHi, hiLo uint64) bool {
	miss := true
	l.chainBatches(func(ks []K) bool {
		for i := range ks {
			h, o, ok := l.key(ks[i])
			if !ok || !(keyBox{minHi: h, minLo: o, maxHi: h, maxLo: o, bounded: true}).misses(loHi, loLo, hiHi, hiLo) {
				miss = false
				return false
			}
		}
		return true
	})
	return miss
}

// keyBox bounds a group of keys by their sort keys (SortKey): every key k
// of the group has (minHi, minLo) <= key(k) <= (maxHi, maxLo). A box that
// is not bounded says nothing (a key had no sort key, or there was no
// SortKey); an empty bounded box has a minimum above its maximum.
type keyBox struct {
	minHi, minLo, maxHi, maxLo uint64
	bounded                    bool
}

// emptyBox is the bounded box of no key, if key can bound keys at all.
func emptyBox[K any](key SortKey[K]) keyBox {
	return keyBox{minHi: ^uint64(0), minLo: ^uint64(0), bounded: key != nil}
}

// boxAdd returns b grown to hold ks.
func boxAdd[K any](b keyBox, key SortKey[K], ks []K) keyBox {
	if !b.bounded {
		return b
	}
	for i := range ks {
		hi, lo, ok := key(ks[i])
		if !ok {
			return keyBox{}
		}
		if hi < b.minHi || (hi == b.minHi && lo < b.minLo) {
			b.minHi, b.minLo = hi, lo
		}
		if hi > b.maxHi || (hi == b.maxHi && lo > b.maxLo) {
			b.maxHi, b.maxLo = hi, lo
		}
	}
	return b
}

// union returns the box of the keys of b and c.
func (b keyBox) union(c keyBox) keyBox {
	if !b.bounded || !c.bounded {
		return keyBox{}
	}
	if c.minHi < b.minHi || (c.minHi == b.minHi && c.minLo < b.minLo) {
		b.minHi, b.minLo = c.minHi, c.minLo
	}
	if c.maxHi > b.maxHi || (c.maxHi == b.maxHi && c.maxLo > b.maxLo) {
		b.maxHi, b.maxLo = c.maxHi, c.maxLo
	}
	return b
}

// misses reports whether no key of the box lies between the keys whose
// sort keys are (loHi, loLo) and (hiHi, hiLo): all of them are below the
// one, or all above the other. By SortKey's contract, a key whose pair is
// below lo's pair is below lo under the comparator, and likewise above.
func (b keyBox) misses(loHi, loLo, hiHi, hiLo uint64) bool {
	if !b.bounded {
		return false
	}
	if b.maxHi < loHi || (b.maxHi == loHi && b.maxLo < loLo) {
		return true // empty boxes land here too
	}
	return b.minHi > hiHi || (b.minHi == hiHi && b.minLo > hiLo)
}

// Within returns s, or a set holding exactly the keys s holds in [lo, hi]
// (inclusive; it may differ outside): when s is a lazy set not built yet and
// no key pending along its chain can lie in [lo, hi], the set the chain
// started from, so that a read of the range (a point lookup, say) does not
// build s. It decides with the chain's sort key (UpdateLazilyKeyed), and
// relies on every link of the chain having the same one; without one, or
// when lo or hi has no sort key, it returns s.
func (s Set[K]) Within(lo, hi K) Set[K] {
	r := s.root
	if r == nil || r.lazy == nil || r.lazy.done.Load() {
		return s
	}
	l := r.lazy
	if !l.box.bounded || l.key == nil {
		return s
	}
	loHi, loLo, ok := l.key(lo)
	if !ok {
		return s
	}
	hiHi, hiLo, ok := l.key(hi)
	if !ok {
		return s
	}
	switch {
	case l.box.misses(loHi, loLo, hiHi, hiLo):
	case l.pending <= scanPending && l.pendingMiss(loHi, loLo, hiHi, hiLo):
	case loHi == hiHi && !l.chainFilter().has(loHi):
	default:
		return s
	}
	return Set[K]{cfg: s.cfg, root: l.floor}
}

// lazyHead is the part of a link that links extending it share.
type lazyHead[K any] struct {
	base          Set[K] // what the batch applies to; itself possibly lazy
	adds, removes []K
	limit         int // the chain's bound on pending (MaxPending)
	// minLen is a lower bound of the built set's size. A lazy set is never
	// empty (an Iter cannot walk an empty placeholder root): a batch that
	// might empty it is applied at once instead.
	minLen int
	// key, if not nil, is the sort key the build uses (UpdateLazilyKeyed).
	key SortKey[K]
	// floor is the root of the built set the chain starts from (nil:
	// empty), which Within reads for a range no pending key can fall in.
	floor *tnode[K]
	// buf holds the batches of links extending this head, after adds:
	// a link holds its first nmore. It is full length; moreN is how many
	// of its slots are taken, so that a link extending another may write
	// the slot past its own batches if it takes the slot first; both are
	// nil until a link extends this head.
	buf   [][]K
	moreN *atomic.Int64
}

// more returns the batches of adds, after the head's adds, that l holds.
func (l *lazyRoot[K]) more() [][]K { return l.buf[:l.nmore] }

// extend returns the link of a set that adds adds to the unbuilt lazy set
// whose link is p, where that is one link rather than two: p's base, p's
// removes, p's adds, then p's more batches and adds. Chains of many small
// adds-only batches (a With per datom) thus stay one link holding a
// growing array of references to their batches, amortized O(1) per batch
// and no key copied, instead of a linked list of tiny links that the build
// would walk, cache miss by cache miss; the links share their head, so
// each costs one small allocation. The link keeps p's sort key (a chain's
// links are to share one; see UpdateLazilyKeyed).
func (p *lazyRoot[K]) extend(adds []K) *extNode[K] {
	n := int(p.nmore)
	h := p.lazyHead
	if h.moreN != nil && len(h.buf) > n && h.moreN.CompareAndSwap(int64(n), int64(n+1)) {
		// Nobody took the slot past p's batches: it is ours.
		h.buf[n] = adds
	} else {
		buf := make([][]K, max(2*(n+1), 8))
		copy(buf, p.more())
		buf[n] = adds
		nh := *h
		nh.buf = buf
		nh.moreN = new(atomic.Int64)
		nh.moreN.Store(int64(n + 1))
		h = &nh
	}
	ln := &extNode[K]{l: lazyRoot[K]{lazyHead: h, nmore: int32(n + 1), pending: p.pending + len(adds),
		box: boxAdd(p.box, h.key, adds)}}
	ln.n.lazy = &ln.l
	ln.l.setFilter(p, adds, nil, nil)
	return ln
}

// extNode is the placeholder root and link of a set made by extend.
type extNode[K any] struct {
	n tnode[K]
	l lazyRoot[K]
}

// SortKey maps a key to two integers whose order (hi first, then lo) agrees
// with the set's comparator wherever the pairs differ: if key(a) < key(b)
// then Compare(a, b) < 0. Keys with equal pairs are ordered by Compare. ok
// false means a key has no such pair; the build then sorts by Compare
// alone. Signed integers map to hi or lo as uint64(x) ^ 1<<63.
//
// A build sorts all the keys pending along a chain, and comparing two
// integer pairs held in a small array is several times cheaper than calling
// a comparator on fat keys (datoms compare through an interface value).
type SortKey[K any] func(k K) (hi, lo uint64, ok bool)

// lazyNode is a lazy set's placeholder root with its pending state.
type lazyNode[K any] struct {
	n tnode[K]
	l lazyRoot[K]
	h lazyHead[K]
}

// AddLazily returns a set holding s's keys and adds, as Update(ctx, adds,
// nil) would, but builds it only when it is first read. A chain of
// AddLazily calls (each on the previous result) is then built with one
// batched Update when its last set is read, copying each touched path once
// for the whole chain rather than once per call: the cost of a long chain of
// small insertions falls to that of one bulk insertion. Sets of the chain
// that are never read are never built.
//
// The result is a value like any Set: safe for concurrent use, built at most
// once whoever reads it first, and s is unchanged. Unlike Update, AddLazily
// keeps adds until the set is built: the caller must not modify it. Sets
// with a NodeStore (whose nodes may need loading, which can fail) are
// updated at once, so that reading a set never fails for having been lazy.
func (s Set[K]) AddLazily(ctx context.Context, adds []K) (Set[K], error) {
	return s.UpdateLazily(ctx, adds, nil)
}

// UpdateLazily is Update (same semantics: removes, then adds) done lazily,
// as AddLazily: the batches of a chain are combined, key by key in the
// order they were given, into the one Update that builds the set when it is
// first read. It keeps adds and removes until then.
func (s Set[K]) UpdateLazily(ctx context.Context, adds, removes []K) (Set[K], error) {
	return s.UpdateLazilyKeyed(ctx, adds, removes, nil)
}

// UpdateLazilyKeyed is UpdateLazily with a sort key (see SortKey) that the
// build of the chain uses to sort its pending keys; nil means none. The
// links of a chain are to share one key: the key of the newest link that
// does not merely extend the one before (a batch of adds only, which keeps
// that link's key) is the one used.
func (s Set[K]) UpdateLazilyKeyed(ctx context.Context, adds, removes []K, key SortKey[K]) (Set[K], error) {
	return s.updateLazily(ctx, adds, removes, nil, key)
}

// AddBatchesLazilyKeyed returns the set that a chain of
// UpdateLazilyKeyed(ctx, b, nil, key) calls would, one per batch b of
// batches in order, made as one link holding them all: a caller that
// gathered the batches of many transactions before anyone read the set
// (reader's history additions) pays for one link instead of one per batch,
// and the build sorts them all at once. Like UpdateLazily, it keeps the
// batches until the set is built: the caller must not modify them.
func (s Set[K]) AddBatchesLazilyKeyed(ctx context.Context, batches [][]K, key SortKey[K]) (Set[K], error) {
	n := 0
	for _, b := range batches {
		if len(b) > 0 {
			n++
		}
	}
	// Sized at once: a queue of many thousand batches grown by append
	// copies pointers (with write barriers) at every doubling.
	bs := make([][]K, 0, n)
	for _, b := range batches {
		if len(b) > 0 {
			bs = append(bs, b)
		}
	}
	switch {
	case len(bs) == 0:
		return s, nil
	case len(bs) == 1:
		return s.UpdateLazilyKeyed(ctx, bs[0], nil, key)
	case s.cfg != nil && s.cfg.store != nil:
		// Updated at once, as UpdateLazily does with a store: one
		// Update of the batches in order (the first add of a key wins, as
		// along a chain).
		return s.Update(ctx, slices.Concat(bs...), nil)
	case len(bs) > math.MaxInt32:
		// More than a link counts (nmore): one batch of them all, in
		// order, adds the same keys.
		return s.UpdateLazilyKeyed(ctx, slices.Concat(bs...), nil, key)
	}
	return s.updateLazily(ctx, bs[0], nil, bs[1:], key)
}

// updateLazily is UpdateLazilyKeyed with more batches of adds after adds
// (AddBatchesLazilyKeyed), which it keeps in the new link's head.
func (s Set[K]) updateLazily(ctx context.Context, adds, removes []K, more [][]K, key SortKey[K]) (Set[K], error) {
	if len(adds)+len(removes) == 0 {
		return s, nil
	}
	if s.cfg == nil {
		return s, fmt.Errorf("pss: update lazily: %w: zero Set", ErrInvalidOptions)
	}
	if s.cfg.store != nil {
		return s.Update(ctx, adds, removes)
	}
	if r := s.root; r != nil && r.lazy != nil && !r.lazy.done.Load() && len(removes) == 0 && len(more) == 0 && int(r.lazy.nmore) < extendMax {
		ln := r.lazy.extend(adds)
		ns := Set[K]{cfg: s.cfg, root: &ln.n}
		if ln.l.pending > ln.l.limit {
			ns.force()
		}
		return ns, nil
	}
	base := s
	pending := len(adds) + len(removes)
	minLen, limit := 0, 0
	box := boxAdd(boxAdd(emptyBox(key), key, removes), key, adds)
	for _, b := range more {
		pending += len(b)
		box = boxAdd(box, key, b)
	}
	var floor *tnode[K]
	var parent *lazyRoot[K]
	if r := s.root; r != nil && r.lazy != nil && !r.lazy.done.Load() {
		parent = r.lazy
		pending += r.lazy.pending
		minLen, limit = r.lazy.minLen, r.lazy.limit
		box, floor = box.union(r.lazy.box), r.lazy.floor
	} else {
		if r != nil && r.lazy != nil {
			// Built already: start the chain from a copy of its root, so
			// that the new set does not keep the old chain's batches alive.
			cp := *r
			cp.lazy = nil
			base = Set[K]{cfg: s.cfg, root: &cp}
		}
		minLen = base.Len()
		limit = max(MaxPending, pendingRatio*minLen)
		floor = base.root
	}
	minLen -= len(removes)
	if len(adds) > 0 {
		minLen = max(minLen, 1) // removes go first; then something is there
	}
	if minLen <= 0 {
		return s.Update(ctx, adds, removes)
	}
	// The placeholder and its pending state, in one allocation.
	ln := &lazyNode[K]{h: lazyHead[K]{base: base, adds: adds, removes: removes, limit: limit, minLen: minLen, key: key, floor: floor},
		l: lazyRoot[K]{pending: pending, box: box}}
	ln.l.lazyHead = &ln.h
	ln.n.lazy = &ln.l
	if len(more) > 0 {
		// The head's buf, full: a link extending this one copies it (see
		// extend), so the caller's slice is never written.
		ln.h.buf = slices.Clone(more)
		ln.h.moreN = new(atomic.Int64)
		ln.h.moreN.Store(int64(len(more)))
		ln.l.nmore = int32(len(more))
	}
	ln.l.setFilter(parent, adds, removes, more)
	ns := Set[K]{cfg: s.cfg, root: &ln.n}
	if pending > limit {
		ns.force()
	}
	return ns, nil
}

// extendMax bounds the batches one link gathers by extension: past it a
// new link starts, so that a fork of an old version copies at most this
// many batch references.
const extendMax = 1 << 12

// force builds s if it is a lazy set not built yet. Every method that reads
// s.root calls it first (NewIter through Height).
func (s Set[K]) force() {
	r := s.root
	if r == nil || r.lazy == nil || r.lazy.done.Load() {
		return
	}
	l := r.lazy
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done.Load() {
		l.build(r)
	}
}

// build fills in placeholder ph: it collects the batches of the chain down
// to the first set that is built (or was never lazy), combines them oldest
// first and applies them in one Update, or, when they touch a good part of
// the set, merges them with its keys into a set built bottom-up.
func (l *lazyRoot[K]) build(ph *tnode[K]) {
	chain := []*lazyRoot[K]{l}
	base := l.base
	for {
		r := base.root
		if r == nil || r.lazy == nil || r.lazy.done.Load() {
			break
		}
		chain = append(chain, r.lazy)
		base = r.lazy.base
	}
	slices.Reverse(chain)
	if c, ok := newKeyedChain(base.cfg.cmp, l.key, chain); ok {
		l.buildKeyed(ph, base, c)
		return
	}
	ops := chainOps(base.cfg.cmp, l.key, chain)
	var root *tnode[K]
	if n := base.Len(); n > 0 && len(ops) >= n/rebuildRatio && touchedKeys(base.cfg.cmp, base.root, ops) >= n/2 {
		// Most leaves would be copied anyway: one pass over the keys and
		// a bottom-up build allocate far less than the per-leaf copies of
		// an update.
		root = base.cfg.buildRoot(mergeOps(base.cfg.cmp, base.root, ops))
	} else {
		// base has no store (UpdateLazily made this chain), so every node
		// is in memory and the update cannot fail: it loads nothing.
		res, err := base.applyOps(context.Background(), ops)
		if err != nil {
			panic(fmt.Sprintf("pss: building a lazy in-memory set: %v", err)) // unreachable, see above
		}
		root = res.root
	}
	l.finish(ph, root)
}

// finish fills in placeholder ph with the built root (nil: empty) and
// marks l built.
func (l *lazyRoot[K]) finish(ph *tnode[K], root *tnode[K]) {
	if r := root; r != nil {
		ph.level, ph.keys, ph.addrs, ph.counts, ph.mems, ph.fences, ph.count = r.level, r.keys, r.addrs, r.counts, r.mems, r.fences, r.count
	}
	l.done.Store(true)
}

// buildKeyed is build for a chain whose pending keys c sorted through
// the chain's sort key: when they touch a good part of base, it merges them
// with base's keys straight from the batches into the new leaves
// (mergeKeyed), with no array of ops between; otherwise it applies them
// as one Update.
func (l *lazyRoot[K]) buildKeyed(ph *tnode[K], base Set[K], c *keyedChain[K]) {
	defer c.release()
	cmp := base.cfg.cmp
	var root *tnode[K]
	n := base.Len()
	// At least as many ops as keys: the merge costs about what the ops
	// cost anyway, without an array of them and the copies of the
	// leaves an update makes.
	if len(c.ks) >= n || (len(c.ks) >= n/rebuildRatio && touchedKeysAt(cmp, base.root, c.at, 0, len(c.ks)) >= n/2) {
		root = base.cfg.buildRoot(mergeKeyed(cmp, base.root, c))
	} else {
		ops := c.ops()
		// base has no store (see build): the update cannot fail.
		res, err := base.applyOps(context.Background(), ops)
		if err != nil {
			panic(fmt.Sprintf("pss: building a lazy in-memory set: %v", err)) // unreachable, see above
		}
		root = res.root
	}
	l.finish(ph, root)
}

// keyedChain holds the pending keys of a chain sorted through its sort key
// (see SortKey) without moving them: ks are their sort keys in sorted
// order (equal pairs in chain order), each naming its batch (b) and its
// position in the batch (i), and the keys stay where the batches hold
// them. Reading the keys in sorted order from the batches (a gather) moves
// each fat key once, into wherever it goes, instead of scattering them into
// an array of ops first.
type keyedChain[K any] struct {
	cmp     func(a, b K) int
	batches []batchRef[K] // in chain order: per link, removes, adds, then more
	ks      []sortKey
	j       int     // the next sort key next reads
	run     []op[K] // combined ops of a run of equal pairs, next returns them first
	r       int
}

// batchRef is a batch of a chain and whether it removes its keys: what a
// gather reads in one place.
type batchRef[K any] struct {
	keys []K
	del  bool
}

// newKeyedChain sorts the keys pending along chain (oldest link first)
// through key. ok is false, with nothing kept, when key is nil, the keys
// are too few or too many for it to be worth it, or one has no sort key.
func newKeyedChain[K any](cmp func(a, b K) int, key SortKey[K], chain []*lazyRoot[K]) (*keyedChain[K], bool) {
	if key == nil {
		return nil, false
	}
	nb := 0
	for _, l := range chain {
		nb += 2 + int(l.nmore)
	}
	c := &keyedChain[K]{cmp: cmp, batches: make([]batchRef[K], 0, nb)}
	n := 0
	add := func(b []K, del bool) {
		if len(b) > 0 {
			c.batches = append(c.batches, batchRef[K]{b, del})
			n += len(b)
		}
	}
	for _, l := range chain {
		add(l.removes, true)
		add(l.adds, false)
		for _, b := range l.more() {
			add(b, false)
		}
	}
	if n < 64 || n > 1<<31-1 || len(c.batches) > 1<<31-1 {
		return nil, false
	}
	ks := getScratch[sortKey](&sortKeyPool, n)
	pos := 0
	for bi, b := range c.batches {
		for j := range b.keys {
			hi, lo, ok := key(b.keys[j])
			if !ok {
				putSortKeys(ks)
				return nil, false
			}
			ks[pos] = sortKey{hi: hi, lo: lo, i: int32(j), b: int32(bi)}
			pos++
		}
	}
	if !radixSortKeys(ks) {
		slices.SortFunc(ks, compareSortKeys)
	}
	c.ks = ks
	return c, true
}

// release hands c's scratch back.
func (c *keyedChain[K]) release() {
	putSortKeys(c.ks)
	c.ks = nil
}

// at returns the key of the j-th sort key (sorted order).
func (c *keyedChain[K]) at(j int) K {
	k := c.ks[j]
	return c.batches[k.b].keys[k.i]
}

// opAt returns the op of the j-th sort key.
func (c *keyedChain[K]) opAt(j int) op[K] {
	k := c.ks[j]
	b := &c.batches[k.b]
	return op[K]{key: b.keys[k.i], del: b.del, add: !b.del}
}

// ops returns all of c's ops, as next would return them one by one.
func (c *keyedChain[K]) ops() []op[K] {
	ks := c.ks
	out := make([]op[K], len(ks))
	w := 0
	for a := 0; a < len(ks); {
		e := a + 1
		for e < len(ks) && ks[e].hi == ks[a].hi && ks[e].lo == ks[a].lo {
			e++
		}
		for j := a; j < e; j++ {
			out[w+j-a] = c.opAt(j)
		}
		if e-a == 1 {
			w++
		} else {
			w += combineRun(c.cmp, out[w:w+e-a])
		}
		a = e
	}
	clear(out[w:])
	return out[:w]
}

// combineRun orders run, ops of equal sort keys in chain order, by the
// comparator (ties stay in chain order), combines equal keys as chainOps
// does into run's first entries and returns how many there are.
func combineRun[K any](cmp func(a, b K) int, run []op[K]) int {
	sortOps(cmp, run)
	w := 0
	for i := 0; i < len(run); {
		var o op[K]
		j := i
		for ; j < len(run) && cmp(run[i].key, run[j].key) == 0; j++ {
			switch r := run[j]; {
			case r.del:
				o.del, o.add, o.key = true, false, r.key
			case !o.add:
				o.add, o.key = true, r.key
			}
		}
		run[w] = o
		w++
		i = j
	}
	return w
}

// next returns the next op in key order, the pending keys combined per
// key as chainOps combines them; ok is false past the last.
func (c *keyedChain[K]) next() (o op[K], ok bool) {
	if c.r >= len(c.run) && !c.fill() {
		return o, false
	}
	o = c.run[c.r]
	c.r++
	return o, true
}

// gatherWindow is how many ops next gathers at a time: a tight loop of
// independent loads from the batches, whose cache misses overlap, rather
// than one load between every two comparisons of the merge.
const gatherWindow = 128

// fill gathers the next ops (at least one, about gatherWindow) into c.run;
// it returns false past the last.
func (c *keyedChain[K]) fill() bool {
	ks := c.ks
	if c.j >= len(ks) {
		return false
	}
	run := c.run[:0]
	for a := c.j; a < len(ks) && len(run) < gatherWindow; {
		e := a + 1
		for e < len(ks) && ks[e].hi == ks[a].hi && ks[e].lo == ks[a].lo {
			e++
		}
		w := len(run)
		for j := a; j < e; j++ {
			run = append(run, c.opAt(j))
		}
		if e-a > 1 {
			// Equal pairs, in chain order: order them by the comparator
			// (ties stay in chain order) and combine equal keys.
			run = run[:w+combineRun(c.cmp, run[w:])]
		}
		c.j, a = e, e
	}
	c.run, c.r = run, 0
	return true
}

// touchedKeysAt is touchedKeys for the sorted keys at(lo) … at(hi-1)
// (duplicates allowed), finding each child's share by binary search.
func touchedKeysAt[K any](cmp func(a, b K) int, n *tnode[K], at func(int) K, lo, hi int) int {
	if lo >= hi || n == nil {
		return 0
	}
	if n.leaf() {
		return len(n.keys)
	}
	total, j := 0, lo
	for i, c := range n.mems {
		k := hi // the last child takes the rest
		if i < len(n.keys)-1 {
			sep := n.keys[i]
			l, h := j, hi
			for l < h {
				m := int(uint(l+h) >> 1)
				if cmp(at(m), sep) <= 0 {
					l = m + 1
				} else {
					h = m
				}
			}
			k = l
		}
		if k > j {
			total += touchedKeysAt(cmp, c, at, j, k)
		}
		j = k
	}
	return total
}

// mergeKeyed is mergeOps with the ops read from c, in order: the keys of
// the in-memory subtree n (nil: none) with c's ops applied.
func mergeKeyed[K any](cmp func(a, b K) int, n *tnode[K], c *keyedChain[K]) []K {
	count := 0
	if n != nil {
		count = n.count
	}
	out := make([]K, 0, count+len(c.ks))
	o, ok := c.next()
	var walk func(n *tnode[K])
	walk = func(n *tnode[K]) {
		if !n.leaf() {
			for _, ch := range n.mems {
				walk(ch)
			}
			return
		}
		keys := n.keys
		for len(keys) > 0 {
			if !ok {
				out = append(out, keys...)
				return
			}
			d := cmp(keys[0], o.key)
			if d < 0 {
				// The leaf's keys below the next op go as they are, in
				// one copy.
				l, h := 1, len(keys)
				for l < h {
					m := int(uint(l+h) >> 1)
					if cmp(keys[m], o.key) < 0 {
						l = m + 1
					} else {
						h = m
					}
				}
				out = append(out, keys[:l]...)
				keys = keys[l:]
				if len(keys) == 0 {
					return
				}
				d = cmp(keys[0], o.key)
			}
			if d == 0 {
				switch {
				case o.del && o.add:
					out = append(out, o.key)
				case o.del:
				default:
					out = append(out, keys[0]) // adding a present key keeps it
				}
				keys = keys[1:]
			} else if o.add {
				out = append(out, o.key)
			}
			o, ok = c.next()
		}
	}
	if n != nil {
		walk(n)
	}
	for ; ok; o, ok = c.next() {
		if o.add {
			out = append(out, o.key)
		}
	}
	return out
}

// rebuildRatio: a chain whose ops number at least 1/rebuildRatio of its
// base's keys, and whose leaves hold half its keys, is built by merging
// rather than by an update (an update of ops clustered in a few leaves,
// appends say, copies only those).
const rebuildRatio = 8

// touchedKeys returns how many keys the leaves of the in-memory subtree n
// that ops (sorted) fall into hold: what an update of n would copy.
func touchedKeys[K any](cmp func(a, b K) int, n *tnode[K], ops []op[K]) int {
	if len(ops) == 0 {
		return 0
	}
	if n.leaf() {
		return len(n.keys)
	}
	total, j := 0, 0
	for i, c := range n.mems {
		k := j
		if i == len(n.keys)-1 {
			k = len(ops) // the last child takes the rest
		} else {
			for k < len(ops) && cmp(ops[k].key, n.keys[i]) <= 0 {
				k++
			}
		}
		if k > j {
			total += touchedKeys(cmp, c, ops[j:k])
		}
		j = k
	}
	return total
}

// mergeOps returns the keys of the in-memory subtree n with ops (sorted,
// combined per key) applied, as Update would apply them.
func mergeOps[K any](cmp func(a, b K) int, n *tnode[K], ops []op[K]) []K {
	out := make([]K, 0, n.count+len(ops))
	j := 0
	var walk func(n *tnode[K])
	walk = func(n *tnode[K]) {
		if !n.leaf() {
			for _, c := range n.mems {
				walk(c)
			}
			return
		}
		for _, k := range n.keys {
			// One comparison per step: past the last op, or with k below
			// the next op, k is kept as is.
			c := 1
			for j < len(ops) {
				if c = cmp(ops[j].key, k); c >= 0 {
					break
				}
				if ops[j].add {
					out = append(out, ops[j].key)
				}
				j++
			}
			if c == 0 {
				switch o := ops[j]; {
				case o.del && o.add:
					out = append(out, o.key)
				case o.del:
				default:
					out = append(out, k) // adding a present key keeps it
				}
				j++
				continue
			}
			out = append(out, k)
		}
	}
	walk(n)
	for ; j < len(ops); j++ {
		if ops[j].add {
			out = append(out, ops[j].key)
		}
	}
	return out
}

// chainOps combines the batches of a chain (oldest first) into the sorted
// ops of one Update with the same result as applying them one by one. Per
// key, in order: a remove takes out whatever is there (del, and forget an
// earlier add); an add inserts unless something is there already, so the
// first add since the last remove wins, and one before any remove yields to
// a stored key. key, if not nil, speeds up the sort.
func chainOps[K any](cmp func(a, b K) int, key SortKey[K], chain []*lazyRoot[K]) []op[K] {
	n, dels := 0, false
	for _, c := range chain {
		n += len(c.adds) + len(c.removes)
		for _, b := range c.more() {
			n += len(b)
		}
		dels = dels || len(c.removes) > 0
	}
	raw := make([]op[K], 0, n)
	if !dels {
		// Adds only: Update's own rule (first add wins) is the chain's.
		// The ops are made straight from the batches: gathering the keys
		// first would copy every pending key once more.
		for _, c := range chain {
			for _, k := range c.adds {
				raw = append(raw, op[K]{key: k, add: true})
			}
			for _, b := range c.more() {
				for _, k := range b {
					raw = append(raw, op[K]{key: k, add: true})
				}
			}
		}
		return combineOps(cmp, key, raw)
	}
	for _, c := range chain {
		for _, k := range c.removes {
			raw = append(raw, op[K]{key: k, del: true})
		}
		for _, k := range c.adds {
			raw = append(raw, op[K]{key: k, add: true})
		}
		for _, b := range c.more() {
			for _, k := range b {
				raw = append(raw, op[K]{key: k, add: true})
			}
		}
	}
	raw, ks := sortOpsKeyed(cmp, key, raw)
	out := raw[:0]
	for i := 0; i < len(raw); {
		var o op[K]
		j := i
		for ; j < len(raw) && sameKey(cmp, raw, ks, i, j); j++ {
			switch r := raw[j]; {
			case r.del:
				o.del, o.add, o.key = true, false, r.key
			case !o.add:
				o.add, o.key = true, r.key
			}
		}
		out = append(out, o)
		i = j
	}
	putSortKeys(ks)
	return out
}

// sortKey is an op's sort key and its position: its index i in batch b
// (sortByIntKeys has one batch, 0). Equal pairs sort by position.
type sortKey struct {
	hi, lo uint64
	i, b   int32
}

// sortOpsKeyed is sortOps through key (see SortKey): it sorts the small
// integer keys, then orders runs of equal keys by the comparator (sortOps
// numbers them in batch order, which breaks the comparator's ties). It
// returns the sorted ops, in raw or in a new slice, and, when it sorted
// through key, the ops' sort keys in the same order (nil otherwise).
func sortOpsKeyed[K any](cmp func(a, b K) int, key SortKey[K], raw []op[K]) ([]op[K], []sortKey) {
	var ks []sortKey
	if key != nil {
		opKey := func(o op[K]) (uint64, uint64, bool) { return key(o.key) }
		ks = sortByIntKeys(raw, opKey, func(run []op[K]) { sortOps(cmp, run) })
	}
	if ks == nil {
		sortOps(cmp, raw)
	}
	return raw, ks
}

// sameKey reports whether the sorted ops i and j (with their sort keys ks,
// if not nil) hold equal keys: ops whose sort keys differ cannot, which
// spares a comparator call.
func sameKey[K any](cmp func(a, b K) int, raw []op[K], ks []sortKey, i, j int) bool {
	if ks != nil && (ks[i].hi != ks[j].hi || ks[i].lo != ks[j].lo) {
		return false
	}
	return cmp(raw[i].key, raw[j].key) == 0
}

// SortKeyed sorts keys by cmp, through key (see SortKey) when it is not
// nil: the integer pairs are sorted first and only runs of equal pairs are
// compared with cmp. Equal keys keep no particular order. It returns the
// sorted keys, in keys or in a new slice.
func SortKeyed[K any](keys []K, cmp func(a, b K) int, key SortKey[K]) []K {
	var ks []sortKey
	if key != nil {
		ks = sortByIntKeys(keys, key, func(run []K) { slices.SortFunc(run, cmp) })
	}
	if ks == nil {
		slices.SortFunc(keys, cmp)
	}
	putSortKeys(ks)
	return keys
}

// sortByIntKeys sorts xs in place by the integer pairs key gives, then
// calls sortRun on each run of equal pairs (at least two long), and returns
// the pairs in their sorted order (their positions are spent: -1), for the
// caller to hand back with putSortKeys once done with them. It
// leaves xs untouched and returns nil when xs is too short to be worth it,
// too long for int32 positions, or key cannot map one of them.
func sortByIntKeys[T any](xs []T, key func(T) (hi, lo uint64, ok bool), sortRun func([]T)) []sortKey {
	if len(xs) < 64 || len(xs) > 1<<31-1 {
		return nil
	}
	ks := getScratch[sortKey](&sortKeyPool, len(xs))
	for i := range xs {
		hi, lo, ok := key(xs[i])
		if !ok {
			putSortKeys(ks)
			return nil
		}
		ks[i] = sortKey{hi: hi, lo: lo, i: int32(i)}
	}
	if !radixSortKeys(ks) {
		slices.SortFunc(ks, compareSortKeys)
	}
	permute(xs, ks)
	for a := 0; a < len(ks); {
		b := a + 1
		for b < len(ks) && ks[b].hi == ks[a].hi && ks[b].lo == ks[a].lo {
			b++
		}
		if b-a > 1 {
			sortRun(xs[a:b])
		}
		a = b
	}
	return ks
}

// radixKey is a sort key packed into 64 bits, with its position and batch.
type radixKey struct {
	k    uint64
	i, b int32
}

// Builds sort their pending keys' pairs in scratch arrays that need no
// scanning by the garbage collector; reusing them across builds spares a
// chain of builds (one every few thousand With calls) their allocation.
var sortKeyPool, radixPool sync.Pool

// getScratch returns a slice of n Ts from pool (holding *[]T), or a new one.
func getScratch[T any](pool *sync.Pool, n int) []T {
	if p, ok := pool.Get().(*[]T); ok && cap(*p) >= n {
		return (*p)[:n]
	}
	return make([]T, n)
}

// putSortKeys hands back sort keys sortByIntKeys returned (nil is fine).
func putSortKeys(ks []sortKey) {
	if ks != nil {
		sortKeyPool.Put(&ks)
	}
}

// radixSortKeys sorts ks as compareSortKeys orders them, by a least-significant-digit radix
// sort of the bits in which the pairs differ, when those fit in 64: the
// sort keys of one build usually share most of their bits (an entity id's
// partition, an attribute id's high bits), so a few passes over 8-bit
// digits replace O(n log n) comparisons. The sort is stable, which keeps
// equal pairs in position order, as compareSortKeys does. It returns
// false, leaving ks as it was, when the pairs differ in more than 64 bits.
func radixSortKeys(ks []sortKey) bool {
	var dh, dl uint64 // the bits in which some pair differs from the first
	for _, k := range ks {
		dh |= k.hi ^ ks[0].hi
		dl |= k.lo ^ ks[0].lo
	}
	nh, nl := bits.Len64(dh), bits.Len64(dl)
	if nh+nl > 64 {
		return false
	}
	// Above its nh low bits every hi is the first's (likewise lo): the
	// low bits of both, side by side, order the pairs as the pairs do.
	mh, ml := uint64(1)<<nh-1, uint64(1)<<nl-1
	buf := getScratch[radixKey](&radixPool, 2*len(ks))
	defer radixPool.Put(&buf)
	a, b := buf[:len(ks)], buf[len(ks):]
	for j, k := range ks {
		a[j] = radixKey{(k.hi&mh)<<nl | k.lo&ml, k.i, k.b}
	}
	const digit = 8
	for shift := 0; shift < nh+nl; shift += digit {
		var count [1 << digit]int
		for _, x := range a {
			count[x.k>>shift&(1<<digit-1)]++
		}
		if count[a[0].k>>shift&(1<<digit-1)] == len(a) {
			continue // every key has this digit
		}
		pos := 0
		for d, c := range count {
			count[d] = pos
			pos += c
		}
		for _, x := range a {
			d := x.k >> shift & (1<<digit - 1)
			b[count[d]] = x
			count[d]++
		}
		a, b = b, a
	}
	// The pairs come back from the packed bits and the first pair's
	// common ones.
	ch, cl := ks[0].hi&^mh, ks[0].lo&^ml
	for j, x := range a {
		ks[j] = sortKey{ch | x.k>>nl&mh, cl | x.k&ml, x.i, x.b}
	}
	return true
}

// permute puts xs in the order of ks (sorted sort keys naming positions
// in xs) in place, cycle by cycle: xs[j] becomes the old xs[ks[j].i]. It
// marks each ks entry done by setting its i to -1.
func permute[T any](xs []T, ks []sortKey) {
	for j := range ks {
		if ks[j].i < 0 {
			continue
		}
		tmp := xs[j]
		k := j
		for {
			src := int(ks[k].i)
			ks[k].i = -1
			if src == j {
				xs[k] = tmp
				break
			}
			xs[k] = xs[src]
			k = src
		}
	}
}

func compareSortKeys(a, b sortKey) int {
	switch {
	case a.hi != b.hi:
		if a.hi < b.hi {
			return -1
		}
		return 1
	case a.lo != b.lo:
		if a.lo < b.lo {
			return -1
		}
		return 1
	}
	if a.b != b.b {
		return int(a.b) - int(b.b)
	}
	return int(a.i) - int(b.i)
}
