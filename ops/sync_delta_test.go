package ops

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/reader"
	"github.com/accretedb/accrete/writer"
)

const deltaSchema = `[
 {:db/ident :b/id    :db/valueType :db.type/long    :db/cardinality :db.cardinality/one :db/index true}
 {:db/ident :b/name  :db/valueType :db.type/string  :db/cardinality :db.cardinality/one}
 {:db/ident :b/age   :db/valueType :db.type/long    :db/cardinality :db.cardinality/one}
 {:db/ident :b/tag   :db/valueType :db.type/keyword :db/cardinality :db.cardinality/one}
 {:db/ident :b/score :db/valueType :db.type/double  :db/cardinality :db.cardinality/one}]`

// deltaEntity is one entity of five datoms.
func deltaEntity(i int64) edn.Map {
	return edn.Map{
		{Key: edn.Keyword("b/id"), Val: i},
		{Key: edn.Keyword("b/name"), Val: fmt.Sprintf("name-%08d", i)},
		{Key: edn.Keyword("b/age"), Val: i % 97},
		{Key: edn.Keyword("b/tag"), Val: edn.Keyword(fmt.Sprintf("t/k%d", i%13))},
		{Key: edn.Keyword("b/score"), Val: float64(i) * 0.5},
	}
}

// buildDeltaDB fills a new database on st with n datoms, in transactions of
// 50,000 datoms (as writer's benchmarks do), and returns its writer.
func buildDeltaDB(t testing.TB, st *konserve.Store, n int, opts *writer.Options) *writer.Writer {
	t.Helper()
	ctx := context.Background()
	w, err := writer.CreateStore(ctx, st, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Transact(ctx, deltaSchema); err != nil {
		t.Fatal(err)
	}
	var next int64
	for done := 0; done < n; {
		var forms []any
		for k := 0; k < 10_000 && done < n; k++ {
			forms = append(forms, deltaEntity(next))
			next++
			done += 5
		}
		if _, err := w.Transact(ctx, forms); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// deltaBound is the bound on the nodes a sync of a one-transaction delta
// may send: the commit and its log tail, plus, for every tree whose root
// changed between the commits, one root-to-leaf path (its depth) per place
// the transaction's datoms land in it. An assertion-only transaction's
// datoms land at one place per entity in EAVT, per attribute in AEVT and
// (indexed attributes) AVET, per referenced entity in VAET, and at one
// place at the end of the log. Issue 6's "about one path per
// changed index" is this bound for a one-datom transaction (plus its
// :db/txInstant).
func deltaBound(rep *reader.Report, old, cur *branch.Commit) (bound int64, changed []string) {
	distinct := map[string]map[any]bool{"eavt": {}, "aevt": {}, "avet": {}, "vaet": {}}
	for _, d := range rep.TxData {
		distinct["eavt"][d.E] = true
		distinct["aevt"][d.A] = true
		a := rep.DBAfter.Schema().Attr(d.A)
		if a != nil && a.Indexed() {
			distinct["avet"][d.A] = true
		}
		if a != nil && a.IsRef() {
			distinct["vaet"][d.V] = true
		}
	}
	places := map[string]int64{"log": 1}
	for k, m := range distinct {
		places[k] = int64(len(m))
	}
	for _, r := range cur.Roots {
		o, ok := old.Root(r.Name)
		if ok && o.Addr == r.Addr {
			continue
		}
		changed = append(changed, fmt.Sprintf("%s(depth %d, %d places)", r.Name, r.Depth, places[r.Name]))
		bound += int64(r.Depth) * max(places[r.Name], 1)
	}
	return bound + 2, changed
}

// syncDelta syncs src to dst (already holding the previous head), after
// the transaction tx on w, and checks the nodes sent against deltaBound.
func syncDelta(t testing.TB, w *writer.Writer, src, dst *konserve.Store, tx []any) SyncReport {
	t.Helper()
	ctx := context.Background()
	old := w.DB().Head().Commit
	txr, err := w.Transact(ctx, tx)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Sync(ctx, src, dst, SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bound, changed := deltaBound(txr, old, w.DB().Head().Commit)
	if rep.Nodes > bound {
		t.Errorf("sync of a %d-datom transaction sent %d nodes, more than %d (a path per place per changed tree: %v)", len(txr.TxData), rep.Nodes, bound, changed)
	}
	t.Logf("%d-datom transaction: %d nodes (%d bytes) sent, bound %d; changed trees %v", len(txr.TxData), rep.Nodes, rep.Bytes, bound, changed)
	return rep
}

// TestSyncDeltaMillion: on a 1,000,000-datom database (default node width),
// syncing a one-transaction delta sends about one path per changed index:
// the commit and its log tail when the transaction stays in the tail, and
// one root-to-leaf path per changed tree when its commit merges the tail.
// Building the database takes most of the time; -short skips it.
func TestSyncDeltaMillion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 1,000,000-datom database")
	}
	const datoms = 1_000_000
	ctx := context.Background()
	srcURL := scratchURL(t)
	src := openStore(t, srcURL)
	start := time.Now()
	w := buildDeltaDB(t, src, datoms, nil)
	defer w.Close()
	t.Logf("built %d datoms in %v", datoms, time.Since(start))
	dst := openStore(t, scratchURL(t))
	full, err := Sync(ctx, src, dst, SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("full sync: %d nodes, %d bytes", full.Nodes, full.Bytes)

	// A small transaction stays in the log tail: the commit and the tail.
	rep := syncDelta(t, w, src, dst, []any{deltaEntity(datoms)})
	if rep.Nodes > 3 {
		t.Errorf("tail-only delta sent %d nodes, want at most 3 (commit, tail)", rep.Nodes)
	}
	// A writer that merges at every commit: one path per changed tree.
	w.Close()
	w2, err := writer.OpenStore(ctx, src, &writer.Options{TailBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	if _, err := w2.Transact(ctx, []any{deltaEntity(datoms + 1)}); err != nil {
		t.Fatal(err) // merge the tail left by the first writer
	}
	if _, err := Sync(ctx, src, dst, SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	// One datom (and the transaction's instant), then a five-datom entity.
	rep = syncDelta(t, w2, src, dst, []any{edn.Map{{Key: edn.Keyword("b/id"), Val: int64(datoms + 2)}}})
	if rep.Nodes < 4 {
		t.Errorf("merged delta sent %d nodes: the commit did not merge", rep.Nodes)
	}
	syncDelta(t, w2, src, dst, []any{deltaEntity(datoms + 3)})
	// Nothing new: only the head moves.
	again, err := Sync(ctx, src, dst, SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if again.Nodes != 0 {
		t.Errorf("second sync with no new commit sent %d nodes", again.Nodes)
	}
}
