package datom

import (
	"encoding/binary"
	"math/big"
	"net/url"
	"time"

	"github.com/accretedb/accrete/edn"
	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"
)

// Key tags: the first byte of every value key. tagTupleEnd is lower than
// every tag so a tuple that is a prefix of another sorts first.
const (
	keyTupleEnd = 0x00
	keyNil      = 0x01
	keyTypeBase = 0x10 // + ValueType
	keyUnknown  = 0xFF
)

// AppendValueKey appends to buf an order-preserving, self-delimiting byte
// encoding of v and returns the extended buffer:
//
//	bytes.Compare(AppendValueKey(nil, a), AppendValueKey(nil, b)) == CompareValues(a, b)
//
// for all a and b, and no key is a proper prefix of another, so keys can be
// concatenated (a datom's E, A and V keys) and still compare correctly. It is
// meant for hash-map keys (equal values, equal keys) and for comparing many
// values repeatedly; it is not a storage format (the codec is) and may change
// between versions of this package.
//
// Layout: one tag byte (0x01 nil, 0x10+ValueType, 0xFF other Go types), then
//
//	boolean   0x00 | 0x01
//	long/ref  8 bytes big-endian, sign bit flipped
//	bigint    sign (0 neg, 1 zero, 2 pos), then for non-zero a 4-byte length
//	          and the magnitude, both bit-inverted when negative
//	double    8 bytes: the bits, all flipped if negative, else sign set
//	bigdec    class, adjusted exponent, digits, exponent (appendDecimalKey)
//	instant   Unix seconds (8 bytes, sign flipped), nanoseconds (4 bytes)
//	uuid      16 bytes
//	string, uri, bytes, other   escaped bytes: 0x00 → 0x00 0xFF, end 0x00 0x01
//	keyword, symbol             escaped namespace, then escaped name
//	tuple     each element's key, then 0x00
func AppendValueKey(buf []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(buf, keyNil)
	case bool:
		b := byte(0)
		if x {
			b = 1
		}
		return append(buf, keyTypeBase+byte(TypeBoolean), b)
	case int64:
		buf = append(buf, keyTypeBase+byte(TypeLong))
		return binary.BigEndian.AppendUint64(buf, uint64(x)^1<<63)
	case *big.Int:
		buf = append(buf, keyTypeBase+byte(TypeBigInt))
		return appendBigIntKey(buf, bigOrZero(x))
	case float64:
		buf = append(buf, keyTypeBase+byte(TypeDouble))
		return binary.BigEndian.AppendUint64(buf, floatKey(x))
	case *apd.Decimal:
		buf = append(buf, keyTypeBase+byte(TypeBigDec))
		return appendDecimalKey(buf, x)
	case time.Time:
		buf = append(buf, keyTypeBase+byte(TypeInstant))
		buf = binary.BigEndian.AppendUint64(buf, uint64(x.Unix())^1<<63)
		return binary.BigEndian.AppendUint32(buf, uint32(x.Nanosecond()))
	case uuid.UUID:
		buf = append(buf, keyTypeBase+byte(TypeUUID))
		return append(buf, x[:]...)
	case string:
		buf = append(buf, keyTypeBase+byte(TypeString))
		return appendEscaped(buf, x)
	case edn.Keyword:
		buf = append(buf, keyTypeBase+byte(TypeKeyword))
		buf = appendEscaped(buf, x.Namespace())
		return appendEscaped(buf, x.Name())
	case edn.Symbol:
		buf = append(buf, keyTypeBase+byte(TypeSymbol))
		buf = appendEscaped(buf, x.Namespace())
		return appendEscaped(buf, x.Name())
	case *url.URL:
		buf = append(buf, keyTypeBase+byte(TypeURI))
		return appendEscaped(buf, urlString(x))
	case []byte:
		buf = append(buf, keyTypeBase+byte(TypeBytes))
		return appendEscaped(buf, x)
	case edn.Vector, []any:
		t, _ := asTuple(v)
		buf = append(buf, keyTypeBase+byte(TypeTuple))
		for _, e := range t {
			buf = AppendValueKey(buf, e)
		}
		return append(buf, keyTupleEnd)
	}
	buf = append(buf, keyUnknown)
	return appendEscaped(buf, unknownString(v))
}

func appendEscaped[S string | []byte](buf []byte, s S) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == 0 {
			buf = append(buf, 0x00, 0xFF)
			continue
		}
		buf = append(buf, c)
	}
	return append(buf, 0x00, 0x01)
}

func appendBigIntKey(buf []byte, x *big.Int) []byte {
	switch x.Sign() {
	case 0:
		return append(buf, 1)
	case 1:
		buf = append(buf, 2)
		mag := x.Bytes()
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(mag)))
		return append(buf, mag...)
	}
	buf = append(buf, 0)
	mag := new(big.Int).Neg(x).Bytes()
	buf = binary.BigEndian.AppendUint32(buf, ^uint32(len(mag)))
	for _, b := range mag {
		buf = append(buf, ^b)
	}
	return buf
}

// Decimal key classes, in order.
const (
	decNegInf = iota + 1
	decNeg
	decZero
	decPos
	decPosInf
	decNaN
)

// appendDecimalKey appends the order-preserving key of a decimal: a class
// byte; for non-zero finite values the adjusted exponent (the exponent of
// the leading digit, 8 bytes, sign flipped) and the significant digits
// without trailing zeros as ASCII, ended by 0x00 — all bit-inverted for
// negatives, so larger magnitudes sort first; then, for finite values, the
// stored exponent (4 bytes, sign flipped) as tie-break between numerically
// equal decimals of different scale, and for zero its sign.
func appendDecimalKey(buf []byte, d *apd.Decimal) []byte {
	if d == nil {
		d = &apd.Decimal{}
	}
	switch d.Form {
	case apd.Infinite:
		if d.Negative {
			return append(buf, decNegInf)
		}
		return append(buf, decPosInf)
	case apd.NaN, apd.NaNSignaling:
		return append(buf, decNaN)
	}
	if d.Coeff.Sign() == 0 {
		buf = append(buf, decZero)
		buf = binary.BigEndian.AppendUint32(buf, uint32(d.Exponent)^1<<31)
		if d.Negative {
			return append(buf, 0)
		}
		return append(buf, 1)
	}
	var digitsBuf [40]byte
	digits := d.Coeff.Append(digitsBuf[:0], 10)
	adj := int64(d.Exponent) + int64(len(digits)) - 1
	for len(digits) > 1 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
	}
	if d.Negative {
		buf = append(buf, decNeg)
		buf = binary.BigEndian.AppendUint64(buf, ^(uint64(adj) ^ 1<<63))
		for _, c := range digits {
			buf = append(buf, ^c)
		}
		buf = append(buf, 0xFF)
	} else {
		buf = append(buf, decPos)
		buf = binary.BigEndian.AppendUint64(buf, uint64(adj)^1<<63)
		buf = append(buf, digits...)
		buf = append(buf, 0x00)
	}
	return binary.BigEndian.AppendUint32(buf, uint32(d.Exponent)^1<<31)
}
