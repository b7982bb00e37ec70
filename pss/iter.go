package pss

import (
	"context"
	"fmt"

	"github.com/accretedb/accrete/node"
)

// IterOptions bound an iterator. A nil bound is open.
type IterOptions[K any] struct {
	// LowerBound is the smallest key the iterator may return (inclusive).
	LowerBound *K
	// UpperBound is the key above every key the iterator may return
	// (exclusive), as in pebble.
	UpperBound *K
	// PrefetchLimit, if set, is the largest key the caller will read
	// (inclusive): a scan's prefetch of sibling leaves stops before the
	// leaves that hold only larger keys. Unlike UpperBound it costs no
	// comparison per key; it does not bound the iterator.
	PrefetchLimit *K
	// Past, if set, tells from a leaf's fence (node.Fence: the sort key
	// of its first key, which a stored branch records for each child when
	// the Set has Options.Fence) that the leaf, and so every leaf after
	// it, holds only keys past what the caller will read. Moving forward
	// into a stored subtree whose fence is past then ends the iteration
	// (Next and NextRun return false, as at the end) instead of loading
	// it, and a prefetch stops before it: a scan whose range ends where a
	// leaf ends fetches nothing beyond. Past is asked only about known
	// fences; it must be monotone (a fence past the caller's range stays
	// past for every larger fence).
	Past func(node.Fence) bool
}

type iterPos int8

const (
	posBefore iterPos = iota // before the first key (or not positioned)
	posValid
	posAfter // after the last key, or stopped by an error
)

// frame is one level of an iterator's path: node n, entry i. pre holds the
// children of a level-1 node fetched ahead by BatchLoader (nil if not
// tried), as loaded: they are wrapped when the iterator reaches them, so a
// scan that stops early does not pay for the rest.
type frame[K any] struct {
	n   *tnode[K]
	i   int
	pre []*node.Node[K]
}

// inlineDepth is the tree height up to which an iterator's path lives in
// the Iter itself (no separate allocation): 4 levels of 64-wide nodes hold
// 16M keys.
const inlineDepth = 4

// Iter walks a Set in order, forward and backward, within optional bounds,
// in the style of pebble's iterator: position it with First, Last, SeekGE or
// SeekLT, then move with Next and Prev; each returns whether it is on a key.
// Next on an iterator before its first key acts like First, and Prev after
// its last key acts like Last.
//
// Nodes are loaded lazily through the Set's NodeStore. A load error stops
// the iterator (every method then returns false) and is reported by Err and
// Close. While walking forward or backward over the leaves of one parent,
// the iterator loads the remaining leaves in bounds with one
// BatchLoader.LoadMany call if the store supports it; a failed prefetch is
// ignored and the leaf is loaded alone, so its error surfaces then.
//
// An Iter holds the context it was made with and is not safe for concurrent
// use; the Set it walks is never affected by it. Keys returned by Key are the
// Set's own (shared) keys: do not modify them.
type Iter[K any] struct {
	s            Set[K]
	ctx          context.Context
	lower, upper *K
	limit        *K // PrefetchLimit
	past         func(node.Fence) bool
	stack        []frame[K]
	pos          iterPos
	err          error
	// crossed counts the leaf boundaries crossed since the last seek. A
	// point lookup that steps once past its leaf (to see that the next key
	// is out of range) must not prefetch the leaf's siblings: prefetch
	// starts at the second crossing, when the move is clearly a scan.
	crossed  int
	stackBuf [inlineDepth]frame[K]
	// pfIdx and pfAddrs are prefetch's buffers, reused across leaves'
	// parents (a BatchLoader does not keep the addresses it is given).
	pfIdx   []int
	pfAddrs []node.Address
	// cache is the store as a CacheReader, if it is one.
	cache CacheReader[K]
	// pfBuf backs the pre of the one level-1 frame on the path (only
	// level-1 nodes prefetch, and a path holds one node per level).
	pfBuf []*node.Node[K]
	// loaded holds the tnodes of the stored nodes on the path, one per
	// depth: a stored node loaded into depth d replaces the one there
	// (a frame at depth d is the only reference to it), so a scan wraps
	// every leaf it visits without allocating.
	loaded [inlineDepth]tnode[K]
}

