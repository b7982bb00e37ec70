package reader

import (
	"maps"
	"slices"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/datom"
)

// attrStats counts the datoms of each attribute in one stored current
// AEVT tree, tree, which it is compared with by pointer: a value whose
// AEVT tree is another has no statistics (validFor), so a path that
// replaces the tree without keeping them loses them rather than lying.
//
// They answer the planner's most common estimate, the size of an
// attribute (Count on AEVT with the attribute alone), from memory: on a
// cold reader, descending to both ends of the attribute's run costs up to
// twice the tree's depth in GETs per attribute, for an estimate. The
// commit carries them (branch.Stats), so a reader has them from the head.
// Immutable once made: values share them.
type attrStats struct {
	tree   *lazyTree
	counts map[int64]int64
}

// stats returns db's statistics, or nil if it has none for its AEVT tree.
func (db *DB) stats() *attrStats {
	if s := db.attrs; s != nil && s.tree == db.trees[curAEVT] {
		return s
	}
	return nil
}

// emptyStats are the statistics of tree, which holds no datoms.
func emptyStats(tree *lazyTree) *attrStats {
	return &attrStats{tree: tree, counts: map[int64]int64{}}
}

// statsFromCommit reads c's statistics for tree, its AEVT tree: nil when c
// has none or they are not well formed (statistics only guide planning,
// so bad ones are dropped, not an error).
func statsFromCommit(c *branch.Commit, tree *lazyTree) *attrStats {
	if c.Stats == nil {
		return nil
	}
	m := make(map[int64]int64, len(c.Stats.Attrs))
	for i, ac := range c.Stats.Attrs {
		if ac.N <= 0 || (i > 0 && ac.A <= c.Stats.Attrs[i-1].A) {
			return nil
		}
		m[ac.A] = ac.N
	}
	return &attrStats{tree: tree, counts: m}
}

// commitStats returns db's statistics as a commit records them (nil if
// it has none).
func (db *DB) commitStats() *branch.Stats {
	s := db.stats()
	if s == nil {
		return nil
	}
	out := &branch.Stats{Attrs: make([]branch.AttrCount, 0, len(s.counts))}
	for _, a := range slices.Sorted(maps.Keys(s.counts)) {
		out.Attrs = append(out.Attrs, branch.AttrCount{A: a, N: s.counts[a]})
	}
	return out
}

// updated returns the statistics of tree, made from s's tree by adding
// adds and deleting dels, which hold total datoms: nil when s is nil, or
// when the counts do not add up to total (a datom added that was there
// already, or deleted that was not), which would make them drift.
func (s *attrStats) updated(tree *lazyTree, adds, dels []datom.Datom, total int) *attrStats {
	if s == nil {
		return nil
	}
	m := maps.Clone(s.counts)
	for _, d := range adds {
		m[d.A]++
	}
	for _, d := range dels {
		m[d.A]--
	}
	sum := int64(0)
	for a, n := range m {
		switch {
		case n < 0:
			return nil
		case n == 0:
			delete(m, a)
		}
		sum += n
	}
	if sum != int64(total) {
		return nil
	}
	return &attrStats{tree: tree, counts: m}
}
