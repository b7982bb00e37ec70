package query

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/reader"
)

// rangeKeywords are keywords at the edges of their order (namespace, then
// name; the first slash after position 0 splits them), with namespaces
// that order differently from their strings (a.b and user-x sort after a
// and user, though "a.b/c" < "a/b" as strings).
var rangeKeywords = []edn.Keyword{"", "a", "a\x00", "a\x00\x00", "ab", "b", "/", "/a", "/\x00", "a/", "a/\x00", "a/b", "a/b\x00", "a/b/c",
	"a/b\x00/c", "a\x00/b", "a.b/c", "ab/", "ab/a", "b/a", "z", "\xff/\xff", "user/name", "user-x/id", "user.x/id", "user/", "userx/a"}

// rangeDoubles are doubles at the edges of their order: both zeros, the
// smallest subnormals, the infinities and NaN.
var rangeDoubles = []float64{math.Inf(-1), -math.MaxFloat64, -1.5, -1, -math.SmallestNonzeroFloat64,
	math.Copysign(0, -1), 0, math.SmallestNonzeroFloat64, 0x1p-1022, 1, 1.5, math.MaxFloat64, math.Inf(1), math.NaN()}

// rangeFamilies are values of each type a range can be pushed down on.
func rangeFamilies() [][]any {
	r := rand.New(rand.NewPCG(3, 5))
	strs := []string{"", "\x00", "\x00\x00", "a", "a\x00", "a\x00\x00", "a\x01", "ab", "b", "\xff", "\xff\xff", "é", "ü\x00"}
	longs := []int64{math.MinInt64, -2, -1, 0, 1, 2, math.MaxInt64 - 1, math.MaxInt64}
	t0 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	insts := []time.Time{t0.Add(-time.Nanosecond), t0, t0.Add(time.Nanosecond), t0.Add(time.Second)}
	families := make([][]any, 5)
	for _, f := range rangeDoubles {
		families[0] = append(families[0], f)
	}
	for range 200 {
		// Neighbours of random doubles, bit for bit (NaNs of every
		// payload among them).
		b := r.Uint64()
		for d := uint64(0); d < 3; d++ {
			families[0] = append(families[0], math.Float64frombits(b+d))
		}
	}
	for _, s := range strs {
		families[1] = append(families[1], s)
	}
	for _, x := range longs {
		families[2] = append(families[2], x)
	}
	for _, x := range insts {
		families[3] = append(families[3], x)
	}
	for _, k := range rangeKeywords {
		families[4] = append(families[4], k)
	}
	return families
}

// TestRangeBoundsMatchPredicates: a range pushed down into AVET scans
// [rangeStart(lo), rangeEnd(hi)) in the index's order (datom.CompareValues)
// and keeps the predicates as filters (compareValues), so the scan must
// hold every value the predicates accept, and, to stop at the range's
// last leaf, nothing above: for every v, v <= hi exactly when v is below
// the end, and v >= lo exactly when v is at or above the start. rangeEnd
// is nil only where no value is above hi.
func TestRangeBoundsMatchPredicates(t *testing.T) {
	for fi, vals := range rangeFamilies() {
		for _, b := range vals {
			start := rangeStart(b)
			for _, v := range vals {
				if in, after := compareValues(v, b) >= 0, datom.CompareValues(v, start) >= 0; in != after {
					t.Fatalf("family %d: lo %#v, start %#v: v %#v is in the range %v, at or after the start %v", fi, b, start, v, in, after)
				}
			}
			end := rangeEnd(b)
			if end == nil {
				for _, v := range vals {
					if compareValues(v, b) > 0 {
						t.Fatalf("family %d: rangeEnd(%#v) is nil, yet %#v is above it", fi, b, v)
					}
				}
				continue
			}
			for _, v := range vals {
				if in, before := compareValues(v, b) <= 0, datom.CompareValues(v, end) < 0; in != before {
					t.Fatalf("family %d: hi %#v, end %#v: v %#v is in the range %v, before the end %v", fi, b, end, v, in, before)
				}
			}
		}
	}
	if end := rangeEnd(math.Copysign(0, -1)); end != math.SmallestNonzeroFloat64 {
		t.Fatalf("rangeEnd(-0.0) = %#v, want the smallest double above 0.0 (0.0 is a value <= -0.0)", end)
	}
}