// loadedAt returns the tnode a stored node loaded at depth d is wrapped
// into: the iterator's own for shallow paths, a new one below.
func (it *Iter[K]) loadedAt(d int) *tnode[K] {
	if d < inlineDepth {
		return &it.loaded[d]
	}
	return new(tnode[K])
}

// NewIter returns an unpositioned iterator over s. opts may be nil. The
// bounds are copied.
func (s Set[K]) NewIter(ctx context.Context, opts *IterOptions[K]) *Iter[K] {
	it := &Iter[K]{s: s, ctx: ctx}
	if s.cfg != nil {
		it.cache, _ = s.cfg.store.(CacheReader[K])
	}
	if opts != nil {
		if opts.LowerBound != nil {
			l := *opts.LowerBound
			it.lower = &l
		}
		if opts.UpperBound != nil {
			u := *opts.UpperBound
			it.upper = &u
		}
		if opts.PrefetchLimit != nil {
			l := *opts.PrefetchLimit
			it.limit = &l
		}
		it.past = opts.Past
	}
	if h := s.Height(); h <= inlineDepth {
		it.stack = it.stackBuf[:0]
	} else {
		it.stack = make([]frame[K], 0, h)
	}
	return it
}

// Valid reports whether the iterator is on a key.
func (it *Iter[K]) Valid() bool { return it.pos == posValid }

// Key returns the current key. It must only be called when Valid.
func (it *Iter[K]) Key() K {
	f := &it.stack[len(it.stack)-1]
	return f.n.keys[f.i]
}

// Err returns the error that stopped the iterator, if any.
func (it *Iter[K]) Err() error { return it.err }

// Close releases the iterator and returns Err. The iterator must not be used
// afterwards.
func (it *Iter[K]) Close() error {
	it.stack = nil
	it.pos = posAfter
	return it.err
}

func (it *Iter[K]) cmp(a, b K) int { return it.s.cfg.cmp(a, b) }

// First moves to the smallest key >= LowerBound.
func (it *Iter[K]) First() bool {
	if it.err != nil {
		return false
	}
	if it.lower != nil {
		return it.seekGE(*it.lower)
	}
	if !it.rawEdge(false) {
		return false
	}
	return it.checkUpper()
}

// Last moves to the largest key < UpperBound.
func (it *Iter[K]) Last() bool {
	if it.err != nil {
		return false
	}
	if it.upper != nil {
		return it.seekLT(*it.upper)
	}
	if !it.rawEdge(true) {
		return false
	}
	return it.checkLower()
}

// SeekGE moves to the smallest key >= k (and >= LowerBound).
func (it *Iter[K]) SeekGE(k K) bool {
	if it.err != nil {
		return false
	}
	if it.lower != nil && it.cmp(k, *it.lower) < 0 {
		k = *it.lower
	}
	return it.seekGE(k)
}

// SeekLT moves to the largest key < k (and < UpperBound).
func (it *Iter[K]) SeekLT(k K) bool {
	if it.err != nil {
		return false
	}
	if it.upper != nil && it.cmp(k, *it.upper) > 0 {
		k = *it.upper
	}
	return it.seekLT(k)
}

// Next moves to the next key.
func (it *Iter[K]) Next() bool {
	switch {
	case it.err != nil || it.pos == posAfter:
		return false
	case it.pos == posBefore:
		return it.First()
	}
	if !it.rawStep(+1) {
		return false
	}
	return it.checkUpper()
}

