package datom

import (
	"bytes"
	"flag"
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/accretedb/accrete/edn"
	"github.com/cockroachdb/apd/v3"
)

var seedFlag = flag.Uint64("seed", 0, "seed for random tests (0: time-based)")

// newRand returns a seeded generator and logs the seed so a failure can be
// replayed with -seed.
func newRand(t testing.TB) *rand.Rand {
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -seed=%d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

func sign(c int) int {
	switch {
	case c < 0:
		return -1
	case c > 0:
		return 1
	}
	return 0
}

// TestCompareValuesTotalOrder checks antisymmetry, transitivity and
// reflexivity on random values of every type, and that AppendValueKey
// orders exactly as CompareValues.
func TestCompareValuesTotalOrder(t *testing.T) {
	r := newRand(t)
	vals := make([]any, 600)
	for i := range vals {
		vals[i] = randValue(r)
	}
	vals = append(vals, nil)
	keys := make([][]byte, len(vals))
	for i, v := range vals {
		keys[i] = AppendValueKey(nil, v)
	}
	for i, a := range vals {
		if c := CompareValues(a, a); c != 0 {
			t.Fatalf("CompareValues(%#v, itself) = %d, want 0", a, c)
		}
		for j, b := range vals {
			ab, ba := CompareValues(a, b), CompareValues(b, a)
			if sign(ab) != -sign(ba) {
				t.Fatalf("not antisymmetric: cmp(%#v, %#v) = %d, reverse = %d", a, b, ab, ba)
			}
			if got := bytes.Compare(keys[i], keys[j]); got != sign(ab) {
				t.Fatalf("key order %d != CompareValues %d for %#v vs %#v\nkeys %x\n     %x", got, ab, a, b, keys[i], keys[j])
			}
			if EqualValues(a, b) != (ab == 0) {
				t.Fatalf("EqualValues(%#v, %#v) = %v, CompareValues = %d", a, b, EqualValues(a, b), ab)
			}
		}
	}
	// Transitivity on random triples.
	for n := 0; n < 200000; n++ {
		a, b, c := vals[r.IntN(len(vals))], vals[r.IntN(len(vals))], vals[r.IntN(len(vals))]
		if CompareValues(a, b) <= 0 && CompareValues(b, c) <= 0 && CompareValues(a, c) > 0 {
			t.Fatalf("not transitive: %#v <= %#v <= %#v but first > last", a, b, c)
		}
	}
}

// TestAppendValueKeySelfDelimiting checks that concatenated keys compare as
// the tuple of their values.
func TestAppendValueKeySelfDelimiting(t *testing.T) {
	r := newRand(t)
	for n := 0; n < 20000; n++ {
		a1, a2, b1, b2 := randValue(r), randValue(r), randValue(r), randValue(r)
		if r.IntN(2) == 0 {
			b1 = a1
		}
		want := CompareValues(a1, b1)
		if want == 0 {
			want = CompareValues(a2, b2)
		}
		ka := AppendValueKey(AppendValueKey(nil, a1), a2)
		kb := AppendValueKey(AppendValueKey(nil, b1), b2)
		if got := bytes.Compare(ka, kb); got != want {
			t.Fatalf("concatenated keys: got %d want %d for (%#v %#v) vs (%#v %#v)", got, want, a1, a2, b1, b2)
		}
	}
}

func TestCompareValuesCases(t *testing.T) {
	negZero := math.Copysign(0, -1)
	tests := []struct {
		a, b any
		want int
	}{
		{nil, false, -1},
		{true, int64(0), -1}, // boolean before long by type number
		{int64(-5), int64(3), -1},
		{int64(1), big.NewInt(0), -1}, // long before bigint by type
		{big.NewInt(-10), big.NewInt(-9), -1},
		{negZero, 0.0, -1},
		{math.Inf(1), math.NaN(), -1},
		{math.NaN(), math.Float64frombits(0xFFF8000000000001), 0},
		{apd.New(10, -1), apd.New(1, 0), -1},   // 1.0 vs 1: equal numerically, smaller exponent first
		{apd.New(-15, -1), apd.New(-1, 0), -1}, // -1.5 < -1
		{apd.New(1, 1), apd.New(99, 0), -1},    // 1E1 = 10 < 99
		{time.UnixMilli(5).UTC(), time.UnixMilli(5).In(time.FixedZone("x", 3600)), 0},
		{"a", "ab", -1},
		{"\u00e9", "z", 1}, // bytewise UTF-8
		{"\uffff", "\U00010000", -1},
		{edn.Keyword("b"), edn.Keyword("a/a"), -1}, // no namespace sorts first
		{edn.Keyword("a/b"), edn.Keyword("a.b/a"), -1},
		{edn.Keyword("a/z"), edn.Keyword("b/a"), -1},
		{edn.Symbol("x"), edn.Keyword("x"), 1},
		{[]byte{1}, []byte{1, 0}, -1},
		{edn.Vector{int64(1), nil}, edn.Vector{int64(1), int64(0)}, -1},
		{edn.Vector{int64(1), "a"}, edn.Vector{int64(1), "a", nil}, -1},
		{edn.Vector{int64(2)}, edn.Vector{int64(1), "a", nil}, 1},
		{edn.Vector{int64(1)}, []any{int64(1)}, 0},
		{struct{}{}, edn.Vector{}, 1}, // unknown Go types sort last
	}
	for _, tc := range tests {
		want := tc.want
		if got := CompareValues(tc.a, tc.b); got != want {
			t.Errorf("CompareValues(%#v, %#v) = %d, want %d", tc.a, tc.b, got, want)
		}
		if got := CompareValues(tc.b, tc.a); got != -want {
			t.Errorf("CompareValues(%#v, %#v) = %d, want %d", tc.b, tc.a, got, -want)
		}
		if got := bytes.Compare(AppendValueKey(nil, tc.a), AppendValueKey(nil, tc.b)); got != want {
			t.Errorf("key order of %#v vs %#v = %d, want %d", tc.a, tc.b, got, want)
		}
	}
}

func TestTypeOf(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, vt := range allTypes {
		v := randScalar(r, vt)
		want := vt
		if vt == TypeRef {
			want = TypeLong // refs are int64 like longs
		}
		if got, ok := TypeOf(v); !ok || got != want {
			t.Errorf("TypeOf(%#v) = %v, %v; want %v, true", v, got, ok, want)
		}
	}
	for _, v := range []any{nil, 3, float32(1), struct{}{}, map[string]int{}} {
		if got, ok := TypeOf(v); ok {
			t.Errorf("TypeOf(%#v) = %v, true; want false", v, got)
		}
	}
}

// FuzzValueKeyOrder decodes two datoms from arbitrary bytes and checks that
// their values' keys order as CompareValues does, on values no generator
// thought of.
func FuzzValueKeyOrder(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 5))
	for range 30 {
		a, _ := AppendDatom(nil, randDatom(r))
		b, _ := AppendDatom(nil, randDatom(r))
		f.Add(a, b)
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		da, _, err := DecodeDatom(a)
		if err != nil {
			return
		}
		db, _, err := DecodeDatom(b)
		if err != nil {
			return
		}
		c := CompareValues(da.V, db.V)
		if c != -CompareValues(db.V, da.V) {
			t.Fatalf("not antisymmetric: %#v vs %#v", da.V, db.V)
		}
		if got := bytes.Compare(AppendValueKey(nil, da.V), AppendValueKey(nil, db.V)); got != c {
			t.Fatalf("key order %d, CompareValues %d: %#v vs %#v", got, c, da.V, db.V)
		}
	})
}

// TestCompareKeywordsOddSlashes checks the keyword fast path against the
// definition (namespace, then name, as edn.Keyword splits them) on keywords
// with slashes in unusual places.
func TestCompareKeywordsOddSlashes(t *testing.T) {
	kws := []edn.Keyword{"", "/", "//", "/a", "a", "a/", "a/b", "a/b/c", "a//b", "ab", "ab/c", "a.b/c", "b", "b/a", "/a/b", "a/a"}
	for _, a := range kws {
		for _, b := range kws {
			want := strings.Compare(a.Namespace(), b.Namespace())
			if want == 0 {
				want = strings.Compare(a.Name(), b.Name())
			}
			if got := CompareValues(a, b); got != want {
				t.Errorf("CompareValues(%q, %q) = %d, want %d", a, b, got, want)
			}
			if got := bytes.Compare(AppendValueKey(nil, a), AppendValueKey(nil, b)); got != want {
				t.Errorf("key order of %q vs %q = %d, want %d", a, b, got, want)
			}
		}
	}
}