// TestKeywordOrder: comparisons order keywords and symbols by namespace,
// then name, as Clojure's compare and the index do, not as their strings.
func TestKeywordOrder(t *testing.T) {
	for _, c := range []struct{ a, b any }{
		{edn.Keyword("user/name"), edn.Keyword("user-x/id")},
		{edn.Keyword("a/b"), edn.Keyword("a.b/c")},
		{edn.Keyword("z"), edn.Keyword("a/a")},
		{edn.Symbol("user/name"), edn.Symbol("user-x/id")},
	} {
		if compareValues(c.a, c.b) >= 0 || compareValues(c.b, c.a) <= 0 {
			t.Errorf("%v is not below %v", c.a, c.b)
		}
	}
}

// rangeRecorder is a source that records the bounds of every IndexRange
// call.
type rangeRecorder struct {
	*MemSource
	starts, ends []any
}

func (s *rangeRecorder) IndexRange(ctx context.Context, a datom.ID, start, end any, fn func(datom.Datom) bool) error {
	s.starts = append(s.starts, start)
	s.ends = append(s.ends, end)
	return s.MemSource.IndexRange(ctx, a, start, end, fn)
}

// TestRangePushdownMatchesFilter: a range on an indexed string, keyword or
// double is pushed down into AVET (one IndexRange call; an inclusive upper
// bound passed as the value just above it), and answers as the predicate
// does as a plain filter of the attribute's values, at the edges of each
// order (-0.0 and 0.0, NaN, which no order predicate accepts, a string and
// its extensions by zero bytes, namespaces that sort apart from their
// strings).
func TestRangePushdownMatchesFilter(t *testing.T) {
	ctx := context.Background()
	s, ds := buildSchema(t, `[{:db/ident :s :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/index true}
	 {:db/ident :d :db/valueType :db.type/double :db/cardinality :db.cardinality/one :db/index true}
	 {:db/ident :k :db/valueType :db.type/keyword :db/cardinality :db.cardinality/one :db/index true}]`)
	strs := []string{"", "\x00", "a", "a\x00", "a\x00\x00", "a\x01", "ab", "b", "\xff"}
	attrs := map[string][]any{}
	for _, v := range strs {
		attrs["s"] = append(attrs["s"], v)
	}
	for _, v := range rangeDoubles {
		attrs["d"] = append(attrs["d"], v)
	}
	for _, v := range rangeKeywords {
		attrs["k"] = append(attrs["k"], v)
	}
	var vals []datom.Datom
	e := int64(1)
	for name, vs := range attrs {
		a := s.AttrByIdent(edn.Keyword(name)).ID
		for _, v := range vs {
			vals = append(vals, datom.Datom{E: datom.MakeID(datom.PartUser, e), A: a, V: v, Tx: defaultTx, Added: true})
			e++
		}
	}
	src := &rangeRecorder{MemSource: NewMemSource(s, append(ds, vals...), false)}
	for name, vs := range attrs {
		a := s.AttrByIdent(edn.Keyword(name)).ID
		for _, op := range []string{"<=", ">="} {
			for _, b := range vs {
				src.starts, src.ends = nil, nil
				q := fmt.Sprintf(`[:find [?e ...] :in $ ?b :where [?e :%s ?v] [(%s ?v ?b)]]`, name, op)
				r, err := Q(ctx, q, src, b)
				if err != nil {
					t.Fatalf("%s with %#v: %v", q, b, err)
				}
				if len(src.ends) != 1 {
					t.Fatalf("%s with %#v: %d IndexRange calls, want 1 (the range is not pushed down)", q, b, len(src.ends))
				}
				if op == "<=" {
					if want := wantEnd(b); want != nil && (src.ends[0] == nil || datom.CompareValues(src.ends[0], want) != 0) {
						t.Errorf("%s with %#v: IndexRange end %#v, want %#v", q, b, src.ends[0], want)
					}
				}
				var want []int64
				for _, d := range vals {
					if c := compareValues(d.V, b); d.A == a && !unordered(d.V, b) && ((op == "<=" && c <= 0) || (op == ">=" && c >= 0)) {
						want = append(want, d.E)
					}
				}
				got := sortedEntities(r)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("%s with %#v: got entities %v, want %v", q, b, got, want)
				}
			}
		}
	}
}

