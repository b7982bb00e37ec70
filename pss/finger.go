package pss

import (
	"context"
	"sync/atomic"

	"github.com/accretedb/accrete/node"
)

// Finger remembers the leaf the last seek through it ended in, so that a
// seek whose answer lies inside that same leaf searches the leaf alone
// instead of descending from the root. Lookups in ascending key order (the
// entities a scan of another index yields, a range of ids) land in one
// leaf many times in a row: on a tree of three levels the descent, a
// search and a child fetch per level, is most of a point lookup's cost.
//
// A Finger is tied to no set: it remembers the version of the set the
// leaf came from (its root, which a set shares only with copies of
// itself; nodes are immutable) and ignores the leaf for any other. It is
// safe for concurrent use; goroutines seeking different places only take
// turns at whose leaf it remembers. The zero Finger is ready to use.
type Finger[K any] struct {
	p atomic.Pointer[fingerLeaf[K]]
}

type fingerLeaf[K any] struct {
	root *tnode[K]
	keys []K
	next node.Fence // of the leaf after keys (Set.SeekRunFence)
}

// SeekRunFunc is s.SeekRunFunc(ctx, find), first trying the leaf f
// remembers. inside(keys) reports whether the run sought starts inside
// keys, a leaf of s: it MUST hold only if the first key of the whole set
// that is >= the sought key is among keys (so for keys[0] < sought <=
// keys[len(keys)-1], not merely for keys[0] <= sought, since equal keys
// may go on in the leaf before). find is as for Set.SeekRunFunc.
func (f *Finger[K]) SeekRunFunc(ctx context.Context, s Set[K], find func(keys []K) int, inside func(keys []K) bool) ([]K, error) {
	run, _, err := f.SeekRunFence(ctx, s, find, inside)
	return run, err
}

// SeekRunFence is s.SeekRunFence(ctx, find) through f: SeekRunFunc that
// also returns the fence of the leaf after the run's.
func (f *Finger[K]) SeekRunFence(ctx context.Context, s Set[K], find func(keys []K) int, inside func(keys []K) bool) ([]K, node.Fence, error) {
	s.force()
	if s.root == nil {
		return nil, node.Fence{}, nil
	}
	fl := f.p.Load()
	if fl != nil && fl.root == s.root && inside(fl.keys) {
		return fl.keys[find(fl.keys):], fl.next, nil
	}
	leaf, i, next, err := s.seekLeafFunc(ctx, find)
	if leaf == nil {
		return nil, node.Fence{}, err
	}
	if fl == nil || fl.root != s.root || &fl.keys[0] != &leaf[0] {
		f.p.Store(&fingerLeaf[K]{root: s.root, keys: leaf, next: next})
	}
	return leaf[i:], next, nil
}
