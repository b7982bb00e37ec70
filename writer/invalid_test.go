package writer

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/tx"
)

// snapshotDir returns every file under dir (relative path -> bytes).
func snapshotDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = data
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot %s: %v", dir, err)
	}
	return out
}

// diffSnapshots describes how b differs from a ("" if not at all).
func diffSnapshots(a, b map[string][]byte) string {
	var out []string
	for k, va := range a {
		vb, ok := b[k]
		switch {
		case !ok:
			out = append(out, "removed "+k)
		case !bytes.Equal(va, vb):
			out = append(out, "changed "+k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, "added "+k)
		}
	}
	return strings.Join(out, ", ")
}

var errTxFuncRefused = errors.New("test: refused by the transaction function")

// TestInvalidTransactions: every kind of invalid transaction fails with an
// error that names the offending form (and wraps the sentinel that says
// what is wrong), and leaves the bucket byte-for-byte unchanged.
func TestInvalidTransactions(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	funcs := map[edn.Keyword]tx.Func{
		"test/refuse": func(ctx context.Context, db tx.Snapshot, args ...any) ([]any, error) {
			return nil, errTxFuncRefused
		},
	}
	w, err := Create(ctx, "file://"+dir, &Options{Funcs: funcs})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	mustTx(t, w, `[
 {:db/ident :i/name  :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :i/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/value}
 {:db/ident :i/n     :db/valueType :db.type/long   :db/cardinality :db.cardinality/one}
 {:db/ident :i/ref   :db/valueType :db.type/ref    :db/cardinality :db.cardinality/one}]`)
	mustTx(t, w, `[{:i/name "ann" :i/email "ann@x" :i/n 1} {:i/name "bob" :i/email "bob@x" :i/n 2}]`)

	cases := []struct {
		name string
		data string
		want error  // sentinel the error must wrap (nil: only check the text)
		form string // text the error must contain: the offending form
	}{
		{"unknown attribute", `[[:db/add "x" :i/nope 1]]`, tx.ErrUnknownAttribute, `form 0 [:db/add "x" :i/nope 1]`},
		{"wrong value type", `[{:i/name "carl" :i/n "three"}]`, tx.ErrWrongType, `form 0 {:i/name "carl", :i/n "three"}`},
		{"unique conflict", `[{:i/name "carl" :i/email "ann@x"}]`, tx.ErrUniqueConflict, `form 0 {:i/name "carl", :i/email "ann@x"}`},
		{"two values for a cardinality-one attribute", `[[:db/add [:i/name "ann"] :i/n 5] [:db/add [:i/name "ann"] :i/n 6]]`, tx.ErrCardinalityConflict, `form 1 [:db/add [:i/name "ann"] :i/n 6]`},
		{"unresolvable tempid", `[{:i/name "carl" :i/ref "ghost"}]`, tx.ErrTempID, `form 0 {:i/name "carl", :i/ref "ghost"}`},
		{"bad lookup ref", `[[:db/add [:i/name "nobody"] :i/n 1]]`, tx.ErrLookupRef, `form 0 [:db/add [:i/name "nobody"] :i/n 1]`},
		{"transaction function error", `[[:test/refuse 42]]`, errTxFuncRefused, "form 0 [:test/refuse 42]"},
		{"unknown transaction function", `[[:test/missing 42]]`, tx.ErrInvalidForm, "form 0 [:test/missing 42]"},
		{"cas mismatch", `[[:db/cas [:i/name "ann"] :i/n 99 100]]`, tx.ErrCAS, `form 0 [:db/cas [:i/name "ann"] :i/n 99 100]`},
		{"malformed EDN", `[{:i/name "carl"`, nil, "line 1, col 2"},
		{"not a vector", `{:i/name "carl"}`, nil, "must be a vector"},
		{"unknown entity id form", `[[:db/add 1.5 :i/n 1]]`, tx.ErrInvalidEntity, "form 0 [:db/add 1.5 :i/n 1]"},
	}
	// The last commit's staged objects are being written as files in the
	// background (konserve's file_stage.go): let them land first.
	if err := w.Store().Settle(ctx); err != nil {
		t.Fatal(err)
	}
	before := snapshotDir(t, dir)
	basis := w.DB().BasisT()
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			rep, err := w.Transact(ctx, c.data)
			if err == nil {
				t.Fatalf("Transact(%s) succeeded (t %d), want an error", c.data, rep.T)
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Errorf("error %q does not wrap %q", err, c.want)
			}
			if !strings.Contains(err.Error(), c.form) {
				t.Errorf("error %q does not name the form (%q)", err, c.form)
			}
			t.Logf("%s: %v", c.name, err)
			if d := diffSnapshots(before, snapshotDir(t, dir)); d != "" {
				t.Fatalf("bucket changed by a failed transaction: %s", d)
			}
			if got := w.DB().BasisT(); got != basis {
				t.Fatalf("writer's basis t moved from %d to %d", basis, got)
			}
		})
	}
	// The writer still commits, and the bucket then changes.
	rep := mustTx(t, w, `[{:i/name "carl" :i/n 3}]`)
	if rep.T != basis+1 {
		t.Fatalf("t after the invalid transactions = %d, want %d (none consumed a t)", rep.T, basis+1)
	}
	if d := diffSnapshots(before, snapshotDir(t, dir)); d == "" {
		t.Fatal("a valid commit left the bucket unchanged")
	}
}

// TestInvalidInBatch: an invalid transaction committed in the same batch
// as valid ones fails alone.
func TestInvalidInBatch(t *testing.T) {
	ctx := context.Background()
	w, err := Create(ctx, "mem://", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	mustTx(t, w, `[{:db/ident :b/n :db/valueType :db.type/long :db/cardinality :db.cardinality/many}]`)
	const n = 16
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		data := `[[:db/add "e" :b/n 1]]`
		if i%4 == 0 {
			data = `[[:db/add "e" :b/n "bad"]]`
		}
		go func() {
			_, err := w.Transact(ctx, data)
			errs <- err
		}()
	}
	bad := 0
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			if !errors.Is(err, tx.ErrWrongType) {
				t.Fatalf("unexpected error %v", err)
			}
			bad++
		}
	}
	if bad != n/4 {
		t.Fatalf("%d transactions failed, want %d", bad, n/4)
	}
	if got, want := w.DB().BasisT(), int64(1+n-n/4); got != want {
		t.Fatalf("basis t = %d, want %d", got, want)
	}
}
