package query

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
)

// pullSource is the MemSource the pull and entity tests run on, counting
// the scans pull makes.
type pullSource struct {
	*MemSource
	scans atomic.Int64
}

var _ Source = (*pullSource)(nil)

// Datoms counts the scan and delegates to the MemSource.
func (s *pullSource) Datoms(ctx context.Context, idx datom.Index, comps []any, fn func(datom.Datom) bool) error {
	s.scans.Add(1)
	return s.MemSource.Datoms(ctx, idx, comps, fn)
}

// pullTestAttr declares one attribute of a test schema.
type pullTestAttr struct {
	ident     edn.Keyword
	vt        datom.ValueType
	many      bool
	unique    datom.Unique
	component bool
}

// newPullSource builds a source from attribute declarations (installed at
// ids 100, 101, ... in order), enum idents (entity id -> keyword) and
// datoms written as [e attr-keyword v]. It holds the bootstrap and schema
// datoms too, as a real database does.
func newPullSource(attrs []pullTestAttr, idents map[datom.ID]edn.Keyword, facts [][3]any) *pullSource {
	return newPullSourceHistory(attrs, idents, facts, false)
}

// newPullSourceHistory is newPullSource with the history flag.
func newPullSourceHistory(attrs []pullTestAttr, idents map[datom.ID]edn.Keyword, facts [][3]any, history bool) *pullSource {
	var all []*datom.Attribute
	byIdent := map[edn.Keyword]*datom.Attribute{}
	for i, a := range attrs {
		at := &datom.Attribute{ID: datom.MakeID(datom.PartDB, datom.DBReserved+int64(i)), Ident: a.ident, ValueType: a.vt, Unique: a.unique, IsComponent: a.component}
		if a.many {
			at.Cardinality = datom.CardinalityMany
		}
		all = append(all, at)
		byIdent[a.ident] = at
	}
	schema, ds := newPullTestSchema(all, idents)
	for _, f := range facts {
		a, ok := byIdent[f[1].(edn.Keyword)]
		if !ok {
			panic(fmt.Sprintf("test fixture: unknown attribute %v", f[1]))
		}
		v := f[2]
		if n, ok := v.(int); ok {
			v = int64(n)
		}
		ds = append(ds, datom.Datom{E: datom.ID(f[0].(int)), A: a.ID, V: v, Tx: datom.TxID(1), Added: true})
	}
	return &pullSource{MemSource: NewMemSource(schema, ds, history)}
}

// pullLeanSource serves EAVT and VAET scans from per-entity slices found by
// hashing, with no boxing. The benchmarks run on it besides MemSource to
// tell pull's own cost from the source's.
type pullLeanSource struct {
	schema *datom.Schema
	byE    map[datom.ID][]datom.Datom // EAVT order within an entity
	byV    map[datom.ID][]datom.Datom // ref datoms by target, VAET order
}

var _ Source = (*pullLeanSource)(nil)

func newPullLeanSource(m *MemSource) *pullLeanSource {
	s := &pullLeanSource{schema: m.Schema(), byE: map[datom.ID][]datom.Datom{}, byV: map[datom.ID][]datom.Datom{}}
	for _, d := range m.All() {
		s.byE[d.E] = append(s.byE[d.E], d)
	}
	_ = m.Datoms(context.Background(), datom.VAET, nil, func(d datom.Datom) bool {
		v := d.V.(int64)
		s.byV[v] = append(s.byV[v], d)
		return true
	})
	return s
}

func (s *pullLeanSource) Schema() *datom.Schema { return s.schema }
func (s *pullLeanSource) IsHistory() bool       { return false }

func (s *pullLeanSource) Datoms(ctx context.Context, idx datom.Index, comps []any, fn func(datom.Datom) bool) error {
	var ds []datom.Datom
	switch idx {
	case datom.EAVT:
		ds = s.byE[comps[0].(int64)]
	case datom.VAET:
		ds = s.byV[comps[0].(int64)]
	default:
		return fmt.Errorf("pullLeanSource: index %v not supported", idx)
	}
	if len(comps) > 2 {
		return fmt.Errorf("pullLeanSource: %d components not supported", len(comps))
	}
	for _, d := range ds {
		if len(comps) == 2 && d.A != comps[1].(int64) {
			continue
		}
		if !fn(d) {
			return nil
		}
	}
	return nil
}

