package datom

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"math/big"
	"net/url"
	"strings"
	"time"

	"github.com/accretedb/accrete/edn"
	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"
)

// rankUnknown is the sort rank of Go values that are not of any value type:
// after every valid type, ordered among themselves by their printed form. It
// exists so that CompareValues is total on any input; such values are
// rejected by Coerce and by the codec.
const rankUnknown = 255

// TypeOf returns the value type of a Go value in its canonical
// representation (the Go types listed on ValueType), and false for nil and
// for every other Go type. An int64 is reported as TypeLong: refs and longs
// share a representation, and only the attribute tells them apart. Both
// edn.Vector and []any are tuples.
//
// It is the typing rule of schema-on-read: an undeclared attribute takes the
// type of its first value.
func TypeOf(v any) (ValueType, bool) {
	r := rank(v)
	if r == int(TypeInvalid) || r == rankUnknown {
		return TypeInvalid, false
	}
	return ValueType(r), true
}

// rank returns the ValueType number of v, 0 for nil and rankUnknown for
// non-canonical Go types.
func rank(v any) int {
	switch v.(type) {
	case nil:
		return int(TypeInvalid)
	case bool:
		return int(TypeBoolean)
	case int64:
		return int(TypeLong)
	case *big.Int:
		return int(TypeBigInt)
	case float64:
		return int(TypeDouble)
	case *apd.Decimal:
		return int(TypeBigDec)
	case time.Time:
		return int(TypeInstant)
	case uuid.UUID:
		return int(TypeUUID)
	case string:
		return int(TypeString)
	case edn.Keyword:
		return int(TypeKeyword)
	case edn.Symbol:
		return int(TypeSymbol)
	case *url.URL:
		return int(TypeURI)
	case []byte:
		return int(TypeBytes)
	case edn.Vector, []any:
		return int(TypeTuple)
	}
	return rankUnknown
}

// CompareValues returns -1, 0 or +1 as a sorts before, equal to or after b.
// It is a total order over every Go value, the order of V in all indices:
//
//   - nil sorts before everything (use it as the lowest V of a seek bound);
//   - values of different types order by their ValueType number (so all
//     booleans before all longs before all bigints …); refs and longs are both
//     int64 and compare numerically with each other;
//   - booleans false < true; longs, bigints numerically;
//   - doubles as Java's Double.compare: -0.0 < +0.0, every NaN equal to every
//     other NaN and after +Inf;
//   - bigdecs numerically, equal values with different exponents (1.0M,
//     1.00M) ordered by exponent, so they are distinct values as in Java's
//     BigDecimal.equals; -Inf < finite < +Inf < NaN;
//   - instants by time (location ignored); uuids bytewise;
//   - strings bytewise: UTF-8 byte order, which is code point order. This
//     differs from Datomic/Java, which order by UTF-16 code units: the two
//     disagree only between supplementary characters (above U+FFFF) and
//     characters U+E000–U+FFFF;
//   - keywords and symbols by namespace, then name (bytewise);
//   - uris by their String form; bytes bytewise;
//   - tuples element by element, then by length (shorter first); nil
//     elements sort first;
//   - any other Go type sorts after tuples, by its printed form.
//
// A nil *big.Int or *apd.Decimal compares as zero and a nil *url.URL as
// the empty uri. CompareValues never allocates for longs, refs, strings,
// keywords, booleans, doubles, instants, uuids and bytes.
func CompareValues(a, b any) int {
	switch x := a.(type) {
	case int64:
		if y, ok := b.(int64); ok {
			return cmp.Compare(x, y)
		}
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y)
		}
	case edn.Keyword:
		if y, ok := b.(edn.Keyword); ok {
			return compareKeywords(string(x), string(y))
		}
	}
	return compareSlow(a, b)
}

// compareKeywords orders keywords by namespace, then name, with the split
// rule of edn.Keyword.Namespace (the first slash after position 0).
func compareKeywords(a, b string) int {
	// Walk the common prefix: a slash in it is the first slash of both, so
	// it settles the namespaces without searching.
	n := min(len(a), len(b))
	i := 0
	for ; i < n && a[i] == b[i]; i++ {
		if a[i] == '/' {
			if i == 0 {
				return strings.Compare(a, b) // neither has a namespace
			}
			return strings.Compare(a[i+1:], b[i+1:]) // same namespace
		}
	}
	if i == len(a) && i == len(b) {
		return 0
	}
	ia, ib := indexSlashFrom(a, i), indexSlashFrom(b, i)
	var nsa, nsb, na, nb string
	if ia > 0 {
		nsa, na = a[:ia], a[ia+1:]
	} else {
		na = a
	}
	if ib > 0 {
		nsb, nb = b[:ib], b[ib+1:]
	} else {
		nb = b
	}
	if c := strings.Compare(nsa, nsb); c != 0 {
		return c
	}
	return strings.Compare(na, nb)
}

