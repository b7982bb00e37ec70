package pss

import (
	"context"
	"fmt"

	"github.com/accretedb/accrete/node"
)

// LeafSeeker finds leaves of one set for a run of seeks in ascending key
// order (the entities a pull or an entity walk reads, in id order). It
// remembers the branch just above the last leaf it found, so that a seek
// that lands under that same branch searches it alone and fetches one
// child, and the leaf after the last one is that branch's next child:
// neither descends from the root. On a stored tree of three levels a
// descent is a search and a child fetch per level (through the parents'
// memo of decoded children, or the store's cache), most of what finding
// an entity's datoms costs; SeekRunFunc pays it on every call.
//
// A LeafSeeker is a value that allocates nothing of its own. It is not
// safe for concurrent use. Make one with Set.LeafSeeker.
type LeafSeeker[K any] struct {
	s Set[K]
	// The level-1 branch above the last leaf found, as the set's own
	// in-memory node (tp) or as a decoded stored node (np), and the leaf's
	// index in it; both nil when no leaf was found yet or the root is a
	// leaf.
	tp *tnode[K]
	np *node.Node[K]
	i  int
	// up is the fence of the first leaf after the remembered branch's
	// subtree, as the descent to it saw (unknown if none).
	up node.Fence
}

// LeafSeeker returns a seeker over s's leaves. A lazy set is built on the
// first seek, not here.
func (s Set[K]) LeafSeeker() LeafSeeker[K] { return LeafSeeker[K]{s: s} }

// Seek returns what s.SeekRunFunc(ctx, find) returns: the keys from the
// first one find locates to the end of its leaf, nil when there is none.
// Each key sought MUST NOT sort before the one the previous Seek sought
// (find is as for Set.SeekRunFunc): the branch remembered is searched only
// from the last leaf on.
func (c *LeafSeeker[K]) Seek(ctx context.Context, find func(keys []K) int) ([]K, error) {
	if keys := c.branchKeys(); keys != nil {
		// The first child whose largest key is >= the key sought: no
		// earlier than the last leaf, since no key sought before was
		// greater. Past the branch's last key, the answer is under
		// another branch: descend from the root.
		if j := find(keys); j < len(keys) {
			return c.seekIn(ctx, j, find)
		}
	}
	return c.descend(ctx, find)
}

// seekIn returns the run find locates in leaf j of the remembered branch,
// which becomes the last leaf found.
func (c *LeafSeeker[K]) seekIn(ctx context.Context, j int, find func(keys []K) int) ([]K, error) {
	leaf, err := c.child(ctx, j)
	if err != nil {
		return nil, err
	}
	k := find(leaf)
	if k == len(leaf) {
		return nil, fmt.Errorf("pss: leaf %d of a branch: %w: child below its parent's key", j, ErrCorrupt)
	}
	c.i = j
	return leaf[k:], nil
}

// Next returns the whole leaf after the one the last Seek or Next
// returned, or nil when that was the last. find locates the first key
// after that leaf (as for Set.SeekRunFunc), for when the next leaf lies
// under another branch.
func (c *LeafSeeker[K]) Next(ctx context.Context, find func(keys []K) int) ([]K, error) {
	if keys := c.branchKeys(); keys != nil && c.i+1 < len(keys) {
		leaf, err := c.child(ctx, c.i+1)
		if err != nil {
			return nil, err
		}
		c.i++
		return leaf, nil
	}
	return c.descend(ctx, find)
}

// NextFence returns the fence (node.Fence) of the leaf after the one the
// last Seek or Next returned, when the tree records it (Options.Fence):
// a reader whose run ends with that leaf learns from it whether the next
// leaf goes on with keys it wants, without loading it. It is unknown when
// there is no next leaf.
func (c *LeafSeeker[K]) NextFence() node.Fence {
	if c.s.cfg == nil || c.s.cfg.fence == nil {
		return node.Fence{}
	}
	switch j := c.i + 1; {
	case c.tp != nil && j < len(c.tp.keys):
		return c.s.cfg.childFence(c.tp, j)
	case c.np != nil && j < len(c.np.Keys):
		if len(c.np.Fences) == len(c.np.Keys) {
			return c.np.Fences[j]
		}
		return node.Fence{}
	case c.tp != nil || c.np != nil:
		return c.up
	}
	return node.Fence{}
}

// branchKeys returns the keys of the remembered branch (nil if none).
func (c *LeafSeeker[K]) branchKeys() []K {
	switch {
	case c.tp != nil:
		return c.tp.keys
	case c.np != nil:
		return c.np.Keys
	}
	return nil
}

// child returns the keys of leaf j of the remembered branch, loading it
// if need be, and checks that it fits where the branch points.
func (c *LeafSeeker[K]) child(ctx context.Context, j int) ([]K, error) {
	var parent *node.Node[K]
	var addr node.Address
	var want uint64
	if t := c.tp; t != nil {
		if m := t.mem(j); m != nil {
			if !m.leaf() || len(m.keys) == 0 {
				return nil, fmt.Errorf("pss: %w: a level-1 branch's child %d is not a leaf", ErrCorrupt, j)
			}
			return m.keys, nil
		}
		parent, addr, want = t.src, t.addr(j), t.counts[j]
	} else {
		parent, addr, want = c.np, c.np.Children[j], c.np.Counts[j]
	}
	var n *node.Node[K]
	if parent != nil {
		n = parent.Child(j)
	}
	if n == nil {
		if c.s.cfg.store == nil {
			return nil, fmt.Errorf("pss: load %s: %w", addr, ErrNoStore)
		}
		var err error
		if n, err = c.s.cfg.store.Load(ctx, addr); err != nil {
			return nil, fmt.Errorf("pss: load %s: %w", addr, err)
		}
		if n == nil || n.Level != 0 || len(n.Keys) == 0 || uint64(len(n.Keys)) != want {
			return nil, fmt.Errorf("pss: load %s: %w: not the leaf its parent counts", addr, ErrCorrupt)
		}
		if parent != nil {
			parent.SetChild(j, n)
		}
	}
	return n.Keys, nil
}

// descend is SeekRunFunc from the root, remembering the level-1 branch it
// passes through.
func (c *LeafSeeker[K]) descend(ctx context.Context, find func(keys []K) int) ([]K, error) {
	c.tp, c.np, c.up = nil, nil, node.Fence{}
	c.s.force()
	t := c.s.root
	if t == nil {
		return nil, nil
	}
	var right rightOf[K]
	// The in-memory part of the path.
	for {
		i := find(t.keys)
		if i == len(t.keys) {
			return nil, nil
		}
		if t.leaf() {
			return t.keys[i:], nil
		}
		if t.level == 1 {
			c.tp, c.up = t, right.fence(c.s.cfg)
			run, err := c.seekIn(ctx, i, find)
			if err != nil {
				c.tp = nil
			}
			return run, err
		}
		right.pass(t, i)
		if m := t.mem(i); m != nil {
			t = m
			continue
		}
		leaf, k, parent, pi, _, above, err := c.s.seekLeafStoredFunc(ctx, t.src, i, t.addr(i), t.level-1, find, right.fence(c.s.cfg))
		if parent != nil && parent.Level == 1 {
			c.np, c.i, c.up = parent, pi, above
		}
		return leaf[k:], err
	}
}
