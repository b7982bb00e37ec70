package reader_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/reader"
	"github.com/accretedb/accrete/writer"
)

// TestDatomChunksMatchesDatoms: DatomChunks yields exactly what Datoms
// yields (and SeekDatomChunks what SeekDatoms yields), in order, for every index and a spread of component prefixes,
// over values whose datoms sit in stored trees, in the log tail's overlay
// (additions and retractions) or both, and over their as-of, since and
// history views; stopping early stops the scan.
func TestDatomChunksMatchesDatoms(t *testing.T) {
	for _, tail := range []int64{1, 600} {
		t.Run(fmt.Sprintf("tail=%d", tail), func(t *testing.T) { testDatomChunks(t, tail) })
	}
}

func testDatomChunks(t *testing.T, tailBytes int64) {
	ctx := context.Background()
	w, err := writer.Create(ctx, "mem://", &writer.Options{Width: 4, TailBytes: tailBytes})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	if _, err := w.Transact(ctx, `[{:db/ident :c/n :db/valueType :db.type/long :db/cardinality :db.cardinality/many :db/index true}
	  {:db/ident :c/ref :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}
	  {:db/ident :c/s :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]`); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	ids := map[string]datom.ID{}
	var added [][2]int64 // (entity, :c/n value) pairs asserted so far
	var mid int64
	for i := 0; i < 60; i++ {
		e := fmt.Sprintf("e%d", i%13)
		if id, ok := ids[e]; ok {
			e = fmt.Sprint(id)
		} else {
			e = fmt.Sprintf("%q", e)
		}
		n := rng.IntN(20)
		tx := fmt.Sprintf(`[[:db/add %s :c/n %d] [:db/add %s :c/s "s%d"]`, e, n, e, rng.IntN(5))
		if len(added) > 0 && rng.IntN(3) == 0 {
			r := added[rng.IntN(len(added))]
			tx += fmt.Sprintf(` [:db/retract %d :c/n %d]`, r[0], r[1])
		}
		tx += "]"
		rep, err := w.Transact(ctx, tx)
		if err != nil {
			t.Fatal(err)
		}
		for k, id := range rep.TempIDs.All() {
			ids[fmt.Sprint(k)] = id
		}
		for _, d := range rep.TxData {
			if v, ok := d.V.(int64); ok && d.Added && d.E != rep.TxID {
				added = append(added, [2]int64{d.E, v})
			}
		}
		if len(ids) > 1 && rng.IntN(2) == 0 {
			var x, y datom.ID
			for _, id := range ids {
				if x == 0 {
					x = id
				} else {
					y = id
				}
			}
			if _, err := w.Transact(ctx, fmt.Sprintf(`[[:db/add %d :c/ref %d]]`, x, y)); err != nil {
				t.Fatal(err)
			}
		}
		if i == 30 {
			mid = w.DB().BasisT()
		}
	}
	cur := w.DB()
	rep, err := cur.With(ctx, `[[:db/add "x" :c/n 5] [:db/add "x" :c/s "with"]]`, nil)
	if err != nil {
		t.Fatal(err)
	}
	empty, err := reader.NewEmpty(ctx, nil, false, 4)
	if err != nil {
		t.Fatal(err)
	}
	rep2, err := empty.With(ctx, `[{:db/ident :c/n :db/valueType :db.type/long :db/cardinality :db.cardinality/many}]`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep2, err = rep2.DBAfter.With(ctx, `[{:db/id "a" :c/n 1} {:db/id "b" :c/n 2} {:db/id "a" :c/n 3}]`, nil); err != nil {
		t.Fatal(err)
	}
	views := map[string]*reader.DB{"only-overlay": rep2.DBAfter,
		"current": cur, "with": rep.DBAfter, "as-of": cur.AsOf(mid), "since": cur.Since(mid),
		"history": cur.History(),
	}
	var es, as []any
	_ = cur.Datoms(ctx, datom.EAVT, nil, func(d datom.Datom) bool {
		if len(es) == 0 || es[len(es)-1] != any(d.E) {
			es = append(es, d.E)
		}
		if !slices.Contains(as, any(d.A)) {
			as = append(as, d.A)
		}
		return true
	})
	defer reader.SetMinSplitPart(2)()
	splits := 0
	for name, db := range views {
		// IndexRangeChunks yields what IndexRange does, for open and
		// closed bounds, cut inside runs or not.
		if cn, ok := db.Schema().Entid("c/n"); ok {
			bound := func() any {
				if rng.IntN(4) == 0 {
					return nil
				}
				return int64(rng.IntN(24) - 2)
			}
			for range 30 {
				start, end := bound(), bound()
				var want []datom.Datom
				if err := db.IndexRange(ctx, cn, start, end, func(d datom.Datom) bool { want = append(want, d); return true }); err != nil {
					t.Fatal(err)
				}
				got := gatherRuns(t, fmt.Sprintf("%s [%v, %v)", name, start, end), func(fn func([]datom.Datom) bool) error {
					return db.IndexRangeChunks(ctx, cn, start, end, fn)
				})
				if !slices.EqualFunc(got, want, func(a, b datom.Datom) bool { return datom.CompareEAVT(a, b) == 0 }) {
					t.Fatalf("%s [%v, %v): IndexRangeChunks gave %v, IndexRange %v", name, start, end, got, want)
				}
			}
		}
		for _, idx := range []datom.Index{datom.EAVT, datom.AEVT, datom.AVET, datom.VAET} {
			prefixes := [][]any{nil}
			for _, a := range as {
				switch idx {
				case datom.AEVT, datom.AVET:
					prefixes = append(prefixes, []any{a})
				case datom.EAVT:
					prefixes = append(prefixes, []any{es[rng.IntN(len(es))]}, []any{es[rng.IntN(len(es))], a})
				case datom.VAET:
					prefixes = append(prefixes, []any{es[rng.IntN(len(es))]})
				}
			}
			for _, comps := range prefixes {
				var want []datom.Datom
				if err := db.Datoms(ctx, idx, comps, func(d datom.Datom) bool { want = append(want, d); return true }); err != nil {
					t.Fatal(err)
				}
				got := gatherRuns(t, fmt.Sprintf("%s %v %v", name, idx, comps), func(fn func([]datom.Datom) bool) error {
					return db.DatomChunks(ctx, idx, comps, fn)
				})
				if !slices.EqualFunc(got, want, func(a, b datom.Datom) bool { return datom.CompareEAVT(a, b) == 0 }) {
					t.Fatalf("%s %v %v: DatomChunks gave %d datoms, Datoms %d\n got %v\nwant %v", name, idx, comps, len(got), len(want), got, want)
				}
				var seekWant, seekGot []datom.Datom
				if err := db.SeekDatoms(ctx, idx, comps, func(d datom.Datom) bool { seekWant = append(seekWant, d); return true }); err != nil {
					t.Fatal(err)
				}
				if err := db.SeekDatomChunks(ctx, idx, comps, func(ds []datom.Datom) bool { seekGot = append(seekGot, ds...); return true }); err != nil {
					t.Fatal(err)
				}
				if !slices.EqualFunc(seekGot, seekWant, func(a, b datom.Datom) bool { return datom.CompareEAVT(a, b) == 0 }) {
					t.Fatalf("%s %v %v: SeekDatomChunks gave %d datoms, SeekDatoms %d", name, idx, comps, len(seekGot), len(seekWant))
				}
				if name == "current" || name == "with" || name == "only-overlay" {
					// The planner's estimate is exact on current values.
					if n, err := db.Count(ctx, idx, comps); err != nil || n != len(want) {
						t.Fatalf("%s %v %v: Count = %d, %v; Datoms yields %d", name, idx, comps, n, err, len(want))
					}
				}
				for _, n := range []int{2, 3, 5} {
					splits += checkSplit(t, db, idx, comps, n, want)
				}
				calls := 0
				if err := db.DatomChunks(ctx, idx, comps, func([]datom.Datom) bool { calls++; return false }); err != nil {
					t.Fatal(err)
				}
				if calls > 1 {
					t.Fatalf("%s %v %v: %d calls after fn returned false", name, idx, comps, calls)
				}
			}
		}
	}
	if tailBytes == 1 && splits == 0 {
		t.Fatal("SplitDatomChunks never split a scan of the stored trees")
	}
}

// checkSplit checks that the parts SplitDatomChunks cuts a scan into, run
// concurrently, hand out non-empty runs that concatenate to want; it
// returns 1 if the scan was split.
func checkSplit(t *testing.T, db *reader.DB, idx datom.Index, comps []any, n int, want []datom.Datom) int {
	t.Helper()
	parts, err := db.SplitDatomChunks(context.Background(), idx, comps, n)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) < 1 || len(parts) > n {
		t.Fatalf("%v %v: %d parts for n=%d", idx, comps, len(parts), n)
	}
	got := make([][]datom.Datom, len(parts))
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for j, part := range parts {
		wg.Go(func() {
			errs[j] = part(func(ds []datom.Datom) bool {
				if len(ds) == 0 {
					errs[j] = fmt.Errorf("part %d: empty run", j)
					return false
				}
				got[j] = append(got[j], ds...)
				return true
			})
		})
	}
	wg.Wait()
	var all []datom.Datom
	for j := range parts {
		if errs[j] != nil {
			t.Fatalf("%v %v n=%d: %v", idx, comps, n, errs[j])
		}
		if len(parts) > 1 && len(got[j]) == 0 {
			t.Fatalf("%v %v n=%d: part %d of %d is empty", idx, comps, n, j, len(parts))
		}
		all = append(all, got[j]...)
	}
	if !slices.EqualFunc(all, want, func(a, b datom.Datom) bool { return datom.CompareEAVT(a, b) == 0 }) {
		t.Fatalf("%v %v: %d parts for n=%d gave %d datoms, Datoms %d\n got %v\nwant %v", idx, comps, len(parts), n, len(all), len(want), all, want)
	}
	if len(parts) > 1 {
		return 1
	}
	return 0
}

// gatherRuns runs scan to its end and returns the datoms of every run it
// hands out, failing the test on an error or an empty run (what names the
// scan in the message).
func gatherRuns(t *testing.T, what string, scan func(fn func([]datom.Datom) bool) error) []datom.Datom {
	t.Helper()
	var got []datom.Datom
	err := scan(func(ds []datom.Datom) bool {
		if len(ds) == 0 {
			t.Errorf("%s: empty run", what)
		}
		got = append(got, ds...)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}
