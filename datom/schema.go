package datom

import "github.com/accretedb/accrete/edn"

// Cardinality is an attribute's :db/cardinality.
type Cardinality uint8

// The cardinalities.
const (
	CardinalityOne Cardinality = iota
	CardinalityMany
)

// Unique is an attribute's :db/unique.
type Unique uint8

// The uniqueness kinds.
const (
	UniqueNone     Unique = iota
	UniqueValue           // :db.unique/value: a second entity with the value is an error
	UniqueIdentity        // :db.unique/identity: a second assertion upserts
)

// Attribute is the schema of one attribute, derived from the datoms of its
// attribute entity.
type Attribute struct {
	ID          ID
	Ident       edn.Keyword
	ValueType   ValueType // TypeInvalid when undeclared (schema-on-read)
	Cardinality Cardinality
	Unique      Unique
	Index       bool // :db/index; unique attributes are always in AVET
	IsComponent bool
	NoHistory   bool
	Doc         string
	TupleAttrs  []ID // composite tuple: the attributes it is built from
	TupleTypes  []ValueType
}

// Indexed reports whether the attribute's datoms are kept in AVET.
func (a *Attribute) Indexed() bool { return a.Index || a.Unique != UniqueNone }

// IsRef reports whether the attribute's values are entity ids.
func (a *Attribute) IsRef() bool { return a.ValueType == TypeRef }

// Index names one of the sort orders of datoms.
type Index uint8

// The indices. EAVT, AEVT, AVET and VAET are Datomic's covering indices;
// TEAV orders datoms by transaction and is the transaction log.
const (
	EAVT Index = iota
	AEVT
	AVET
	VAET
	TEAV
)
