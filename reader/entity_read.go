package reader

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/pss"
)

// ErrEntityOrder is returned by EntityDatoms when the ids are not in
// strictly increasing order.
var ErrEntityOrder = errors.New("reader: entity ids not in increasing order")

// EntityDatoms calls fn once per id of ids (strictly increasing; it returns
// an error wrapping ErrEntityOrder otherwise), in order, with that
// entity's datoms in this value, in EAVT order: ds followed by more (both
// empty when it has none), until fn returns an error, which it returns as
// it is. They must not be modified.
//
// ds is a view of an index leaf when the entity's datoms lie within one
// leaf and the log tail does not touch the entity, so reading an entity
// usually copies nothing, and the entities of one leaf are read with one
// descent of the tree (query.Entity and pull read the entities a reference
// set names this way). With keep, fn may keep ds and more (unlike
// DatomChunks' runs): they never change; an entity across two leaves comes
// as the views of both (ds the end of one, more the start of the next);
// otherwise (more leaves, an entity the log tail changes, an AsOf, Since
// or History view) ds is a fresh copy. Keeping a view keeps its whole leaf
// in memory. Without keep, more is always empty and ds is valid only
// during the call: copies reuse one buffer.
func (db *DB) EntityDatoms(ctx context.Context, ids []datom.ID, keep bool, fn func(k int, ds, more []datom.Datom) error) error {
	for k := 1; k < len(ids); k++ {
		if ids[k] <= ids[k-1] {
			return fmt.Errorf("%w: %d after %d", ErrEntityOrder, ids[k], ids[k-1])
		}
	}
	v := db.v
	if v.history || v.asOf != math.MaxInt64 || v.since >= 0 {
		return db.entityCopies(ctx, ids, keep, fn)
	}
	tree, err := db.trees[curEAVT].get(ctx)
	if err != nil {
		return fmt.Errorf("reader: entity datoms: %w", err)
	}
	var cp entityCopier
	cp.keep = keep
	t := leafCursor{set: tree, ls: tree.LeafSeeker(), empty: tree.Len() == 0, cp: &cp}
	adds := db.ov.addSets()[curEAVT]
	a := leafCursor{set: adds, ls: adds.LeafSeeker(), empty: adds.Len() == 0, cp: &cp}
	dels := db.ov.dels[curEAVT]
	d := leafCursor{set: dels, ls: dels.LeafSeeker(), empty: dels.Len() == 0, cp: &cp}
	// The tail's sets live in memory, with narrow leaves: step from leaf
	// to leaf with an iterator rather than descend for each (a lone
	// entity takes a descent or two, cheaper than making an iterator).
	for _, c := range []*leafCursor{&a, &d} {
		if !c.empty && len(ids) > 1 {
			c.it = c.set.NewIter(ctx, nil)
			defer c.it.Close()
		}
	}
	for k, e := range ids {
		if k&63 == 63 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("reader: entity datoms: %w", err)
			}
		}
		rt, mt, err := t.at(ctx, e)
		if err != nil {
			return fmt.Errorf("reader: entity %d: %w", e, err)
		}
		ra, ma, err := a.at(ctx, e)
		if err != nil {
			return fmt.Errorf("reader: entity %d: %w", e, err)
		}
		rd, _, err := d.at(ctx, e)
		if err != nil {
			return fmt.Errorf("reader: entity %d: %w", e, err)
		}
		var ds, more []datom.Datom
		switch {
		case len(rd) == 0 && len(ra) == 0:
			ds, more = rt, mt
		case len(rd) == 0 && len(rt) == 0:
			ds, more = ra, ma
		default:
			// The tail adds to or deletes from the stored datoms: merge as
			// every scan does.
			if ds, err = db.entityCopy(ctx, e, &cp); err != nil {
				return err
			}
		}
		if err := fn(k, ds, more); err != nil {
			return err
		}
	}
	return nil
}

// entityCopies is EntityDatoms through Datoms, for the views that filter
// the trees.
func (db *DB) entityCopies(ctx context.Context, ids []datom.ID, keep bool, fn func(k int, ds, more []datom.Datom) error) error {
	cp := entityCopier{keep: keep}
	for k, e := range ids {
		ds, err := db.entityCopy(ctx, e, &cp)
		if err != nil {
			return err
		}
		if err := fn(k, ds, nil); err != nil {
			return err
		}
	}
	return nil
}