// Run returns the keys from the current one to the end of its leaf (and
// below UpperBound), in order: a view of the Set's own keys, which must not
// be modified. Scans that read a leaf at a time through Run and NextRun
// instead of Next and Key per key skip a call and a key copy per key. It
// must only be called when Valid; the result is never empty.
func (it *Iter[K]) Run() []K {
	f := &it.stack[len(it.stack)-1]
	ks := f.n.keys[f.i:]
	if it.upper != nil && it.cmp(ks[len(ks)-1], *it.upper) >= 0 {
		ks = ks[:search(it.s.cfg.cmp, ks, *it.upper, false)]
	}
	return ks
}

// NextRun moves past the rest of the current leaf (what Run returned) to
// the first key of the next leaf, and reports whether it is on a key. On an
// iterator before its first key it acts like First.
func (it *Iter[K]) NextRun() bool {
	switch {
	case it.err != nil || it.pos == posAfter:
		return false
	case it.pos == posBefore:
		return it.First()
	}
	top := len(it.stack) - 1
	if top >= 1 {
		// Fast path: the next leaf is an in-memory sibling under the same
		// parent, so only the two innermost frames change.
		p := &it.stack[top-1]
		if j := p.i + 1; j < len(p.n.keys) {
			if c := p.n.mem(j); c != nil && c.leaf() && len(c.keys) > 0 {
				p.i = j
				it.stack[top] = frame[K]{n: c}
				it.crossed++
				return it.checkUpper()
			}
			if it.pastChild(p.n, j) {
				// Past the caller's range (IterOptions.Past), whether
				// at hand or not: the iteration ends as it would there.
				f := &it.stack[top]
				f.i = len(f.n.keys) - 1
				it.pos = posAfter
				return false
			}
			// Or a stored sibling at hand (prefetched or cached): wrapped
			// into the leaf's own tnode once it is known to fit.
			if p.n.mem(j) == nil && p.n.level == 1 {
				var ln *node.Node[K]
				if p.pre != nil {
					ln = p.pre[j]
				}
				src := p.n.src
				if ln == nil && src != nil {
					ln = src.Child(j)
				}
				if ln == nil && it.cache != nil {
					if ln, _ = it.cache.Cached(p.n.addr(j)); ln != nil && src != nil {
						src.SetChild(j, ln)
					}
				}
				if ln != nil && ln.Level == 0 && len(ln.Keys) > 0 && uint64(len(ln.Keys)) == p.n.counts[j] {
					t := it.loadedAt(top)
					*t = tnode[K]{keys: ln.Keys, count: len(ln.Keys)}
					p.i = j
					it.stack[top] = frame[K]{n: t}
					it.crossed++
					return it.checkUpper()
				}
			}
		}
	}
	f := &it.stack[top]
	f.i = len(f.n.keys) - 1
	if !it.rawStep(+1) {
		return false
	}
	return it.checkUpper()
}

// SeekRun returns the keys from the first key >= k to the end of the leaf
// holding it (a view of the Set's own keys, which must not be modified), or
// nil when no key is >= k. It is a point lookup without an iterator: it
// allocates nothing when the nodes on its path are in memory or in the
// store's cache. Callers that expect their answer within one leaf try it
// first, and take an Iter when the run ends before what they need.
func (s Set[K]) SeekRun(ctx context.Context, k K) ([]K, error) {
	cmp := s.cfg.cmp
	return s.SeekRunFunc(ctx, func(keys []K) int { return search(cmp, keys, k, false) })
}

// SeekRunFunc is SeekRun with each node's position found by find instead of
// a binary search with the Set's comparator: find(keys) MUST return the
// index of the first of keys that is >= the sought key (len(keys) if
// none), for keys sorted in the Set's order. A caller that knows its key
// type searches with inlined comparisons, one call per level instead of
// one per probe.
func (s Set[K]) SeekRunFunc(ctx context.Context, find func(keys []K) int) ([]K, error) {
	leaf, i, _, err := s.seekLeafFunc(ctx, find)
	if leaf == nil {
		return nil, err
	}
	return leaf[i:], nil
}

