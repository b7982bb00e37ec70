package datom

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"math/big"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/accretedb/accrete/edn"
	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"
)

// MaxTupleLen and MinTupleLen bound the length of a tuple value, as in
// Datomic ("a tuple is a collection of 2-8 scalar values").
const (
	MinTupleLen = 2
	MaxTupleLen = 8
)

// Coerce validates a transacted value v against value type vt and returns
// it in its canonical representation (the Go type listed on ValueType):
//
//   - long, ref: any Go integer type, or a *big.Int that fits, → int64;
//   - bigint: *big.Int, big.Int or any Go integer type → *big.Int;
//   - double: float64 or float32 → float64; an integer is an error, as in
//     Datomic's EDN (use CoerceJSON for JSON numbers);
//   - bigdec: *apd.Decimal or apd.Decimal, finite only;
//   - instant: time.Time → UTC, truncated to the millisecond (Datomic's
//     java.util.Date precision), monotonic reading stripped;
//   - uuid: uuid.UUID or [16]byte; string: string; keyword: edn.Keyword,
//     symbol: edn.Symbol (non-empty); uri: *url.URL or url.URL (non-nil);
//     bytes: []byte, copied;
//   - tuple: edn.Vector or []any of MinTupleLen..MaxTupleLen elements, each
//     nil or a scalar coerced to its own type (TypeOf), nested tuples
//     rejected; use CoerceTuple for attributes with :db/tupleTypes;
//   - TypeInvalid (an undeclared attribute under schema-on-read): v is
//     coerced to its own type, which must exist.
//
// A ref given as an ident or lookup ref must be resolved to an entity id
// before Coerce. Errors are *TypeError (errors.Is ErrValueType) naming the
// expected and the given type. Coerce does not modify v.
func Coerce(vt ValueType, v any) (any, error) {
	return coerce(vt, nil, v, false)
}

// CoerceTuple coerces v for a heterogeneous tuple attribute whose
// :db/tupleTypes are types: the length must match and each element is
// coerced with Coerce to its type (nil elements are allowed).
func CoerceTuple(types []ValueType, v any) (any, error) {
	return coerce(TypeTuple, types, v, false)
}

// CoerceJSON is Coerce for values decoded from JSON, where every number
// arrives as float64 (or json.Number with Decoder.UseNumber) and the other
// types as strings:
//
//   - long, ref: an integral float64 within ±2^53, or a json.Number integer;
//   - bigint: integral float64, json.Number or decimal string;
//   - double: float64 or json.Number (integers accepted);
//   - bigdec: json.Number, float64 or decimal string;
//   - instant: RFC 3339 string, or a number of milliseconds since the epoch;
//   - uuid: its canonical string; keyword: "ns/name" with or without the
//     leading colon; symbol, uri: string; bytes: standard base64 string;
//   - tuple: a JSON array, elements coerced with CoerceJSON against
//     types (or inferred when types is nil, as for TypeInvalid);
//   - TypeInvalid (schema-on-read): numbers become longs when integral
//     (within ±2^53), else doubles; strings stay strings; booleans stay.
//
// Values already in a Go representation Coerce accepts are accepted too.
func CoerceJSON(vt ValueType, types []ValueType, v any) (any, error) {
	return coerce(vt, types, v, true)
}

// Coerce coerces v for attribute a, taking its :db/tupleTypes into account.
func (a *Attribute) Coerce(v any) (any, error) {
	return coerce(a.ValueType, a.TupleTypes, v, false)
}

