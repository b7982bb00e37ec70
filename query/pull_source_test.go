package query

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
)

// pullSource is a tiny in-memory Source for the pull and entity tests: the
// datoms sorted once per index, prefix scans by binary search. It counts
// scans so tests can check how many a pull makes.
type pullSource struct {
	schema  *datom.Schema
	idx     [4][]datom.Datom
	history bool
	scans   int
}

var _ Source = (*pullSource)(nil)

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
	src := &pullSource{schema: schema}
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
	for i := range src.idx {
		idx := datom.Index(i)
		if idx == datom.AVET || idx == datom.VAET {
			var sub []datom.Datom
			for _, d := range ds {
				a := schema.Attr(d.A)
				if idx == datom.AVET && a.Indexed() || idx == datom.VAET && a.IsRef() {
					sub = append(sub, d)
				}
			}
			src.idx[i] = sub
		} else {
			src.idx[i] = slices.Clone(ds)
		}
		slices.SortFunc(src.idx[i], func(a, b datom.Datom) int { return pullCompareKeys(pullKeyOf(idx, a), pullKeyOf(idx, b), 4) })
	}
	return src
}

func (s *pullSource) Schema() *datom.Schema { return s.schema }
func (s *pullSource) History() bool         { return s.history }

func (s *pullSource) Datoms(ctx context.Context, idx datom.Index, comps []any, fn func(datom.Datom) bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if int(idx) >= len(s.idx) {
		return fmt.Errorf("pullSource: index %d not supported", idx)
	}
	s.scans++
	ds := s.idx[idx]
	n := len(comps)
	i, _ := slices.BinarySearchFunc(ds, comps, func(d datom.Datom, c []any) int {
		return pullComparePrefix(idx, d, c, n)
	})
	for ; i < len(ds); i++ {
		if pullComparePrefix(idx, ds[i], comps, n) != 0 {
			break
		}
		if !fn(ds[i]) {
			break
		}
	}
	return nil
}

func (s *pullSource) IndexRange(ctx context.Context, a datom.ID, start, end any, fn func(datom.Datom) bool) error {
	return fmt.Errorf("pullSource: IndexRange not needed by pull")
}

// pullComparePrefix compares the first n components of d in index order with
// comps, without allocating.
func pullComparePrefix(idx datom.Index, d datom.Datom, comps []any, n int) int {
	for i := 0; i < n; i++ {
		var c int
		switch pullFieldOf(idx, i) {
		case 'e':
			c = cmp.Compare(d.E, comps[i].(int64))
		case 'a':
			c = cmp.Compare(d.A, comps[i].(int64))
		case 'v':
			c = pullCompareValues(d.V, comps[i])
		case 't':
			c = cmp.Compare(d.Tx, comps[i].(int64))
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

func pullFieldOf(idx datom.Index, i int) byte {
	switch idx {
	case datom.EAVT:
		return "eavt"[i]
	case datom.AEVT:
		return "aevt"[i]
	case datom.AVET:
		return "avet"[i]
	}
	return "vaet"[i]
}

func pullKeyOf(idx datom.Index, d datom.Datom) []any {
	switch idx {
	case datom.EAVT:
		return []any{d.E, d.A, d.V, d.Tx}
	case datom.AEVT:
		return []any{d.A, d.E, d.V, d.Tx}
	case datom.AVET:
		return []any{d.A, d.V, d.E, d.Tx}
	default:
		return []any{d.V, d.A, d.E, d.Tx}
	}
}

func pullCompareKeys(a, b []any, n int) int {
	for i := 0; i < n && i < len(a) && i < len(b); i++ {
		if c := pullCompareValues(a[i], b[i]); c != 0 {
			return c
		}
	}
	return 0
}

// pullCompareValues orders the value types the fixtures use: numbers, then
// strings, then keywords, then booleans.
func pullCompareValues(a, b any) int {
	ra, rb := pullRank(a), pullRank(b)
	if ra != rb {
		return cmp.Compare(ra, rb)
	}
	switch x := a.(type) {
	case int64:
		return cmp.Compare(x, b.(int64))
	case float64:
		return cmp.Compare(x, b.(float64))
	case string:
		return strings.Compare(x, b.(string))
	case edn.Keyword:
		return strings.Compare(string(x), string(b.(edn.Keyword)))
	case bool:
		return cmp.Compare(pullBoolInt(x), pullBoolInt(b.(bool)))
	}
	panic(fmt.Sprintf("compareTestValues: %T", a))
}

func pullBoolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func pullRank(v any) int {
	switch v.(type) {
	case int64:
		return 0
	case float64:
		return 1
	case string:
		return 2
	case edn.Keyword:
		return 3
	case bool:
		return 4
	}
	panic(fmt.Sprintf("testRank: %T", v))
}
