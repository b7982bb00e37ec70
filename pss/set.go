package pss

import (
	"context"
	"fmt"

	"github.com/accretedb/accrete/node"
)

// tnode is an in-memory tree node. It is immutable once reachable from a
// Set: every change builds new tnodes (copy-on-write) and shares the rest.
//
// A branch's children are parallel slices, like node.Node's, so that a node
// loaded from the store is wrapped without copying: keys[i] is the largest
// key under child i, counts[i] its number of keys, addrs[i] its address if it
// is stored (zero if it exists only in memory) and mems[i] the in-memory child
// (nil if it must be loaded through the store). For every i, addrs[i] is
// non-zero or mems[i] is non-nil. mems is nil when no child is in memory;
// addrs is nil when no child is stored (in-memory trees save 32 bytes per
// child that way).
type tnode[K any] struct {
	level  int
	keys   []K
	addrs  []node.Address
	counts []uint64
	mems   []*tnode[K]
	// fences, nil when none is known, holds the fence of each stored
	// child (node.Fence): fences[i] is unknown or right, never stale (an
	// update that changes child i forgets it).
	fences []node.Fence
	count  int // keys in this subtree
	// lazy is set only on the placeholder root of a set made by AddLazily
	// (see lazyRoot); it is never changed after the node is made.
	lazy *lazyRoot[K]
	// src is the decoded node a stored node wraps (nil in memory): its
	// memo of decoded children (node.Node.Child) spares a descent the
	// cache lookups.
	src *node.Node[K]
}

func (n *tnode[K]) leaf() bool { return n.level == 0 }

// addr returns the address of child i, zero if it is not stored.
func (n *tnode[K]) addr(i int) node.Address {
	if n.addrs == nil {
		return node.Address{}
	}
	return n.addrs[i]
}

// mem returns the in-memory child i or nil.
func (n *tnode[K]) mem(i int) *tnode[K] {
	if n.mems == nil {
		return nil
	}
	return n.mems[i]
}

// Set is an immutable sorted set of keys: a persistent B+tree. Every update
// returns a new Set and leaves the receiver unchanged and valid; versions
// share unchanged nodes. The zero Set is not usable: make one with New,
// Build or Open.
//
// A Set is a small value and is safe for concurrent use by any number of
// goroutines: nothing reachable from it is ever modified. Nodes that live in
// the store are loaded on each touch through Options.Store (whose cache is
// what keeps them warm); the Set keeps in memory only the nodes it built and
// has not yet flushed, plus its root.
type Set[K any] struct {
	cfg  *config[K]
	root *tnode[K] // nil for an empty set
	// rootAddr is the address of root's encoding; nil if not flushed. It
	// is held by pointer (never written through) so that a Set, which
	// values copy by the dozen, is three words, not seven.
	rootAddr *node.Address
}

// New returns an empty set.
func New[K any](opts Options[K]) (Set[K], error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return Set[K]{}, err
	}
	return Set[K]{cfg: cfg}, nil
}

// Open returns the set stored under root. It loads exactly one node, the
// root; everything else is loaded on first touch.
func Open[K any](ctx context.Context, root node.Address, opts Options[K]) (Set[K], error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return Set[K]{}, err
	}
	if cfg.store == nil || cfg.codec == nil {
		return Set[K]{}, fmt.Errorf("pss: open %s: %w", root, ErrNoStore)
	}
	n, err := cfg.store.Load(ctx, root)
	if err != nil {
		return Set[K]{}, fmt.Errorf("pss: open %s: %w", root, err)
	}
	t, err := wrap(n, -1, -1)
	if err != nil {
		return Set[K]{}, fmt.Errorf("pss: open %s: %w", root, err)
	}
	s := Set[K]{cfg: cfg, root: t}
	if !root.IsZero() {
		s.rootAddr = &root
	}
	if t.count == 0 {
		s.root = nil
	}
	return s, nil
}

// wrap turns a loaded node into a tnode without copying its slices, checking
// that it fits where its parent points (wantLevel, wantCount; -1 skips).
func wrap[K any](n *node.Node[K], wantLevel, wantCount int) (*tnode[K], error) {
	t := new(tnode[K])
	if err := wrapInto(t, n, wantLevel, wantCount); err != nil {
		return nil, err
	}
	return t, nil
}