func (s *pullLeanSource) IndexRange(ctx context.Context, a datom.ID, start, end any, fn func(datom.Datom) bool) error {
	return fmt.Errorf("pullLeanSource: IndexRange not supported")
}

// pullSeekSource adds SeekDatoms (on EAVT) to a pullSource, so that pull
// and Entity read many entities in ordered passes; seeks counts them.
type pullSeekSource struct {
	*pullSource
	seeks atomic.Int64
}

var _ pullSeeker = (*pullSeekSource)(nil)

func (s *pullSeekSource) SeekDatoms(ctx context.Context, idx datom.Index, comps []any, fn func(datom.Datom) bool) error {
	if idx != datom.EAVT || len(comps) != 1 {
		return fmt.Errorf("pullSeekSource: only EAVT from an entity")
	}
	s.seeks.Add(1)
	e := comps[0].(int64)
	all := s.All()
	i, _ := slices.BinarySearchFunc(all, e, func(d datom.Datom, e int64) int { return cmpInt(d.E, e) })
	for _, d := range all[i:] {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !fn(d) {
			return nil
		}
	}
	return nil
}

// pullChunkSeekSource adds SeekDatomChunks (on EAVT, in runs of 3 datoms)
// to a pullSource; seeks counts them.
type pullChunkSeekSource struct {
	*pullSource
	seeks atomic.Int64
}

var _ pullSeekChunker = (*pullChunkSeekSource)(nil)

func (s *pullChunkSeekSource) SeekDatomChunks(ctx context.Context, idx datom.Index, comps []any, fn func([]datom.Datom) bool) error {
	if idx != datom.EAVT || len(comps) != 1 {
		return fmt.Errorf("pullChunkSeekSource: only EAVT from an entity")
	}
	s.seeks.Add(1)
	e := comps[0].(int64)
	all := s.All()
	i, _ := slices.BinarySearchFunc(all, e, func(d datom.Datom, e int64) int { return cmpInt(d.E, e) })
	for ; i < len(all); i += 3 {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !fn(all[i:min(i+3, len(all))]) {
			return nil
		}
	}
	return nil
}

// pullReadSource adds EntityDatoms (entityReader) to a pullSource, as
// reader.DB has it, with its contract made strict: with keep, an entity's
// datoms come as fresh slices (never changed afterwards) split at a random
// point into ds and more, to exercise entities across two leaves; without
// keep, as one buffer that is overwritten after each call, so that
// whoever keeps it reads garbage. reads counts calls.
type pullReadSource struct {
	*pullSource
	reads atomic.Int64
	split atomic.Uint64 // a counter that chooses where to split
}

var _ entityReader = (*pullReadSource)(nil)

func (s *pullReadSource) EntityDatoms(ctx context.Context, ids []datom.ID, keep bool, fn func(k int, ds, more []datom.Datom) error) error {
	s.reads.Add(1)
	for k := 1; k < len(ids); k++ {
		if ids[k] <= ids[k-1] {
			return fmt.Errorf("pullReadSource: ids out of order: %v", ids)
		}
	}
	all := s.All()
	var buf []datom.Datom
	for k, e := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		lo, _ := slices.BinarySearchFunc(all, e, func(d datom.Datom, e int64) int { return cmpInt(d.E, e) })
		hi := lo
		for hi < len(all) && all[hi].E == e {
			hi++
		}
		var err error
		if keep {
			ds := slices.Clip(slices.Clone(all[lo:hi]))
			cut := 0
			if len(ds) > 0 {
				cut = int(s.split.Add(1) % uint64(len(ds)+1))
			}
			err = fn(k, ds[:cut:cut], ds[cut:])
		} else {
			buf = append(buf[:0], all[lo:hi]...)
			err = fn(k, buf, nil)
			for i := range buf {
				buf[i] = datom.Datom{E: -1, A: -1, V: "clobbered"}
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}
