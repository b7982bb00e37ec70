package writer

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/internal/blobtest"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/reader"
	"github.com/accretedb/accrete/tx"
)

// bumpHead does what ops.GC's G2 does to a branch: a commit with the same
// contents, GCGen+1 and the head as its only parent.
func bumpHead(ctx context.Context, st *konserve.Store, name string) error {
	h, err := branch.Read(ctx, st, name)
	if err != nil {
		return err
	}
	c := *h.Commit
	c.Seq++
	c.Parents = []konserve.Hash{h.Addr}
	c.GCGen++
	c.TxTs = nil
	_, err = branch.Advance(ctx, st, name, h, &c)
	return err
}

// TestCommitRepointedAtGCBump: a garbage collector bumps the head between
// a commit's objects and its swap. The commit is not re-applied (its
// transaction function runs once) but pointed at the bumped head, lands
// on top of it, and the database reads as expected; a commit that loses
// to another writer's transaction is still rebased.
func TestCommitRepointedAtGCBump(t *testing.T) {
	ctx := context.Background()
	f := blobtest.NewFaulty(newMapBackend())
	st := konserve.New(f, nil)
	var calls atomic.Int64
	funcs := map[edn.Keyword]tx.Func{"count": func(_ context.Context, _ tx.Snapshot, args ...any) ([]any, error) {
		calls.Add(1)
		return []any{[]any{edn.Keyword("db/add"), "e", edn.Keyword("c/name"), args[0]}}, nil
	}}
	w, err := CreateStore(ctx, st, &Options{Width: 4, Funcs: funcs})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Transact(ctx, `[{:db/ident :c/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]`); err != nil {
		t.Fatal(err)
	}
	bumpOnSwap := func(other func()) {
		var armed atomic.Bool
		armed.Store(true)
		f.SetHook(func(op blobtest.Op, key string) {
			if op == blobtest.OpSwap && strings.HasPrefix(key, "branches/") && armed.Swap(false) {
				other()
			}
		})
	}
	bumpOnSwap(func() {
		if err := bumpHead(ctx, st, branch.Default); err != nil {
			t.Errorf("bump: %v", err)
		}
	})
	rep, err := w.Transact(ctx, `[[:count "one"]]`)
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 1 || w.repoints.Load() != 1 {
		t.Fatalf("transaction function ran %d times, %d repoints; want 1 and 1", calls.Load(), w.repoints.Load())
	}
	h, err := branch.Read(ctx, st, branch.Default)
	if err != nil {
		t.Fatal(err)
	}
	if h.Commit.GCGen != 1 || h.Commit.BasisT != rep.T {
		t.Fatalf("head after the repointed commit: gen %d, basis %d; want 1 and %d", h.Commit.GCGen, h.Commit.BasisT, rep.T)
	}
	parent, err := branch.LoadCommit(ctx, st, h.Commit.Parent())
	if err != nil || parent.GCGen != 1 || len(parent.TxTs) != 0 {
		t.Fatalf("parent of the repointed commit: %+v, %v; want the bump", parent, err)
	}

	// Another writer's transaction in the same place is a real conflict:
	// rebased, so the function runs again on the new value.
	other, err := OpenStore(ctx, konserve.New(f.Inner(), nil), &Options{Width: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	bumpOnSwap(func() {
		if _, err := other.Transact(ctx, `[{:c/name "other"}]`); err != nil {
			t.Errorf("other writer: %v", err)
		}
	})
	calls.Store(0)
	if _, err := w.Transact(ctx, `[[:count "two"]]`); err != nil {
		t.Fatal(err)
	}
	f.SetHook(nil)
	if calls.Load() != 2 || w.repoints.Load() != 1 {
		t.Fatalf("after another writer's commit: function ran %d times, %d repoints; want 2 (rebased) and still 1", calls.Load(), w.repoints.Load())
	}
	db, err := reader.OpenStore(ctx, konserve.New(f.Inner(), nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	name, _ := db.Schema().Entid("c/name")
	var got []string
	if err := db.Datoms(ctx, datom.AEVT, []any{name}, func(d datom.Datom) bool { got = append(got, d.V.(string)); return true }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "one,other,two" {
		t.Fatalf("names %v, want one, other, two", got)
	}
}