// wrapInto is wrap into a tnode the caller owns (an iterator reuses one per
// level of its path instead of allocating one per node it visits). t is
// overwritten whole.
func wrapInto[K any](t *tnode[K], n *node.Node[K], wantLevel, wantCount int) error {
	if n == nil {
		return fmt.Errorf("%w: store returned no node", ErrCorrupt)
	}
	*t = tnode[K]{level: n.Level, keys: n.Keys, addrs: n.Children, counts: n.Counts, fences: n.Fences, src: n}
	if n.Level == 0 {
		t.count = len(n.Keys)
	} else {
		if len(n.Children) != len(n.Keys) || len(n.Counts) != len(n.Keys) || len(n.Keys) == 0 {
			return fmt.Errorf("%w: malformed branch", ErrCorrupt)
		}
		for _, c := range n.Counts {
			t.count += int(c)
		}
	}
	if wantLevel >= 0 && n.Level != wantLevel {
		return fmt.Errorf("%w: node at level %d, parent expects %d", ErrCorrupt, n.Level, wantLevel)
	}
	if wantCount >= 0 && t.count != wantCount {
		return fmt.Errorf("%w: node holds %d keys, parent counts %d", ErrCorrupt, t.count, wantCount)
	}
	return nil
}

// child returns child i of branch n, loading it through the store if it is
// not in memory.
func (s *Set[K]) child(ctx context.Context, n *tnode[K], i int) (*tnode[K], error) {
	if c := n.mem(i); c != nil {
		return c, nil
	}
	addr := n.addr(i)
	if s.cfg.store == nil {
		return nil, fmt.Errorf("pss: load %s: %w", addr, ErrNoStore)
	}
	ln, err := s.cfg.store.Load(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("pss: load %s: %w", addr, err)
	}
	t, err := wrap(ln, n.level-1, int(n.counts[i]))
	if err != nil {
		return nil, fmt.Errorf("pss: load %s: %w", addr, err)
	}
	return t, nil
}

