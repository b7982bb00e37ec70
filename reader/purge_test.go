package reader_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/reader"
	"github.com/accretedb/accrete/writer"
)

// dumpAll returns every datom of every index of v and of the log, in one
// list per index (the log last).
func dumpAll(t *testing.T, v *reader.DB) [][]datom.Datom {
	t.Helper()
	ctx := context.Background()
	var out [][]datom.Datom
	for _, idx := range []datom.Index{datom.EAVT, datom.AEVT, datom.AVET, datom.VAET} {
		var ds []datom.Datom
		if err := v.Datoms(ctx, idx, nil, func(d datom.Datom) bool { ds = append(ds, d); return true }); err != nil {
			t.Fatal(err)
		}
		out = append(out, ds)
	}
	var log []datom.Datom
	if err := v.TxRange(ctx, 0, 0, func(ti reader.TxInfo) bool { log = append(log, ti.Datoms...); return true }); err != nil {
		t.Fatal(err)
	}
	return append(out, log)
}

func without(xs, rm []datom.Datom) []datom.Datom {
	return slices.DeleteFunc(slices.Clone(xs), func(d datom.Datom) bool {
		return slices.ContainsFunc(rm, func(r datom.Datom) bool { return datom.CompareEAVT(d, r) == 0 })
	})
}

// TestExcise: excising every operation on some facts (picked at random
// from the log, whether they sit in the log tail or the merged trees)
// removes exactly them from every view — now, history, as of every t —
// and from the log; the value has an empty tail, persists, and reopens
// equal.
func TestExcise(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 3))
	ctx := context.Background()
	for round := range 6 {
		w, err := writer.Create(ctx, "mem://", &writer.Options{Width: 4, TailBytes: int64(200 + r.IntN(2000))})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Transact(ctx, `[{:db/ident :x/n :db/valueType :db.type/long :db/cardinality :db.cardinality/many :db/index true}
		                              {:db/ident :x/r :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}]`); err != nil {
			t.Fatal(err)
		}
		for range 40 {
			tx := fmt.Sprintf(`[[:db/add "e%d" :x/n %d] [:db/add "e%d" :x/r "e%d"]]`, r.IntN(5), r.IntN(8), r.IntN(5), r.IntN(5))
			if r.IntN(3) == 0 {
				tx = fmt.Sprintf(`[[:db/retract %d :x/n %d]]`, datom.MakeID(datom.PartUser, int64(1+r.IntN(5))), r.IntN(8))
			}
			_, _ = w.Transact(ctx, tx) // a retraction of nothing may fail
		}
		db := w.DB()
		t.Cleanup(func() { w.Close() })
		all := dumpAll(t, db)
		log := all[len(all)-1]
		// Every operation on 1–3 facts of user entities.
		var rm []datom.Datom
		for range 1 + r.IntN(3) {
			f := log[r.IntN(len(log))]
			if datom.Part(f.E) != datom.PartUser {
				continue
			}
			for _, d := range log {
				if d.E == f.E && d.A == f.A && datom.CompareValues(d.V, f.V) == 0 {
					rm = append(rm, d)
				}
			}
		}
		ex, rep, err := db.Excise(ctx, rm)
		if err != nil {
			t.Fatal(err)
		}
		if ex.TailBytes() != 0 {
			t.Errorf("round %d: tail of %d bytes after Excise", round, ex.TailBytes())
		}
		if len(rm) > 0 && rep.Removed["log"] != len(slices.CompactFunc(slices.SortedFunc(slices.Values(rm), datom.CompareEAVT),
			func(a, b datom.Datom) bool { return datom.CompareEAVT(a, b) == 0 })) {
			t.Errorf("round %d: removed %v from the log, asked %d", round, rep.Removed, len(rm))
		}
		check := func(name string, b, a *reader.DB) {
			t.Helper()
			want, got := dumpAll(t, b), dumpAll(t, a)
			for i := range want {
				if w := without(want[i], rm); !slices.EqualFunc(w, got[i], func(x, y datom.Datom) bool { return datom.CompareEAVT(x, y) == 0 }) {
					t.Fatalf("round %d: %s index %d:\n got %v\nwant %v", round, name, i, got[i], w)
				}
			}
		}
		check("now", db, ex)
		check("history", db.History(), ex.History())
		for tt := int64(0); tt <= db.BasisT(); tt += 3 {
			check(fmt.Sprintf("as-of %d", tt), db.AsOf(tt), ex.AsOf(tt))
		}
		// Persist and reopen: the same value, from storage.
		cur, c, err := ex.Persist(ctx, reader.PersistOptions{Branch: "main", Parent: db.Head()})
		if err != nil {
			t.Fatal(err)
		}
		h, err := branch.Advance(ctx, db.Store(), "main", db.Head(), c)
		if err != nil {
			t.Fatal(err)
		}
		re, err := reader.FromHead(ctx, db.Store(), h, 0)
		if err != nil {
			t.Fatal(err)
		}
		check("reopened", db, re)
		check("persisted", db, cur)
		if n, err := re.Count(ctx, datom.EAVT, nil); err != nil || n != len(dumpAll(t, re)[0]) {
			t.Errorf("round %d: Count %d (%v), %d datoms", round, n, err, len(dumpAll(t, re)[0]))
		}
	}
}

func TestExciseNeedsCurrentValue(t *testing.T) {
	w, _ := newLog(t, 3)
	db := w.DB()
	for _, v := range []*reader.DB{db.AsOf(1), db.Since(1), db.History()} {
		if _, _, err := v.Excise(context.Background(), nil); !errors.Is(err, reader.ErrNotCurrent) {
			t.Errorf("Excise on a view: %v, want ErrNotCurrent", err)
		}
	}
}
