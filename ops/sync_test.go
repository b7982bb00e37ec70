package ops

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/internal/blobtest"
	"github.com/accretedb/accrete/internal/testenv"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/reader"
	"github.com/accretedb/accrete/writer"
)

// reachable returns every address reachable from the head of branch main:
// commits through all parents, trees, tails.
func reachable(t testing.TB, st *konserve.Store) map[konserve.Hash]bool {
	t.Helper()
	ctx := context.Background()
	h, err := branch.Read(ctx, st, branch.Default)
	if err != nil {
		t.Fatal(err)
	}
	return reachableFrom(t, st, h.Addr)
}

func reachableFrom(t testing.TB, st *konserve.Store, addr konserve.Hash) map[konserve.Hash]bool {
	t.Helper()
	ctx := context.Background()
	seen := newHashSet()
	var items []item
	for a := addr; !a.IsZero(); {
		c, err := branch.LoadCommit(ctx, st, a)
		if err != nil {
			t.Fatal(err)
		}
		seen.add(a)
		items = append(items, commitItems(c)...)
		a = c.Parent()
	}
	if _, err := walk(ctx, st, 4, seen, items, true, false, nil, func(it item, err error) error { return err }); err != nil {
		t.Fatal(err)
	}
	out := map[konserve.Hash]bool{}
	for h := range seen.m {
		out[h] = true
	}
	return out
}

// checkSynced asserts that dst answers exactly as src and verifies clean.
func checkSynced(t *testing.T, srcURL, dstURL string) {
	t.Helper()
	if got, want := snapshotURL(t, dstURL), snapshotURL(t, srcURL); got != want {
		t.Fatalf("destination answers differently from source (%d vs %d bytes of scan)", len(got), len(want))
	}
	vr, err := Verify(context.Background(), openStore(t, dstURL), VerifyOptions{})
	if err != nil || !vr.OK() {
		t.Fatalf("verify destination: %+v, %v", vr, err)
	}
}

func testSyncBetween(t *testing.T, srcURL, dstURL string) {
	ctx := context.Background()
	src := openStore(t, srcURL)
	w := buildDB(t, src, 30)
	rep, err := Sync(ctx, src, openStore(t, dstURL), SyncOptions{})
	if err != nil {
		t.Fatalf("first sync: %v", err)
	}
	want := reachable(t, src)
	if rep.Nodes != int64(len(want)) || rep.Heads != 1 || rep.Branches != 1 {
		t.Errorf("first sync: %+v; want %d nodes (everything reachable), 1 head", rep, len(want))
	}
	checkSynced(t, srcURL, dstURL)

	again, err := Sync(ctx, src, openStore(t, dstURL), SyncOptions{})
	if err != nil {
		t.Fatalf("second sync: %v", err)
	}
	if again.Nodes != 0 || again.Bytes != 0 || again.Heads != 0 {
		t.Errorf("second sync with no new commit: %+v; want 0 nodes, 0 heads", again)
	}

	old := reachable(t, src)
	transactRange(t, w, 30, 33)
	delta, err := Sync(ctx, src, openStore(t, dstURL), SyncOptions{})
	if err != nil {
		t.Fatalf("delta sync: %v", err)
	}
	var wantDelta int64
	for h := range reachable(t, src) {
		if !old[h] {
			wantDelta++
		}
	}
	if delta.Nodes != wantDelta || delta.Commits != 3 || delta.Heads != 1 {
		t.Errorf("3-transaction delta: %+v; want %d nodes (exactly the new ones), 3 commits, 1 head", delta, wantDelta)
	}
	checkSynced(t, srcURL, dstURL)

	// A writer goes on on the copy (on a file bucket its nodes, tails and
	// commits are in packs): its commits, merges included, verify clean
	// and answer as the same transactions do on the source.
	dw, err := writer.OpenStore(ctx, openStore(t, dstURL), testWriterOptions())
	if err != nil {
		t.Fatalf("writer on the destination: %v", err)
	}
	transactRange(t, dw, 33, 45)
	if err := dw.Close(); err != nil {
		t.Fatal(err)
	}
	transactRange(t, w, 33, 45)
	vr, err := Verify(ctx, openStore(t, dstURL), VerifyOptions{})
	if err != nil || !vr.OK() {
		t.Fatalf("verify destination after its own commits: %+v, %v", vr, err)
	}
	if got, want := countPeople(t, dstURL), countPeople(t, srcURL); got != want {
		t.Fatalf("destination has %d people after the same transactions, source %d", got, want)
	}
}

