package ops

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/reader"
	"github.com/accretedb/accrete/writer"
)

const testSchema = `[{:db/ident :person/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :person/age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]`

// testWriterOptions give deep trees (width 4) and a merge every few
// transactions (small tail), so old tree nodes become garbage quickly.
func testWriterOptions() *writer.Options { return &writer.Options{Width: 4, TailBytes: 500} }

// openStore opens a fresh Store (its own empty cache) on url.
func openStore(t testing.TB, url string) *konserve.Store {
	t.Helper()
	st, err := konserve.Open(context.Background(), url, nil)
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// txData is transaction i of the test workload: it updates the age of one
// of 40 people (rewriting leaves) and adds one new person.
func txData(i int) string {
	return fmt.Sprintf(`[{:person/name "p%02d" :person/age %d} {:person/name "n%04d" :person/age %d}]`, i%40, i, i, i*7)
}

// buildDB creates a database on st with the schema and n transactions.
func buildDB(t testing.TB, st *konserve.Store, n int) *writer.Writer {
	t.Helper()
	ctx := context.Background()
	w, err := writer.CreateStore(ctx, st, testWriterOptions())
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	t.Cleanup(func() { w.Close() })
	if _, err := w.Transact(ctx, testSchema); err != nil {
		t.Fatalf("schema: %v", err)
	}
	transactRange(t, w, 0, n)
	// Writers merge the log tail in the background: closing waits for the
	// merge in flight, so the bucket stops changing when buildDB returns
	// (GC tests compare node sets, and step their clock past every node's
	// grace). The writer returned is a fresh one with nothing in flight.
	if err := w.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if w, err = writer.OpenStore(ctx, st, testWriterOptions()); err != nil {
		t.Fatalf("reopen: %v", err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func transactRange(t testing.TB, w *writer.Writer, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if _, err := w.Transact(context.Background(), txData(i)); err != nil {
			t.Fatalf("tx %d: %v", i, err)
		}
	}
}

// snapshot returns every datom of every index (current and history) and
// every log entry of db, as text: two values answer every query alike if
// their snapshots are equal.
func snapshot(ctx context.Context, db *reader.DB) (string, error) {
	var b strings.Builder
	for _, v := range []*reader.DB{db, db.History()} {
		for _, idx := range []datom.Index{datom.EAVT, datom.AEVT, datom.AVET, datom.VAET} {
			fmt.Fprintf(&b, "== %v history=%v\n", idx, v.IsHistory())
			err := v.Datoms(ctx, idx, nil, func(d datom.Datom) bool {
				fmt.Fprintln(&b, d)
				return true
			})
			if err != nil {
				return "", err
			}
		}
	}
	err := db.TxRange(ctx, 0, 0, func(ti reader.TxInfo) bool {
		fmt.Fprintln(&b, "tx", ti.T, ti.TxID, ti.Datoms)
		return true
	})
	return b.String(), err
}

// snapshotURL opens branch main at url through a fresh store and snapshots it.
func snapshotURL(t testing.TB, url string) string {
	t.Helper()
	ctx := context.Background()
	db, err := reader.OpenStore(ctx, openStore(t, url), nil)
	if err != nil {
		t.Fatalf("open db at %s: %v", url, err)
	}
	s, err := snapshot(ctx, db)
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return s
}

// nodeSet lists the node addresses stored in st.
func nodeSet(t testing.TB, st *konserve.Store) map[konserve.Hash]int64 {
	t.Helper()
	m := map[konserve.Hash]int64{}
	err := st.ListNodes(context.Background(), func(h konserve.Hash, info konserve.ObjectInfo) error {
		m[h] = info.Size
		return nil
	})
	if err != nil {
		t.Fatalf("list nodes: %v", err)
	}
	return m
}

// later is a GC clock two hours ahead, so that every node and commit written
// by the test is older than the default grace.
func later() time.Time { return time.Now().Add(2 * time.Hour) }