// search returns the first i with keys[i] >= k (keys[i] > k if strict).
func search[K any](cmp func(a, b K) int, keys []K, k K, strict bool) int {
	lo, hi := 0, len(keys)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		c := cmp(keys[m], k)
		if c < 0 || (strict && c == 0) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// Len returns the number of keys. It does no I/O.
func (s Set[K]) Len() int {
	s.force()
	if s.root == nil {
		return 0
	}
	return s.root.count
}

// Height returns the number of levels (0 for an empty set, 1 for a single
// leaf). It does no I/O.
func (s Set[K]) Height() int {
	s.force()
	if s.root == nil {
		return 0
	}
	return s.root.level + 1
}

// Root returns the address the set was opened from or last flushed to, and
// false if the set has changes that are not flushed.
func (s Set[K]) Root() (node.Address, bool) {
	if s.rootAddr == nil {
		return node.Address{}, false
	}
	return *s.rootAddr, true
}

// Get returns the stored key equal to k under the comparator. When the
// comparator looks only at a prefix of the key, this finds the full key.
func (s Set[K]) Get(ctx context.Context, k K) (K, bool, error) {
	s.force()
	var zero K
	n := s.root
	if n == nil {
		return zero, false, nil
	}
	cmp := s.cfg.cmp
	for !n.leaf() {
		i := search(cmp, n.keys, k, false)
		if i == len(n.keys) {
			return zero, false, nil
		}
		c, err := s.child(ctx, n, i)
		if err != nil {
			return zero, false, err
		}
		n = c
	}
	i := search(cmp, n.keys, k, false)
	if i < len(n.keys) && cmp(n.keys[i], k) == 0 {
		return n.keys[i], true, nil
	}
	return zero, false, nil
}

// Has reports whether a key equal to k is in the set.
func (s Set[K]) Has(ctx context.Context, k K) (bool, error) {
	_, ok, err := s.Get(ctx, k)
	return ok, err
}

// First returns the smallest key, or false if the set is empty.
func (s Set[K]) First(ctx context.Context) (K, bool, error) {
	return s.edge(ctx, false)
}

// Last returns the largest key, or false if the set is empty. It does no
// I/O: a branch's last key is its largest.
func (s Set[K]) Last(ctx context.Context) (K, bool, error) {
	return s.edge(ctx, true)
}

func (s Set[K]) edge(ctx context.Context, last bool) (K, bool, error) {
	s.force()
	var zero K
	n := s.root
	if n == nil || len(n.keys) == 0 {
		return zero, false, nil
	}
	if last {
		return n.keys[len(n.keys)-1], true, nil
	}
	for !n.leaf() {
		c, err := s.child(ctx, n, 0)
		if err != nil {
			return zero, false, err
		}
		n = c
	}
	return n.keys[0], true, nil
}

// Rank returns the number of keys < k (<= k if inclusive), loading one node
// per level.
func (s Set[K]) Rank(ctx context.Context, k K, inclusive bool) (int, error) {
	cmp := s.cfg.cmp
	return s.RankFunc(ctx, func(keys []K) int { return search(cmp, keys, k, inclusive) })
}

// RankFunc returns the number of keys below a sought key, found in each
// node on its path by find, as in SeekRunFunc: find(keys) MUST return the
// index of the first of keys that is >= the sought key (len(keys) if none).
// Count(from, to) is RankFunc for to minus RankFunc for from.
func (s Set[K]) RankFunc(ctx context.Context, find func(keys []K) int) (int, error) {
	s.force()
	n := s.root
	if n == nil {
		return 0, nil
	}
	r := 0
	for !n.leaf() {
		i := find(n.keys)
		for _, c := range n.counts[:i] {
			r += int(c)
		}
		if i == len(n.keys) {
			return r, nil
		}
		c := n.mem(i)
		if c == nil {
			return s.rankStoredFunc(ctx, n.addr(i), n.level-1, find, r)
		}
		n = c
	}
	return r + find(n.keys), nil
}

// rankStoredFunc is RankFunc below a stored node, r keys counted so far:
// it reads the decoded nodes as the store returns them, without wrapping
// each in a tnode (the planner counts ranges of every pattern of every
// query).
func (s Set[K]) rankStoredFunc(ctx context.Context, addr node.Address, level int, find func(keys []K) int, r int) (int, error) {
	if s.cfg.store == nil {
		return 0, fmt.Errorf("pss: load %s: %w", addr, ErrNoStore)
	}
	for {
		n, err := s.cfg.store.Load(ctx, addr)
		if err != nil {
			return 0, fmt.Errorf("pss: load %s: %w", addr, err)
		}
		if n == nil || n.Level != level || len(n.Keys) == 0 || (level > 0 && (len(n.Children) != len(n.Keys) || len(n.Counts) != len(n.Keys))) {
			return 0, fmt.Errorf("pss: load %s: %w: malformed node on a count", addr, ErrCorrupt)
		}
		i := find(n.Keys)
		if level == 0 {
			return r + i, nil
		}
		for _, c := range n.Counts[:i] {
			r += int(c)
		}
		if i == len(n.Keys) {
			return r, nil
		}
		addr, level = n.Children[i], level-1
	}
}

// Nth returns the key with r keys before it (ok false when r is out of
// range), loading one node per level: subtree counts say which child holds
// it. A scan uses it to cut a range into parts of equal size.
func (s Set[K]) Nth(ctx context.Context, r int) (k K, ok bool, err error) {
	s.force()
	n := s.root
	if n == nil || r < 0 || r >= n.count {
		return k, false, nil
	}
	for !n.leaf() {
		i := 0
		for ; i < len(n.counts)-1 && r >= int(n.counts[i]); i++ {
			r -= int(n.counts[i])
		}
		c := n.mem(i)
		if c == nil {
			return s.nthStored(ctx, n.addr(i), n.level-1, r)
		}
		n = c
	}
	if r >= len(n.keys) {
		return k, false, fmt.Errorf("pss: nth: %w: leaf of %d keys counted as more", ErrCorrupt, len(n.keys))
	}
	return n.keys[r], true, nil
}

// nthStored is Nth below a stored node, r the rank within it.
func (s Set[K]) nthStored(ctx context.Context, addr node.Address, level int, r int) (k K, ok bool, err error) {
	if s.cfg.store == nil {
		return k, false, fmt.Errorf("pss: load %s: %w", addr, ErrNoStore)
	}
	for {
		n, err := s.cfg.store.Load(ctx, addr)
		if err != nil {
			return k, false, fmt.Errorf("pss: load %s: %w", addr, err)
		}
		if n == nil || n.Level != level || len(n.Keys) == 0 || (level > 0 && (len(n.Children) != len(n.Keys) || len(n.Counts) != len(n.Keys))) {
			return k, false, fmt.Errorf("pss: load %s: %w: malformed node on a count", addr, ErrCorrupt)
		}
		if level == 0 {
			if r >= len(n.Keys) {
				return k, false, fmt.Errorf("pss: load %s: %w: leaf of %d keys counted as more", addr, ErrCorrupt, len(n.Keys))
			}
			return n.Keys[r], true, nil
		}
		i := 0
		for ; i < len(n.Counts)-1 && r >= int(n.Counts[i]); i++ {
			r -= int(n.Counts[i])
		}
		addr, level = n.Children[i], level-1
	}
}

// Count returns the number of keys k with from <= k < to, using subtree
// counts: it loads at most two paths from the root, not the keys between.
func (s Set[K]) Count(ctx context.Context, from, to K) (int, error) {
	if s.cfg == nil || s.root == nil || s.cfg.cmp(from, to) >= 0 {
		return 0, nil
	}
	hi, err := s.Rank(ctx, to, false)
	if err != nil {
		return 0, err
	}
	lo, err := s.Rank(ctx, from, false)
	if err != nil {
		return 0, err
	}
	return hi - lo, nil
}

// Slice returns the keys k with lower <= k < upper in order; a nil bound is
// open. It is meant for tests and small ranges: it materializes the range.
func (s Set[K]) Slice(ctx context.Context, lower, upper *K) ([]K, error) {
	it := s.NewIter(ctx, &IterOptions[K]{LowerBound: lower, UpperBound: upper})
	var out []K
	for ok := it.First(); ok; ok = it.Next() {
		out = append(out, it.Key())
	}
	return out, it.Close()
}
