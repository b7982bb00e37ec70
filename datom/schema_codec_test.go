package datom

import (
	"bytes"
	"errors"
	"maps"
	"testing"

	"github.com/accretedb/accrete/edn"
)

func schemaEqual(a, b *Schema) bool {
	if a.schemaOnRead != b.schemaOnRead || !maps.Equal(a.idents, b.idents) || !maps.Equal(a.entids, b.entids) || len(a.attrs) != len(b.attrs) {
		return false
	}
	for id, x := range a.attrs {
		if y := b.attrs[id]; y == nil || !attrEqual(x, y) {
			return false
		}
	}
	return true
}

// testSchemas returns schemas exercising every encoded field.
func testSchemas(t testing.TB) []*Schema {
	boot, _ := Bootstrap(false)
	bootRead, _ := Bootstrap(true)
	d := func(e int64, a ID, v any) Datom {
		return Datom{E: MakeID(PartDB, e), A: a, V: v, Tx: TxID(1), Added: true}
	}
	s, err := boot.Apply([]Datom{
		d(100, DBIdent, edn.Keyword("person/name")), d(100, DBValueType, TypeEntity(TypeString)),
		d(100, DBCardinality, DBCardinalityOne), d(100, DBUnique, DBUniqueIdentity), d(100, DBDoc, "name"),
		d(101, DBIdent, edn.Keyword("person/friend")), d(101, DBValueType, TypeEntity(TypeRef)),
		d(101, DBCardinality, DBCardinalityMany), d(101, DBIsComponent, true), d(101, DBNoHistory, true), d(101, DBIndex, true),
		d(102, DBIdent, edn.Keyword("person/key")), d(102, DBValueType, TypeEntity(TypeTuple)),
		d(102, DBCardinality, DBCardinalityOne), d(102, DBTupleAttrs, edn.Vector{MakeID(PartDB, 100), DBTxInstant}),
		d(103, DBIdent, edn.Keyword("pt")), d(103, DBValueType, TypeEntity(TypeTuple)),
		d(103, DBCardinality, DBCardinalityOne), d(103, DBTupleTypes, edn.Vector{TypeEntity(TypeLong), TypeEntity(TypeDouble)}),
		d(104, DBIdent, edn.Keyword("color/red")),
	})
	if err != nil {
		t.Fatalf("test schema: %v", err)
	}
	renamed, err := s.Apply([]Datom{d(100, DBIdent, edn.Keyword("person/full-name"))})
	if err != nil {
		t.Fatalf("rename: %v", err)
	}
	onRead, err := bootRead.Apply([]Datom{d(100, DBIdent, edn.Keyword("x")), d(100, DBUnique, DBUniqueValue)})
	if err != nil {
		t.Fatalf("schema-on-read: %v", err)
	}
	return []*Schema{boot, bootRead, s, renamed, onRead}
}

func TestSchemaCodecRoundTrip(t *testing.T) {
	for i, s := range testSchemas(t) {
		b, err := MarshalSchema(s)
		if err != nil {
			t.Fatalf("schema %d: MarshalSchema: %v", i, err)
		}
		got, err := UnmarshalSchema(b)
		if err != nil {
			t.Fatalf("schema %d: UnmarshalSchema: %v", i, err)
		}
		if !schemaEqual(got, s) {
			t.Fatalf("schema %d: round trip differs:\n got %+v\nwant %+v", i, got.Attrs(), s.Attrs())
		}
		b2, err := MarshalSchema(got)
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("schema %d: re-marshal differs (%v):\n%x\n%x", i, err, b, b2)
		}
		for cut := 0; cut < len(b); cut += 1 + len(b)/50 {
			if _, err := UnmarshalSchema(b[:cut]); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("schema %d: UnmarshalSchema of %d of %d bytes: err = %v, want ErrCorrupt", i, cut, len(b), err)
			}
		}
		if _, err := UnmarshalSchema(append(b, 0)); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("schema %d: trailing byte accepted: %v", i, err)
		}
	}
}

func FuzzUnmarshalSchema(f *testing.F) {
	for _, s := range testSchemas(f) {
		b, err := MarshalSchema(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := UnmarshalSchema(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not match ErrCorrupt", err)
			}
			return
		}
		b2, err := MarshalSchema(s)
		if err != nil {
			t.Fatalf("re-marshal: %v", err)
		}
		s2, err := UnmarshalSchema(b2)
		if err != nil {
			t.Fatalf("re-unmarshal: %v", err)
		}
		if !schemaEqual(s, s2) {
			t.Fatalf("round trip differs")
		}
	})
}
