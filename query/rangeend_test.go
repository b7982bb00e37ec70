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
)

// TestRangeEndIsSuccessor: the exclusive end a pushed-down range passes to
// IndexRange is the value just above its inclusive bound hi in the index
// order, so that the scan neither loses a value (end too low) nor has a
// value between hi and end: for every v, v <= hi exactly when v < end.
// nil only where there is no value above hi.
func TestRangeEndIsSuccessor(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	doubles := []float64{math.Inf(-1), -math.MaxFloat64, -1.5, -1, -math.SmallestNonzeroFloat64,
		math.Copysign(0, -1), 0, math.SmallestNonzeroFloat64, 0x1p-1022, 1, 1.5, math.MaxFloat64, math.Inf(1), math.NaN()}
	strs := []string{"", "\x00", "\x00\x00", "a", "a\x00", "a\x00\x00", "a\x01", "ab", "b", "\xff", "\xff\xff", "é", "ü\x00"}
	longs := []int64{math.MinInt64, -2, -1, 0, 1, 2, math.MaxInt64 - 1, math.MaxInt64}
	t0 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	insts := []time.Time{t0.Add(-time.Nanosecond), t0, t0.Add(time.Nanosecond), t0.Add(time.Second)}
	families := [][]any{{}, {}, {}, {}}
	for _, f := range doubles {
		families[0] = append(families[0], f)
	}
	for range 200 {
		// Neighbours of random doubles, bit for bit.
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
	for fi, vals := range families {
		for _, hi := range vals {
			end := rangeEnd(hi)
			if end == nil {
				// Only the top of an order has no successor.
				for _, v := range vals {
					if datom.CompareValues(v, hi) > 0 {
						t.Fatalf("family %d: rangeEnd(%#v) is nil, yet %#v is above it", fi, hi, v)
					}
				}
				continue
			}
			if datom.CompareValues(hi, end) >= 0 {
				t.Fatalf("family %d: rangeEnd(%#v) = %#v is not above it", fi, hi, end)
			}
			for _, v := range vals {
				if in, before := datom.CompareValues(v, hi) <= 0, datom.CompareValues(v, end) < 0; in != before {
					t.Fatalf("family %d: hi %#v, end %#v: v %#v is in the range %v, before the end %v", fi, hi, end, v, in, before)
				}
			}
			// The end itself is a value just above hi, the first outside.
			if datom.CompareValues(end, hi) <= 0 {
				t.Fatalf("family %d: end %#v within hi %#v", fi, end, hi)
			}
		}
	}
	if end := rangeEnd(math.Copysign(0, -1)); end != 0.0 || math.Signbit(end.(float64)) {
		t.Fatalf("rangeEnd(-0.0) = %#v, want 0.0 (math.Nextafter would skip it)", end)
	}
}

// endRecorder is a source that records the end of every IndexRange call.
type endRecorder struct {
	*MemSource
	ends []any
}

func (s *endRecorder) IndexRange(ctx context.Context, a datom.ID, start, end any, fn func(datom.Datom) bool) error {
	s.ends = append(s.ends, end)
	return s.MemSource.IndexRange(ctx, a, start, end, fn)
}

// TestRangePushdownPassesEnd: a pushed-down range with an inclusive upper
// bound on a string or a double asks IndexRange for its exclusive end
// (the source can then stop at the range's last leaf), and answers as a
// plain filter of the attribute's values does, at the edges of each order
// (-0.0 and 0.0, NaN, a string and its extensions by zero bytes).
func TestRangePushdownPassesEnd(t *testing.T) {
	ctx := context.Background()
	s, ds := buildSchema(t, `[{:db/ident :s :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/index true}
	 {:db/ident :d :db/valueType :db.type/double :db/cardinality :db.cardinality/one :db/index true}]`)
	sa, da := s.AttrByIdent("s").ID, s.AttrByIdent("d").ID
	strs := []string{"", "\x00", "a", "a\x00", "a\x00\x00", "a\x01", "ab", "b", "\xff"}
	dbls := []float64{math.Inf(-1), -1, -math.SmallestNonzeroFloat64, math.Copysign(0, -1), 0, math.SmallestNonzeroFloat64, 1, math.Inf(1), math.NaN()}
	var vals []datom.Datom
	for i, v := range strs {
		vals = append(vals, datom.Datom{E: datom.MakeID(datom.PartUser, int64(1+i)), A: sa, V: v, Tx: defaultTx, Added: true})
	}
	for i, v := range dbls {
		vals = append(vals, datom.Datom{E: datom.MakeID(datom.PartUser, int64(100+i)), A: da, V: v, Tx: defaultTx, Added: true})
	}
	src := &endRecorder{MemSource: NewMemSource(s, append(ds, vals...), false)}
	check := func(attr string, a datom.ID, hi any) {
		t.Helper()
		src.ends = nil
		q := fmt.Sprintf(`[:find [?e ...] :in $ ?hi :where [?e :%s ?v] [(<= ?v ?hi)]]`, attr)
		r, err := Q(ctx, q, src, hi)
		if err != nil {
			t.Fatalf("%s with %#v: %v", q, hi, err)
		}
		if len(src.ends) != 1 {
			t.Fatalf("%s with %#v: %d IndexRange calls, want 1 (the range is not pushed down)", q, hi, len(src.ends))
		}
		if want := wantEnd(hi); src.ends[0] == nil || datom.CompareValues(src.ends[0], want) != 0 {
			t.Errorf("%s with %#v: IndexRange end %#v, want %#v", q, hi, src.ends[0], want)
		}
		var want []int64
		for _, d := range vals {
			if d.A == a && datom.CompareValues(d.V, hi) <= 0 {
				want = append(want, d.E)
			}
		}
		var got []int64
		for _, e := range r.([]any) {
			got = append(got, e.(int64))
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s with %#v: got entities %v, want %v", q, hi, got, want)
		}
	}
	for _, hi := range strs {
		check("s", sa, hi)
	}
	for _, hi := range dbls[:len(dbls)-1] {
		check("d", da, hi)
	}
}

// wantEnd is the successor of hi, worked out apart from rangeEnd.
func wantEnd(hi any) any {
	switch v := hi.(type) {
	case string:
		return v + "\x00"
	case float64:
		switch {
		case math.IsInf(v, 1):
			return math.NaN()
		case v == 0 && math.Signbit(v):
			return 0.0
		}
		return math.Nextafter(v, math.Inf(1))
	}
	panic(fmt.Sprintf("wantEnd: %T", hi))
}