// seekLeafFunc is SeekRunFunc returning the whole leaf the run is in, the
// run's start in it, and the fence of the leaf after it (unknown if there
// is none or it is not recorded); a nil leaf when no key is >= the sought
// key.
func (s Set[K]) seekLeafFunc(ctx context.Context, find func(keys []K) int) ([]K, int, node.Fence, error) {
	s.force()
	n := s.root
	if n == nil {
		return nil, 0, node.Fence{}, nil
	}
	var right rightOf[K]
	for {
		i := find(n.keys)
		if i == len(n.keys) {
			return nil, 0, node.Fence{}, nil
		}
		if n.leaf() {
			return n.keys, i, right.fence(s.cfg), nil
		}
		right.pass(n, i)
		if c := n.mem(i); c != nil {
			n = c
			continue
		}
		leaf, i, _, _, next, _, err := s.seekLeafStoredFunc(ctx, n.src, i, n.addr(i), n.level-1, find, right.fence(s.cfg))
		return leaf, i, next, err
	}
}

// seekLeafStoredFunc is seekLeafFunc below a stored node: it reads the
// decoded nodes as the store returns them, without wrapping each in a
// tnode. A child whose keys all sort before the sought key disagrees with
// its parent's key for it (which is >= the sought key): ErrCorrupt.
//
// parent, if not nil, is the decoded node whose child pi is at addr: a
// child it remembers (node.Node.Child) is read without the store, and a
// child loaded and checked here is remembered.
//
// It also returns the leaf's parent and the leaf's index in it (nil when
// addr is the leaf and parent was nil), for LeafSeeker, and the fence of
// the leaf after it: next, the one of the subtree after addr's, unless a
// node below has a right sibling on the path. above is the fence of the
// leaf after the leaf parent's subtree (for LeafSeeker.NextFence).
func (s Set[K]) seekLeafStoredFunc(ctx context.Context, parent *node.Node[K], pi int, addr node.Address, level int, find func(keys []K) int, next node.Fence) (leaf []K, at int, leafParent *node.Node[K], leafIndex int, after, above node.Fence, err error) {
	if s.cfg.store == nil {
		return nil, 0, nil, 0, next, next, fmt.Errorf("pss: load %s: %w", addr, ErrNoStore)
	}
	above = next
	for {
		var n *node.Node[K]
		if parent != nil {
			n = parent.Child(pi)
		}
		if n == nil {
			var err error
			if n, err = s.cfg.store.Load(ctx, addr); err != nil {
				return nil, 0, nil, 0, next, above, fmt.Errorf("pss: load %s: %w", addr, err)
			}
			if n == nil || n.Level != level || len(n.Keys) == 0 || (level > 0 && len(n.Children) != len(n.Keys)) {
				return nil, 0, nil, 0, next, above, fmt.Errorf("pss: load %s: %w: malformed node on a seek", addr, ErrCorrupt)
			}
			if parent != nil {
				parent.SetChild(pi, n)
			}
		}
		i := find(n.Keys)
		if i == len(n.Keys) {
			return nil, 0, nil, 0, next, above, fmt.Errorf("pss: load %s: %w: child below its parent's key", addr, ErrCorrupt)
		}
		if level == 0 {
			return n.Keys, i, parent, pi, next, above, nil
		}
		if level == 1 {
			above = next
		}
		if i+1 < len(n.Keys) {
			next = node.Fence{}
			if len(n.Fences) == len(n.Keys) {
				next = n.Fences[i+1]
			}
		}
		parent, pi = n, i
		addr, level = n.Children[i], level-1
	}
}

// Prev moves to the previous key.
func (it *Iter[K]) Prev() bool {
	switch {
	case it.err != nil || it.pos == posBefore:
		return false
	case it.pos == posAfter:
		return it.Last()
	}
	if !it.rawStep(-1) {
		return false
	}
	return it.checkLower()
}

