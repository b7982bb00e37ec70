package reader

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/konserve"
)

// checkStats fails unless db has statistics and they are exactly the
// per-attribute counts of its stored AEVT tree, and unless Count of every
// attribute on AEVT (statistics plus log tail) equals a scan's.
func checkStats(t *testing.T, db *DB, what string) {
	t.Helper()
	ctx := context.Background()
	s := db.stats()
	if s == nil {
		t.Fatalf("%s: no statistics", what)
	}
	tree, err := db.trees[curAEVT].get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := tree.Slice(ctx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[int64]int64{}
	for _, d := range ds {
		stored[d.A]++
	}
	if !maps.Equal(s.counts, stored) {
		t.Fatalf("%s: statistics %v, the stored AEVT tree holds %v", what, s.counts, stored)
	}
	scanned := map[int64]int{}
	if err := db.Datoms(ctx, datom.AEVT, nil, func(d datom.Datom) bool {
		scanned[d.A]++
		return true
	}); err != nil {
		t.Fatal(err)
	}
	for a := range stored {
		scanned[a] += 0 // an attribute the tail emptied counts 0
	}
	for a, want := range scanned {
		if got, err := db.Count(ctx, datom.AEVT, []any{a}); err != nil || got != want {
			t.Fatalf("%s: Count(AEVT, [%d]) = %d, %v; a scan finds %d", what, a, got, err, want)
		}
	}
}

// emptyOnMem returns a new mem:// store and an empty database on it, with
// trees four wide.
func emptyOnMem(t *testing.T) (*konserve.Store, *DB) {
	t.Helper()
	st, err := konserve.Open(context.Background(), "mem://", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	db, err := NewEmpty(context.Background(), st, false, 4)
	if err != nil {
		t.Fatal(err)
	}
	return st, db
}

// TestAttrStatsFollowTrees drives a value through every path that
// rebuilds its stored AEVT tree (a merge of the tail, a bulk import, an
// excision, a commit and its reopening) with random transactions between
// them, on trees four wide, and checks after each that the statistics
// are there and exact (checkStats).
func TestAttrStatsFollowTrees(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 7))
	ctx := context.Background()
	st, db := emptyOnMem(t)
	var err error
	checkStats(t, db, "new")
	transact := func(data any) *DB {
		t.Helper()
		forms, err := TxForms(data)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := db.Transact(ctx, forms, nil)
		if err != nil {
			t.Fatalf("transact %v: %v", data, err)
		}
		return rep.DBAfter
	}
	db = transact(`[{:db/ident :s/n :db/valueType :db.type/long :db/cardinality :db.cardinality/many :db/index true}
	               {:db/ident :s/r :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}
	               {:db/ident :s/k :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]`)
	nAttr := db.Schema().AttrByIdent("s/n").ID
	kAttr := db.Schema().AttrByIdent("s/k").ID
	var head *branch.Head
	randomTxs := func(n int) {
		for range n {
			e := fmt.Sprintf("e%d", r.IntN(12))
			var data string
			switch r.IntN(4) {
			case 0:
				data = fmt.Sprintf(`[[:db/retract [:s/k "k%d"] :s/n %d]]`, r.IntN(12), r.IntN(6))
			case 1:
				data = fmt.Sprintf(`[[:db/retractEntity [:s/k "k%d"]]]`, r.IntN(12))
			default:
				data = fmt.Sprintf(`[{:db/id %q :s/k "k%s" :s/n %d :s/r %q}]`, e, e[1:], r.IntN(6), fmt.Sprintf("e%d", r.IntN(12)))
			}
			forms, err := TxForms(data)
			if err != nil {
				t.Fatal(err)
			}
			if rep, err := db.Transact(ctx, forms, nil); err == nil {
				db = rep.DBAfter // a lookup ref to a retracted entity fails: skipped
			}
		}
	}
	for round := range 8 {
		randomTxs(10 + r.IntN(30))
		checkStats(t, db, fmt.Sprintf("round %d: transactions", round))
		switch round % 4 {
		case 0:
			if db, err = db.mergeTail(ctx); err != nil {
				t.Fatal(err)
			}
			checkStats(t, db, fmt.Sprintf("round %d: merged", round))
		case 1:
			var ds []datom.Datom
			for i := range 20 + r.IntN(50) {
				ds = append(ds, datom.Datom{E: -int64(i + 1), A: nAttr, V: int64(r.IntN(100)), Added: true},
					datom.Datom{E: -int64(i + 1), A: kAttr, V: fmt.Sprintf("bulk-%d-%d", round, i), Added: true})
			}
			if db, _, err = db.BulkAssert(ctx, ds, &BulkOptions{Width: 4}); err != nil {
				t.Fatal(err)
			}
			checkStats(t, db, fmt.Sprintf("round %d: bulk import", round))
		case 2:
			var rm []datom.Datom
			if err := db.Datoms(ctx, datom.AEVT, []any{nAttr}, func(d datom.Datom) bool {
				if r.IntN(3) == 0 {
					rm = append(rm, d)
				}
				return true
			}); err != nil {
				t.Fatal(err)
			}
			if db, _, err = db.Excise(ctx, rm); err != nil {
				t.Fatal(err)
			}
			checkStats(t, db, fmt.Sprintf("round %d: excised %d", round, len(rm)))
		case 3:
			cur, c, err := db.Persist(ctx, PersistOptions{Branch: "main", Parent: head})
			if err != nil {
				t.Fatal(err)
			}
			if c.Stats == nil {
				t.Fatalf("round %d: the commit has no statistics", round)
			}
			if head, err = branch.Advance(ctx, st, "main", head, c); err != nil {
				t.Fatal(err)
			}
			checkStats(t, cur, fmt.Sprintf("round %d: persisted", round))
			if db, err = FromHead(ctx, st, head, 4); err != nil {
				t.Fatal(err)
			}
			checkStats(t, db, fmt.Sprintf("round %d: reopened", round))
		}
	}
}

