package pss

import (
	"context"

	"github.com/accretedb/accrete/node"
)

// fence returns what n records of child i's first key (unknown for a
// child that is only in memory: see childFence).
func (n *tnode[K]) fence(i int) node.Fence {
	if n.fences == nil {
		return node.Fence{}
	}
	return n.fences[i]
}

// keyFence is the fence of a subtree whose first key is k.
func (c *config[K]) keyFence(k K) node.Fence {
	hi, lo, ok := c.fence(k)
	return node.Fence{Hi: hi, Lo: lo, Known: ok}
}

// nodeFence is the fence of the subtree of decoded node n.
func (c *config[K]) nodeFence(n *node.Node[K]) node.Fence {
	switch {
	case n.Level == 0 && len(n.Keys) > 0:
		return c.keyFence(n.Keys[0])
	case n.Level > 0 && len(n.Fences) > 0:
		return n.Fences[0]
	}
	return node.Fence{}
}

// childFence is the fence of child i of n: for a child in memory, its
// first key's (found down its first children while they are in memory),
// else what n records.
func (c *config[K]) childFence(n *tnode[K], i int) node.Fence {
	for {
		m := n.mem(i)
		if m == nil {
			return n.fence(i)
		}
		if m.leaf() {
			if len(m.keys) == 0 {
				return node.Fence{}
			}
			return c.keyFence(m.keys[0])
		}
		n, i = m, 0
	}
}

// rightOf tracks, along a descent, the right sibling at the deepest level
// that has one: the first leaf after the subtree descended into is that
// sibling's first. Its fence is found only when asked for.
type rightOf[K any] struct {
	n *tnode[K]
	i int
}

// pass records that the descent takes entry i of n.
func (r *rightOf[K]) pass(n *tnode[K], i int) {
	if i+1 < len(n.keys) {
		r.n, r.i = n, i+1
	}
}

// fence is the fence of the leaf after the subtree descended into
// (unknown if there is none, or c records no fences).
func (r *rightOf[K]) fence(c *config[K]) node.Fence {
	if r.n == nil || c.fence == nil {
		return node.Fence{}
	}
	return c.childFence(r.n, r.i)
}

// cutNear returns where the leaf that starts at keys[lo] ends when the
// keys from lo on go into parts leaves of about target keys: near the
// even cut, at the nearest place where the fence's hi changes (a group's
// end), else where its lo changes, else at the even cut; always where
// this leaf and the rest can still be cut into parts leaves of [min,
// width] keys. How far a cut may move (target/8) bounds how uneven it
// makes the leaves, and so the room left for inserts.
func (c *config[K]) cutNear(keys []K, lo, parts, target int) int {
	n := len(keys)
	even := lo + (n-lo)/parts
	// Legal ends: this leaf in [min, width], the rest in
	// [(parts-1)·min, (parts-1)·width].
	first := max(lo+c.min, n-(parts-1)*c.width)
	last := min(lo+c.width, n-(parts-1)*c.min)
	if first > last {
		return even // not reachable from chunkCount's counts
	}
	slack := max(target/8, 1)
	from, to := max(first, even-slack), min(last, even+slack)
	if from > to {
		return min(max(even, first), last)
	}
	// Try the cuts nearest the even one first, alternating sides; a cut
	// at p ends the leaf with keys[p-1] and starts the next with keys[p].
	loCut := -1
	for d := 0; d <= slack; d++ {
		for side, p := range [2]int{even + d, even - d} {
			if (d == 0 && side == 1) || p < from || p > to || p <= 0 || p >= n {
				continue
			}
			h1, l1, ok1 := c.fence(keys[p-1])
			h2, l2, ok2 := c.fence(keys[p])
			switch {
			case !ok1 || !ok2:
			case h1 != h2:
				return p
			case loCut < 0 && l1 != l2:
				loCut = p
			}
		}
	}
	if loCut >= 0 {
		return loCut
	}
	return min(max(even, first), last)
}

// SeekRunFence is SeekRunFunc that also returns the fence of the leaf
// after the run's (node.Fence): the sort key of the first key past the
// run's leaf, when the tree records it (Options.Fence) and there is such
// a leaf. A scan whose run reaches its leaf's end learns from it, without
// a fetch, whether the next leaf may hold keys it wants.
func (s Set[K]) SeekRunFence(ctx context.Context, find func(keys []K) int) ([]K, node.Fence, error) {
	leaf, i, next, err := s.seekLeafFunc(ctx, find)
	if leaf == nil {
		return nil, node.Fence{}, err
	}
	return leaf[i:], next, nil
}