// countPeople counts the entities with a :person/name at url's head.
func countPeople(t *testing.T, url string) int {
	t.Helper()
	ctx := context.Background()
	db, err := reader.OpenStore(ctx, openStore(t, url), nil)
	if err != nil {
		t.Fatal(err)
	}
	a, ok := db.Schema().Entid("person/name")
	if !ok {
		t.Fatal("no :person/name")
	}
	n := 0
	if err := db.Datoms(ctx, datom.AEVT, []any{a}, func(datom.Datom) bool { n++; return true }); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSyncFileToMem(t *testing.T) {
	testSyncBetween(t, "file://"+t.TempDir(), scratchURL(t))
}

func TestSyncMemToFile(t *testing.T) {
	testSyncBetween(t, scratchURL(t), "file://"+t.TempDir())
}

func TestSyncS3ToFile(t *testing.T) {
	testSyncBetween(t, testenv.S3URL(t), "file://"+t.TempDir())
}

func TestSyncFileToS3(t *testing.T) {
	testSyncBetween(t, "file://"+t.TempDir(), testenv.S3URL(t))
}

// TestSyncOneTransactionDelta: with a tail that merges on every commit, a
// one-transaction delta sends the commit, the tail and about one new path
// per changed index.
func TestSyncOneTransactionDelta(t *testing.T) {
	ctx := context.Background()
	srcURL, dstURL := scratchURL(t), scratchURL(t)
	src := openStore(t, srcURL)
	w, err := writer.CreateStore(ctx, src, &writer.Options{Width: 4, TailBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Transact(ctx, testSchema); err != nil {
		t.Fatal(err)
	}
	transactRange(t, w, 0, 120)
	if _, err := Sync(ctx, src, openStore(t, dstURL), SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	h, _ := branch.Read(ctx, src, branch.Default)
	maxDepth := 0
	for _, r := range h.Commit.Roots {
		maxDepth = max(maxDepth, r.Depth)
	}
	total := len(reachable(t, src))
	for i := 120; i < 123; i++ {
		transactRange(t, w, i, i+1)
		rep, err := Sync(ctx, src, openStore(t, dstURL), SyncOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// The transaction touches two entities: at most two paths in each
		// of the nine trees (the history trees get the retracted age).
		bound := int64(2 + 9*2*maxDepth)
		t.Logf("tx %d: sent %d nodes (%d bytes), skipped %d; database %d nodes, depth %d, bound %d", i, rep.Nodes, rep.Bytes, rep.Skipped, total, maxDepth, bound)
		if rep.Nodes > bound || rep.Nodes < 3 {
			t.Errorf("1-transaction delta sent %d nodes, want between 3 and %d", rep.Nodes, bound)
		}
	}
	checkSynced(t, srcURL, dstURL)
}

// TestSyncInterruptedResumes fails or crashes the destination at operations
// spread over a sync, then checks that the destination head did not move and
// that a rerun completes the copy.
func TestSyncInterruptedResumes(t *testing.T) {
	ctx := context.Background()
	srcURL := scratchURL(t)
	src := openStore(t, srcURL)
	w := buildDB(t, src, 20)

	// A destination holding an older state, and the operation count of a
	// full sync from it.
	base := scratchURL(t)
	if _, err := Sync(ctx, src, openStore(t, base), SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	oldHead, _ := branch.Read(ctx, src, branch.Default)
	transactRange(t, w, 20, 40)
	probe := scratchURL(t)
	if _, err := Sync(ctx, openStore(t, base), openStore(t, probe), SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	pst, pf := faultyStore(t, probe)
	full, err := Sync(ctx, src, pst, SyncOptions{Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	total := pf.Count(blobtest.OpAny)
	t.Logf("sync of 20 transactions onto the old state: %d destination operations, %+v", total, full)

	for _, kind := range []blobtest.Kind{blobtest.Crash, blobtest.Fail} {
		for _, n := range spread(total, 8) {
			t.Run(fmt.Sprintf("%v@%d", kind, n), func(t *testing.T) {
				dstURL := scratchURL(t)
				if _, err := Sync(ctx, openStore(t, base), openStore(t, dstURL), SyncOptions{}); err != nil {
					t.Fatal(err)
				}
				dst, f := faultyStore(t, dstURL)
				f.Inject(blobtest.Fault{Op: blobtest.OpAny, N: n, Kind: kind})
				_, err := Sync(ctx, src, dst, SyncOptions{Parallelism: 1})
				if len(f.Fired()) > 0 && err == nil {
					t.Fatalf("fault %v fired, sync reported success", f.Fired())
				}
				h, rerr := branch.Read(ctx, openStore(t, dstURL), branch.Default)
				if rerr != nil {
					t.Fatal(rerr)
				}
				if err != nil && h.Addr != oldHead.Addr {
					t.Fatalf("failed sync (%v) moved the destination head", err)
				}
				rep, err := Sync(ctx, src, openStore(t, dstURL), SyncOptions{})
				if err != nil {
					t.Fatalf("rerun: %v", err)
				}
				if rep.Nodes > full.Nodes {
					t.Errorf("rerun sent %d nodes, more than a full sync (%d)", rep.Nodes, full.Nodes)
				}
				checkSynced(t, srcURL, dstURL)
			})
		}
	}
}

func TestSyncRefusesDiverged(t *testing.T) {
	ctx := context.Background()
	srcURL, dstURL := scratchURL(t), scratchURL(t)
	src, dst := openStore(t, srcURL), openStore(t, dstURL)
	buildDB(t, src, 5)
	buildDB(t, dst, 3) // another database on the same branch name
	before, _ := branch.Read(ctx, dst, branch.Default)
	if _, err := Sync(ctx, src, dst, SyncOptions{}); !errors.Is(err, ErrDiverged) {
		t.Fatalf("sync onto a diverged head: %v, want ErrDiverged", err)
	}
	if h, _ := branch.Read(ctx, dst, branch.Default); h.Addr != before.Addr {
		t.Fatalf("refused sync moved the head")
	}
	if _, err := Sync(ctx, src, dst, SyncOptions{Force: true}); err != nil {
		t.Fatalf("forced sync: %v", err)
	}
	checkSynced(t, srcURL, dstURL)
}

func TestSyncSelectedBranches(t *testing.T) {
	ctx := context.Background()
	srcURL, dstURL := scratchURL(t), scratchURL(t)
	src := openStore(t, srcURL)
	buildDB(t, src, 5)
	h, _ := branch.Read(ctx, src, branch.Default)
	if _, err := branch.Create(ctx, src, "dev", h.Addr); err != nil {
		t.Fatal(err)
	}
	rep, err := Sync(ctx, src, openStore(t, dstURL), SyncOptions{Branches: []string{"dev"}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := branch.List(ctx, openStore(t, dstURL))
	if fmt.Sprint(got) != "[dev]" || rep.Branches != 1 {
		t.Fatalf("synced branches %v (report %+v), want [dev]", got, rep)
	}
	all, err := Sync(ctx, src, openStore(t, dstURL), SyncOptions{})
	if err != nil || all.Nodes != 0 || all.Heads != 1 {
		t.Fatalf("sync of all after dev: %+v, %v; want 0 nodes (shared), 1 head (main)", all, err)
	}
}