// indexSlashFrom returns the index of the first '/' in s at or after from,
// or -1; s[:from] is known to hold none.
func indexSlashFrom(s string, from int) int {
	if j := strings.IndexByte(s[from:], '/'); j >= 0 {
		return from + j
	}
	return -1
}

// EqualValues reports whether CompareValues(a, b) == 0.
func EqualValues(a, b any) bool {
	switch x := a.(type) {
	case int64:
		if y, ok := b.(int64); ok {
			return x == y
		}
	case string:
		if y, ok := b.(string); ok {
			return x == y
		}
	}
	return compareSlow(a, b) == 0
}

func compareSlow(a, b any) int {
	ra, rb := rank(a), rank(b)
	if ra != rb {
		return cmp.Compare(ra, rb)
	}
	switch x := a.(type) {
	case nil:
		return 0
	case bool:
		y := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case int64:
		return cmp.Compare(x, b.(int64))
	case *big.Int:
		return bigOrZero(x).Cmp(bigOrZero(b.(*big.Int)))
	case float64:
		return cmp.Compare(floatKey(x), floatKey(b.(float64)))
	case *apd.Decimal:
		return compareDecimal(x, b.(*apd.Decimal))
	case time.Time:
		return x.Compare(b.(time.Time))
	case uuid.UUID:
		y := b.(uuid.UUID)
		return bytes.Compare(x[:], y[:])
	case string:
		return strings.Compare(x, b.(string))
	case edn.Keyword:
		return compareKeywords(string(x), string(b.(edn.Keyword)))
	case edn.Symbol:
		y := b.(edn.Symbol)
		return compareNamed(string(x), string(y), x.Namespace(), y.Namespace(), x.Name(), y.Name())
	case *url.URL:
		return strings.Compare(urlString(x), urlString(b.(*url.URL)))
	case []byte:
		return bytes.Compare(x, b.([]byte))
	case edn.Vector, []any:
		ta, _ := asTuple(a)
		tb, _ := asTuple(b)
		for i := 0; i < len(ta) && i < len(tb); i++ {
			if c := CompareValues(ta[i], tb[i]); c != 0 {
				return c
			}
		}
		return cmp.Compare(len(ta), len(tb))
	}
	return strings.Compare(unknownString(a), unknownString(b))
}

func compareNamed(a, b, nsa, nsb, na, nb string) int {
	if a == b {
		return 0
	}
	if c := strings.Compare(nsa, nsb); c != 0 {
		return c
	}
	return strings.Compare(na, nb)
}

func asTuple(v any) ([]any, bool) {
	switch t := v.(type) {
	case edn.Vector:
		return t, true
	case []any:
		return t, true
	}
	return nil, false
}

var bigZero = new(big.Int)

func bigOrZero(x *big.Int) *big.Int {
	if x == nil {
		return bigZero
	}
	return x
}

func urlString(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.String()
}

func unknownString(v any) string { return fmt.Sprintf("%T:%#v", v, v) }

// canonicalNaNBits is the quiet NaN every NaN is treated as for ordering.
const canonicalNaNBits = 0x7FF8000000000000

// floatKey maps a double to a uint64 whose unsigned order is Java's
// Double.compare order: negative values have all bits flipped, non-negative
// ones the sign bit set, and every NaN is first made the canonical quiet NaN.
func floatKey(f float64) uint64 {
	if f != f {
		return canonicalNaNBits | 1<<63
	}
	b := math.Float64bits(f)
	if b&(1<<63) != 0 {
		return ^b
	}
	return b | 1<<63
}

// compareDecimal compares two decimals by their order-preserving keys, the
// single definition of the bigdec order.
func compareDecimal(x, y *apd.Decimal) int {
	var ba, bb [64]byte
	ka := appendDecimalKey(ba[:0], x)
	kb := appendDecimalKey(bb[:0], y)
	return bytes.Compare(ka, kb)
}