// TestAttrStatsDroppedNotWrong: a value whose AEVT tree changed by a path
// that keeps no statistics (a large With folds the transaction into the
// trees), and a commit whose statistics are malformed, have none, and
// Count still answers from the index.
func TestAttrStatsDroppedNotWrong(t *testing.T) {
	ctx := context.Background()
	_, db := emptyOnMem(t)
	rep, err := db.With(ctx, `[{:db/ident :s/n :db/valueType :db.type/long :db/cardinality :db.cardinality/many}]`, nil)
	if err != nil {
		t.Fatal(err)
	}
	db = rep.DBAfter
	n := db.Schema().AttrByIdent("s/n").ID
	var big edn.Vector
	for i := range 5000 {
		big = append(big, edn.Vector{edn.Keyword("db/add"), fmt.Sprintf("e%d", i), edn.Keyword("s/n"), int64(i)})
	}
	rep, err = db.With(ctx, big, nil)
	if err != nil {
		t.Fatal(err)
	}
	folded := rep.DBAfter
	if folded.trees[curAEVT] == db.trees[curAEVT] {
		t.Skip("the large With did not fold into the trees; nothing to check")
	}
	if folded.stats() != nil {
		t.Fatal("statistics kept for a tree they were not made for")
	}
	if got, err := folded.Count(ctx, datom.AEVT, []any{n}); err != nil || got != 5000 {
		t.Fatalf("Count = %d, %v; want 5000", got, err)
	}

	for _, bad := range []*branch.Stats{
		{Attrs: []branch.AttrCount{{A: 2, N: 1}, {A: 1, N: 1}}}, // unsorted
		{Attrs: []branch.AttrCount{{A: 1, N: 1}, {A: 1, N: 1}}}, // repeated
		{Attrs: []branch.AttrCount{{A: 1, N: 0}}},               // a zero count is left out
		{Attrs: []branch.AttrCount{{A: 1, N: -3}}},
	} {
		if s := statsFromCommit(&branch.Commit{Stats: bad}); s != nil {
			t.Errorf("statistics %v accepted", bad.Attrs)
		}
	}
	if s := statsFromCommit(&branch.Commit{Stats: &branch.Stats{}}); s == nil || len(s.counts) != 0 {
		t.Errorf("empty statistics (an empty tree) read as %v", s)
	}
}