func coerce(vt ValueType, types []ValueType, v any, js bool) (any, error) {
	if v == nil {
		return nil, &TypeError{Want: vt, Value: v, Reason: "nil is not a value"}
	}
	if vt == TypeInvalid {
		t, ok := inferType(v, js)
		if !ok {
			return nil, &TypeError{Want: vt, Value: v, Reason: "not a value of any value type"}
		}
		vt = t
	}
	if js {
		if out, ok, err := coerceJSONScalar(vt, v); ok || err != nil {
			return out, err
		}
	}
	fail := func(reason string) (any, error) {
		return nil, &TypeError{Want: vt, Value: v, Reason: reason}
	}
	switch vt {
	case TypeBoolean:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case TypeLong, TypeRef:
		if _, ok := v.(int64); ok {
			return v, nil // boxed already: boxing it again would allocate (as below)
		}
		if n, ok := asInt64(v); ok {
			return n, nil
		}
		if b, ok := v.(*big.Int); ok && b != nil {
			if b.IsInt64() {
				return b.Int64(), nil
			}
			return fail("out of int64 range")
		}
	case TypeBigInt:
		switch x := v.(type) {
		case *big.Int:
			if x == nil {
				return fail("nil *big.Int")
			}
			return x, nil
		case big.Int:
			return new(big.Int).Set(&x), nil
		}
		if n, ok := asInt64(v); ok {
			return big.NewInt(n), nil
		}
		if u, ok := v.(uint64); ok {
			return new(big.Int).SetUint64(u), nil
		}
	case TypeDouble:
		switch x := v.(type) {
		case float64:
			return v, nil
		case float32:
			return float64(x), nil
		}
	case TypeBigDec:
		switch x := v.(type) {
		case *apd.Decimal:
			if x == nil {
				return fail("nil *apd.Decimal")
			}
			if x.Form != apd.Finite || x.Coeff.Sign() < 0 {
				return fail("not finite")
			}
			return x, nil
		case apd.Decimal:
			if x.Form != apd.Finite || x.Coeff.Sign() < 0 {
				return fail("not finite")
			}
			return new(apd.Decimal).Set(&x), nil
		}
	case TypeInstant:
		if t, ok := v.(time.Time); ok {
			// != rather than Equal: the same instant with a monotonic
			// reading or another location is not the stored form.
			if n := NormalizeInstant(t); n != t {
				return n, nil
			}
			return v, nil // normal already: no second box
		}
	case TypeUUID:
		switch x := v.(type) {
		case uuid.UUID:
			return v, nil
		case [16]byte:
			return uuid.UUID(x), nil
		}
	case TypeString:
		if s, ok := v.(string); ok {
			return internString(v, s), nil
		}
	case TypeKeyword:
		if k, ok := v.(edn.Keyword); ok {
			if k == "" {
				return fail("empty keyword")
			}
			return internKeyword(v, k), nil
		}
	case TypeSymbol:
		if s, ok := v.(edn.Symbol); ok {
			if s == "" {
				return fail("empty symbol")
			}
			return v, nil
		}
	case TypeURI:
		switch x := v.(type) {
		case *url.URL:
			if x == nil {
				return fail("nil *url.URL")
			}
			if !canonicalURL(x) {
				return fail("does not parse back from its String form")
			}
			return x, nil
		case url.URL:
			if !canonicalURL(&x) {
				return fail("does not parse back from its String form")
			}
			return &x, nil
		}
	case TypeBytes:
		if b, ok := v.([]byte); ok {
			return append([]byte{}, b...), nil
		}
	case TypeTuple:
		return coerceTuple(types, v, js)
	default:
		return fail("unknown value type")
	}
	return fail("")
}

func coerceTuple(types []ValueType, v any, js bool) (any, error) {
	elems, ok := asTuple(v)
	if !ok {
		return nil, &TypeError{Want: TypeTuple, Value: v}
	}
	if types != nil && len(elems) != len(types) {
		return nil, &TypeError{Want: TypeTuple, Value: v,
			Reason: "tuple length " + strconv.Itoa(len(elems)) + ", :db/tupleTypes has " + strconv.Itoa(len(types))}
	}
	if len(elems) < MinTupleLen || len(elems) > MaxTupleLen {
		return nil, &TypeError{Want: TypeTuple, Value: v,
			Reason: "tuple length " + strconv.Itoa(len(elems)) + " outside 2..8"}
	}
	out := make(edn.Vector, len(elems))
	for i, e := range elems {
		if e == nil {
			continue
		}
		et := TypeInvalid
		if types != nil {
			et = types[i]
		}
		if _, isTuple := asTuple(e); isTuple || et == TypeTuple {
			return nil, &TypeError{Want: TypeTuple, Value: v, Reason: "nested tuple at element " + strconv.Itoa(i)}
		}
		c, err := coerce(et, nil, e, js)
		if err != nil {
			return nil, &TypeError{Want: TypeTuple, Value: v, Reason: "element " + strconv.Itoa(i) + ": " + err.Error()}
		}
		out[i] = c
	}
	return out, nil
}

// NormalizeInstant returns t in UTC, truncated to the millisecond, without
// a monotonic clock reading: the canonical instant.
func NormalizeInstant(t time.Time) time.Time {
	return time.UnixMilli(t.UnixMilli()).UTC() // UnixMilli floors: nsec is in [0, 1e9)
}

