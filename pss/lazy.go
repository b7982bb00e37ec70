package pss

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// MaxPending bounds the keys a chain of AddLazily calls leaves pending: the
// call that would pass it builds its set at once, so a chain never holds
// more than this many keys (and their batches) unbuilt, and the first read
// of a lazy set does at most this much work.
const MaxPending = 8192

// lazyRoot is the pending content of a set made by AddLazily: base plus
// adds, not built yet. It hangs off a placeholder root node whose other
// fields are zero until the set is built, exactly once, by the first method
// that reads it (force); from then on the placeholder holds the built root's
// fields and the set is an ordinary one.
//
// Everything here is written when the lazy set is made and never again,
// except done (set once, after the placeholder is filled in, so a reader
// that sees done also sees the node) and the once itself.
type lazyRoot[K any] struct {
	once    sync.Once
	done    atomic.Bool
	base    Set[K] // what adds go into; itself possibly lazy
	adds    []K
	pending int // keys pending along the chain, this link's included
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
	if len(adds) == 0 {
		return s, nil
	}
	if s.cfg == nil {
		return s, fmt.Errorf("pss: add lazily: %w: zero Set", ErrInvalidOptions)
	}
	if s.cfg.store != nil {
		return s.Update(ctx, adds, nil)
	}
	base := s
	pending := len(adds)
	if r := s.root; r != nil && r.lazy != nil {
		if r.lazy.done.Load() {
			// Built already: start the chain from a copy of its root, so
			// that the new set does not keep the old chain's batches alive.
			cp := *r
			cp.lazy = nil
			base = Set[K]{cfg: s.cfg, root: &cp}
		} else {
			pending += r.lazy.pending
		}
	}
	ns := Set[K]{cfg: s.cfg, root: &tnode[K]{lazy: &lazyRoot[K]{base: base, adds: adds, pending: pending}}}
	if pending > MaxPending {
		ns.force()
	}
	return ns, nil
}

// force builds s if it is a lazy set not built yet. Every method that reads
// s.root calls it first (NewIter through Height).
func (s Set[K]) force() {
	r := s.root
	if r == nil || r.lazy == nil || r.lazy.done.Load() {
		return
	}
	r.lazy.once.Do(func() { r.lazy.build(r) })
}

// build fills in placeholder ph: it collects the batches of the chain down
// to the first set that is built (or was never lazy) and applies them, oldest
// first, in one Update, so that for equal keys the earliest add wins, as
// with successive Updates.
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
	n := 0
	for _, c := range chain {
		n += len(c.adds)
	}
	all := make([]K, 0, n)
	for i := len(chain) - 1; i >= 0; i-- {
		all = append(all, chain[i].adds...)
	}
	// base has no store (AddLazily made this chain), so every node is in
	// memory and Update cannot fail: it loads nothing.
	res, err := base.Update(context.Background(), all, nil)
	if err != nil {
		panic(fmt.Sprintf("pss: building a lazy in-memory set: %v", err)) // unreachable, see above
	}
	if r := res.root; r != nil {
		ph.level, ph.keys, ph.addrs, ph.counts, ph.mems, ph.count = r.level, r.keys, r.addrs, r.counts, r.mems, r.count
	}
	l.done.Store(true)
}