func (it *Iter[K]) seekGE(k K) bool {
	if !it.rawSeekGE(k) {
		return false
	}
	return it.checkUpper()
}

func (it *Iter[K]) seekLT(k K) bool {
	if it.rawSeekGE(k) {
		if !it.rawStep(-1) {
			return false
		}
	} else if it.err != nil || !it.rawEdge(true) {
		return false
	}
	return it.checkLower()
}

func (it *Iter[K]) checkUpper() bool {
	if it.upper != nil && it.cmp(it.Key(), *it.upper) >= 0 {
		it.pos = posAfter
		return false
	}
	return true
}

func (it *Iter[K]) checkLower() bool {
	if it.lower != nil && it.cmp(it.Key(), *it.lower) < 0 {
		it.pos = posBefore
		return false
	}
	return true
}

func (it *Iter[K]) fail(err error) bool {
	it.err = err
	it.pos = posAfter
	return false
}

// rawSeekGE positions on the first key >= k ignoring bounds; false (posAfter)
// if there is none.
func (it *Iter[K]) rawSeekGE(k K) bool {
	it.stack = it.stack[:0]
	it.crossed = 0
	n := it.s.root
	if n == nil {
		it.pos = posAfter
		return false
	}
	for {
		i := search(it.s.cfg.cmp, n.keys, k, false)
		if i == len(n.keys) {
			it.pos = posAfter
			return false
		}
		it.stack = append(it.stack, frame[K]{n: n, i: i})
		if n.leaf() {
			break
		}
		c, err := it.childAt(&it.stack[len(it.stack)-1], i, 0, len(it.stack))
		if err != nil {
			return it.fail(err)
		}
		n = c
	}
	it.pos = posValid
	return true
}

// rawEdge positions on the first (or last) key ignoring bounds.
func (it *Iter[K]) rawEdge(last bool) bool {
	it.stack = it.stack[:0]
	it.crossed = 0
	n := it.s.root
	if n == nil {
		it.pos = posAfter
		if last {
			it.pos = posBefore
		}
		return false
	}
	it.stack = append(it.stack, frame[K]{n: n, i: edgeIndex(n, last)})
	return it.descend(last)
}

func edgeIndex[K any](n *tnode[K], last bool) int {
	if last {
		return len(n.keys) - 1
	}
	return 0
}

// descend extends the stack from its top frame down to a leaf, taking the
// first (or last) entry of each new node.
func (it *Iter[K]) descend(last bool) bool {
	dir := +1
	if last {
		dir = -1
	}
	for {
		f := &it.stack[len(it.stack)-1]
		if f.n.leaf() {
			it.pos = posValid
			return true
		}
		c, err := it.childAt(f, f.i, dir, len(it.stack))
		if err != nil {
			return it.fail(err)
		}
		it.stack = append(it.stack, frame[K]{n: c, i: edgeIndex(c, last)})
	}
}

// rawStep moves one key forward (dir +1) or backward (-1) ignoring bounds.
func (it *Iter[K]) rawStep(dir int) bool {
	top := len(it.stack) - 1
	f := &it.stack[top]
	f.i += dir
	if f.i >= 0 && f.i < len(f.n.keys) {
		return true
	}
	d := top - 1
	for ; d >= 0; d-- {
		j := it.stack[d].i + dir
		if j >= 0 && j < len(it.stack[d].n.keys) {
			break
		}
	}
	if d < 0 || (dir > 0 && it.pastChild(it.stack[d].n, it.stack[d].i+1)) {
		f.i -= dir // stay on the edge key so the opposite move still works
		if dir > 0 {
			it.pos = posAfter
		} else {
			it.pos = posBefore
		}
		return false
	}
	it.stack[d].i += dir
	it.stack = it.stack[:d+1]
	it.crossed++
	return it.descend(dir < 0)
}