// wantEnd is the end a range with inclusive upper bound hi passes
// IndexRange, worked out apart from rangeEnd (nil: any).
func wantEnd(hi any) any {
	switch v := hi.(type) {
	case string:
		return v + "\x00"
	case edn.Keyword:
		return edn.Keyword(string(v) + "\x00")
	case float64:
		switch {
		case v != v:
			return nil
		case math.IsInf(v, 1):
			return math.NaN()
		case v == 0:
			return math.SmallestNonzeroFloat64
		}
		return math.Nextafter(v, math.Inf(1))
	}
	panic(fmt.Sprintf("wantEnd: %T", hi))
}

// TestNaNOrder: NaN compares above every number, whatever its type, and
// equal to NaN; -0.0 equals 0.0.
func TestNaNOrder(t *testing.T) {
	nan := math.NaN()
	for _, x := range []any{int64(math.MaxInt64), math.Inf(1), 1.5, int64(-3)} {
		if compareValues(nan, x) <= 0 || compareValues(x, nan) >= 0 {
			t.Errorf("NaN is not above %#v", x)
		}
	}
	if compareValues(nan, math.Float64frombits(0x7ff8000000000001)) != 0 {
		t.Error("two NaNs compare unequal")
	}
	if compareValues(math.Copysign(0, -1), 0.0) != 0 || compareValues(int64(0), math.Copysign(0, -1)) != 0 {
		t.Error("-0.0 and 0 compare unequal")
	}
}

// TestNaNPredicates: every order predicate is false of NaN, as in Clojure,
// whether it runs as a fused filter, a call, or a numeric test.
func TestNaNPredicates(t *testing.T) {
	ctx := context.Background()
	nan := math.NaN()
	for _, q := range []string{
		`[:find ?x . :in ?x :where [(< ?x 1.0)]]`,
		`[:find ?x . :in ?x :where [(>= ?x 1.0)]]`,
		`[:find ?x . :in ?x :where [(> ?x 1)]]`,
		`[:find ?x . :in ?x :where [(<= ?x ?x)]]`,
		`[:find ?x . :in ?x :where [(< 0 ?x 2)]]`,
		`[:find ?x . :in ?x :where [(== ?x ?x)]]`,
		`[:find ?x . :in ?x :where [(pos? ?x)]]`,
		`[:find ?x . :in ?x :where [(neg? ?x)]]`,
		`[:find ?x . :in ?x :where [(zero? ?x)]]`,
	} {
		r, err := Q(ctx, q, nan)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if r != nil {
			t.Errorf("%s with NaN: got %v, want no match", q, r)
		}
	}
	// compare and max still order NaN above every number.
	r, err := Q(ctx, `[:find (max ?x) . :in [?x ...]]`, []any{1.5, nan, int64(7)})
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := r.(float64); !ok || f == f {
		t.Errorf("max over 1.5, NaN, 7: got %v, want NaN", r)
	}
}

