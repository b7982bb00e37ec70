package datom

import (
	"fmt"

	"github.com/accretedb/accrete/edn"
)

var valueTypeNames = [...]string{
	TypeInvalid: "invalid",
	TypeBoolean: "boolean",
	TypeLong:    "long",
	TypeBigInt:  "bigint",
	TypeDouble:  "double",
	TypeBigDec:  "bigdec",
	TypeInstant: "instant",
	TypeUUID:    "uuid",
	TypeString:  "string",
	TypeKeyword: "keyword",
	TypeSymbol:  "symbol",
	TypeURI:     "uri",
	TypeBytes:   "bytes",
	TypeRef:     "ref",
	TypeTuple:   "tuple",
}

// String returns the type's name as in its ident, without the namespace:
// "long" for :db.type/long.
func (t ValueType) String() string {
	if int(t) < len(valueTypeNames) {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("ValueType(%d)", uint8(t))
}

// Valid reports whether t is one of the 14 declared value types (not
// TypeInvalid, not out of range).
func (t ValueType) Valid() bool { return t > TypeInvalid && t <= TypeTuple }

// Ident returns the enum ident of the type, :db.type/<name>, or "" for an
// invalid type.
func (t ValueType) Ident() edn.Keyword {
	if !t.Valid() {
		return ""
	}
	return edn.Keyword("db.type/" + valueTypeNames[t])
}

// String returns "one" or "many".
func (c Cardinality) String() string {
	switch c {
	case CardinalityOne:
		return "one"
	case CardinalityMany:
		return "many"
	}
	return fmt.Sprintf("Cardinality(%d)", uint8(c))
}

// String returns "none", "value" or "identity".
func (u Unique) String() string {
	switch u {
	case UniqueNone:
		return "none"
	case UniqueValue:
		return "value"
	case UniqueIdentity:
		return "identity"
	}
	return fmt.Sprintf("Unique(%d)", uint8(u))
}

// String returns the index name in lower case: "eavt", "aevt", ….
func (i Index) String() string {
	switch i {
	case EAVT:
		return "eavt"
	case AEVT:
		return "aevt"
	case AVET:
		return "avet"
	case VAET:
		return "vaet"
	case TEAV:
		return "teav"
	}
	return fmt.Sprintf("Index(%d)", uint8(i))
}