func inferType(v any, js bool) (ValueType, bool) {
	if f, ok := v.(float64); ok && js && f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
		return TypeLong, true // JSON cannot tell 1 from 1.0
	}
	if t, ok := TypeOf(v); ok {
		return t, true
	}
	if _, ok := asInt64(v); ok {
		return TypeLong, true
	}
	switch v.(type) {
	case float32:
		return TypeDouble, true
	case json.Number:
		if js {
			if _, err := v.(json.Number).Int64(); err == nil {
				return TypeLong, true
			}
			return TypeDouble, true
		}
	}
	return TypeInvalid, false
}

// asInt64 converts any Go integer type that fits to int64.
func asInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case int16:
		return int64(x), true
	case int8:
		return int64(x), true
	case uint:
		if uint64(x) <= math.MaxInt64 {
			return int64(x), true
		}
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), true
		}
	case uint32:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint8:
		return int64(x), true
	}
	return 0, false
}

// coerceJSONScalar handles the JSON representations; ok is false when v is
// not one of them, and Coerce's rules apply.
func coerceJSONScalar(vt ValueType, v any) (out any, ok bool, err error) {
	fail := func(reason string) (any, bool, error) {
		return nil, true, &TypeError{Want: vt, Value: v, Reason: reason}
	}
	switch x := v.(type) {
	case float64:
		switch vt {
		case TypeLong, TypeRef:
			if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
				return fail("not an integer within ±2^53")
			}
			return int64(x), true, nil
		case TypeBigInt:
			if x != math.Trunc(x) || math.IsInf(x, 0) {
				return fail("not an integer")
			}
			b, _ := big.NewFloat(x).Int(nil)
			return b, true, nil
		case TypeBigDec:
			d, err := new(apd.Decimal).SetFloat64(x)
			if err != nil || d.Form != apd.Finite {
				return fail("not finite")
			}
			return d, true, nil
		case TypeInstant:
			if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
				return fail("not an integral number of milliseconds")
			}
			return time.UnixMilli(int64(x)).UTC(), true, nil
		}
	case json.Number:
		switch vt {
		case TypeLong, TypeRef, TypeInstant:
			n, err := x.Int64()
			if err != nil {
				return fail("not an int64")
			}
			if vt == TypeInstant {
				return time.UnixMilli(n).UTC(), true, nil
			}
			return n, true, nil
		case TypeBigInt:
			b, ok := new(big.Int).SetString(string(x), 10)
			if !ok {
				return fail("not an integer")
			}
			return b, true, nil
		case TypeDouble:
			f, err := x.Float64()
			if err != nil {
				return fail("not a double")
			}
			return f, true, nil
		case TypeBigDec:
			d, _, err := apd.NewFromString(string(x))
			if err != nil || d.Form != apd.Finite {
				return fail("not a finite decimal")
			}
			return d, true, nil
		}
		return fail("")
	case string:
		switch vt {
		case TypeBigInt:
			b, ok := new(big.Int).SetString(x, 10)
			if !ok {
				return fail("not a decimal integer")
			}
			return b, true, nil
		case TypeBigDec:
			d, _, err := apd.NewFromString(x)
			if err != nil || d.Form != apd.Finite {
				return fail("not a finite decimal")
			}
			return d, true, nil
		case TypeInstant:
			t, err := time.Parse(time.RFC3339Nano, x)
			if err != nil {
				return fail("not an RFC 3339 time")
			}
			return NormalizeInstant(t), true, nil
		case TypeUUID:
			u, err := uuid.Parse(x)
			if err != nil {
				return fail("not a uuid")
			}
			return u, true, nil
		case TypeKeyword:
			k := strings.TrimPrefix(x, ":")
			if k == "" {
				return fail("empty keyword")
			}
			return internKeyword(nil, edn.Keyword(k)), true, nil
		case TypeSymbol:
			if x == "" {
				return fail("empty symbol")
			}
			return edn.Symbol(x), true, nil
		case TypeURI:
			u, err := url.Parse(x)
			if err != nil || !canonicalURL(u) {
				return fail("not a uri")
			}
			return u, true, nil
		case TypeBytes:
			b, err := base64.StdEncoding.DecodeString(x)
			if err != nil {
				return fail("not standard base64")
			}
			return b, true, nil
		}
	}
	return nil, false, nil
}

// canonicalURL reports whether u prints as text that parses back to the
// same text: the only uris the codec can store.
func canonicalURL(u *url.URL) bool {
	s := u.String()
	p, err := url.Parse(s)
	return err == nil && p.String() == s
}
