package query

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
)

// Type tags of appendKey. Their order is the cross-type order of
// compareValues, which follows datom.ValueType's order so that range
// predicates agree with AVET.
const (
	tagNil byte = iota
	tagBool
	tagNum // int64, float64, *big.Int, *apd.Decimal compare numerically
	tagInstant
	tagUUID
	tagString
	tagKeyword
	tagSymbol
	tagURI
	tagBytes
	tagChar
	tagVector
	tagSet
	tagMap
	tagOther
)

// appendKey appends an injective byte encoding of v to buf: two values get
// the same key exactly when valuesEqual reports them equal. Keys are hash
// keys for joins and set semantics, not an order.
func appendKey(buf []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(buf, tagNil)
	case bool:
		if x {
			return append(buf, tagBool, 1)
		}
		return append(buf, tagBool, 0)
	case int64:
		buf = append(buf, tagNum, 'i')
		return binary.BigEndian.AppendUint64(buf, uint64(x))
	case float64:
		buf = append(buf, tagNum, 'f')
		return binary.BigEndian.AppendUint64(buf, floatBits(x))
	case *big.Int:
		buf = append(buf, tagNum, 'b')
		return appendStr(buf, x.String())
	case *apd.Decimal:
		buf = append(buf, tagNum, 'd')
		return appendStr(buf, x.String())
	case string:
		return appendStr(append(buf, tagString), x)
	case edn.Keyword:
		return appendStr(append(buf, tagKeyword), string(x))
	case edn.Symbol:
		return appendStr(append(buf, tagSymbol), string(x))
	case time.Time:
		buf = append(buf, tagInstant)
		return binary.BigEndian.AppendUint64(buf, uint64(x.UnixNano()))
	case uuid.UUID:
		return append(append(buf, tagUUID), x[:]...)
	case *url.URL:
		return appendStr(append(buf, tagURI), x.String())
	case []byte:
		return appendStr(append(buf, tagBytes), string(x))
	case edn.Char:
		return binary.BigEndian.AppendUint32(append(buf, tagChar), uint32(x))
	case edn.Vector:
		return appendSeqKey(append(buf, tagVector), x)
	case edn.List:
		return appendSeqKey(append(buf, tagVector), x)
	case []any:
		return appendSeqKey(append(buf, tagVector), x)
	case edn.Set:
		return appendSeqKey(append(buf, tagSet), x)
	case edn.Map:
		buf = append(buf, tagMap)
		buf = binary.AppendUvarint(buf, uint64(len(x)))
		for _, e := range x {
			buf = appendKey(buf, e.Key)
			buf = appendKey(buf, e.Val)
		}
		return buf
	case *regexp.Regexp:
		return appendStr(append(buf, tagOther, 'r'), x.String())
	}
	return appendStr(append(buf, tagOther), fmt.Sprintf("%T:%#v", v, v))
}

func appendSeqKey(buf []byte, xs []any) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(xs)))
	for _, x := range xs {
		buf = appendKey(buf, x)
	}
	return buf
}

