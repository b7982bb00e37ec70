package edn

import (
	"math"
	"math/big"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestEqual(t *testing.T) {
	t0 := time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)
	u := uuid.MustParse("f81d4fae-7dec-11d0-a765-00a0c91e6bf6")
	nan := math.NaN()
	big1 := bigInt("1")
	huge := bigInt("123456789012345678901234567890")
	var nilURL *url.URL
	tests := []struct {
		a, b any
		want bool
	}{
		{nil, nil, true},
		{nil, false, false},
		{nilURL, nil, true},
		{true, true, true},
		{true, false, false},
		{int64(1), int64(1), true},
		{int64(1), int64(2), false},
		{int64(1), big1, true},
		{big1, int64(1), true},
		{huge, bigInt("123456789012345678901234567890"), true},
		{huge, int64(1), false},
		{1, int64(1), true},
		{uint8(1), big1, true},
		{uint64(math.MaxUint64), bigInt("18446744073709551615"), true},
		{int64(1), 1.0, false},
		{int64(1), dec("1"), false},
		{1.0, dec("1"), false},
		{big1, dec("1"), false},
		{1.5, 1.5, true},
		{float32(0.5), 0.5, true},
		{0.0, math.Copysign(0, -1), true},
		{nan, nan, false},
		{math.Inf(1), math.Inf(1), true},
		{dec("1.0"), dec("1.00"), true},
		{dec("100"), dec("1E+2"), true},
		{dec("1.5"), dec("1.50001"), false},
		{"a", "a", true},
		{"a", Keyword("a"), false},
		{Keyword("a"), Symbol("a"), false},
		{Symbol("a"), Symbol("a"), true},
		{Char('a'), "a", false},
		{Char('a'), Char('a'), true},
		{List{int64(1)}, Vector{int64(1)}, true},
		{Vector{int64(1)}, []any{1}, true},
		{Vector{int64(1), int64(2)}, Vector{int64(2), int64(1)}, false},
		{Vector{int64(1)}, Vector{int64(1), int64(1)}, false},
		{Vector{nan}, Vector{nan}, false},
		{Set{int64(1), int64(2)}, Set{int64(2), int64(1)}, true},
		{Set{int64(1), int64(2)}, Set{int64(2), int64(3)}, false},
		{Set{int64(1)}, Vector{int64(1)}, false},
		{Map{{Keyword("a"), int64(1)}, {Keyword("b"), int64(2)}}, Map{{Keyword("b"), int64(2)}, {Keyword("a"), int64(1)}}, true},
		{Map{{Keyword("a"), int64(1)}}, Map{{Keyword("a"), int64(2)}}, false},
		{Map{{Keyword("a"), int64(1)}}, Map{{Keyword("b"), int64(1)}}, false},
		{Map{{"a", int64(1)}}, map[string]any{"a": 1}, true},
		{Map{{Keyword("a"), Vector{"x"}}}, map[Keyword]any{"a": []string{"x"}}, true},
		{MapEntry{Keyword("a"), int64(1)}, Vector{Keyword("a"), int64(1)}, true},
		{t0, t0.In(time.FixedZone("x", 3600)), true},
		{t0, t0.Add(1), false},
		{u, u, true},
		{u, uuid.Nil, false},
		{mustURL("http://a/b"), mustURL("http://a/b"), true},
		{mustURL("http://a/b"), mustURL("http://a/c"), false},
		{[]byte("ab"), []byte("ab"), true},
		{[]byte("ab"), []byte("ac"), false},
		{[]byte{}, []byte(nil), true},
		{regexp.MustCompile("a+"), regexp.MustCompile("a+"), true},
		{regexp.MustCompile("a+"), regexp.MustCompile("a*"), false},
		{Tagged{"t", int64(1)}, Tagged{"t", big1}, true},
		{Tagged{"t", int64(1)}, Tagged{"u", int64(1)}, false},
	}
	for _, tc := range tests {
		if got := Equal(tc.a, tc.b); got != tc.want {
			t.Errorf("Equal(%s, %s) = %v, want %v", String(tc.a), String(tc.b), got, tc.want)
		}
		if got := Equal(tc.b, tc.a); got != tc.want {
			t.Errorf("Equal(%s, %s) (swapped) = %v, want %v", String(tc.b), String(tc.a), got, tc.want)
		}
		if tc.want && hashOf(tc.a) != hashOf(tc.b) {
			t.Errorf("hashOf(%s) != hashOf(%s) for equal values", String(tc.a), String(tc.b))
		}
	}
}

// TestEqualLargeCollections exercises the hashed path (more than smallColl
// elements) against the pairwise one.
func TestEqualLargeCollections(t *testing.T) {
	var s1, s2 Set
	var m1, m2 Map
	for i := range 100 {
		s1 = append(s1, int64(i))
		s2 = append(s2, big.NewInt(int64(99-i)))
		m1 = append(m1, MapEntry{Vector{int64(i)}, int64(i)})
		m2 = append(m2, MapEntry{List{int64(99 - i)}, int64(99 - i)})
	}
	if !Equal(s1, s2) || !Equal(m1, m2) {
		t.Fatalf("large equal set/map compared unequal")
	}
	s2[5] = int64(1000)
	m2[5].Val = int64(-1)
	if Equal(s1, s2) || Equal(m1, m2) {
		t.Fatalf("large different set/map compared equal")
	}
	dups := append(s1[:50:50], big.NewInt(7))
	if i, j := firstDup(len(dups), func(i int) any { return dups[i] }); i != 7 || j != 50 {
		t.Fatalf("firstDup = %d, %d; want 7, 50", i, j)
	}
	kws := []Keyword{"a", "b", "c", "b"}
	if i, j := firstDup(len(kws), func(i int) any { return kws[i] }); i != 1 || j != 3 {
		t.Fatalf("firstDup(keywords) = %d, %d; want 1, 3", i, j)
	}
}

func TestMapGet(t *testing.T) {
	m := Map{{Keyword("a"), int64(1)}, {Vector{int64(1), int64(2)}, "v"}}
	if v, ok := m.Get(List{big.NewInt(1), 2}); !ok || v != "v" {
		t.Fatalf("Get([1 2]) = %v, %v; want \"v\", true", v, ok)
	}
	if v, ok := m.Get(Keyword("b")); ok || v != nil {
		t.Fatalf("Get(:b) = %v, %v; want nil, false", v, ok)
	}
}

// TestEqualCycle: a cyclic Go value (never produced by the reader) must
// not overflow the stack; it compares unequal.
func TestEqualCycle(t *testing.T) {
	cyc := []any{nil}
	cyc[0] = cyc
	if Equal(cyc, cyc) {
		t.Fatal("Equal(cyclic, cyclic) = true, want false")
	}
	_ = hashOf(cyc)
	if got := String(cyc); got == "" {
		t.Fatal("String(cyclic) is empty")
	}
}
