package edn

import (
	"bytes"
	"math"
	"math/big"
	"net/url"
	"reflect"
	"regexp"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"
)

// Equal reports whether a and b are the same EDN value. It follows Clojure's
// = on EDN data:
//   - integers compare by value whatever their representation (int64,
//     *big.Int, and Go's int, int32, uint64, …), but an integer never equals a
//     float or a decimal (1 ≠ 1.0 ≠ 1M);
//   - floats compare with ==, so ##NaN equals nothing and -0.0 equals 0.0;
//   - decimals compare by numeric value (1.0M equals 1.00M);
//   - lists and vectors with equal elements in the same order are equal (as
//     in Clojure); sets and maps are equal regardless of order;
//   - strings, keywords, symbols and characters are different types: "a",
//     :a, a and \a are all different;
//   - instants compare as instants (time.Time.Equal); UUIDs, URIs, byte
//     slices and regexes compare by content (URIs and regexes by their text);
//   - Go slices and maps accepted by Marshal compare as the vectors and maps
//     they print as.
func Equal(a, b any) bool { return equal(a, b, false) }

// equal is Equal; with nanEq, NaN equals NaN (for round-trip tests).
func equal(a, b any, nanEq bool) bool { return eq(a, b, nanEq, 0) }

// maxEqualDepth stops Equal and hashOf on values nested deeper than any
// reader output (a cyclic []any built in Go): such values compare unequal.
const maxEqualDepth = 2 * maxDepth

func eq(a, b any, nanEq bool, depth int) bool {
	if depth > maxEqualDepth {
		return false
	}
	a, b = canon(a), canon(b)
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case int64:
		switch y := b.(type) {
		case int64:
			return x == y
		case *big.Int:
			return y.IsInt64() && y.Int64() == x
		}
		return false
	case *big.Int:
		switch y := b.(type) {
		case int64:
			return x.IsInt64() && x.Int64() == y
		case *big.Int:
			return x.Cmp(y) == 0
		}
		return false
	case float64:
		y, ok := b.(float64)
		return ok && (x == y || nanEq && math.IsNaN(x) && math.IsNaN(y))
	case *apd.Decimal:
		y, ok := b.(*apd.Decimal)
		if !ok {
			return false
		}
		if x.Form != apd.Finite || y.Form != apd.Finite {
			return x.Form == y.Form && x.Form == apd.Infinite && x.Negative == y.Negative
		}
		return x.Cmp(y) == 0
	case string:
		y, ok := b.(string)
		return ok && x == y
	case Keyword:
		y, ok := b.(Keyword)
		return ok && x == y
	case Symbol:
		y, ok := b.(Symbol)
		return ok && x == y
	case Char:
		y, ok := b.(Char)
		return ok && x == y
	case List:
		return seqEqual(x, b, nanEq, depth+1)
	case Vector:
		return seqEqual(x, b, nanEq, depth+1)
	case Set:
		y, ok := b.(Set)
		return ok && setEqual(x, y, nanEq, depth+1)
	case Map:
		y, ok := b.(Map)
		return ok && mapEqual(x, y, nanEq, depth+1)
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case uuid.UUID:
		y, ok := b.(uuid.UUID)
		return ok && x == y
	case *url.URL:
		y, ok := b.(*url.URL)
		return ok && x.String() == y.String()
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case *regexp.Regexp:
		y, ok := b.(*regexp.Regexp)
		return ok && x.String() == y.String()
	case Tagged:
		y, ok := b.(Tagged)
		return ok && x.Tag == y.Tag && eq(x.Value, y.Value, nanEq, depth+1)
	}
	return reflect.DeepEqual(a, b)
}

func seqEqual(x []any, b any, nanEq bool, depth int) bool {
	var y []any
	switch b := b.(type) {
	case List:
		y = b
	case Vector:
		y = b
	default:
		return false
	}
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if !eq(x[i], y[i], nanEq, depth) {
			return false
		}
	}
	return true
}

// smallColl is the size up to which sets and maps are compared pairwise
// rather than through a hash index.
const smallColl = 8

func setEqual(x, y Set, nanEq bool, depth int) bool {
	if len(x) != len(y) {
		return false
	}
	return subset(x, y, nanEq, depth) && subset(y, x, nanEq, depth)
}