// childAt returns child i of frame f's node, which goes at depth d of the
// path. Moving in direction dir (+1, -1; 0 for a seek) into a child of a
// level-1 node triggers a prefetch of the siblings ahead within bounds.
func (it *Iter[K]) childAt(f *frame[K], i, dir, d int) (*tnode[K], error) {
	if c := f.n.mem(i); c != nil {
		return c, nil
	}
	t := it.loadedAt(d)
	src := f.n.src
	if src != nil {
		// A child the parent remembers (node.Node.Child) is in memory.
		if ln := src.Child(i); ln != nil && wrapInto(t, ln, f.n.level-1, int(f.n.counts[i])) == nil {
			return t, nil
		}
	}
	if (f.pre == nil || f.pre[i] == nil) && it.cache != nil {
		// A warm tree: no prefetch, no batch; a cold leaf below starts
		// the prefetch of its siblings.
		if ln, ok := it.cache.Cached(f.n.addr(i)); ok && wrapInto(t, ln, f.n.level-1, int(f.n.counts[i])) == nil {
			if src != nil {
				src.SetChild(i, ln)
			}
			return t, nil
		}
	}
	if f.pre == nil && dir != 0 && it.crossed >= 2 && f.n.level == 1 && it.s.cfg.batch != nil {
		it.prefetch(f, i, dir)
	}
	if f.pre != nil && f.pre[i] != nil {
		if err := wrapInto(t, f.pre[i], 0, int(f.n.counts[i])); err == nil {
			return t, nil
		}
		// A malformed prefetched node is loaded alone, to report its error.
	}
	addr := f.n.addr(i)
	if it.s.cfg.store == nil {
		return nil, fmt.Errorf("pss: load %s: %w", addr, ErrNoStore)
	}
	ln, err := it.s.cfg.store.Load(it.ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("pss: load %s: %w", addr, err)
	}
	if err := wrapInto(t, ln, f.n.level-1, int(f.n.counts[i])); err != nil {
		return nil, fmt.Errorf("pss: load %s: %w", addr, err)
	}
	if src != nil {
		src.SetChild(i, ln)
	}
	return t, nil
}

// pastChild reports whether child j of n is a stored subtree whose
// recorded fence Past says is past the caller's range. A child in memory
// costs no fetch, so it is not asked about.
func (it *Iter[K]) pastChild(n *tnode[K], j int) bool {
	if it.past == nil || n.mem(j) != nil {
		return false
	}
	f := n.fence(j)
	return f.Known && it.past(f)
}

func (it *Iter[K]) prefetch(f *frame[K], i, dir int) {
	n := f.n
	if cap(it.pfBuf) < len(n.keys) {
		it.pfBuf = make([]*node.Node[K], len(n.keys))
	}
	f.pre = it.pfBuf[:len(n.keys)]
	clear(f.pre)
	idx, addrs := it.pfIdx[:0], it.pfAddrs[:0]
	defer func() { it.pfIdx, it.pfAddrs = idx[:0], addrs[:0] }()
	for j := i; j >= 0 && j < len(n.keys); j += dir {
		if j != i {
			// Child j holds keys in (keys[j-1], keys[j]].
			if dir > 0 && it.upper != nil && it.cmp(n.keys[j-1], *it.upper) >= 0 {
				break
			}
			if dir > 0 && it.limit != nil && it.cmp(n.keys[j-1], *it.limit) >= 0 {
				break
			}
			if dir < 0 && it.lower != nil && it.cmp(n.keys[j], *it.lower) < 0 {
				break
			}
			if dir > 0 && it.pastChild(n, j) {
				break
			}
		}
		if n.mem(j) == nil {
			idx = append(idx, j)
			addrs = append(addrs, n.addr(j))
		}
	}
	if len(addrs) < 2 {
		return
	}
	nodes, err := it.s.cfg.batch.LoadMany(it.ctx, addrs)
	if err != nil || len(nodes) != len(addrs) {
		return // each leaf is then loaded alone and reports its own error
	}
	for k, j := range idx {
		f.pre[j] = nodes[k]
	}
}
