package reader

import (
	"maps"
	"slices"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/datom"
)

// attrStats counts the datoms of each attribute in one stored current
// AEVT tree, which carries them (lazyTree.stats): a path that makes a new
// tree without computing them leaves it without statistics rather than
// with wrong ones. (On the tree, not on DB: every With copies a DB, and
// a field more moved that copy into a larger allocation size class.)
//
// They answer the planner's most common estimate, the size of an
// attribute (Count on AEVT with the attribute alone), from memory: on a
// cold reader, descending to both ends of the attribute's run costs up to
// twice the tree's depth in GETs per attribute, for an estimate. The
// commit carries them (branch.Stats), so a reader has them from the head.
// Immutable once made: values share them.
type attrStats struct {
	counts map[int64]int64
}

// stats returns the statistics of db's AEVT tree, or nil if it has none.
func (db *DB) stats() *attrStats {
	return db.trees[curAEVT].stats
}

// emptyStats are the statistics of a tree that holds no datoms.
func emptyStats() *attrStats {
	return &attrStats{counts: map[int64]int64{}}
}

// statsFromCommit reads the statistics of c's AEVT tree: nil when c has
// none or they are not well formed (statistics only guide planning, so
// bad ones are dropped, not an error).
func statsFromCommit(c *branch.Commit) *attrStats {
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
	return &attrStats{counts: m}
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

// updated returns the statistics of the tree made from s's by adding adds
// and deleting dels, which holds total datoms: nil when s is nil, or when
// the counts do not add up to total (a datom added that was there
// already, or deleted that was not), which would make them drift.
func (s *attrStats) updated(adds, dels []datom.Datom, total int) *attrStats {
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
	return &attrStats{counts: m}
}