// subset reports whether every element of x is in y.
func subset(x, y []any, nanEq bool, depth int) bool {
	if len(y) <= smallColl {
		for _, e := range x {
			found := false
			for _, f := range y {
				if eq(e, f, nanEq, depth) {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
		return true
	}
	idx := hashIndex(len(y), func(i int) any { return y[i] })
	for _, e := range x {
		found := false
		for _, i := range idx[hashOf(e)] {
			if eq(e, y[i], nanEq, depth) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func indexOf(xs []any, v any, nanEq bool) int {
	for i, e := range xs {
		if equal(e, v, nanEq) {
			return i
		}
	}
	return -1
}

func hashIndex(n int, at func(int) any) map[uint64][]int {
	idx := make(map[uint64][]int, n)
	for i := 0; i < n; i++ {
		h := hashOf(at(i))
		idx[h] = append(idx[h], i)
	}
	return idx
}

func mapEqual(x, y Map, nanEq bool, depth int) bool {
	if len(x) != len(y) {
		return false
	}
	find := func(k any) int {
		for i, e := range y {
			if eq(e.Key, k, nanEq, depth) {
				return i
			}
		}
		return -1
	}
	if len(y) > smallColl {
		idx := hashIndex(len(y), func(i int) any { return y[i].Key })
		find = func(k any) int {
			for _, i := range idx[hashOf(k)] {
				if eq(y[i].Key, k, nanEq, depth) {
					return i
				}
			}
			return -1
		}
	}
	for _, e := range x {
		i := find(e.Key)
		if i < 0 || !eq(e.Val, y[i].Val, nanEq, depth) {
			return false
		}
	}
	return true
}

// firstDup returns the indexes i < j of the first pair of Equal values
// among at(0), …, at(n-1), or (-1, -1). Keyword-only collections (the usual
// map keys) take a fast path.
func firstDup(n int, at func(int) any) (int, int) {
	if n < 2 {
		return -1, -1
	}
	if n <= 4*smallColl {
		if i, j, ok := firstDupKeywords(n, at); ok {
			return i, j
		}
	}
	if n <= smallColl {
		for j := 1; j < n; j++ {
			for i := 0; i < j; i++ {
				if equal(at(i), at(j), false) {
					return i, j
				}
			}
		}
		return -1, -1
	}
	idx := make(map[uint64][]int, n)
	for j := range n {
		x := at(j)
		h := hashOf(x)
		for _, i := range idx[h] {
			if equal(at(i), x, false) {
				return i, j
			}
		}
		idx[h] = append(idx[h], j)
	}
	return -1, -1
}

// firstDupKeywords is firstDup for collections of keywords only (ok false
// otherwise), comparing the strings pairwise without canon or hashing.
func firstDupKeywords(n int, at func(int) any) (int, int, bool) {
	var buf [4 * smallColl]Keyword
	ks := buf[:n]
	for i := range ks {
		k, ok := at(i).(Keyword)
		if !ok {
			return 0, 0, false
		}
		ks[i] = k
	}
	for j := 1; j < n; j++ {
		for i := 0; i < j; i++ {
			if ks[i] == ks[j] {
				return i, j, true
			}
		}
	}
	return -1, -1, true
}

// canon turns the Go values Marshal accepts besides the EDN types (int,
// uint64, float32, []any, map[string]any, typed nil pointers, named types
// of basic kinds such as `type Email string`, …) into the EDN
// representation they print as.
func canon(v any) any {
	switch x := v.(type) {
	case nil, bool, int64, float64, string, Keyword, Symbol, Char, List, Vector, Set, Map,
		time.Time, uuid.UUID, []byte, Tagged:
		return v
	case *big.Int:
		if x == nil {
			return nil
		}
		return v
	case *apd.Decimal:
		if x == nil {
			return nil
		}
		return v
	case *url.URL:
		if x == nil {
			return nil
		}
		return v
	case *regexp.Regexp:
		if x == nil {
			return nil
		}
		return v
	case int:
		return int64(x)
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint:
		return canonUint(uint64(x))
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		return canonUint(x)
	case float32:
		return float64(x)
	case apd.Decimal:
		return &x
	case MapEntry:
		return Vector{x.Key, x.Val}
	case []any:
		return Vector(x)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return Vector(nil)
		}
		out := make(Vector, rv.Len())
		for i := range out {
			out[i] = rv.Index(i).Interface()
		}
		return out
	case reflect.Map:
		out := make(Map, 0, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			out = append(out, MapEntry{Key: it.Key().Interface(), Val: it.Value().Interface()})
		}
		return out
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil
		}
	case reflect.String:
		return rv.String()
	case reflect.Bool:
		return rv.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return canonUint(rv.Uint())
	case reflect.Float32, reflect.Float64:
		return rv.Float()
	}
	return v
}

func canonUint(x uint64) any {
	if x <= math.MaxInt64 {
		return int64(x)
	}
	return new(big.Int).SetUint64(x)
}

// Hashing, consistent with equal: Equal values hash alike. Used to find
// duplicates in big sets and maps and to compare them.

const (
	hashPrime = 0x100000001b3
	hashBasis = 0xcbf29ce484222325
)

func mix(h, x uint64) uint64 {
	h ^= x
	h *= hashPrime
	h ^= h >> 29
	return h
}

func hashBytes(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= hashPrime
	}
	return h
}

func hashString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= hashPrime
	}
	return h
}

func hashOf(v any) uint64 { return hashDepth(v, 0) }

func hashDepth(v any, depth int) uint64 {
	if depth > maxEqualDepth {
		return 0
	}
	switch x := canon(v).(type) {
	case nil:
		return mix(hashBasis, 1)
	case bool:
		if x {
			return mix(hashBasis, 2)
		}
		return mix(hashBasis, 3)
	case int64:
		return mix(mix(hashBasis, 4), uint64(x))
	case *big.Int:
		if x.IsInt64() {
			return mix(mix(hashBasis, 4), uint64(x.Int64()))
		}
		return hashBytes(mix(hashBasis, uint64(x.Sign()+5)), x.Bytes())
	case float64:
		if x == 0 {
			x = 0 // -0.0 equals 0.0
		}
		return mix(mix(hashBasis, 7), math.Float64bits(x))
	case *apd.Decimal:
		if x.Form != apd.Finite {
			return mix(mix(hashBasis, 8), uint64(x.Form))
		}
		if x.IsZero() {
			return mix(hashBasis, 9)
		}
		var r apd.Decimal
		r.Reduce(x)
		return hashString(mix(hashBasis, 10), r.String())
	case string:
		return hashString(mix(hashBasis, 11), x)
	case Keyword:
		return hashString(mix(hashBasis, 12), string(x))
	case Symbol:
		return hashString(mix(hashBasis, 13), string(x))
	case Char:
		return mix(mix(hashBasis, 14), uint64(x))
	case List:
		return hashSeq(x, depth+1)
	case Vector:
		return hashSeq(x, depth+1)
	case Set:
		var sum uint64
		for _, e := range x {
			sum += hashDepth(e, depth+1)
		}
		return mix(mix(hashBasis, 16), sum)
	case Map:
		var sum uint64
		for _, e := range x {
			sum += mix(hashDepth(e.Key, depth+1), hashDepth(e.Val, depth+1))
		}
		return mix(mix(hashBasis, 17), sum)
	case time.Time:
		return mix(mix(mix(hashBasis, 18), uint64(x.Unix())), uint64(x.Nanosecond()))
	case uuid.UUID:
		return hashBytes(mix(hashBasis, 19), x[:])
	case *url.URL:
		return hashString(mix(hashBasis, 20), x.String())
	case []byte:
		return hashBytes(mix(hashBasis, 21), x)
	case *regexp.Regexp:
		return hashString(mix(hashBasis, 22), x.String())
	case Tagged:
		return mix(hashString(mix(hashBasis, 23), string(x.Tag)), hashDepth(x.Value, depth+1))
	}
	return 0
}

func hashSeq(xs []any, depth int) uint64 {
	h := mix(hashBasis, 15)
	for _, e := range xs {
		h = mix(h, hashDepth(e, depth))
	}
	return h
}