// entityCopy returns a copy of the datoms of entity e, made by cp.
func (db *DB) entityCopy(ctx context.Context, e datom.ID, cp *entityCopier) ([]datom.Datom, error) {
	cp.tmp = cp.tmp[:0]
	lo, hi := bounds(datom.EAVT, []any{e})
	err := db.scan(ctx, curEAVT, lo, hi, func(d datom.Datom) bool {
		cp.tmp = append(cp.tmp, d)
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("reader: entity %d: %w", e, err)
	}
	return cp.out(), nil
}

// entityCopier makes the copies of one EntityDatoms call: gathered in tmp,
// then cut from a block when they are to be kept.
type entityCopier struct {
	keep bool
	tmp  []datom.Datom
	blk  []datom.Datom
}

// out returns what tmp holds, to hand to fn.
func (cp *entityCopier) out() []datom.Datom {
	n := len(cp.tmp)
	if !cp.keep || n == 0 {
		return cp.tmp[:n:n]
	}
	if len(cp.blk)+n > cap(cp.blk) {
		cp.blk = make([]datom.Datom, 0, max(256, n))
	}
	i := len(cp.blk)
	cp.blk = append(cp.blk, cp.tmp...)
	return cp.blk[i : i+n : i+n]
}

// leafCursor reads the runs of entities of one EAVT set in increasing
// entity order, a leaf at a time: run is what is left of the leaf last
// sought, and an entity within it needs no new descent.
type leafCursor struct {
	set pss.Set[datom.Datom]
	// ls finds the leaves when it is not set: seeks in entity order land
	// mostly under the branch of the last leaf, which it searches alone.
	ls    pss.LeafSeeker[datom.Datom]
	run   []datom.Datom
	empty bool // no datom at or past the last seek
	cp    *entityCopier
	// it, when set, finds the leaves instead of set.SeekRun, and steps to
	// the next leaf without a descent; on is set once it is positioned.
	it *pss.Iter[datom.Datom]
	on bool
}

// seek returns the datoms from the first of entity e or after, to the end
// of its leaf (nil when there is none).
func (c *leafCursor) seek(ctx context.Context, e datom.ID) ([]datom.Datom, error) {
	if c.it == nil {
		// The first datom >= (e, min, nil, min) is the first whose
		// entity is >= e: searched on the entity alone, without a
		// comparator call per probe.
		return c.ls.Seek(ctx, func(ks []datom.Datom) int { return searchIDs(ks, false, e, math.MinInt64) })
	}
	c.on = true
	if !c.it.SeekGE(datom.Datom{E: e, A: math.MinInt64, Tx: math.MinInt64}) {
		return nil, c.it.Err()
	}
	return c.it.Run(), nil
}

// next returns the leaf after the one c.run is in, or nil at the end; last
// is that leaf's last datom.
func (c *leafCursor) next(ctx context.Context, last datom.Datom) ([]datom.Datom, error) {
	if c.it == nil {
		// The first datom > last, compared on the ids first: the
		// comparator is called only for datoms of last's entity and
		// attribute.
		return c.ls.Next(ctx, func(ks []datom.Datom) int {
			l, h := 0, len(ks)
			for l < h {
				m := int(uint(l+h) >> 1)
				if k := &ks[m]; k.E < last.E || (k.E == last.E && (k.A < last.A || (k.A == last.A && datom.CompareEAVT(*k, last) <= 0))) {
					l = m + 1
				} else {
					h = m
				}
			}
			return l
		})
	}
	if !c.it.NextRun() {
		return nil, c.it.Err()
	}
	return c.it.Run(), nil
}

// at returns the datoms of entity e (greater than the entities asked for
// before), ds then more: a view of a leaf; with cp.keep, views of the
// end of one leaf and the start of the next; otherwise a copy.
func (c *leafCursor) at(ctx context.Context, e datom.ID) (ds, more []datom.Datom, err error) {
	if c.empty {
		return nil, nil, nil
	}
	if len(c.run) == 0 || c.run[len(c.run)-1].E < e {
		var run []datom.Datom
		if c.on {
			// Try the next leaf first: the entities asked for are
			// usually close together.
			if c.it.NextRun() {
				if run = c.it.Run(); run[len(run)-1].E < e {
					run = nil
				}
			} else {
				err = c.it.Err()
			}
		}
		if len(run) == 0 && err == nil {
			run, err = c.seek(ctx, e)
		}
		if err != nil {
			return nil, nil, err
		}
		if len(run) == 0 {
			c.empty = true
			return nil, nil, nil
		}
		c.run = run
	}
	// The run ends at or past e: skip to e's first datom (usually the
	// first: the ids a pull or an entity walk asks for are often
	// consecutive).
	run := c.run
	lo, hi := 0, len(run)
	if run[0].E >= e {
		hi = 0
	}
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if run[m].E < e {
			lo = m + 1
		} else {
			hi = m
		}
	}
	run = run[lo:]
	n := 0
	for n < len(run) && run[n].E == e {
		n++
	}
	if n < len(run) || n == 0 {
		c.run = run[n:]
		return run[:n:n], nil, nil
	}
	// e's datoms reach the end of the leaf: they may go on in the next,
	// unless its fence says it starts with another entity.
	if c.it == nil {
		if f := c.ls.NextFence(); f.Known && f.Hi != signed(e) {
			c.run = run[n:]
			return run[:n:n], nil, nil
		}
	}
	next, err := c.next(ctx, run[n-1])
	if err != nil {
		return nil, nil, err
	}
	m := prefixOf(next, e)
	switch {
	case m == 0:
		c.run, c.empty = next, len(next) == 0
		return run[:n:n], nil, nil
	case m < len(next) && c.cp.keep:
		c.run = next[m:]
		return run[:n:n], next[:m:m], nil
	}
	cp := c.cp
	cp.tmp = append(append(cp.tmp[:0], run...), next[:m]...)
	for m == len(next) {
		if next, err = c.next(ctx, cp.tmp[len(cp.tmp)-1]); err != nil {
			return nil, nil, err
		}
		m = prefixOf(next, e)
		cp.tmp = append(cp.tmp, next[:m]...)
		if len(next) == 0 {
			break
		}
	}
	c.run, c.empty = next[m:], len(next) == 0
	return cp.out(), nil, nil
}

// prefixOf returns how many datoms at the start of run are entity e's.
func prefixOf(run []datom.Datom, e datom.ID) int {
	m := 0
	for m < len(run) && run[m].E == e {
		m++
	}
	return m
}
