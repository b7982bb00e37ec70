package reader

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/tx"
)

const initSchema = `[{:db/ident :i/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :i/tag :db/valueType :db.type/string :db/cardinality :db.cardinality/many}
 {:db/ident :i/ref :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}
 {:db/ident :i/n :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/index true}
 {:db/ident :i/id :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}]`

// dumpAll returns every datom of every index of db, now and history, and
// its log, as text lines.
func dumpAll(t *testing.T, db *DB) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	for _, v := range []*DB{db, db.History()} {
		for _, idx := range []datom.Index{datom.EAVT, datom.AEVT, datom.AVET, datom.VAET} {
			err := v.Datoms(ctx, idx, nil, func(d datom.Datom) bool {
				out = append(out, fmt.Sprintf("%v %d %v", v.IsHistory(), idx, d))
				return true
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	err := db.TxRange(ctx, 0, 0, func(ti TxInfo) bool {
		for _, d := range ti.Datoms {
			out = append(out, fmt.Sprintf("log %d %v", ti.T, d))
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestInitMatchesWith is the property test of Init: random batches of new
// entities (cardinality one and many, refs into the batch and to older
// entities, unique and indexed values, duplicates), on bases whose log
// tail holds assertions and retractions, give exactly the datoms With of
// the same facts as map forms gives, in every index, history and the log;
// and still do after the value is persisted (its rebuilt trees flushed).
func TestInitMatchesWith(t *testing.T) {
	ctx := context.Background()
	for seed := range uint64(12) {
		r := rand.New(rand.NewPCG(seed, 11))
		var st *konserve.Store
		if seed%2 == 0 {
			var err error
			if st, err = konserve.Open(ctx, "mem://", nil); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
		}
		db, err := NewEmpty(ctx, st, seed%3 == 0, 4+int(seed%3)*4)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := db.With(ctx, initSchema, nil)
		if err != nil {
			t.Fatal(err)
		}
		db = rep.DBAfter
		kw := func(s string) datom.ID { id, _ := db.Schema().Entid(edn.Keyword(s)); return id }
		name, tag, ref, n, id := kw("i/name"), kw("i/tag"), kw("i/ref"), kw("i/n"), kw("i/id")
		// A base with some history in its tail: entities, then retractions.
		var old []datom.ID
		for k := range 1 + r.IntN(4) {
			rep, err := db.With(ctx, fmt.Sprintf(`[{:db/id "x" :i/name "old%d" :i/tag ["a" "b"] :i/id %d}]`, k, 100000+k), nil)
			if err != nil {
				t.Fatal(err)
			}
			db = rep.DBAfter
			old = append(old, rep.TempIDs.ID("x"))
		}
		rep, err = db.With(ctx, []any{edn.Vector{edn.Keyword("db/retract"), old[0], edn.Keyword("i/tag"), "a"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		db = rep.DBAfter

		// The batch: entities in order, facts shuffled within each.
		nEnt := 1 + r.IntN(60)
		first := db.nextUser
		var ds []datom.Datom
		var forms []any
		for k := range nEnt {
			e := datom.MakeID(datom.PartUser, first+int64(k))
			tmp := strconv.Itoa(k)
			var facts []datom.Datom
			facts = append(facts, datom.Datom{E: e, A: name, V: fmt.Sprintf("p%d", r.IntN(20))})
			for range r.IntN(4) {
				facts = append(facts, datom.Datom{E: e, A: tag, V: fmt.Sprintf("t%d", r.IntN(5))})
			}
			if r.IntN(2) == 0 {
				facts = append(facts, datom.Datom{E: e, A: n, V: int64(r.IntN(10))})
			}
			if r.IntN(3) == 0 {
				facts = append(facts, datom.Datom{E: e, A: id, V: int64(k)})
			}
			refs := 0
			for range r.IntN(3) {
				if r.IntN(2) == 0 && k > 0 {
					facts = append(facts, datom.Datom{E: e, A: ref, V: datom.MakeID(datom.PartUser, first+int64(r.IntN(k)))})
				} else {
					facts = append(facts, datom.Datom{E: e, A: ref, V: old[r.IntN(len(old))]})
				}
				refs++
			}
			r.Shuffle(len(facts), func(i, j int) { facts[i], facts[j] = facts[j], facts[i] })
			ds = append(ds, facts...)
			for _, f := range facts {
				at := db.Schema().Attr(f.A)
				v := f.V
				if f.A == ref {
					if x := f.V.(int64); x >= datom.MakeID(datom.PartUser, first) {
						v = strconv.Itoa(int(x - datom.MakeID(datom.PartUser, first)))
					}
				}
				forms = append(forms, edn.Vector{edn.Keyword("db/add"), tmp, edn.Keyword(at.Ident), v})
			}
		}
		if r.IntN(2) == 0 && len(ds) > 0 { // an exact duplicate
			ds = append(ds, ds[r.IntN(len(ds))])
		}
		now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		wrep, err := db.With(ctx, forms, &TxOptions{Now: now})
		if err != nil {
			t.Fatalf("seed %d: With: %v", seed, err)
		}
		irep, err := db.Init(ctx, ds, &InitOptions{Now: now})
		if err != nil {
			t.Fatalf("seed %d: Init: %v", seed, err)
		}
		want, got := dumpAll(t, wrep.DBAfter), dumpAll(t, irep.DBAfter)
		if !slices.Equal(want, got) {
			t.Fatalf("seed %d: Init differs from With:\nwith %d lines %q\ninit %d lines %q", seed, len(want), want, len(got), got)
		}
		if irep.TxID != wrep.TxID || irep.T != wrep.T || irep.DBAfter.nextUser != wrep.DBAfter.nextUser || irep.DBAfter.basisT != wrep.DBAfter.basisT {
			t.Fatalf("seed %d: report/counters differ: init tx %d t %d next %d, with tx %d t %d next %d", seed,
				irep.TxID, irep.T, irep.DBAfter.nextUser, wrep.TxID, wrep.T, wrep.DBAfter.nextUser)
		}
		if got := len(dumpAll(t, db)); got == len(want) {
			t.Fatalf("seed %d: Init changed its receiver", seed)
		}
		// With keeps working on the value Init made.
		next, err := irep.DBAfter.With(ctx, []any{edn.Vector{edn.Keyword("db/retractEntity"), datom.MakeID(datom.PartUser, first)}}, &TxOptions{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		wnext, err := wrep.DBAfter.With(ctx, []any{edn.Vector{edn.Keyword("db/retractEntity"), datom.MakeID(datom.PartUser, first)}}, &TxOptions{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if a, b := dumpAll(t, wnext.DBAfter), dumpAll(t, next.DBAfter); !slices.Equal(a, b) {
			t.Fatalf("seed %d: With after Init differs", seed)
		}
		if st != nil {
			cur, _, err := irep.DBAfter.Persist(ctx, PersistOptions{Branch: "main"})
			if err != nil {
				t.Fatal(err)
			}
			if got := dumpAll(t, cur); !slices.Equal(want, got) {
				t.Fatalf("seed %d: persisted Init value differs", seed)
			}
		}
	}
}

// TestInitErrors checks that each kind of bad input fails with ErrInit and
// the specific sentinel, naming the datom.
func TestInitErrors(t *testing.T) {
	ctx := context.Background()
	db, err := NewEmpty(ctx, nil, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := db.With(ctx, initSchema, nil)
	if err != nil {
		t.Fatal(err)
	}
	db = rep.DBAfter
	rep, err = db.With(ctx, `[{:db/id "x" :i/name "old" :i/id 7}]`, nil)
	if err != nil {
		t.Fatal(err)
	}
	db = rep.DBAfter
	oldE := rep.TempIDs.ID("x")
	kw := func(s string) datom.ID { id, _ := db.Schema().Entid(edn.Keyword(s)); return id }
	name, id, ref := kw("i/name"), kw("i/id"), kw("i/ref")
	e := datom.MakeID(datom.PartUser, db.nextUser)
	cases := []struct {
		what string
		ds   []datom.Datom
		want error
	}{
		{"allocated entity", []datom.Datom{{E: oldE, A: name, V: "a"}}, tx.ErrInvalidEntity},
		{"wrong partition", []datom.Datom{{E: datom.MakeID(datom.PartDB, 5000), A: name, V: "a"}}, tx.ErrInvalidEntity},
		{"unknown attribute", []datom.Datom{{E: e, A: 999999, V: "a"}}, tx.ErrUnknownAttribute},
		{"schema attribute", []datom.Datom{{E: e, A: datom.DBIdent, V: edn.Keyword("x")}}, tx.ErrSchema},
		{"wrong type", []datom.Datom{{E: e, A: name, V: int64(3)}}, tx.ErrWrongType},
		{"cardinality", []datom.Datom{{E: e, A: name, V: "a"}, {E: e, A: name, V: "b"}}, tx.ErrCardinalityConflict},
		{"unique in batch", []datom.Datom{{E: e, A: id, V: int64(1)}, {E: e + 1, A: id, V: int64(1)}}, tx.ErrUniqueConflict},
		{"unique in db", []datom.Datom{{E: e, A: id, V: int64(7)}}, tx.ErrUniqueConflict},
		{"dangling ref", []datom.Datom{{E: e, A: ref, V: e + 5}}, tx.ErrInvalidEntity},
	}
	before := dumpAll(t, db)
	for _, c := range cases {
		_, err := db.Init(ctx, c.ds, nil)
		if !errors.Is(err, ErrInit) || !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want ErrInit and %v", c.what, err, c.want)
		}
	}
	if _, err := db.AsOf(1).Init(ctx, nil, nil); !errors.Is(err, ErrNotCurrent) {
		t.Errorf("as-of view: err = %v, want ErrNotCurrent", err)
	}
	if after := dumpAll(t, db); !slices.Equal(before, after) {
		t.Errorf("failed Init calls changed the database")
	}
}

// TestWithCompactMatches: a With large enough to fold its value's log tail
// into in-memory trees (compactDatoms) shows exactly what the same
// transaction through Transact shows (overlay and tail kept), in every
// index, history and the log, on a base whose tail asserts and retracts,
// and so do values derived from it, committed or not.
func TestWithCompactMatches(t *testing.T) {
	ctx := context.Background()
	st, err := konserve.Open(ctx, "mem://", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	db, err := NewEmpty(ctx, st, true, 8)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := db.With(ctx, initSchema, nil)
	if err != nil {
		t.Fatal(err)
	}
	db = rep.DBAfter
	rep, err = db.With(ctx, `[{:db/id "a" :i/name "a" :i/tag ["x" "y"]} {:db/id "b" :i/name "b" :i/ref "a"}]`, nil)
	if err != nil {
		t.Fatal(err)
	}
	db = rep.DBAfter
	a, b := rep.TempIDs.ID("a"), rep.TempIDs.ID("b")
	// Persist once so that part of the base is in stored trees.
	if db, _, err = db.Persist(ctx, PersistOptions{Branch: "main", Merge: true}); err != nil {
		t.Fatal(err)
	}
	rep, err = db.With(ctx, []any{edn.Vector{edn.Keyword("db/retract"), a, edn.Keyword("i/tag"), "x"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	db = rep.DBAfter
	forms := []any{
		edn.Vector{edn.Keyword("db/add"), a, edn.Keyword("i/name"), "a2"}, // retracts a stored datom
		edn.Vector{edn.Keyword("db/retract"), b, edn.Keyword("i/ref"), a},
	}
	for k := range compactDatoms / 3 {
		forms = append(forms, edn.Map{{Key: edn.Keyword("i/name"), Val: fmt.Sprintf("n%d", k)},
			{Key: edn.Keyword("i/n"), Val: int64(k % 17)}, {Key: edn.Keyword("i/free"), Val: int64(k)},
			{Key: edn.Keyword("i/ref"), Val: a}})
	}
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	big, err := db.With(ctx, forms, &TxOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := db.Transact(ctx, forms, &TxOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if !big.DBAfter.merged || big.DBAfter.tail != nil || plain.DBAfter.tail == nil {
		t.Fatalf("With did not compact (merged %v) or Transact did", big.DBAfter.merged)
	}
	want, got := dumpAll(t, plain.DBAfter), dumpAll(t, big.DBAfter)
	if !slices.Equal(want, got) {
		t.Fatalf("compacted value differs: %d lines, want %d", len(got), len(want))
	}
	for _, v := range []*DB{big.DBAfter, plain.DBAfter} {
		if v.AsOf(db.basisT).basisT != v.basisT {
			t.Fatal("AsOf changed basisT")
		}
	}
	if a, b := dumpAll(t, plain.DBAfter.AsOf(db.basisT)), dumpAll(t, big.DBAfter.AsOf(db.basisT)); !slices.Equal(a, b) {
		t.Fatal("compacted value differs as of the base")
	}
	tx := []any{edn.Vector{edn.Keyword("db/retractEntity"), a}}
	n1, err := big.DBAfter.With(ctx, tx, &TxOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	n2, err := plain.DBAfter.With(ctx, tx, &TxOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := dumpAll(t, n2.DBAfter), dumpAll(t, n1.DBAfter); !slices.Equal(a, b) {
		t.Fatal("retractEntity after a compacted With differs")
	}
	cur, _, err := n1.DBAfter.Persist(ctx, PersistOptions{Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := dumpAll(t, n2.DBAfter), dumpAll(t, cur); !slices.Equal(a, b) {
		t.Fatal("persisted compacted value differs")
	}
}
