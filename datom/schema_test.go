package datom

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/accretedb/accrete/edn"
)

// tx builds the datoms of one test transaction: each op is
// {e, attr ident, value} asserted, or with a leading "-" retracted.
type op struct {
	e    int64 // n in PartDB
	attr string
	v    any
}

func txDatoms(t *testing.T, s *Schema, ops []op) []Datom {
	t.Helper()
	var ds []Datom
	for _, o := range ops {
		added := true
		name := o.attr
		if strings.HasPrefix(name, "-") {
			added, name = false, name[1:]
		}
		a, ok := s.Entid(edn.Keyword(name))
		if !ok {
			t.Fatalf("test bug: unknown attribute %s", name)
		}
		ds = append(ds, Datom{E: MakeID(PartDB, o.e), A: a, V: o.v, Tx: TxID(1), Added: added})
	}
	return ds
}

func kw(s string) edn.Keyword { return edn.Keyword(s) }

func TestBootstrap(t *testing.T) {
	s, ds := Bootstrap(false)
	if s.SchemaOnRead() {
		t.Errorf("SchemaOnRead() = true, want false")
	}
	if !slices.IsSortedFunc(ds, CompareEAVT) {
		t.Errorf("bootstrap datoms not in EAVT order")
	}
	for _, b := range builtinAttrs {
		a := s.Attr(b.id)
		if a == nil || a.Ident != b.ident || a.ValueType != b.vt || a.Unique != b.uniq || a.Cardinality != CardinalityOne {
			t.Errorf("Attr(%d) = %+v, want %s %s unique %s", b.id, a, b.ident, b.vt, b.uniq)
		}
		if got := s.AttrByIdent(b.ident); got != a {
			t.Errorf("AttrByIdent(%s) = %+v, want %+v", b.ident, got, a)
		}
	}
	if a := s.AttrByIdent("db/txInstant"); a == nil || !a.Indexed() || a.ValueType != TypeInstant {
		t.Errorf(":db/txInstant = %+v, want an indexed instant", a)
	}
	for vt := TypeBoolean; vt <= TypeTuple; vt++ {
		if id, ok := s.Entid(vt.Ident()); !ok || id != TypeEntity(vt) {
			t.Errorf("Entid(%s) = %d, %v; want %d", vt.Ident(), id, ok, TypeEntity(vt))
		}
	}
	for k, want := range map[string]ID{"db.cardinality/one": DBCardinalityOne, "db.cardinality/many": DBCardinalityMany,
		"db.unique/value": DBUniqueValue, "db.unique/identity": DBUniqueIdentity} {
		if id, ok := s.Entid(kw(k)); !ok || id != want {
			t.Errorf("Entid(:%s) = %d, %v; want %d", k, id, ok, want)
		}
		if got, ok := s.Ident(want); !ok || got != kw(k) {
			t.Errorf("Ident(%d) = %s, %v; want :%s", want, got, ok, k)
		}
	}
	if got, want := len(s.Attrs()), len(builtinAttrs); got != want {
		t.Errorf("len(Attrs()) = %d, want %d", got, want)
	}
	if s2, _ := Bootstrap(true); !s2.SchemaOnRead() {
		t.Errorf("Bootstrap(true).SchemaOnRead() = false")
	}
}