// TestRangePushdownAbsorbsLongAndInstant: a comparison of a long or
// instant attribute's value with a constant is implemented by the AVET
// range alone (a strict bound becomes the next value, and the plan keeps
// no filter for it), and answers exactly as the predicate does, for every
// operator, both argument orders and bounds at the edges of the order
// (the smallest and largest long), on a MemSource and on a reader.DB,
// whose ranges come a leaf at a time (node width 4: many leaves).
func TestRangePushdownAbsorbsLongAndInstant(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	vals := map[string][]any{}
	for _, x := range []int64{math.MinInt64, math.MinInt64 + 1, -2, -1, 0, 1, 2, 3, 7, math.MaxInt64 - 1, math.MaxInt64} {
		vals["l"] = append(vals["l"], x)
	}
	for _, d := range []time.Duration{-time.Hour, -time.Nanosecond, 0, time.Nanosecond, 2 * time.Nanosecond, time.Second} {
		vals["t"] = append(vals["t"], t0.Add(d))
	}
	db, err := reader.NewEmpty(ctx, nil, false, 4)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := db.With(ctx, `[{:db/ident :l :db/valueType :db.type/long :db/cardinality :db.cardinality/many :db/index true}
	 {:db/ident :t :db/valueType :db.type/instant :db/cardinality :db.cardinality/many :db/index true}]`, nil)
	if err != nil {
		t.Fatal(err)
	}
	db = rep.DBAfter
	// Each value on three entities, so that ranges span leaves.
	var tx []any
	for name, vs := range vals {
		for i, v := range vs {
			for k := range 3 {
				tx = append(tx, edn.Vector{edn.Keyword("db/add"), fmt.Sprintf("%s%d-%d", name, i, k), edn.Keyword(name), v})
			}
		}
	}
	if rep, err = db.With(ctx, edn.Vector(tx), nil); err != nil {
		t.Fatal(err)
	}
	db = rep.DBAfter
	var all []datom.Datom
	if err := db.Datoms(ctx, datom.EAVT, nil, func(d datom.Datom) bool { all = append(all, d); return true }); err != nil {
		t.Fatal(err)
	}
	mem := NewMemSource(db.Schema(), all, false)
	for srcName, src := range map[string]Source{"reader": db, "mem": mem} {
		for name, vs := range vals {
			a := db.Schema().AttrByIdent(edn.Keyword(name)).ID
			for _, op := range []string{"<", ">", "<=", ">="} {
				for _, swap := range []bool{false, true} {
					pred := fmt.Sprintf("(%s ?v ?b)", op)
					if swap {
						pred = fmt.Sprintf("(%s ?b ?v)", op)
					}
					q := fmt.Sprintf(`[:find [?e ...] :in $ ?b :where [?e :%s ?v] [%s]]`, name, pred)
					for _, b := range vs {
						plan, err := Explain(ctx, q, src, b)
						if err != nil {
							t.Fatal(err)
						}
						if len(plan.Steps) != 1 || plan.Steps[0].Index != "AVET range" {
							t.Fatalf("%s: plan\n%s\nwant one AVET range scan and no filter step", q, plan)
						}
						r, err := Q(ctx, q, src, b)
						if err != nil {
							t.Fatalf("%s with %v: %v", q, b, err)
						}
						var want []int64
						for _, d := range all {
							if d.A != a {
								continue
							}
							c := compareValues(d.V, b)
							if swap {
								c = -c
							}
							if map[string]bool{"<": c < 0, ">": c > 0, "<=": c <= 0, ">=": c >= 0}[op] {
								want = append(want, d.E)
							}
						}
						got := sortedEntities(r)
						slices.Sort(want)
						if !slices.Equal(got, want) {
							t.Errorf("%s %s with %v: got %d entities %v, want %d %v", srcName, q, b, len(got), got, len(want), want)
						}
					}
				}
			}
		}
		// With its transaction bound by an earlier pattern the scan is a
		// hash join, which reads the whole attribute: the comparison must
		// still filter.
		q := `[:find [?e ...] :in $ ?b :where [?x :l 3 ?tx] [?e :l ?v ?tx] [(> ?v ?b)]]`
		r, err := Q(ctx, q, src, int64(2))
		if err != nil {
			t.Fatal(err)
		}
		got := sortedEntities(r)
		var want []int64
		la := db.Schema().AttrByIdent("l").ID
		for _, d := range all {
			if x, ok := d.V.(int64); ok && d.A == la && x > 2 {
				want = append(want, d.E)
			}
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s %s: got %v, want %v", srcName, q, got, want)
		}
	}
}

// sortedEntities returns the entity ids of r, the result of a
// [:find [?e ...]] query, in increasing order.
func sortedEntities(r any) []int64 {
	var got []int64
	for _, e := range r.([]any) {
		got = append(got, e.(int64))
	}
	slices.Sort(got)
	return got
}
