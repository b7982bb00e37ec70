package datom

// ValueType is the type of an attribute's values (:db/valueType). The
// comment on each names the Go type a datom's V holds for it.
type ValueType uint8

// The value types. Their numeric order is the order in which values of
// different types sort against each other; it is part of the storage format.
const (
	TypeInvalid ValueType = iota
	TypeBoolean           // bool
	TypeLong              // int64
	TypeBigInt            // *big.Int
	TypeDouble            // float64
	TypeBigDec            // *apd.Decimal
	TypeInstant           // time.Time, millisecond precision, UTC
	TypeUUID              // uuid.UUID
	TypeString            // string
	TypeKeyword           // edn.Keyword
	TypeSymbol            // edn.Symbol
	TypeURI               // *url.URL
	TypeBytes             // []byte
	TypeRef               // int64 entity id
	TypeTuple             // edn.Vector of the above
)
