package query

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
)

// Test databases are written in EDN: a schema (a vector of attribute maps,
// as transacted in Datomic) and data (entity maps with an explicit :db/id,
// or datoms [e :attr v] / [e :attr v tx] / [e :attr v tx added]). User
// entity ids are small integers (≥ 1000) so expected results stay
// readable; attributes get ids 100, 101, … in schema order; the default
// transaction is 5001.

const defaultTx = 5001

// buildSchema installs the attribute maps of schemaEDN on a bootstrap
// schema and returns it with all schema datoms.
func buildSchema(t testing.TB, schemaEDN string) (*datom.Schema, []datom.Datom) {
	t.Helper()
	base, boot := datom.Bootstrap(false)
	v, err := edn.Read([]byte(schemaEDN))
	if err != nil {
		t.Fatalf("schema EDN: %v", err)
	}
	attrs, _ := asVec(v)
	var ds []datom.Datom
	for i, a := range attrs {
		m, ok := a.(edn.Map)
		if !ok {
			t.Fatalf("schema entry %d is not a map", i)
		}
		e := datom.MakeID(datom.PartDB, 100+int64(i))
		for _, en := range m {
			k := en.Key.(edn.Keyword)
			id, ok := base.Entid(k)
			if !ok {
				t.Fatalf("schema: unknown attribute %s", k)
			}
			val := en.Val
			if kw, ok := val.(edn.Keyword); ok && k != "db/ident" {
				if ref, ok := base.Entid(kw); ok {
					val = ref
				}
			}
			ds = append(ds, datom.Datom{E: e, A: id, V: val, Tx: 1, Added: true})
		}
	}
	s, err := base.Apply(ds)
	if err != nil {
		t.Fatalf("schema apply: %v", err)
	}
	return s, append(boot, ds...)
}

// buildData turns dataEDN into datoms under schema s.
func buildData(t testing.TB, s *datom.Schema, dataEDN string) []datom.Datom {
	t.Helper()
	v, err := edn.Read([]byte(dataEDN))
	if err != nil {
		t.Fatalf("data EDN: %v", err)
	}
	items, _ := asVec(v)
	var ds []datom.Datom
	attrOf := func(x any) *datom.Attribute {
		kw, _ := x.(edn.Keyword)
		a := s.AttrByIdent(kw)
		if a == nil {
			t.Fatalf("data: unknown attribute %s", qString(x))
		}
		return a
	}
	val := func(a *datom.Attribute, x any) any {
		if a.IsRef() {
			if kw, ok := x.(edn.Keyword); ok {
				id, ok := s.Entid(kw)
				if !ok {
					t.Fatalf("data: unknown ident %s", kw)
				}
				return id
			}
		}
		return x
	}
	for _, it := range items {
		switch x := it.(type) {
		case edn.Map:
			idv, ok := x.Get(edn.Keyword("db/id"))
			if !ok {
				t.Fatalf("data: entity map without :db/id: %s", qString(x))
			}
			e := idv.(int64)
			for _, en := range x {
				if en.Key == edn.Keyword("db/id") {
					continue
				}
				a := attrOf(en.Key)
				vals := []any{en.Val}
				if a.Cardinality == datom.CardinalityMany {
					if vs, ok := asVec(en.Val); ok {
						vals = vs
					}
				}
				for _, vv := range vals {
					ds = append(ds, datom.Datom{E: e, A: a.ID, V: val(a, vv), Tx: defaultTx, Added: true})
				}
			}
		case edn.Vector:
			if len(x) < 3 {
				t.Fatalf("data: short datom %s", qString(x))
			}
			a := attrOf(x[1])
			d := datom.Datom{E: x[0].(int64), A: a.ID, V: val(a, x[2]), Tx: defaultTx, Added: true}
			if len(x) > 3 {
				d.Tx = x[3].(int64)
			}
			if len(x) > 4 {
				d.Added = x[4].(bool)
			}
			ds = append(ds, d)
		default:
			t.Fatalf("data: unexpected %s", qString(it))
		}
	}
	return ds
}

// buildDB builds a MemSource from schema and data EDN.
func buildDB(t testing.TB, schemaEDN, dataEDN string, history bool) *MemSource {
	t.Helper()
	s, sds := buildSchema(t, schemaEDN)
	return NewMemSource(s, append(sds, buildData(t, s, dataEDN)...), history)
}

// canon prints v as EDN with every set and map sorted, so that results
// compare independently of order where order is unspecified.
func canon(v any) string {
	switch x := v.(type) {
	case edn.Set:
		return "#{" + strings.Join(sortedCanon(x), " ") + "}"
	case edn.Map:
		var es []string
		for _, e := range x {
			es = append(es, canon(e.Key)+" "+canon(e.Val))
		}
		sort.Strings(es)
		return "{" + strings.Join(es, ", ") + "}"
	case map[edn.Keyword]any:
		var es []string
		for k, e := range x {
			es = append(es, canon(k)+" "+canon(e))
		}
		sort.Strings(es)
		return "{" + strings.Join(es, ", ") + "}"
	case map[string]any:
		var es []string
		for k, e := range x {
			es = append(es, canon(k)+" "+canon(e))
		}
		sort.Strings(es)
		return "{" + strings.Join(es, ", ") + "}"
	case map[edn.Symbol]any:
		var es []string
		for k, e := range x {
			es = append(es, canon(k)+" "+canon(e))
		}
		sort.Strings(es)
		return "{" + strings.Join(es, ", ") + "}"
	case edn.Vector:
		return "[" + strings.Join(mapCanon(x), " ") + "]"
	case []any:
		return "[" + strings.Join(mapCanon(x), " ") + "]"
	case edn.List:
		return "(" + strings.Join(mapCanon(x), " ") + ")"
	}
	return qString(v)
}

func mapCanon(xs []any) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = canon(x)
	}
	return out
}

func sortedCanon(xs []any) []string {
	out := mapCanon(xs)
	slices.SortFunc(out, cmp.Compare)
	return out
}

// canonResult prints a query result for comparison with an expected EDN
// value: relations, collections and :keys results are unordered.
func canonResult(kind findKind, keyed bool, v any) string {
	if kind == findRel || kind == findColl {
		var xs []any
		switch r := v.(type) {
		case Relation:
			for _, t := range r {
				xs = append(xs, edn.Vector(t))
			}
		case []map[edn.Keyword]any:
			for _, m := range r {
				xs = append(xs, m)
			}
		case []map[string]any:
			for _, m := range r {
				xs = append(xs, m)
			}
		case []map[edn.Symbol]any:
			for _, m := range r {
				xs = append(xs, m)
			}
		default:
			s, ok := asSeq(v)
			if !ok && v != nil {
				return fmt.Sprintf("<%T %v>", v, v)
			}
			xs = s
		}
		return "#{" + strings.Join(sortedCanon(xs), " ") + "}"
	}
	return canon(v)
}

func datomOf(e, a datom.ID, v any) datom.Datom {
	return datom.Datom{E: e, A: a, V: v, Tx: defaultTx, Added: true}
}
