package pss

import (
	"context"
	"fmt"
	"slices"

	"github.com/accretedb/accrete/node"
)

// op is one distinct key of a batch after combining adds and removes.
type op[K any] struct {
	key K    // the key to insert if add, else the key to remove
	del bool // remove the stored key equal to key
	add bool // then insert key
	seq int  // position in the batch before sorting (sortOps)
}

// sortOps sorts raw by key, equal keys in their order in raw. A stable sort
// does the same, but Go's moves elements by rotations (O(n log² n) swaps of
// fat ops); ordering by (key, position) is an ordinary sort.
func sortOps[K any](cmp func(a, b K) int, raw []op[K]) {
	if len(raw) < 2 {
		return
	}
	for i := range raw {
		raw[i].seq = i
	}
	slices.SortFunc(raw, func(a, b op[K]) int {
		if c := cmp(a.key, b.key); c != 0 {
			return c
		}
		return a.seq - b.seq
	})
}

// prepareOps sorts and combines a batch: removes apply before adds, and for
// equal keys the first add wins.
func prepareOps[K any](cmp func(a, b K) int, adds, removes []K) []op[K] {
	raw := make([]op[K], 0, len(adds)+len(removes))
	for _, k := range removes {
		raw = append(raw, op[K]{key: k, del: true})
	}
	for _, k := range adds {
		raw = append(raw, op[K]{key: k, add: true})
	}
	return combineOps(cmp, nil, raw)
}

// combineOps sorts raw (removes and adds, in batch order) through key, if
// not nil, and combines it per key as prepareOps does, in place.
func combineOps[K any](cmp func(a, b K) int, key SortKey[K], raw []op[K]) []op[K] {
	raw, ks := sortOpsKeyed(cmp, key, raw)
	out := raw[:0]
	for i := 0; i < len(raw); {
		o := raw[i]
		j := i + 1
		for ; j < len(raw) && sameKey(cmp, raw, ks, i, j); j++ {
			if raw[j].add && !o.add {
				o.add = true
				o.key = raw[j].key
			}
		}
		out = append(out, o)
		i = j
	}
	putSortKeys(ks)
	return out
}

// Update returns a set with removes taken out and then adds put in, in one
// pass that copies only the nodes on the paths it changes; s is unchanged.
//
// Semantics, per distinct key (under the comparator): if the key is in
// removes, the stored equal key is removed (absent keys are no-ops); then if
// it is in adds it is inserted, unless an equal key is already stored (a
// no-op that keeps the stored key). So a key in both lists ends up present,
// as the added value. Among equal keys in adds the first wins. The slices
// are not modified or retained; their order does not matter.
//
// If nothing changes, Update returns s itself (same root, still flushed).
func (s Set[K]) Update(ctx context.Context, adds, removes []K) (Set[K], error) {
	if len(adds)+len(removes) == 0 {
		return s, nil
	}
	if s.cfg == nil {
		return s, fmt.Errorf("pss: update: %w: zero Set", ErrInvalidOptions)
	}
	return s.applyOps(ctx, prepareOps(s.cfg.cmp, adds, removes))
}

// applyOps is Update with its batch already sorted and combined per key.
func (s Set[K]) applyOps(ctx context.Context, ops []op[K]) (Set[K], error) {
	s.force()
	root := s.root
	if root == nil {
		root = &tnode[K]{}
	}
	out, changed, err := s.update(ctx, root, ops)
	if err != nil {
		return s, fmt.Errorf("pss: update: %w", err)
	}
	if !changed {
		return s, nil
	}
	for len(out) > 1 {
		es := make([]entry[K], len(out))
		for i, o := range out {
			es[i] = entryFor(o)
		}
		out = s.cfg.splitBranches(out[0].level+1, es, s.cfg.fill)
	}
	ns := Set[K]{cfg: s.cfg}
	if len(out) == 0 {
		return ns, nil
	}
	r := out[0]
	var addr node.Address
	for !r.leaf() && len(r.keys) == 1 {
		addr = r.addr(0)
		if r, err = s.child(ctx, r, 0); err != nil {
			return s, fmt.Errorf("pss: update: %w", err)
		}
	}
	if r.count == 0 {
		return ns, nil
	}
	ns.root = r
	if r != out[0] && !addr.IsZero() {
		ns.rootAddr = &addr
	}
	return ns, nil
}

// entry is one child of a branch under construction.
type entry[K any] struct {
	key   K
	addr  node.Address
	count uint64
	mem   *tnode[K]
	fence node.Fence // of a stored child, when known
}

func entryFor[K any](n *tnode[K]) entry[K] {
	return entry[K]{key: n.keys[len(n.keys)-1], count: uint64(n.count), mem: n}
}

