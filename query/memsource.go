package query

import (
	"context"
	"slices"
	"sort"

	"github.com/accretedb/accrete/datom"
)

// MemSource is a Source over datoms held in memory, one sorted slice per
// index. It serves tests (the engine's, pull's and the reference
// evaluator's) and users who want to query plain data with the same
// engine. It is immutable after NewMemSource and safe for concurrent use.
type MemSource struct {
	schema  *datom.Schema
	history bool
	idx     [datom.TEAV + 1][]datom.Datom
	// chunk is the run length of DatomChunks (0: memChunk); tests shorten
	// it to cross run boundaries often.
	chunk int
}

// memChunk is MemSource's default run length for DatomChunks.
const memChunk = 64

var (
	_ Source           = (*MemSource)(nil)
	_ Counter          = (*MemSource)(nil)
	_ ChunkSource      = (*MemSource)(nil)
	_ SplitChunkSource = (*MemSource)(nil)
)

// NewMemSource builds a source from datoms under schema. With history
// false, datoms are replayed in transaction order and only the facts true
// at the end are kept (a retraction cancels the earlier assertion); with
// history true every datom is kept, with its Added flag. AVET holds the
// datoms of indexed attributes and VAET those of ref attributes, as in a
// stored database. NewMemSource keeps no reference to datoms.
func NewMemSource(schema *datom.Schema, datoms []datom.Datom, history bool) *MemSource {
	m := &MemSource{schema: schema, history: history}
	var all []datom.Datom
	if history {
		all = slices.Clone(datoms)
	} else {
		ordered := slices.Clone(datoms)
		slices.SortStableFunc(ordered, func(a, b datom.Datom) int { return cmpInt(a.Tx, b.Tx) })
		live := map[string]int{}
		var buf []byte
		for _, d := range ordered {
			buf = datom.AppendValueKey(datom.AppendValueKey(datom.AppendValueKey(buf[:0], d.E), d.A), d.V)
			if d.Added {
				if _, ok := live[string(buf)]; !ok {
					live[string(buf)] = len(all)
					d.Added = true
					all = append(all, d)
				}
				continue
			}
			if i, ok := live[string(buf)]; ok {
				all[i].Added = false // tombstone, dropped below
				delete(live, string(buf))
			}
		}
		all = slices.DeleteFunc(all, func(d datom.Datom) bool { return !d.Added })
	}
	// Equal strings share one boxed value: an interface holding a string
	// points at a separately allocated header, and scans that compare
	// values would otherwise touch one scattered header per datom.
	boxes := map[string]any{}
	for i := range all {
		if str, ok := all[i].V.(string); ok {
			b, ok := boxes[str]
			if !ok {
				b = all[i].V
				boxes[str] = b
			}
			all[i].V = b
		}
	}
	for _, ix := range []datom.Index{datom.EAVT, datom.AEVT, datom.AVET, datom.VAET, datom.TEAV} {
		var ds []datom.Datom
		for _, d := range all {
			switch ix {
			case datom.AVET:
				if a := m.attr(d.A); a == nil || !a.Indexed() {
					continue
				}
			case datom.VAET:
				if a := m.attr(d.A); a == nil || !a.IsRef() {
					continue
				}
			}
			ds = append(ds, d)
		}
		slices.SortFunc(ds, datom.Comparator(ix))
		m.idx[ix] = ds
	}
	return m
}

