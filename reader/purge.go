package reader

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/accretedb/accrete/datom"
)

// ErrNotCurrent is returned by Excise for a value restricted by AsOf, Since
// or History: only the current value of a branch can be rewritten.
var ErrNotCurrent = errors.New("reader: excise needs the current value, not an as-of, since or history view")

// ExciseReport counts what Excise removed from each index tree, by tree
// name ("eavt" … "history-vaet", "log"), the names a commit's Roots use.
type ExciseReport struct {
	Removed map[string]int
}

// Total returns the number of index entries removed, over every tree.
func (r ExciseReport) Total() int {
	n := 0
	for _, c := range r.Removed {
		n += c
	}
	return n
}

// Excise returns the value without the datoms ds in any of its nine index
// trees: the current trees, their history twins and the log. It is the
// storage half of a purge (package ops builds ds from purge forms and
// commits the result): unlike a retraction, which moves a fact to history,
// excision leaves no trace of the datoms in the value.
//
// Each datom must be given exactly as it is stored, with its Tx and Added
// flag (an assertion and its later retraction are two datoms); datoms a
// tree does not hold are ignored, so callers need not know which trees
// hold what (AVET holds only indexed attributes, VAET only refs, history
// only what was retracted).
//
// The returned value has the log tail merged into the trees (so the tail,
// which would otherwise repeat the datoms, is empty) and its trees are
// changed in memory only: nothing is written until Prepare or Persist
// flushes them, which they do because the value is marked as merged. Only
// the nodes on the paths to removed datoms change, so the commit writes
// about one path per removed datom per tree.
func (db *DB) Excise(ctx context.Context, ds []datom.Datom) (*DB, ExciseReport, error) {
	rep := ExciseReport{Removed: map[string]int{}}
	if db.v != nowView {
		return nil, rep, ErrNotCurrent
	}
	next := *db
	var removed [nTrees]int
	var aevtAdds, aevtDels []datom.Datom // what excision does to AEVT, for its statistics
	g, gctx := errgroup.WithContext(ctx)
	for i := range db.trees {
		g.Go(func() error {
			tree, err := db.trees[i].get(gctx)
			if err != nil {
				return err
			}
			// Merge the tail first, as mergeTail does, so that datoms the
			// tail added are removed too and the tail can be dropped.
			adds, dels, err := db.novelty(gctx, i)
			if err != nil {
				return err
			}
			if tree, err = tree.Update(gctx, adds, dels); err != nil {
				return fmt.Errorf("reader: excise: merge %s: %w", treeNames[i], err)
			}
			if i == curAEVT {
				aevtAdds, aevtDels = adds, dels
				for _, d := range ds {
					if ok, err := tree.Has(gctx, d); err != nil {
						return err
					} else if ok {
						aevtDels = append(aevtDels[:len(aevtDels):len(aevtDels)], d)
					}
				}
			}
			before := tree.Len()
			if tree, err = tree.Update(gctx, nil, ds); err != nil {
				return fmt.Errorf("reader: excise: %s: %w", treeNames[i], err)
			}
			removed[i] = before - tree.Len()
			next.trees[i] = newLoadedTree(tree)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, rep, err
	}
	lt := next.trees[curAEVT]
	lt.stats = db.stats().updated(aevtAdds, aevtDels, lt.set.Len())
	for i, n := range removed {
		if n > 0 {
			rep.Removed[treeNames[i]] = n
		}
	}
	next.ov = emptyOverlay()
	next.tail = nil
	next.tailBytes = 0
	next.merged = true
	return &next, rep, nil
}