func entryAt[K any](n *tnode[K], i int) entry[K] {
	return entry[K]{key: n.keys[i], addr: n.addr(i), count: n.counts[i], mem: n.mem(i), fence: n.fence(i)}
}

// update applies ops (sorted, all routed to n) to the subtree n. It returns
// the nodes that replace n, all at n's level: none if the subtree became
// empty, else nodes of at most width entries of which only a lone one may be
// smaller than min. changed is false if ops changed nothing.
func (s *Set[K]) update(ctx context.Context, n *tnode[K], ops []op[K]) ([]*tnode[K], bool, error) {
	cfg := s.cfg
	if n.leaf() {
		keys, changed := applyLeaf(cfg.cmp, n.keys, ops)
		if !changed {
			return nil, false, nil
		}
		return cfg.splitLeaves(keys, cfg.fill), true, nil
	}
	type change struct {
		i, span int // children i … i+span-1 become out
		out     []*tnode[K]
	}
	var changes []change
	simple := true // every changed child became one node of legal size
	last := len(n.keys) - 1
	for pos := 0; pos < len(ops); {
		i := search(cfg.cmp, n.keys, ops[pos].key, false)
		end := len(ops)
		switch {
		case i > 0 && i <= last && cfg.continues(n, i-1, ops[pos].key):
			// Between children i-1 and i, in the group i-1 ends with.
			i--
			end = cfg.groupEnd(n, i, ops, pos)
		case i >= last:
			i = last
		default:
			end = cfg.groupEnd(n, i, ops, pos+searchOps(cfg.cmp, ops[pos:], n.keys[i]))
		}
		c, err := s.child(ctx, n, i)
		if err != nil {
			return nil, false, err
		}
		out, changed, err := s.update(ctx, c, ops[pos:end])
		if err != nil {
			return nil, false, err
		}
		pos = end
		if !changed {
			continue
		}
		span := 1
		if n.level == 1 && len(out) > 1 && cfg.cutsInGroup(out) {
			// A leaf that overflowed by a little splits into two of
			// about min keys each, where there is no room to move the
			// cut to a group's end: the leaf and a neighbour, cut again
			// together, have room. The left one, unless this update
			// changed it already (or there is none); else the right
			// one, if no op goes to it.
			nb := -1
			switch {
			case i > 0 && (len(changes) == 0 || changes[len(changes)-1].i+changes[len(changes)-1].span < i):
				nb = i - 1
			case i+1 < len(n.keys) && (pos == len(ops) || (i+1 < last && cfg.cmp(ops[pos].key, n.keys[i+1]) > 0 && !cfg.continues(n, i+1, ops[pos].key))):
				// No op left goes to child i+1: none is left, or the
				// next is past its largest key and does not continue
				// its group, and it is not the last child (which takes
				// the ops past every separator).
				nb = i + 1
			}
			if nb >= 0 {
				o, err := s.child(ctx, n, nb)
				if err != nil {
					return nil, false, err
				}
				parts := append(out, o) // the leaves, in order
				if nb < i {
					parts = append([]*tnode[K]{o}, out...)
				}
				total := 0
				for _, l := range parts {
					total += len(l.keys)
				}
				keys := make([]K, 0, total)
				for _, l := range parts {
					keys = append(keys, l.keys...)
				}
				out, i, span = cfg.splitLeaves(keys, cfg.fill), min(i, nb), 2
			}
		}
		changes = append(changes, change{i, span, out})
		if len(out) != 1 || len(out[0].keys) < cfg.min {
			simple = false
		}
	}
	if len(changes) == 0 {
		return nil, false, nil
	}
	if simple {
		// The common case: copy this node and swap in the new children.
		// The separators are shared with n unless one changes: inserts
		// between two children go to the right one (search routes a key
		// to the first child whose largest key is >= it), except the
		// ones that continue the left one's fence group (groupEnd), so
		// only a change at a child's top end copies them.
		cp := &tnode[K]{
			level:  n.level,
			keys:   n.keys,
			addrs:  slices.Clone(n.addrs), // nil stays nil
			counts: slices.Clone(n.counts),
			mems:   make([]*tnode[K], len(n.keys)),
			fences: slices.Clone(n.fences),
			count:  n.count,
		}
		copy(cp.mems, n.mems)
		sharedKeys := true
		for _, ch := range changes {
			o := ch.out[0]
			if top := o.keys[len(o.keys)-1]; cfg.cmp(top, cp.keys[ch.i]) != 0 {
				if sharedKeys {
					cp.keys, sharedKeys = slices.Clone(n.keys), false
				}
				cp.keys[ch.i] = top
			}
			if cp.addrs != nil {
				cp.addrs[ch.i] = node.Address{}
			}
			if cp.fences != nil {
				cp.fences[ch.i] = node.Fence{}
			}
			cp.count += o.count - int(cp.counts[ch.i])
			cp.counts[ch.i] = uint64(o.count)
			cp.mems[ch.i] = o
		}
		return []*tnode[K]{cp}, true, nil
	}
	es := make([]entry[K], 0, len(n.keys)+len(changes))
	next := 0 // children before next are already in es
	for _, ch := range changes {
		for ; next < ch.i; next++ {
			es = append(es, entryAt(n, next))
		}
		next = ch.i + ch.span
		for _, o := range ch.out {
			es = append(es, entryFor(o))
		}
	}
	for ; next < len(n.keys); next++ {
		es = append(es, entryAt(n, next))
	}
	es, err := s.fixSmall(ctx, n.level-1, es)
	if err != nil {
		return nil, false, err
	}
	return cfg.splitBranches(n.level, es, cfg.fill), true, nil
}

