package ops

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/reader"
	"github.com/accretedb/accrete/writer"
)

// mergeFixture is a database with people p0..p9 (ages 0..9, tag "t" on
// each, p0 the friend of p1) on main, and a branch "feature" created from
// main's head, with a writer on each.
type mergeFixture struct {
	st            *konserve.Store
	main, feature *writer.Writer
}

func newMergeFixture(t *testing.T) *mergeFixture {
	t.Helper()
	ctx := context.Background()
	st := openStore(t, diffMemURL("merge"))
	opts := &writer.Options{Width: 4, TailBytes: 300}
	w, err := writer.CreateStore(ctx, st, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	mustTx(t, w, diffSchema)
	for i := range 10 {
		mustTx(t, w, fmt.Sprintf(`[{:d/name "p%d" :d/age %d :d/tag "t"}]`, i, i))
	}
	mustTx(t, w, `[{:d/name "p1" :d/friend [:d/name "p0"]}]`)
	if _, err := branch.Create(ctx, st, "feature", w.DB().Head().Addr); err != nil {
		t.Fatal(err)
	}
	fo := *opts
	fo.Branch = "feature"
	f, err := writer.OpenStore(ctx, st, &fo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &mergeFixture{st: st, main: w, feature: f}
}

func mustTx(t *testing.T, w *writer.Writer, data string) *reader.Report {
	t.Helper()
	r, err := w.Transact(context.Background(), data)
	if err != nil {
		t.Fatalf("transact %s: %v", data, err)
	}
	return r
}

func openBranch(t *testing.T, st *konserve.Store, name string) *reader.DB {
	t.Helper()
	db, err := reader.OpenStore(context.Background(), st, &reader.Options{Branch: name})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func attrID(t *testing.T, db *reader.DB, kw string) datom.ID {
	t.Helper()
	id, ok := db.Schema().Entid(edn.Keyword(kw))
	if !ok {
		t.Fatalf("no attribute %s", kw)
	}
	return id
}

// person returns the entity named name on db (0 if none).
func person(t *testing.T, db *reader.DB, name string) datom.ID {
	t.Helper()
	var e datom.ID
	err := db.Datoms(context.Background(), datom.AVET, []any{attrID(t, db, "d/name"), name}, func(d datom.Datom) bool {
		e = d.E
		return false
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// vals returns the sorted values of e's attribute kw on db, printed.
func vals(t *testing.T, db *reader.DB, e datom.ID, kw string) []string {
	t.Helper()
	vs, err := values(context.Background(), db, e, attrID(t, db, kw))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = fmt.Sprint(v)
	}
	return out
}

func wantVals(t *testing.T, db *reader.DB, name, kw string, want ...string) {
	t.Helper()
	e := person(t, db, name)
	if e == 0 {
		t.Errorf("%s: no such person", name)
		return
	}
	if got := vals(t, db, e, kw); !slices.Equal(got, want) {
		t.Errorf("%s %s = %v, want %v", name, kw, got, want)
	}
}

// TestMergeBothSides branches off, transacts on both branches (including
// new entities on both sides, which get the same ids on each branch), and
// checks that the merge holds both sides' facts, translates entities and
// refs, keeps transaction metadata, records both parents, and that merging
// again replays nothing.
func TestMergeBothSides(t *testing.T) {
	ctx := context.Background()
	fx := newMergeFixture(t)
	// Feature: a new person referring to an old one, an age change, a tag
	// retraction, a retracted entity, and transaction metadata.
	mustTx(t, fx.feature, `[{:d/name "f1" :d/age 41 :d/friend [:d/name "p1"]} {:db/id "datomic.tx" :d/tag "from-feature"}]`)
	mustTx(t, fx.feature, `[{:d/name "p2" :d/age 22} [:db/retract [:d/name "p3"] :d/tag "t"]]`)
	mustTx(t, fx.feature, `[{:d/name "f2" :d/friend [:d/name "f1"]} [:db/retractEntity [:d/name "p9"]]]`)
	// Main: its own new person (the same entity id as f1 on feature) and
	// another age change.
	mustTx(t, fx.main, `[{:d/name "m1" :d/age 51}]`)
	mustTx(t, fx.main, `[{:d/name "p4" :d/age 44}]`)
	oldMain := fx.main.DB()
	fHead := openBranch(t, fx.st, "feature")
	if f1, m1 := person(t, fHead, "f1"), person(t, oldMain, "m1"); f1 != m1 {
		t.Logf("note: f1 %d and m1 %d have different ids; the collision case is not exercised", f1, m1)
	}

	rep, err := Merge(ctx, fx.st, "feature", branch.Default, nil)
	if err != nil {
		t.Fatalf("merge: %v (conflicts %v)", err, rep.Conflicts)
	}
	if rep.Transactions != 3 || rep.Head == nil || len(rep.Entities) != 2 {
		t.Fatalf("report: %d transactions, head %v, entities %v; want 3, a head, 2", rep.Transactions, rep.Head, rep.Entities)
	}
	db := openBranch(t, fx.st, branch.Default)
	wantVals(t, db, "f1", "d/age", "41")
	wantVals(t, db, "m1", "d/age", "51")
	wantVals(t, db, "p2", "d/age", "22")
	wantVals(t, db, "p4", "d/age", "44")
	wantVals(t, db, "p3", "d/tag")
	wantVals(t, db, "p5", "d/tag", "t")
	if e := person(t, db, "p9"); e != 0 {
		t.Errorf("p9 still exists on main (%d)", e)
	}
	f1, m1 := person(t, db, "f1"), person(t, db, "m1")
	if f1 == m1 {
		t.Errorf("f1 and m1 are one entity %d on main", f1)
	}
	if got, want := vals(t, db, f1, "d/friend"), []string{fmt.Sprint(person(t, db, "p1"))}; !slices.Equal(got, want) {
		t.Errorf("f1 friends %v, want p1 %v", got, want)
	}
	if got, want := vals(t, db, person(t, db, "f2"), "d/friend"), []string{fmt.Sprint(f1)}; !slices.Equal(got, want) {
		t.Errorf("f2 friends %v, want f1 %v", got, want)
	}
	// Transaction metadata moved to the replayed transaction; its instant
	// is the target's.
	var metaTx datom.ID
	err = db.Datoms(ctx, datom.AEVT, []any{attrID(t, db, "d/tag")}, func(d datom.Datom) bool {
		if d.V == "from-feature" {
			metaTx = d.E
		}
		return true
	})
	if err != nil || datom.Part(metaTx) != datom.PartTx || datom.TxT(metaTx) <= oldMain.BasisT() {
		t.Errorf("metadata on %d (err %v), want a tx after main's t %d", metaTx, err, oldMain.BasisT())
	}
	if c := rep.Head.Commit; len(c.Parents) != 2 || c.Parents[0] != oldMain.Head().Addr || c.Parents[1] != fHead.Head().Addr {
		t.Errorf("merge commit parents %v, want [%s %s]", c.Parents, oldMain.Head().Addr, fHead.Head().Addr)
	}
	// What main gained is what feature did, as Diff sees it: entity ids
	// differ, so compare per attribute counts of added datoms.
	added := 0
	if _, err := Diff(ctx, oldMain, db, func(d datom.Datom, a bool) bool {
		if a && d.A != datom.DBTxInstant {
			added++
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	// f1: name, age, friend, tx tag; p2 age; f2: name, friend.
	if added != 7 {
		t.Errorf("main gained %d datoms, want 7", added)
	}

	// Merging again finds feature's head as the ancestor.
	rep2, err := Merge(ctx, fx.st, "feature", branch.Default, nil)
	if err != nil || rep2.Transactions != 0 || rep2.Head != nil || rep2.Ancestor != fHead.Head().Addr {
		t.Errorf("second merge: err %v, %d transactions, head %v, ancestor %s; want nothing to do at %s",
			err, rep2.Transactions, rep2.Head, rep2.Ancestor, fHead.Head().Addr)
	}
	// Later changes on feature merge alone, including changes to f1, which
	// feature created before the first merge and which has another id on
	// main: it is found by its :d/name.
	mustTx(t, fx.feature, `[{:d/name "p5" :d/age 55} {:d/name "p6" :d/friend [:d/name "f1"]}]`)
	mustTx(t, fx.feature, `[{:d/name "f1" :d/age 42}]`)
	rep3, err := Merge(ctx, fx.st, "feature", branch.Default, nil)
	if err != nil || rep3.Transactions != 2 {
		t.Fatalf("third merge: err %v, %d transactions, want 2", err, rep3.Transactions)
	}
	db = openBranch(t, fx.st, branch.Default)
	wantVals(t, db, "p5", "d/age", "55")
	wantVals(t, db, "f1", "d/age", "42")
	wantVals(t, db, "m1", "d/age", "51")
	if got, want := vals(t, db, person(t, db, "p6"), "d/friend"), []string{fmt.Sprint(person(t, db, "f1"))}; !slices.Equal(got, want) {
		t.Errorf("p6 friends %v, want f1 %v", got, want)
	}
	// A conflict on f1 is found on main's f1, not on the entity with
	// feature's id.
	mustTx(t, fx.feature, `[{:d/name "f1" :d/age 43}]`)
	mustTx(t, fx.main, `[{:d/name "f1" :d/age 44}]`)
	rep4, err := Merge(ctx, fx.st, "feature", branch.Default, nil)
	if !errors.Is(err, ErrMergeConflict) || len(rep4.Conflicts) != 1 || rep4.Conflicts[0].A != "d/age" {
		t.Errorf("fourth merge: err %v, conflicts %v; want one on :d/age", err, rep4.Conflicts)
	}
}

// TestMergeConflicts checks that a cardinality-one attribute changed on
// both sides to different values, and a unique value created on both
// sides, are reported, and that nothing is written; a change to the same
// value on both sides is no conflict.
func TestMergeConflicts(t *testing.T) {
	ctx := context.Background()
	fx := newMergeFixture(t)
	mustTx(t, fx.feature, `[{:d/name "p2" :d/age 200} {:d/name "p3" :d/age 33} {:d/name "dup" :d/age 1}]`)
	mustTx(t, fx.main, `[{:d/name "p2" :d/age 100} {:d/name "p3" :d/age 33} {:d/name "dup" :d/age 2}]`)
	before := fx.main.DB().Head()

	for _, dry := range []bool{true, false} {
		rep, err := Merge(ctx, fx.st, "feature", branch.Default, &MergeOptions{DryRun: dry})
		if !errors.Is(err, ErrMergeConflict) {
			t.Fatalf("dry %v: err %v, want ErrMergeConflict", dry, err)
		}
		var got []string
		for _, c := range rep.Conflicts {
			got = append(got, c.String())
		}
		slices.Sort(got)
		db := openBranch(t, fx.st, branch.Default)
		p2, dup := person(t, db, "p2"), person(t, db, "dup")
		want := []string{
			fmt.Sprintf("changed on both sides: %d :d/age was [2], source [200], target [100]", p2),
			fmt.Sprintf("unique value taken: source entity %d asserts :d/name dup, held by %d on the target", person(t, openBranch(t, fx.st, "feature"), "dup"), dup),
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("dry %v: conflicts\n%v\nwant\n%v", dry, got, want)
		}
		if rep.Head != nil {
			t.Errorf("dry %v: a head was written", dry)
		}
		h, err := branch.Read(ctx, fx.st, branch.Default)
		if err != nil || h.Addr != before.Addr {
			t.Errorf("dry %v: main moved to %s (err %v), want it at %s", dry, h.Addr, err, before.Addr)
		}
		wantVals(t, db, "p2", "d/age", "100")
	}
}

// TestMergeDryRun checks that a dry run reports the transactions it would
// replay and writes nothing.
func TestMergeDryRun(t *testing.T) {
	ctx := context.Background()
	fx := newMergeFixture(t)
	mustTx(t, fx.feature, `[{:d/name "f1" :d/age 41}]`)
	before := fx.main.DB().Head().Addr
	rep, err := Merge(ctx, fx.st, "feature", branch.Default, &MergeOptions{DryRun: true})
	if err != nil || rep.Transactions != 1 || rep.Head != nil {
		t.Fatalf("dry run: err %v, %d transactions, head %v; want nil, 1, nil", err, rep.Transactions, rep.Head)
	}
	if h, _ := branch.Read(ctx, fx.st, branch.Default); h.Addr != before {
		t.Errorf("dry run moved main")
	}
	if e := person(t, openBranch(t, fx.st, branch.Default), "f1"); e != 0 {
		t.Errorf("dry run wrote f1 (%d)", e)
	}
}

// TestMergeErrors checks the argument and ancestry errors.
func TestMergeErrors(t *testing.T) {
	ctx := context.Background()
	fx := newMergeFixture(t)
	if _, err := Merge(ctx, fx.st, "main", "main", nil); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("self merge: %v, want ErrInvalidOptions", err)
	}
	if _, err := Merge(ctx, fx.st, "nope", "main", nil); !errors.Is(err, branch.ErrNoBranch) {
		t.Errorf("missing branch: %v, want branch.ErrNoBranch", err)
	}
	// Another database on a branch of the same store shares no commit.
	w, err := writer.CreateStore(ctx, fx.st, &writer.Options{Branch: "other"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := Merge(ctx, fx.st, "other", "main", nil); !errors.Is(err, ErrNoAncestor) {
		t.Errorf("unrelated branches: %v, want ErrNoAncestor", err)
	}
}

// TestMergeConcurrentWriter merges while a writer keeps committing on the
// target: whichever commits first, the other rebases or starts over, and
// main ends with both the merged facts and every one of its own.
func TestMergeConcurrentWriter(t *testing.T) {
	ctx := context.Background()
	fx := newMergeFixture(t)
	for i := range 5 {
		mustTx(t, fx.feature, fmt.Sprintf(`[{:d/name "f%d" :d/age %d}]`, i, 100+i))
	}
	done := make(chan error, 1)
	go func() {
		for i := range 20 {
			if _, err := fx.main.Transact(ctx, fmt.Sprintf(`[{:d/name "m%d" :d/age %d}]`, i, 200+i)); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	rep, err := Merge(ctx, fx.st, "feature", branch.Default, &MergeOptions{MaxRetries: 100})
	if werr := <-done; werr != nil {
		t.Fatalf("writer: %v", werr)
	}
	if err != nil || rep.Transactions != 5 {
		t.Fatalf("merge: err %v, %d transactions; want 5", err, rep.Transactions)
	}
	db := openBranch(t, fx.st, branch.Default)
	for i := range 5 {
		wantVals(t, db, fmt.Sprintf("f%d", i), "d/age", fmt.Sprint(100+i))
	}
	for i := range 20 {
		wantVals(t, db, fmt.Sprintf("m%d", i), "d/age", fmt.Sprint(200+i))
	}
}

// personState is what the merge model tracks per person name.
type personState struct {
	age  string   // "" when none
	tags []string // sorted
}

// modelState reads every person's age and tags from db, by name.
func modelState(t *testing.T, db *reader.DB) map[string]personState {
	t.Helper()
	out := map[string]personState{}
	err := db.Datoms(context.Background(), datom.AEVT, []any{attrID(t, db, "d/name")}, func(d datom.Datom) bool {
		out[d.V.(string)] = personState{}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	for name := range out {
		e := person(t, db, name)
		ps := personState{tags: vals(t, db, e, "d/tag")}
		if a := vals(t, db, e, "d/age"); len(a) == 1 {
			ps.age = a[0]
		}
		out[name] = ps
	}
	return out
}

// randomSideTx changes ages and tags of existing people p0..p9 and creates
// new people named prefix+n.
func randomSideTx(r *rand.Rand, prefix string, n *int) string {
	var b strings.Builder
	b.WriteString("[")
	seen := map[int]bool{}
	for k := 0; k < 1+r.IntN(3); k++ {
		i := r.IntN(10)
		if seen[i] {
			continue
		}
		seen[i] = true
		switch r.IntN(4) {
		case 0:
			fmt.Fprintf(&b, `{:d/name "p%d" :d/age %d}`, i, r.IntN(4))
		case 1:
			fmt.Fprintf(&b, `{:d/name "p%d" :d/tag "g%d"}`, i, r.IntN(3))
		case 2:
			fmt.Fprintf(&b, `[:db/retract [:d/name "p%d"] :d/tag "t"]`, i)
		case 3:
			fmt.Fprintf(&b, `{:d/name "%s%d" :d/age %d :d/tag "n"}`, prefix, *n, r.IntN(4))
			*n++
		}
	}
	b.WriteString("]")
	return b.String()
}

// TestMergeModel runs random changes on both branches and checks the merge
// against a three-way model per person and attribute: an age the source
// changed takes the source's value, else the target's; tags the source
// added are added and tags it retracted are retracted. A run with a
// conflict must report one (both changed an age differently) and write
// nothing.
func TestMergeModel(t *testing.T) {
	seed := *diffSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -diff.seed=%d)", seed, seed)
	r := rand.New(rand.NewPCG(seed, 1))
	ctx := context.Background()
	merged, conflicted := 0, 0
	for round := 0; round < 12; round++ {
		fx := newMergeFixture(t)
		base := modelState(t, fx.main.DB())
		nf, nm := 0, 0
		for range 1 + r.IntN(5) {
			mustTx(t, fx.feature, randomSideTx(r, "f", &nf))
		}
		for range r.IntN(5) {
			mustTx(t, fx.main, randomSideTx(r, "m", &nm))
		}
		src := modelState(t, openBranch(t, fx.st, "feature"))
		tgt := modelState(t, fx.main.DB())
		before := fx.main.DB().Head().Addr

		wantConflict := false
		want := map[string]personState{}
		for name, ps := range tgt {
			want[name] = ps
		}
		for name, s := range src {
			b, inBase := base[name]
			w := want[name]
			if s.age != b.age || !inBase {
				if w.age != b.age && w.age != s.age && inBase {
					wantConflict = true
				}
				w.age = s.age
			}
			tags := map[string]bool{}
			for _, g := range w.tags {
				tags[g] = true
			}
			for _, g := range b.tags {
				if !slices.Contains(s.tags, g) {
					delete(tags, g)
				}
			}
			for _, g := range s.tags {
				if !slices.Contains(b.tags, g) {
					tags[g] = true
				}
			}
			w.tags = nil
			for g := range tags {
				w.tags = append(w.tags, g)
			}
			slices.Sort(w.tags)
			want[name] = w
		}

		rep, err := Merge(ctx, fx.st, "feature", branch.Default, nil)
		if wantConflict {
			conflicted++
			if !errors.Is(err, ErrMergeConflict) {
				t.Fatalf("round %d: err %v, want a conflict", round, err)
			}
			if h, _ := branch.Read(ctx, fx.st, branch.Default); h.Addr != before {
				t.Fatalf("round %d: main moved despite the conflict", round)
			}
			continue
		}
		if err != nil {
			t.Fatalf("round %d: merge: %v (conflicts %v)", round, err, rep.Conflicts)
		}
		merged++
		got := modelState(t, openBranch(t, fx.st, branch.Default))
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("round %d: merged state\n%v\nwant\n%v\nbase %v\nsource %v\ntarget %v", round, got, want, base, src, tgt)
		}
	}
	t.Logf("%d merged, %d conflicted", merged, conflicted)
}

// ExampleMerge branches off main, changes both branches and merges the
// branch back.
func ExampleMerge() {
	ctx := context.Background()
	st, err := konserve.Open(ctx, diffMemURL("example-merge"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer st.Close()
	w, err := writer.CreateStore(ctx, st, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer w.Close()
	tx := func(w *writer.Writer, data string) bool {
		if _, err := w.Transact(ctx, data); err != nil {
			fmt.Println(err)
			return false
		}
		return true
	}
	if !tx(w, `[{:db/ident :person/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
	  {:db/ident :person/age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]`) ||
		!tx(w, `[{:person/name "ann" :person/age 41} {:person/name "bob" :person/age 7}]`) {
		return
	}
	// Branch off main's head and work on both branches.
	if _, err := branch.Create(ctx, st, "fix", w.DB().Head().Addr); err != nil {
		fmt.Println(err)
		return
	}
	fix, err := writer.OpenStore(ctx, st, &writer.Options{Branch: "fix"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer fix.Close()
	if !tx(fix, `[{:person/name "ann" :person/age 42} {:person/name "cy" :person/age 3}]`) ||
		!tx(w, `[{:person/name "bob" :person/age 8}]`) {
		return
	}
	rep, err := Merge(ctx, st, "fix", "main", nil)
	if err != nil {
		fmt.Println(err, rep.Conflicts)
		return
	}
	fmt.Println("replayed", rep.Transactions, "transactions")
	db, err := reader.OpenStore(ctx, st, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, name := range []string{"ann", "bob", "cy"} {
		var e datom.ID
		err := db.Datoms(ctx, datom.AVET, []any{mustEntid(db, "person/name"), name}, func(d datom.Datom) bool {
			e = d.E
			return false
		})
		if err != nil {
			fmt.Println(err)
			return
		}
		age, err := values(ctx, db, e, mustEntid(db, "person/age"))
		fmt.Println(name, age, err)
	}
	// Output:
	// replayed 1 transactions
	// ann [42] <nil>
	// bob [8] <nil>
	// cy [3] <nil>
}

// mustEntid returns the id of ident kw (0 if db lacks it).
func mustEntid(db *reader.DB, kw string) datom.ID {
	id, _ := db.Schema().Entid(edn.Keyword(kw))
	return id
}
