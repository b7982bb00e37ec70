package datom

import (
	"maps"
	"slices"
	"sync"

	"github.com/accretedb/accrete/edn"
)

// The built-in (bootstrap) entities. Their ids are FIXED and part of the
// storage format: datoms and schemas written by one version are read by the
// next, so a built-in never changes its id. They live in PartDB, n < DBReserved.
const (
	DBIdent       ID = 1  // :db/ident, keyword, one, unique identity
	DBValueType   ID = 2  // :db/valueType, ref to a :db.type/* entity
	DBCardinality ID = 3  // :db/cardinality, ref to :db.cardinality/one|many
	DBUnique      ID = 4  // :db/unique, ref to :db.unique/value|identity
	DBIsComponent ID = 5  // :db/isComponent, boolean
	DBIndex       ID = 6  // :db/index, boolean
	DBNoHistory   ID = 7  // :db/noHistory, boolean
	DBDoc         ID = 8  // :db/doc, string
	DBTupleAttrs  ID = 9  // :db/tupleAttrs, tuple of attribute refs or idents
	DBTupleTypes  ID = 10 // :db/tupleTypes, tuple of :db.type/* refs or idents
	DBTxInstant   ID = 11 // :db/txInstant, instant, indexed

	// DBTypeBase + vt is the id of the enum entity :db.type/<vt>, for every
	// valid ValueType (21 :db.type/boolean … 34 :db.type/tuple).
	DBTypeBase ID = 20

	DBCardinalityOne  ID = 40 // :db.cardinality/one
	DBCardinalityMany ID = 41 // :db.cardinality/many
	DBUniqueValue     ID = 42 // :db.unique/value
	DBUniqueIdentity  ID = 43 // :db.unique/identity

	// DBReserved is the first free n of PartDB: ids MakeID(PartDB, n) with
	// n < DBReserved are reserved for built-ins (present and future) and
	// cannot be changed by transactions. The writer allocates new schema
	// entities from MakeID(PartDB, DBReserved) on.
	DBReserved int64 = 100
)

// TypeEntity returns the id of the enum entity :db.type/<vt>.
func TypeEntity(vt ValueType) ID { return DBTypeBase + ID(vt) }

// IsReserved reports whether id is a built-in id that transactions may not
// change.
func IsReserved(id ID) bool { return id >= 0 && id < MakeID(PartDB, DBReserved) }

// BootstrapTx is the transaction that holds the bootstrap datoms: TxID(0).
const BootstrapTx ID = PartTx << PartShift

type builtinAttr struct {
	id    ID
	ident edn.Keyword
	vt    ValueType
	uniq  Unique
	index bool
}

var builtinAttrs = []builtinAttr{
	{DBIdent, "db/ident", TypeKeyword, UniqueIdentity, false},
	{DBValueType, "db/valueType", TypeRef, UniqueNone, false},
	{DBCardinality, "db/cardinality", TypeRef, UniqueNone, false},
	{DBUnique, "db/unique", TypeRef, UniqueNone, false},
	{DBIsComponent, "db/isComponent", TypeBoolean, UniqueNone, false},
	{DBIndex, "db/index", TypeBoolean, UniqueNone, false},
	{DBNoHistory, "db/noHistory", TypeBoolean, UniqueNone, false},
	{DBDoc, "db/doc", TypeString, UniqueNone, false},
	{DBTupleAttrs, "db/tupleAttrs", TypeTuple, UniqueNone, false},
	{DBTupleTypes, "db/tupleTypes", TypeTuple, UniqueNone, false},
	{DBTxInstant, "db/txInstant", TypeInstant, UniqueNone, true},
}

// isSchemaAttr reports whether a is one of the attributes that describe
// schema (and so are interpreted by Apply).
func isSchemaAttr(a ID) bool { return a >= DBIdent && a <= DBTupleTypes }

// Bootstrap returns the initial schema of a new database and the datoms that
// describe it, sorted in EAVT order, all asserted by BootstrapTx. The writer
// transacts them as the first transaction (t = 0) and sets that
// transaction's :db/txInstant itself. schemaOnRead selects Datahike's
// :schema-flexibility :read (see Schema.SchemaOnRead); it is fixed for the
// life of the database.
//
// Applying the returned datoms to an empty schema yields the returned schema;
// that is how it is built, so the two cannot disagree.
func Bootstrap(schemaOnRead bool) (*Schema, []Datom) {
	ds := bootstrapDatoms()
	empty := &Schema{
		schemaOnRead: schemaOnRead,
		attrs:        map[ID]*Attribute{},
		entids:       map[edn.Keyword]ID{},
		idents:       map[ID]edn.Keyword{},
	}
	s, err := empty.apply(ds, true)
	if err != nil {
		panic("datom: bootstrap schema is invalid: " + err.Error()) // a bug in this file
	}
	return s, ds
}