// groupEnd extends the ops routed to child i of n, ops[:end] (those up to
// its largest key), with the ops after them that continue the fence group
// (Options.Fence: the hi of the sort key) child i ends with, when child
// i+1 is known to start another group (continues). Those keys fall
// between the two children; routed to child i+1, as search would, they
// would split the group across two leaves, and a reader of the group
// would load both. Routed to child i, the group stays whole, and child
// i's largest key, its separator, becomes the last of them.
func (c *config[K]) groupEnd(n *tnode[K], i int, ops []op[K], end int) int {
	if end == len(ops) || !c.continues(n, i, ops[end].key) {
		return end
	}
	hi, _, _ := c.fence(ops[end].key)
	for end < len(ops) {
		if h, _, ok := c.fence(ops[end].key); !ok || h != hi {
			break
		}
		end++
	}
	return end
}

// cutsInGroup reports whether adjacent leaves of ls split a fence group:
// the last key of one and the first of the next share the hi of their
// sort keys.
func (c *config[K]) cutsInGroup(ls []*tnode[K]) bool {
	if c.fence == nil {
		return false
	}
	for j := 0; j+1 < len(ls); j++ {
		a, b := ls[j].keys, ls[j+1].keys
		if len(a) == 0 || len(b) == 0 {
			continue
		}
		h1, _, ok1 := c.fence(a[len(a)-1])
		h2, _, ok2 := c.fence(b[0])
		if ok1 && ok2 && h1 == h2 {
			return true
		}
	}
	return false
}

// continues reports whether key k, larger than child i's largest key,
// continues the fence group child i ends with while child i+1 is known to
// start another: k then belongs at the end of child i (see groupEnd).
func (c *config[K]) continues(n *tnode[K], i int, k K) bool {
	if c.fence == nil || i+1 >= len(n.keys) {
		return false
	}
	hi, _, ok := c.fence(n.keys[i])
	if !ok {
		return false
	}
	if h, _, ok := c.fence(k); !ok || h != hi {
		return false
	}
	f := c.childFence(n, i+1)
	return f.Known && f.Hi != hi
}

