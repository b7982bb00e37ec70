package datom

import (
	"bytes"
	"testing"

	"github.com/accretedb/accrete/edn"
)

// TestSchemaApplyRandom applies random schema transactions, valid or not,
// and checks after each: a failed Apply leaves the receiver unchanged; a
// successful one yields a schema that passes the decoder's validation and
// survives MarshalSchema/UnmarshalSchema.
func TestSchemaApplyRandom(t *testing.T) {
	r := newRand(t)
	idents := []edn.Keyword{"a/x", "a/y", "b/x", "b/y", "c", "d/z"}
	schemaAttrs := []ID{DBIdent, DBValueType, DBCardinality, DBUnique, DBIsComponent, DBIndex, DBNoHistory, DBDoc, DBTupleAttrs, DBTupleTypes}
	randV := func(a ID) any {
		switch a {
		case DBIdent:
			return idents[r.IntN(len(idents))]
		case DBValueType:
			if r.IntN(4) == 0 {
				return TypeEntity(TypeRef)
			}
			return TypeEntity(ValueType(1 + r.IntN(int(TypeTuple))))
		case DBCardinality:
			return []any{DBCardinalityOne, DBCardinalityMany, edn.Keyword("db.cardinality/many"), int64(5)}[r.IntN(4)]
		case DBUnique:
			return []any{DBUniqueValue, DBUniqueIdentity, edn.Keyword("db.unique/identity")}[r.IntN(3)]
		case DBIsComponent, DBIndex, DBNoHistory:
			return r.IntN(2) == 0
		case DBDoc:
			return []string{"", "doc"}[r.IntN(2)]
		case DBTupleAttrs:
			return edn.Vector{idents[r.IntN(len(idents))], MakeID(PartDB, 100+int64(r.IntN(6)))}
		}
		return edn.Vector{TypeEntity(TypeLong), edn.Keyword("db.type/string")}
	}
	for _, onRead := range []bool{false, true} {
		s, _ := Bootstrap(onRead)
		applied := 0
		for step := 0; step < 3000; step++ {
			var ds []Datom
			for n := 1 + r.IntN(5); n > 0; n-- {
				a := schemaAttrs[r.IntN(len(schemaAttrs))]
				if r.IntN(3) == 0 {
					a = schemaAttrs[r.IntN(3)] // favour ident, type, cardinality
				}
				ds = append(ds, Datom{E: MakeID(PartDB, 100+int64(r.IntN(6))), A: a, V: randV(a), Tx: TxID(int64(step)), Added: r.IntN(5) != 0})
			}
			before, err := MarshalSchema(s)
			if err != nil {
				t.Fatal(err)
			}
			ns, err := s.Apply(ds)
			after, _ := MarshalSchema(s)
			if !bytes.Equal(before, after) {
				t.Fatalf("step %d: Apply modified its receiver (datoms %v, err %v)", step, ds, err)
			}
			if err != nil {
				continue
			}
			applied++
			if err := ns.validate(); err != nil {
				t.Fatalf("step %d: schema after %v is invalid: %v", step, ds, err)
			}
			b, _ := MarshalSchema(ns)
			got, err := UnmarshalSchema(b)
			if err != nil || !schemaEqual(got, ns) {
				t.Fatalf("step %d: round trip: %v", step, err)
			}
			for id, a := range ns.attrs {
				if kw, ok := ns.idents[id]; !ok || kw != a.Ident || ns.entids[kw] != id {
					t.Fatalf("step %d: attribute %d ident %q not consistent with idents", step, id, a.Ident)
				}
			}
			s = ns
		}
		if applied < 100 {
			t.Errorf("schema-on-read=%v: only %d of 3000 random transactions applied; the generator is too hostile", onRead, applied)
		}
		t.Logf("schema-on-read=%v: %d transactions applied, %d attributes", onRead, applied, len(s.attrs))
	}
}
