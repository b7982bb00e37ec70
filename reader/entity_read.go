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
// entity's datoms in this value, in EAVT order (an empty slice when it has
// none), until fn returns an error, which it returns as it is.
//
// Unlike DatomChunks' runs, ds may be kept: it never changes (it must not
// be modified). It is a view of an index leaf when the entity's datoms lie
// within one leaf and the log tail does not touch the entity, so reading an
// entity usually copies nothing, and the entities of one leaf are read
// with one descent of the tree (query.Entity and pull read the entities a
// reference set names this way). Keeping ds keeps its whole leaf in memory.
// Otherwise (an entity across two leaves, one the log tail changes, or an
// AsOf, Since or History view) ds is a fresh copy.
func (db *DB) EntityDatoms(ctx context.Context, ids []datom.ID, fn func(k int, ds []datom.Datom) error) error {
	for k := 1; k < len(ids); k++ {
		if ids[k] <= ids[k-1] {
			return fmt.Errorf("%w: %d after %d", ErrEntityOrder, ids[k], ids[k-1])
		}
	}
	v := db.v
	if v.history || v.asOf != math.MaxInt64 || v.since >= 0 {
		return db.entityCopies(ctx, ids, fn)
	}
	tree, err := db.trees[curEAVT].get(ctx)
	if err != nil {
		return err
	}
	t := leafCursor{set: tree, empty: tree.Len() == 0}
	a := leafCursor{set: db.ov.adds[curEAVT], empty: db.ov.adds[curEAVT].Len() == 0}
	d := leafCursor{set: db.ov.dels[curEAVT], empty: db.ov.dels[curEAVT].Len() == 0}
	for k, e := range ids {
		if k&63 == 63 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("reader: entity datoms: %w", err)
			}
		}
		rt, err := t.at(ctx, e)
		if err != nil {
			return fmt.Errorf("reader: entity %d: %w", e, err)
		}
		ra, err := a.at(ctx, e)
		if err != nil {
			return fmt.Errorf("reader: entity %d: %w", e, err)
		}
		rd, err := d.at(ctx, e)
		if err != nil {
			return fmt.Errorf("reader: entity %d: %w", e, err)
		}
		var ds []datom.Datom
		switch {
		case len(rd) == 0 && len(ra) == 0:
			ds = rt
		case len(rd) == 0 && len(rt) == 0:
			ds = ra
		default:
			// The tail adds to or deletes from the stored datoms: merge as
			// every scan does.
			if ds, err = db.entityCopy(ctx, e); err != nil {
				return err
			}
		}
		if err := fn(k, ds); err != nil {
			return err
		}
	}
	return nil
}

// entityCopies is EntityDatoms through Datoms, for the views that filter
// the trees.
func (db *DB) entityCopies(ctx context.Context, ids []datom.ID, fn func(k int, ds []datom.Datom) error) error {
	for k, e := range ids {
		ds, err := db.entityCopy(ctx, e)
		if err != nil {
			return err
		}
		if err := fn(k, ds); err != nil {
			return err
		}
	}
	return nil
}

// entityCopy returns a fresh copy of the datoms of entity e.
func (db *DB) entityCopy(ctx context.Context, e datom.ID) ([]datom.Datom, error) {
	var ds []datom.Datom
	lo, hi := bounds(datom.EAVT, []any{e})
	err := db.scan(ctx, curEAVT, lo, hi, func(d datom.Datom) bool {
		ds = append(ds, d)
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("reader: entity %d: %w", e, err)
	}
	return ds, nil
}

// leafCursor reads the runs of entities of one EAVT set in increasing
// entity order, a leaf at a time: run is what is left of the leaf last
// sought, and an entity within it needs no new descent.
type leafCursor struct {
	set   pss.Set[datom.Datom]
	run   []datom.Datom
	empty bool // no datom at or past the last seek
}

// at returns the datoms of entity e (greater than the entities asked for
// before): a view of a leaf, or a copy when they span leaves.
func (c *leafCursor) at(ctx context.Context, e datom.ID) ([]datom.Datom, error) {
	if c.empty {
		return nil, nil
	}
	if len(c.run) == 0 || c.run[len(c.run)-1].E < e {
		run, err := c.set.SeekRun(ctx, datom.Datom{E: e, A: math.MinInt64, Tx: math.MinInt64})
		if err != nil {
			return nil, err
		}
		if len(run) == 0 {
			c.empty = true
			return nil, nil
		}
		c.run = run
	}
	// The run ends at or past e: skip to e's first datom.
	run := c.run
	lo, hi := 0, len(run)
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
		return run[:n:n], nil
	}
	// e's datoms reach the end of the leaf: they may go on in the next.
	out := append([]datom.Datom(nil), run...)
	for {
		next, err := c.set.SeekRun(ctx, eavtAfter(out[len(out)-1]))
		if err != nil {
			return nil, err
		}
		if len(next) == 0 {
			c.run, c.empty = nil, true
			return out, nil
		}
		m := 0
		for m < len(next) && next[m].E == e {
			m++
		}
		out = append(out, next[:m]...)
		if m < len(next) {
			c.run = next[m:]
			return out, nil
		}
	}
}

// eavtAfter returns the smallest key EAVT orders after d (nothing sorts
// between them: Added false < true, then the next tx).
func eavtAfter(d datom.Datom) datom.Datom {
	if !d.Added {
		d.Added = true
		return d
	}
	d.Tx++
	d.Added = false
	return d
}