// searchOps returns the first i with ops[i].key > k.
func searchOps[K any](cmp func(a, b K) int, ops []op[K], k K) int {
	lo, hi := 0, len(ops)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if cmp(ops[m].key, k) <= 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// applyLeaf merges ops into sorted keys, returning a new slice.
func applyLeaf[K any](cmp func(a, b K) int, keys []K, ops []op[K]) ([]K, bool) {
	adds := 0
	for _, o := range ops {
		if o.add {
			adds++
		}
	}
	out := make([]K, 0, len(keys)+adds)
	changed := false
	i := 0
	for _, o := range ops {
		j := i + search(cmp, keys[i:], o.key, false)
		out = append(out, keys[i:j]...)
		i = j
		present := j < len(keys) && cmp(keys[j], o.key) == 0
		switch {
		case present && o.del:
			i++
			changed = true
			if o.add {
				out = append(out, o.key)
			}
		case present:
			// Adding a present key keeps the stored one (appended below).
		case o.add:
			out = append(out, o.key)
			changed = true
		}
	}
	out = append(out, keys[i:]...)
	return out, changed
}

// fixSmall merges every new child smaller than min (only new, in-memory
// children can be small) with a neighbour, splitting the pair again if it
// overflows. Children are at level childLevel.
func (s *Set[K]) fixSmall(ctx context.Context, childLevel int, es []entry[K]) ([]entry[K], error) {
	cfg := s.cfg
	small := func(e entry[K]) bool { return e.mem != nil && e.addr.IsZero() && len(e.mem.keys) < cfg.min }
	for i := 0; i < len(es) && len(es) > 1; {
		if !small(es[i]) {
			i++
			continue
		}
		a := i
		if a == len(es)-1 {
			a = i - 1
		}
		na, err := s.entryNode(ctx, es[a], childLevel)
		if err != nil {
			return nil, err
		}
		nb, err := s.entryNode(ctx, es[a+1], childLevel)
		if err != nil {
			return nil, err
		}
		var merged []*tnode[K]
		if childLevel == 0 {
			keys := make([]K, 0, len(na.keys)+len(nb.keys))
			keys = append(append(keys, na.keys...), nb.keys...)
			merged = cfg.splitLeaves(keys, cfg.fill)
		} else {
			m := make([]entry[K], 0, len(na.keys)+len(nb.keys))
			for j := range na.keys {
				m = append(m, entryAt(na, j))
			}
			for j := range nb.keys {
				m = append(m, entryAt(nb, j))
			}
			// A small branch may hold a lone small child (its own fixSmall
			// had no sibling to merge it with); now it has neighbours.
			if m, err = s.fixSmall(ctx, childLevel-1, m); err != nil {
				return nil, err
			}
			merged = cfg.splitBranches(childLevel, m, cfg.fill)
		}
		repl := make([]entry[K], len(merged))
		for j, t := range merged {
			repl[j] = entryFor(t)
		}
		es = slices.Replace(es, a, a+2, repl...)
		i = a
	}
	return es, nil
}

// entryNode returns the node of e, loading it if it is only stored.
func (s *Set[K]) entryNode(ctx context.Context, e entry[K], level int) (*tnode[K], error) {
	if e.mem != nil {
		return e.mem, nil
	}
	tmp := &tnode[K]{level: level + 1, keys: []K{e.key}, addrs: []node.Address{e.addr}, counts: []uint64{e.count}, fences: []node.Fence{e.fence}}
	return s.child(ctx, tmp, 0)
}

// chunkCount returns how many nodes n entries go into: one if they fit in a
// node, else about n/target, keeping each node within [min, width] (T3).
// Update and Build both aim at the fill target (3/4 of the width) when they
// split, so that split nodes have room for the next inserts.
func (c *config[K]) chunkCount(n, target int) int {
	if n <= c.width {
		return 1
	}
	k := (n + target - 1) / target
	if k > 1 && n/k < c.min {
		k = (n + c.width - 1) / c.width
	}
	return k
}

// splitLeaves cuts sorted keys into evenly sized leaves of about target keys.
// The leaves share keys' backing array (capacity-limited, never appended to).
// With a fence sort key, each cut moves to a nearby place where the keys'
// leading integer changes (see cutNear).
func (c *config[K]) splitLeaves(keys []K, target int) []*tnode[K] {
	if len(keys) == 0 {
		return nil
	}
	k := c.chunkCount(len(keys), target)
	if slack := max(target/8, 1); c.fence != nil && k > 1 && len(keys)/k < c.min+slack && len(keys)/(k-1) <= c.width-slack {
		// Leaves of about min keys leave no room to move a cut to a
		// group's end (cutNear): one leaf fewer, fuller, does.
		k--
	}
	out := make([]*tnode[K], k)
	nodes := make([]tnode[K], k)
	lo := 0
	for j := range k {
		hi := (j + 1) * len(keys) / k
		if c.fence != nil && j < k-1 {
			hi = c.cutNear(keys, lo, k-j, target)
		}
		nodes[j] = tnode[K]{keys: keys[lo:hi:hi], count: hi - lo}
		out[j] = &nodes[j]
		lo = hi
	}
	return out
}

// splitBranches groups child entries into evenly sized branches at level.
func (c *config[K]) splitBranches(level int, es []entry[K], target int) []*tnode[K] {
	if len(es) == 0 {
		return nil
	}
	k := c.chunkCount(len(es), target)
	out := make([]*tnode[K], k)
	for j := range k {
		lo, hi := j*len(es)/k, (j+1)*len(es)/k
		out[j] = makeBranch(level, es[lo:hi])
	}
	return out
}

func makeBranch[K any](level int, es []entry[K]) *tnode[K] {
	n := &tnode[K]{
		level:  level,
		keys:   make([]K, len(es)),
		counts: make([]uint64, len(es)),
	}
	for i, e := range es {
		n.keys[i] = e.key
		if !e.addr.IsZero() {
			if n.addrs == nil {
				n.addrs = make([]node.Address, len(es))
			}
			n.addrs[i] = e.addr
		}
		if e.fence.Known {
			if n.fences == nil {
				n.fences = make([]node.Fence, len(es))
			}
			n.fences[i] = e.fence
		}
		n.counts[i] = e.count
		n.count += int(e.count)
		if e.mem != nil {
			if n.mems == nil {
				n.mems = make([]*tnode[K], len(es))
			}
			n.mems[i] = e.mem
		}
	}
	return n
}