func TestSchemaApply(t *testing.T) {
	const name, tags, friend, enum = 100, 101, 102, 103
	install := []op{
		{name, "db/ident", kw("person/name")},
		{name, "db/valueType", TypeEntity(TypeString)},
		{name, "db/cardinality", kw("db.cardinality/one")}, // idents resolve too
		{name, "db/unique", DBUniqueIdentity},
		{name, "db/doc", "a person's name"},
		{tags, "db/ident", kw("person/tags")},
		{tags, "db/valueType", kw("db.type/keyword")},
		{tags, "db/cardinality", DBCardinalityMany},
		{friend, "db/ident", kw("person/friend")},
		{friend, "db/valueType", TypeEntity(TypeRef)},
		{friend, "db/cardinality", DBCardinalityMany},
		{friend, "db/isComponent", true},
		{enum, "db/ident", kw("color/red")},
	}
	base, _ := Bootstrap(false)
	s1, err := base.Apply(txDatoms(t, base, install))
	if err != nil {
		t.Fatalf("install: %v", err)
	}
	if base.AttrByIdent("person/name") != nil {
		t.Fatalf("Apply modified its receiver")
	}
	a := s1.AttrByIdent("person/name")
	if a == nil || a.ValueType != TypeString || a.Cardinality != CardinalityOne || a.Unique != UniqueIdentity || a.Doc != "a person's name" || !a.Indexed() {
		t.Fatalf("person/name = %+v", a)
	}
	if a := s1.Attr(MakeID(PartDB, friend)); a == nil || !a.IsComponent || !a.IsRef() || a.Cardinality != CardinalityMany {
		t.Fatalf("person/friend = %+v", a)
	}
	if id, ok := s1.Entid("color/red"); !ok || id != enum || s1.Attr(id) != nil {
		t.Fatalf("enum ident: Entid = %d, %v, Attr = %v; want %d, true, nil", id, ok, s1.Attr(id), enum)
	}
	if got, err := s1.Apply([]Datom{{E: MakeID(PartUser, 1), A: DBTxInstant + 100, V: "x", Added: true}}); err != nil || got != s1 {
		t.Errorf("Apply of non-schema datoms = %p, %v; want the receiver %p, nil", got, err, s1)
	}

	good := []struct {
		name  string
		ops   []op
		check func(t *testing.T, s *Schema)
	}{
		{"cardinality one to many", []op{{tags, "-db/cardinality", DBCardinalityMany}, {tags, "db/cardinality", DBCardinalityOne}},
			func(t *testing.T, s *Schema) {
				if got := s.Attr(tags).Cardinality; got != CardinalityOne {
					t.Errorf("cardinality = %s, want one", got)
				}
				if got := s.ChangedConstraints(s1); !slices.Equal(got, []ID{tags}) {
					t.Errorf("ChangedConstraints = %v, want [%d]", got, tags)
				}
			}},
		{"drop unique, add index, noHistory", []op{{name, "-db/unique", DBUniqueIdentity}, {name, "db/index", true}, {name, "db/noHistory", true}},
			func(t *testing.T, s *Schema) {
				a := s.Attr(name)
				if a.Unique != UniqueNone || !a.Index || !a.NoHistory {
					t.Errorf("person/name = %+v", a)
				}
				if got := s.ChangedConstraints(s1); len(got) != 0 {
					t.Errorf("ChangedConstraints = %v, want none", got)
				}
			}},
		{"add unique value", []op{{tags, "db/unique", kw("db.unique/value")}},
			func(t *testing.T, s *Schema) {
				if got := s.ChangedConstraints(s1); !slices.Equal(got, []ID{tags}) {
					t.Errorf("ChangedConstraints = %v, want [%d]", got, tags)
				}
			}},
		{"rename attribute keeps old ident", []op{{name, "db/ident", kw("person/full-name")}},
			func(t *testing.T, s *Schema) {
				if a := s.AttrByIdent("person/full-name"); a == nil || a.ID != name || a.Ident != "person/full-name" {
					t.Errorf("new name: %+v", a)
				}
				if a := s.AttrByIdent("person/name"); a == nil || a.ID != name {
					t.Errorf("old name no longer resolves: %+v", a)
				}
				if k, _ := s.Ident(name); k != "person/full-name" {
					t.Errorf("Ident = %s", k)
				}
			}},
		{"rename as retract + assert keeps old ident", []op{{name, "-db/ident", kw("person/name")}, {name, "db/ident", kw("person/full-name")}},
			func(t *testing.T, s *Schema) {
				if a := s.AttrByIdent("person/name"); a == nil || a.ID != name || a.Ident != "person/full-name" {
					t.Errorf("old name: %+v", a)
				}
				if a := s.AttrByIdent("person/full-name"); a == nil || a.ID != name {
					t.Errorf("new name: %+v", a)
				}
			}},
		{"old ident reused by another entity", []op{{name, "db/ident", kw("person/full-name")}, {enum, "-db/ident", kw("color/red")}, {enum, "db/ident", kw("color/crimson")}},
			func(t *testing.T, s *Schema) {
				s2, err := s.Apply([]Datom{{E: MakeID(PartDB, 130), A: DBIdent, V: kw("person/name"), Tx: TxID(2), Added: true}})
				if err != nil {
					t.Fatalf("reuse old name: %v", err)
				}
				if id, _ := s2.Entid("person/name"); id != 130 {
					t.Errorf("Entid(person/name) = %d, want 130", id)
				}
				if a := s2.AttrByIdent("person/full-name"); a == nil || a.ID != name {
					t.Errorf("renamed attribute lost: %+v", a)
				}
				if id, _ := s.Entid("color/red"); id != enum {
					t.Errorf("enum's old name: Entid = %d, want %d", id, enum)
				}
			}},
		{"retract enum ident", []op{{enum, "-db/ident", kw("color/red")}},
			func(t *testing.T, s *Schema) {
				if _, ok := s.Entid("color/red"); ok {
					t.Errorf("color/red still resolves")
				}
				if _, ok := s.Ident(enum); ok {
					t.Errorf("entity still has an ident")
				}
			}},
		{"retract a fact that does not hold", []op{{enum, "-db/ident", kw("color/blue")}, {name, "-db/doc", "other"}},
			func(t *testing.T, s *Schema) {
				if s.Attr(name).Doc != "a person's name" {
					t.Errorf("doc changed")
				}
			}},
		{"composite tuple over attributes of the same tx", []op{
			{110, "db/ident", kw("reg/course")}, {110, "db/valueType", TypeEntity(TypeRef)}, {110, "db/cardinality", DBCardinalityOne},
			{111, "db/ident", kw("reg/course+name")}, {111, "db/valueType", TypeEntity(TypeTuple)}, {111, "db/cardinality", DBCardinalityOne},
			{111, "db/tupleAttrs", edn.Vector{kw("reg/course"), kw("person/name")}}, {111, "db/unique", DBUniqueIdentity},
			{112, "db/ident", kw("pt")}, {112, "db/valueType", TypeEntity(TypeTuple)}, {112, "db/cardinality", DBCardinalityOne},
			{112, "db/tupleTypes", edn.Vector{kw("db.type/long"), TypeEntity(TypeString)}}},
			func(t *testing.T, s *Schema) {
				if a := s.AttrByIdent("reg/course+name"); a == nil || !slices.Equal(a.TupleAttrs, []ID{110, name}) {
					t.Errorf("composite = %+v", a)
				}
				if a := s.AttrByIdent("pt"); a == nil || !slices.Equal(a.TupleTypes, []ValueType{TypeLong, TypeString}) {
					t.Errorf("tupleTypes = %+v", a)
				}
			}},
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			s, err := s1.Apply(txDatoms(t, s1, tc.ops))
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			tc.check(t, s)
		})
	}

	bad := []struct {
		name, wantErr string
		ops           []op
	}{
		{"change valueType", "valueType cannot change", []op{{name, "db/valueType", TypeEntity(TypeLong)}}},
		{"retract valueType", "cannot be retracted", []op{{name, "-db/valueType", TypeEntity(TypeString)}}},
		{"retract cardinality", "cannot be retracted", []op{{name, "-db/cardinality", DBCardinalityOne}}},
		{"missing valueType", "person/age: missing :db/valueType", []op{{120, "db/ident", kw("person/age")}, {120, "db/cardinality", DBCardinalityOne}}},
		{"missing cardinality", "missing :db/cardinality", []op{{120, "db/ident", kw("person/age")}, {120, "db/valueType", TypeEntity(TypeLong)}}},
		{"missing ident", "has no :db/ident", []op{{120, "db/valueType", TypeEntity(TypeLong)}, {120, "db/cardinality", DBCardinalityOne}}},
		{"ident taken", "already names", []op{{120, "db/ident", kw("person/tags")}}},
		{"two idents", "two values", []op{{120, "db/ident", kw("a")}, {120, "db/ident", kw("b")}}},
		{"two cardinalities", "two values", []op{{tags, "db/cardinality", DBCardinalityOne}, {tags, "db/cardinality", DBCardinalityMany}}},
		{"bad valueType", "not a :db.type", []op{{120, "db/ident", kw("x")}, {120, "db/valueType", kw("db.type/float")}, {120, "db/cardinality", DBCardinalityOne}}},
		{"component non-ref", "isComponent requires", []op{{tags, "db/isComponent", true}}},
		{"retract attribute ident", "cannot be retracted", []op{{name, "-db/ident", kw("person/name")}}},
		{"built-in", "built in", []op{{int64(DBDoc), "db/doc", "x"}}},
		{"tupleAttrs on non-tuple", "require :db.type/tuple", []op{{120, "db/ident", kw("x")}, {120, "db/valueType", TypeEntity(TypeLong)}, {120, "db/cardinality", DBCardinalityOne}, {120, "db/tupleAttrs", edn.Vector{kw("person/name"), kw("person/tags")}}}},
		{"tupleAttrs card many", "cardinality-many", []op{{120, "db/ident", kw("x")}, {120, "db/valueType", TypeEntity(TypeTuple)}, {120, "db/cardinality", DBCardinalityOne}, {120, "db/tupleAttrs", edn.Vector{kw("person/name"), kw("person/tags")}}}},
		{"tupleAttrs unknown", "not an attribute", []op{{120, "db/ident", kw("x")}, {120, "db/valueType", TypeEntity(TypeTuple)}, {120, "db/cardinality", DBCardinalityOne}, {120, "db/tupleAttrs", edn.Vector{kw("person/name"), kw("nope")}}}},
		{"tupleTypes too short", "2 to 8", []op{{120, "db/ident", kw("x")}, {120, "db/valueType", TypeEntity(TypeTuple)}, {120, "db/cardinality", DBCardinalityOne}, {120, "db/tupleTypes", edn.Vector{kw("db.type/long")}}}},
		{"non-keyword ident", "non-empty keyword", []op{{120, "db/ident", "x"}}},
		{"index not bool", "must be a boolean", []op{{name, "db/index", int64(1)}}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			s, err := s1.Apply(txDatoms(t, s1, tc.ops))
			if err == nil {
				t.Fatalf("Apply = %v, nil; want error containing %q", s, tc.wantErr)
			}
			if !errors.Is(err, ErrSchema) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Apply error = %v; want ErrSchema containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestSchemaOnRead(t *testing.T) {
	base, _ := Bootstrap(true)
	s, err := base.Apply(txDatoms(t, base, []op{
		{100, "db/ident", kw("doc/id")}, {100, "db/unique", DBUniqueIdentity},
		{101, "db/ident", kw("doc/parts")}, {101, "db/isComponent", true}, {101, "db/cardinality", DBCardinalityMany},
		{102, "db/ident", kw("doc/size")}, {102, "db/valueType", TypeEntity(TypeLong)},
	}))
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	for _, want := range []Attribute{
		{ID: 100, Ident: "doc/id", ValueType: TypeInvalid, Cardinality: CardinalityOne, Unique: UniqueIdentity},
		{ID: 101, Ident: "doc/parts", ValueType: TypeInvalid, Cardinality: CardinalityMany, IsComponent: true},
		{ID: 102, Ident: "doc/size", ValueType: TypeLong, Cardinality: CardinalityOne},
	} {
		if got := s.Attr(want.ID); got == nil || !attrEqual(got, &want) {
			t.Errorf("Attr(%d) = %+v, want %+v", want.ID, got, want)
		}
	}
	// What is declared is still enforced: an undeclared type cannot be added later.
	if _, err := s.Apply(txDatoms(t, s, []op{{100, "db/valueType", TypeEntity(TypeString)}})); !errors.Is(err, ErrSchema) {
		t.Errorf("declaring a type later: err = %v, want ErrSchema", err)
	}
}
