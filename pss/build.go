package pss

import (
	"context"
	"fmt"
)

// Build returns a set holding keys, which must be strictly increasing under
// opts.Compare (ErrNotSorted otherwise). It builds the tree bottom-up in one
// pass without comparisons beyond the sortedness check, filling nodes to
// about three quarters of the width so that later inserts rarely split.
// keys is copied once; the caller may reuse it.
func Build[K any](ctx context.Context, keys []K, opts Options[K]) (Set[K], error) {
	return build(ctx, keys, opts, true)
}

// BuildOwned is Build without the copy: the set keeps keys as its leaves'
// storage, so the caller must never modify keys afterwards (sets never
// do). It saves a copy of the whole batch when the caller made keys for the
// set anyway.
func BuildOwned[K any](ctx context.Context, keys []K, opts Options[K]) (Set[K], error) {
	return build(ctx, keys, opts, false)
}

func build[K any](ctx context.Context, keys []K, opts Options[K], copyKeys bool) (Set[K], error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return Set[K]{}, err
	}
	for i := 1; i < len(keys); i++ {
		if cfg.cmp(keys[i-1], keys[i]) >= 0 {
			return Set[K]{}, fmt.Errorf("pss: build: %w: key %d is not greater than key %d", ErrNotSorted, i, i-1)
		}
	}
	s := Set[K]{cfg: cfg}
	if len(keys) == 0 {
		return s, nil
	}
	if err := ctx.Err(); err != nil {
		return Set[K]{}, fmt.Errorf("pss: build: %w", err)
	}
	all := keys
	if copyKeys {
		all = make([]K, len(keys))
		copy(all, keys)
	}
	s.root = cfg.buildRoot(all[:len(all):len(all)])
	return s, nil
}

// buildRoot builds a tree of the sorted keys bottom-up and returns its root
// (nil if keys is empty). The leaves keep keys' backing array.
func (cfg *config[K]) buildRoot(keys []K) *tnode[K] {
	if len(keys) == 0 {
		return nil
	}
	level := cfg.splitLeaves(keys, cfg.fill)
	var es []entry[K]
	for len(level) > 1 {
		es = es[:0]
		for _, n := range level {
			es = append(es, entryFor(n))
		}
		level = cfg.splitBranches(level[0].level+1, es, cfg.fill)
	}
	return level[0]
}