func appendStr(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

// floatBits is the bits of a double as the indices tell doubles apart
// (Java's Double.compare): -0.0 and +0.0 differ, and every NaN is the one
// canonical NaN.
func floatBits(f float64) uint64 {
	if f != f {
		return 0x7FF8000000000000
	}
	return math.Float64bits(f)
}

// valuesEqual is the equality of joins and patterns: same type and same
// value (1 and 1.0 differ), doubles told apart as the indices tell them
// (floatBits), so that a value joins the same rows whether the plan
// unifies it in a pattern, probes a hash table with its key (appendKey) or
// seeks it in an index.
func valuesEqual(a, b any) bool {
	switch x := a.(type) {
	case int64:
		y, ok := b.(int64)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case edn.Keyword:
		y, ok := b.(edn.Keyword)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && floatBits(x) == floatBits(y)
	case nil:
		return b == nil
	}
	var ab, bb [64]byte
	return bytes.Equal(appendKey(ab[:0], a), appendKey(bb[:0], b))
}

// clojureEq is the = of predicates, Clojure's: valuesEqual, except that
// doubles compare as numbers (0.0 equals -0.0, NaN equals nothing).
func clojureEq(a, b any) bool {
	if x, ok := a.(float64); ok {
		y, ok := b.(float64)
		return ok && x == y
	}
	return valuesEqual(a, b)
}

func typeRank(v any) byte {
	switch v.(type) {
	case nil:
		return tagNil
	case bool:
		return tagBool
	case int64, float64, *big.Int, *apd.Decimal:
		return tagNum
	case time.Time:
		return tagInstant
	case uuid.UUID:
		return tagUUID
	case string:
		return tagString
	case edn.Keyword:
		return tagKeyword
	case edn.Symbol:
		return tagSymbol
	case *url.URL:
		return tagURI
	case []byte:
		return tagBytes
	case edn.Char:
		return tagChar
	case edn.Vector, edn.List, []any:
		return tagVector
	case edn.Set:
		return tagSet
	case edn.Map:
		return tagMap
	}
	return tagOther
}

// compareValues is a total order over query values: by type family first,
// numbers numerically across int64, float64, *big.Int and *apd.Decimal,
// then naturally within a type. It is the order of <, >, min, max and sort
// (the order predicates are, besides, false of NaN: unordered).
func compareValues(a, b any) int {
	ra, rb := typeRank(a), typeRank(b)
	if ra != rb {
		if ra < rb {
			return -1
		}
		return 1
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
		if y, ok := b.(int64); ok {
			return cmpOrdered(x, y)
		}
		return compareNums(a, b)
	case float64:
		if y, ok := b.(float64); ok {
			return compareDoubles(x, y)
		}
		return compareNums(a, b)
	case *big.Int, *apd.Decimal:
		return compareNums(a, b)
	case time.Time:
		return x.Compare(b.(time.Time))
	case uuid.UUID:
		y := b.(uuid.UUID)
		return bytes.Compare(x[:], y[:])
	case string:
		return strings.Compare(x, b.(string))
	case edn.Keyword, edn.Symbol:
		// By namespace, then name, as Clojure's compare and the index
		// (AVET) order them: :user/name before :user-profile/id, though
		// "user-profile/id" < "user/name" as strings. A range pushed down
		// into AVET relies on the two orders being one.
		return datom.CompareValues(a, b)
	case *url.URL:
		return strings.Compare(x.String(), b.(*url.URL).String())
	case []byte:
		return bytes.Compare(x, b.([]byte))
	case edn.Char:
		return cmpOrdered(x, b.(edn.Char))
	}
	if xs, ok := asSeq(a); ok {
		ys, _ := asSeq(b)
		for i := 0; i < len(xs) && i < len(ys); i++ {
			if c := compareValues(xs[i], ys[i]); c != 0 {
				return c
			}
		}
		return cmpOrdered(len(xs), len(ys))
	}
	var ab, bb [64]byte
	return bytes.Compare(appendKey(ab[:0], a), appendKey(bb[:0], b))
}

// compareDoubles compares doubles numerically (-0.0 equals 0.0, as Clojure's
// < and == have it), with every NaN equal to every other and above every
// number, where the index (AVET) puts them: a range pushed down into AVET
// then finds the values its predicates accept, and NaN fails (<= NaN x)
// as in Clojure, rather than passing every comparison as an unordered
// value would.
func compareDoubles(a, b float64) int {
	switch an, bn := a != a, b != b; {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	}
	return cmpOrdered(a, b)
}

func cmpOrdered[T int | int64 | float64 | edn.Char](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compareNums compares two numbers of different Go types exactly, through
// apd decimals.
func compareNums(a, b any) int {
	da, db := toDecimal(a), toDecimal(b)
	if da == nil || db == nil {
		fa, _ := toFloat(a)
		fb, _ := toFloat(b)
		return compareDoubles(fa, fb)
	}
	return da.Cmp(db)
}

func toDecimal(v any) *apd.Decimal {
	switch x := v.(type) {
	case int64:
		return apd.New(x, 0)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
		d := new(apd.Decimal)
		if _, err := d.SetFloat64(x); err != nil {
			return nil
		}
		return d
	case *big.Int:
		d := new(apd.Decimal)
		d.Coeff.SetMathBigInt(x)
		if x.Sign() < 0 {
			d.Coeff.Neg(&d.Coeff)
			d.Negative = true
		}
		return d
	case *apd.Decimal:
		return x
	}
	return nil
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case *big.Int:
		f, _ := new(big.Float).SetInt(x).Float64()
		return f, true
	case *apd.Decimal:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// asSeq returns v's elements if it is a sequential collection (vector, list,
// set, Go slice).
func asSeq(v any) ([]any, bool) {
	switch x := v.(type) {
	case edn.Vector:
		return x, true
	case edn.List:
		return x, true
	case edn.Set:
		return x, true
	case []any:
		return x, true
	case Relation:
		out := make([]any, len(x))
		for i, t := range x {
			out[i] = t
		}
		return out, true
	case [][]any:
		out := make([]any, len(x))
		for i, t := range x {
			out[i] = t
		}
		return out, true
	case string, []byte, nil:
		return nil, false
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = normalize(rv.Index(i).Interface())
		}
		return out, true
	}
	return nil, false
}

// normalize maps plain Go values given as inputs to the types the engine
// stores: every integer kind to int64, float32 to float64, and []any
// tuples stay as they are.
func normalize(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint:
		return int64(x)
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x)
		}
		return new(big.Int).SetUint64(x)
	case float32:
		return float64(x)
	}
	return v
}

// tkey is a map key for a tuple of values under the engine's equality
// (appendKey's, where values of different types never match). A tuple of
// one or two int64s (entity ids, mostly) is keyed by the numbers, with s
// empty: no encoding, no allocation, and a 16-byte memhash. Any other
// tuple is keyed by its appendKey encoding in s (never empty), so both
// kinds can share one map. All keys of one map MUST come from tuples of
// the same length. (Keys of up to four interface values were tried: they
// allocate nothing but hash and copy slower than short strings.)
type tkey struct {
	i [2]int64
	s string
}
