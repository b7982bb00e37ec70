package pss

import (
	"context"
	"fmt"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/accretedb/accrete/node"
)

// Flush writes every node of s that is not yet stored and returns the root
// address together with the flushed set.
//
// Only nodes built since the set was opened, built or last flushed are
// encoded and written, so a change of one key to a large stored tree writes
// one node per level (two at a level where the change split or merged a
// node). Writes go to Options.Store in parallel (Options.FlushParallelism)
// and bottom-up: every node of a level is stored before any node of the level
// above, so a parent is never stored before its children. Flush returns only
// after every write finished; on error some nodes may be stored (harmless:
// nothing names them) and s is still valid and unflushed.
//
// The returned set equals s but keeps only its root in memory; the nodes
// below are reloaded through the store (whose cache Encoded.Node may prime).
// An already flushed set is returned as is, without I/O.
func (s Set[K]) Flush(ctx context.Context) (node.Address, Set[K], error) {
	if s.cfg == nil || s.cfg.store == nil || s.cfg.codec == nil {
		return node.Address{}, s, fmt.Errorf("pss: flush: %w", ErrNoStore)
	}
	if s.rootAddr != nil {
		return *s.rootAddr, s, nil
	}
	root := s.root
	if root == nil {
		root = &tnode[K]{}
	}
	var levels [][]Encoded[K]
	rn, addr, err := s.encode(root, &levels)
	if err != nil {
		return node.Address{}, s, fmt.Errorf("pss: flush: %w", err)
	}
	bs, batch := s.cfg.store.(BatchStorer[K])
	for _, lvl := range levels {
		if batch {
			if err := bs.StoreMany(ctx, lvl); err != nil {
				return node.Address{}, s, fmt.Errorf("pss: flush: %w", err)
			}
			continue
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(s.cfg.parallel)
		for _, e := range lvl {
			g.Go(func() error {
				if err := s.cfg.store.Store(gctx, e); err != nil {
					return fmt.Errorf("pss: flush: store %s: %w", e.Address, err)
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return node.Address{}, s, err
		}
	}
	ns := Set[K]{cfg: s.cfg}
	if !addr.IsZero() {
		ns.rootAddr = &addr
	}
	if root.count > 0 {
		if ns.root, err = wrap(rn, -1, -1); err != nil {
			return node.Address{}, s, fmt.Errorf("pss: flush: %w", err)
		}
	}
	return addr, ns, nil
}

// encode encodes n and, first, every unstored node below it, appending each
// to levels[level].
func (s *Set[K]) encode(n *tnode[K], levels *[][]Encoded[K]) (*node.Node[K], node.Address, error) {
	nn := &node.Node[K]{Level: n.level, Keys: n.keys}
	if !n.leaf() {
		addrs := make([]node.Address, len(n.keys))
		copy(addrs, n.addrs)
		var fences []node.Fence
		if s.cfg.fence != nil {
			fences = make([]node.Fence, len(n.keys))
			copy(fences, n.fences)
		}
		for i := range addrs {
			if !addrs[i].IsZero() {
				continue
			}
			cn, a, err := s.encode(n.mems[i], levels)
			if err != nil {
				return nil, node.Address{}, err
			}
			addrs[i] = a
			if fences != nil {
				fences[i] = s.cfg.nodeFence(cn)
			}
		}
		nn.Children = addrs
		nn.Counts = n.counts
		if slices.ContainsFunc(fences, func(f node.Fence) bool { return f.Known }) {
			nn.Fences = fences
		}
	}
	data, err := node.Encode(nn, s.cfg.codec)
	if err != nil {
		return nil, node.Address{}, err
	}
	addr := node.AddressOf(data)
	for len(*levels) <= n.level {
		*levels = append(*levels, nil)
	}
	(*levels)[n.level] = append((*levels)[n.level], Encoded[K]{Address: addr, Data: data, Node: nn})
	return nn, addr, nil
}
