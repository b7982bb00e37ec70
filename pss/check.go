package pss

import (
	"context"
	"fmt"
)

// Check verifies the invariants T1-T7 (package doc) over the whole tree,
// loading every stored node, and returns an error wrapping ErrCorrupt that
// names the first violation. It is meant for tests and repair tools: its
// cost is a full scan.
func (s Set[K]) Check(ctx context.Context) error {
	if s.cfg == nil {
		return fmt.Errorf("pss: check: %w: zero Set", ErrInvalidOptions)
	}
	s.force()
	if s.root == nil {
		return nil
	}
	c := checker[K]{s: &s, ctx: ctx}
	if len(s.root.keys) == 0 {
		return fmt.Errorf("pss: check: %w: empty root node in a non-empty set", ErrCorrupt)
	}
	if !s.root.leaf() && len(s.root.keys) < 2 {
		return fmt.Errorf("pss: check: %w: root branch with %d child", ErrCorrupt, len(s.root.keys))
	}
	n, err := c.node(s.root, true, nil, "root")
	if err != nil {
		return err
	}
	if n != s.root.count {
		return fmt.Errorf("pss: check: %w: root counts %d keys, holds %d", ErrCorrupt, s.root.count, n)
	}
	return nil
}

type checker[K any] struct {
	s   *Set[K]
	ctx context.Context
}

func (c *checker[K]) errf(path, format string, args ...any) error {
	return fmt.Errorf("pss: check: %w: %s: %s", ErrCorrupt, path, fmt.Sprintf(format, args...))
}

// node checks subtree n whose keys must all be > *after (if non-nil) and
// returns its key count.
func (c *checker[K]) node(n *tnode[K], root bool, after *K, path string) (int, error) {
	cfg := c.s.cfg
	// T3: node sizes.
	if len(n.keys) > cfg.width {
		return 0, c.errf(path, "%d entries, width %d", len(n.keys), cfg.width)
	}
	if !root && len(n.keys) < cfg.min {
		return 0, c.errf(path, "%d entries, minimum %d", len(n.keys), cfg.min)
	}
	// T1: strictly increasing keys, above everything to the left.
	for i, k := range n.keys {
		if i == 0 && after != nil && cfg.cmp(*after, k) >= 0 {
			return 0, c.errf(path, "first key not above the previous subtree's max")
		}
		if i > 0 && cfg.cmp(n.keys[i-1], k) >= 0 {
			return 0, c.errf(path, "keys %d and %d out of order", i-1, i)
		}
	}
	if n.leaf() {
		if n.count != len(n.keys) {
			return 0, c.errf(path, "leaf count %d, holds %d keys", n.count, len(n.keys))
		}
		return len(n.keys), nil
	}
	if (n.addrs != nil && len(n.addrs) != len(n.keys)) || len(n.counts) != len(n.keys) || (n.mems != nil && len(n.mems) != len(n.keys)) {
		return 0, c.errf(path, "branch slices of unequal length")
	}
	total := 0
	for i := range n.keys {
		cp := fmt.Sprintf("%s/%d", path, i)
		// T6: every child is reachable.
		if n.mem(i) == nil && n.addr(i).IsZero() {
			return 0, c.errf(cp, "child neither in memory nor stored")
		}
		ch, err := c.s.child(c.ctx, n, i)
		if err != nil {
			return 0, fmt.Errorf("pss: check: %s: %w", cp, err)
		}
		// T4: levels fall by one; all leaves are at level 0.
		if ch.level != n.level-1 {
			return 0, c.errf(cp, "level %d under a level %d node", ch.level, n.level)
		}
		var prev *K
		if i > 0 {
			prev = &n.keys[i-1]
		} else {
			prev = after
		}
		got, err := c.node(ch, false, prev, cp)
		if err != nil {
			return 0, err
		}
		// T7: a known fence is the sort key of the child's first key (a
		// set opened without the sort key cannot tell, and never reads
		// fences).
		if f := n.fence(i); f.Known && cfg.fence != nil {
			first := ch
			for !first.leaf() {
				if first, err = c.s.child(c.ctx, first, 0); err != nil {
					return 0, fmt.Errorf("pss: check: %s: %w", cp, err)
				}
			}
			if want := cfg.keyFence(first.keys[0]); want != f {
				return 0, c.errf(cp, "fence %+v, first key's is %+v", f, want)
			}
		}
		// T5: counts.
		if uint64(got) != n.counts[i] || got != ch.count {
			return 0, c.errf(cp, "holds %d keys, parent counts %d, node counts %d", got, n.counts[i], ch.count)
		}
		// T2: separator is the child's max.
		if cfg.cmp(ch.keys[len(ch.keys)-1], n.keys[i]) != 0 {
			return 0, c.errf(cp, "separator is not the child's largest key")
		}
		total += got
	}
	if total != n.count {
		return 0, c.errf(path, "branch count %d, children hold %d", n.count, total)
	}
	return total, nil
}
