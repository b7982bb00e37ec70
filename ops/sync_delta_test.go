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

// commitTx commits tx on the head of st's main branch the way a writer's
// commit does, merging the log tail into the trees (merge) or leaving it
// in the tail; done here rather than through a writer.Writer, whose merges
// run in the background and land at a later commit, so that what one
// commit changes is known.
func commitTx(t testing.TB, st *konserve.Store, tx []any, merge bool) (*reader.Report, *branch.Commit, *branch.Commit) {
	t.Helper()
	ctx := context.Background()
	h, err := branch.Read(ctx, st, branch.Default)
	if err != nil {
		t.Fatal(err)
	}
	db, err := reader.FromHead(ctx, st, h, 0)
	if err != nil {
		t.Fatal(err)
	}
	r := &reader.Report{DBAfter: db}
	var ts []int64
	if tx != nil {
		if r, err = db.Transact(ctx, tx, nil); err != nil {
			t.Fatal(err)
		}
		ts = append(ts, r.T)
	}
	_, c, pending, err := r.DBAfter.Prepare(ctx, reader.PersistOptions{Branch: branch.Default, Parent: h,
		Merge: merge, TailBytes: 1 << 30, TxTs: ts})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := branch.AdvanceWith(ctx, st, branch.Default, h, c, pending); err != nil {
		t.Fatal(err)
	}
	return r, h.Commit, c
}

// syncDelta commits tx on src (see commitTx), syncs src to dst (which
// holds the previous head) and checks the nodes sent against deltaBound.
func syncDelta(t testing.TB, src, dst *konserve.Store, tx []any, merge bool) SyncReport {
	t.Helper()
	txr, old, cur := commitTx(t, src, tx, merge)
	rep, err := Sync(context.Background(), src, dst, SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bound, changed := deltaBound(txr, old, cur)
	if rep.Nodes > bound {
		t.Errorf("sync of a %d-datom transaction sent %d nodes, more than %d (a path per place per changed tree: %v)", len(txr.TxData), rep.Nodes, bound, changed)
	}
	t.Logf("%d-datom transaction (merged %v): %d nodes (%d bytes) sent, bound %d; changed trees %v", len(txr.TxData), merge, rep.Nodes, rep.Bytes, bound, changed)
	return rep
}

// TestSyncDeltaMillion: on a 1,000,000-datom database (default node width),
// syncing a one-transaction delta sends about one path per changed index:
// the commit and its log tail when the transaction stays in the tail, and
// one root-to-leaf path per place it touches in each changed tree when its
// commit merges the tail. Building the database takes most of the time;
// -short skips it.
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
	w.Close() // waits for its background merges
	t.Logf("built %d datoms in %v", datoms, time.Since(start))
	commitTx(t, src, nil, true) // an empty tail
	dst := openStore(t, scratchURL(t))
	full, err := Sync(ctx, src, dst, SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("full sync: %d nodes, %d bytes", full.Nodes, full.Bytes)

	// A small transaction in the log tail: the commit and the tail.
	rep := syncDelta(t, src, dst, []any{deltaEntity(datoms)}, false)
	if rep.Nodes != 2 {
		t.Errorf("tail-only delta sent %d nodes, want 2 (commit, tail)", rep.Nodes)
	}
	commitTx(t, src, nil, true)
	if _, err := Sync(ctx, src, dst, SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	// Merged: one datom (and the transaction's instant), then a five-datom
	// entity.
	rep = syncDelta(t, src, dst, []any{edn.Map{{Key: edn.Keyword("b/id"), Val: int64(datoms + 2)}}}, true)
	if rep.Nodes < 4 {
		t.Errorf("merged delta sent %d nodes: the commit did not merge", rep.Nodes)
	}
	syncDelta(t, src, dst, []any{deltaEntity(datoms + 3)}, true)
	// Nothing new: only the head moves.
	again, err := Sync(ctx, src, dst, SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if again.Nodes != 0 {
		t.Errorf("second sync with no new commit sent %d nodes", again.Nodes)
	}
}