func bootstrapDatoms() []Datom {
	var ds []Datom
	add := func(e, a ID, v any) { ds = append(ds, Datom{E: e, A: a, V: v, Tx: BootstrapTx, Added: true}) }
	for _, b := range builtinAttrs {
		add(b.id, DBIdent, b.ident)
		add(b.id, DBValueType, TypeEntity(b.vt))
		add(b.id, DBCardinality, DBCardinalityOne)
		if b.uniq == UniqueIdentity {
			add(b.id, DBUnique, DBUniqueIdentity)
		}
		if b.index {
			add(b.id, DBIndex, true)
		}
	}
	for vt := TypeBoolean; vt <= TypeTuple; vt++ {
		add(TypeEntity(vt), DBIdent, vt.Ident())
	}
	add(DBCardinalityOne, DBIdent, edn.Keyword("db.cardinality/one"))
	add(DBCardinalityMany, DBIdent, edn.Keyword("db.cardinality/many"))
	add(DBUniqueValue, DBIdent, edn.Keyword("db.unique/value"))
	add(DBUniqueIdentity, DBIdent, edn.Keyword("db.unique/identity"))
	slices.SortFunc(ds, CompareEAVT)
	return ds
}

// Schema is the schema of one database value: its attributes and idents.
//
// A Schema is immutable: Apply returns a new Schema (copy-on-write; the
// attributes it did not change are shared) and never modifies its receiver,
// so a Schema may be used from any number of goroutines. The *Attribute
// values it returns are shared too and MUST NOT be modified.
type Schema struct {
	schemaOnRead bool
	attrs        map[ID]*Attribute
	entids       map[edn.Keyword]ID // every ident, including the old names of renamed entities
	idents       map[ID]edn.Keyword // the current ident of each entity that has one

	compositesOnce sync.Once
	composites     []*Attribute // attributes with :db/tupleAttrs, by id
}

// SchemaOnRead reports whether undeclared attributes are accepted (typed by
// their values) and schema entities may omit :db/valueType.
func (s *Schema) SchemaOnRead() bool { return s.schemaOnRead }

// Attr returns the attribute with id, or nil if id is not an attribute.
func (s *Schema) Attr(id ID) *Attribute { return s.attrs[id] }

// AttrByIdent returns the attribute named kw (by its current ident or an
// older one it was renamed from), or nil.
func (s *Schema) AttrByIdent(kw edn.Keyword) *Attribute {
	id, ok := s.entids[kw]
	if !ok {
		return nil
	}
	return s.attrs[id]
}

// Entid returns the entity named kw: any ident, attributes and enum idents
// alike. As in Datomic, after a rename both the new and the old ident
// resolve, until the old one is given to another entity.
func (s *Schema) Entid(kw edn.Keyword) (ID, bool) {
	id, ok := s.entids[kw]
	return id, ok
}

// Ident returns the current ident of entity id.
func (s *Schema) Ident(id ID) (edn.Keyword, bool) {
	kw, ok := s.idents[id]
	return kw, ok
}

// Attrs returns every attribute, built-ins included, sorted by id. The slice
// is new on each call; the attributes are shared.
func (s *Schema) Attrs() []*Attribute {
	out := make([]*Attribute, 0, len(s.attrs))
	for _, id := range slices.Sorted(maps.Keys(s.attrs)) {
		out = append(out, s.attrs[id])
	}
	return out
}

// CompositeTuples returns the composite tuple attributes (those with
// :db/tupleAttrs), sorted by id. Transactions consult it on every call, so
// it is computed once per Schema; the slice is shared and MUST NOT be
// modified.
func (s *Schema) CompositeTuples() []*Attribute {
	s.compositesOnce.Do(func() {
		for _, id := range slices.Sorted(maps.Keys(s.attrs)) {
			if a := s.attrs[id]; len(a.TupleAttrs) > 0 {
				s.composites = append(s.composites, a)
			}
		}
	})
	return s.composites
}

// Idents returns the ids of every entity that has an ident, sorted.
func (s *Schema) Idents() []ID { return slices.Sorted(maps.Keys(s.idents)) }

func (s *Schema) clone() *Schema {
	return &Schema{
		schemaOnRead: s.schemaOnRead,
		attrs:        maps.Clone(s.attrs),
		entids:       maps.Clone(s.entids),
		idents:       maps.Clone(s.idents),
	}
}