func (m *MemSource) attr(id datom.ID) *datom.Attribute {
	if m.schema == nil {
		return nil
	}
	return m.schema.Attr(id)
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Schema returns the schema given to NewMemSource.
func (m *MemSource) Schema() *datom.Schema { return m.schema }

// History reports whether the source keeps retractions.
func (m *MemSource) IsHistory() bool { return m.history }

// cmpComp compares one datom field with a component: ids compare as
// integers, values with datom.CompareValues.
func cmpID(x int64, c any) int {
	if ci, ok := c.(int64); ok {
		return cmpInt(x, ci)
	}
	return datom.CompareValues(x, c)
}

func cmpVal(x, c any) int {
	if xi, ok := x.(int64); ok {
		if ci, ok := c.(int64); ok {
			return cmpInt(xi, ci)
		}
	}
	if xs, ok := x.(string); ok {
		if cs, ok := c.(string); ok {
			switch {
			case xs < cs:
				return -1
			case xs > cs:
				return 1
			}
			return 0
		}
	}
	return datom.CompareValues(x, c)
}

// Datom fields, for componentOrder.
const (
	fieldE = iota
	fieldA
	fieldV
	fieldTx
)

// componentOrder is the order of each index's components, by datom.Index.
var componentOrder = [...][4]uint8{
	datom.EAVT: {fieldE, fieldA, fieldV, fieldTx},
	datom.AEVT: {fieldA, fieldE, fieldV, fieldTx},
	datom.AVET: {fieldA, fieldV, fieldE, fieldTx},
	datom.VAET: {fieldV, fieldA, fieldE, fieldTx},
	datom.TEAV: {fieldTx, fieldE, fieldA, fieldV},
}

// cmpPrefix compares d's leading components, in index idx's order, with
// comps.
func cmpPrefix(idx datom.Index, d *datom.Datom, comps []any) int {
	order := &componentOrder[min(idx, datom.TEAV)]
	for i, c := range comps {
		var r int
		switch order[min(i, 3)] {
		case fieldE:
			r = cmpID(d.E, c)
		case fieldA:
			r = cmpID(d.A, c)
		case fieldV:
			r = cmpVal(d.V, c)
		default:
			r = cmpID(d.Tx, c)
		}
		if r != 0 {
			return r
		}
	}
	return 0
}

// idPrefix returns comps as ids when they are all int64s in positions
// the index keys by an id (EAVT e, a; AEVT a, e), so that searches compare
// integers instead of going through cmpPrefix. ok is false otherwise.
func idPrefix(idx datom.Index, comps []any) (ids [2]int64, ok bool) {
	if (idx != datom.EAVT && idx != datom.AEVT) || len(comps) > 2 {
		return ids, false
	}
	for j, c := range comps {
		x, isID := c.(int64)
		if !isID {
			return ids, false
		}
		ids[j] = x
	}
	return ids, true
}

// cmpIDPrefix is cmpPrefix for an idPrefix of n components.
func cmpIDPrefix(idx datom.Index, d *datom.Datom, ids *[2]int64, n int) int {
	k0, k1 := d.E, d.A
	if idx == datom.AEVT {
		k0, k1 = d.A, d.E
	}
	if n == 0 {
		return 0
	}
	if c := cmpInt(k0, ids[0]); c != 0 || n == 1 {
		return c
	}
	return cmpInt(k1, ids[1])
}

// lower returns the first position whose prefix is >= comps.
func (m *MemSource) lower(idx datom.Index, comps []any) int {
	ds := m.idx[idx]
	if ids, ok := idPrefix(idx, comps); ok {
		n := len(comps)
		return sort.Search(len(ds), func(i int) bool { return cmpIDPrefix(idx, &ds[i], &ids, n) >= 0 })
	}
	return sort.Search(len(ds), func(i int) bool { return cmpPrefix(idx, &ds[i], comps) >= 0 })
}

func (m *MemSource) span(idx datom.Index, comps []any) (int, int) {
	if int(idx) >= len(m.idx) {
		return 0, 0
	}
	ds := m.idx[idx]
	if len(comps) > 4 {
		comps = comps[:4]
	}
	lo := m.lower(idx, comps)
	hi := lo + sort.Search(len(ds)-lo, func(i int) bool { return cmpPrefix(idx, &ds[lo+i], comps) > 0 })
	return lo, hi
}

// Datoms calls fn for the datoms of index idx whose leading components
// equal components, in index order.
func (m *MemSource) Datoms(ctx context.Context, idx datom.Index, components []any, fn func(datom.Datom) bool) error {
	if int(idx) >= len(m.idx) {
		return nil
	}
	if len(components) > 4 {
		components = components[:4]
	}
	ds := m.idx[idx]
	if ids, ok := idPrefix(idx, components); ok {
		n := len(components)
		for i := m.lower(idx, components); i < len(ds) && cmpIDPrefix(idx, &ds[i], &ids, n) == 0; i++ {
			if i&1023 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if !fn(ds[i]) {
				return nil
			}
		}
		return nil
	}
	for i := m.lower(idx, components); i < len(ds) && cmpPrefix(idx, &ds[i], components) == 0; i++ {
		if i&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if !fn(ds[i]) {
			return nil
		}
	}
	return nil
}

// DatomChunks calls fn with consecutive runs of the datoms Datoms would
// yield, views of the source's sorted slices.
func (m *MemSource) DatomChunks(ctx context.Context, idx datom.Index, components []any, fn func([]datom.Datom) bool) error {
	lo, hi := m.span(idx, components)
	return m.chunks(ctx, idx, lo, hi, fn)
}

// chunks hands fn the datoms lo to hi (exclusive) of index idx, in runs.
func (m *MemSource) chunks(ctx context.Context, idx datom.Index, lo, hi int, fn func([]datom.Datom) bool) error {
	ds := m.idx[min(int(idx), len(m.idx)-1)]
	n := m.chunk
	if n <= 0 {
		n = memChunk
	}
	for lo < hi {
		if err := ctx.Err(); err != nil {
			return err
		}
		end := min(lo+n, hi)
		if !fn(ds[lo:end:end]) {
			return nil
		}
		lo = end
	}
	return nil
}

// SplitDatomChunks cuts DatomChunks into at most n parts of about equal
// size (see SplitChunkSource).
func (m *MemSource) SplitDatomChunks(ctx context.Context, idx datom.Index, components []any, n int) ([]func(fn func([]datom.Datom) bool) error, error) {
	lo, hi := m.span(idx, components)
	n = max(1, min(n, hi-lo))
	parts := make([]func(fn func([]datom.Datom) bool) error, n)
	for j := range parts {
		from, to := lo+(hi-lo)*j/n, lo+(hi-lo)*(j+1)/n
		parts[j] = func(fn func([]datom.Datom) bool) error {
			return m.chunks(ctx, idx, from, to, fn)
		}
	}
	return parts, nil
}

// IndexRange calls fn for the AVET datoms of attribute a with start <= V <
// end (nil bounds are open).
func (m *MemSource) IndexRange(ctx context.Context, a datom.ID, start, end any, fn func(datom.Datom) bool) error {
	ds := m.idx[datom.AVET]
	lo := sort.Search(len(ds), func(i int) bool {
		d := &ds[i]
		if d.A != a {
			return d.A > a
		}
		return start == nil || datom.CompareValues(d.V, start) >= 0
	})
	for i := lo; i < len(ds) && ds[i].A == a; i++ {
		if i&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if end != nil && datom.CompareValues(ds[i].V, end) >= 0 {
			return nil
		}
		if !fn(ds[i]) {
			return nil
		}
	}
	return nil
}

// Count returns exactly how many datoms Datoms would yield.
func (m *MemSource) Count(ctx context.Context, idx datom.Index, components []any) (int, error) {
	lo, hi := m.span(idx, components)
	return hi - lo, nil
}

// All returns every datom of the source in EAVT order. The slice is shared:
// callers MUST NOT modify it.
func (m *MemSource) All() []datom.Datom { return m.idx[datom.EAVT] }
