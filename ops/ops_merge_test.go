package ops

import (
	"context"
	"testing"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/writer"
)

// TestSyncAndGCAcrossMergeCommit: a two-parent commit (Merge) is synced
// with both lines of history, and GC with KeepLast follows both parents.
func TestSyncAndGCAcrossMergeCommit(t *testing.T) {
	ctx := context.Background()
	srcURL, dstURL := scratchURL(t), scratchURL(t)
	src := openStore(t, srcURL)
	w := buildDB(t, src, 10)
	h, err := branch.Read(ctx, src, branch.Default)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := branch.Create(ctx, src, "dev", h.Addr); err != nil {
		t.Fatal(err)
	}
	dev, err := writer.OpenStore(ctx, src, &writer.Options{Branch: "dev", Width: 4, TailBytes: 500})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	transactRange(t, dev, 100, 110)
	transactRange(t, w, 10, 15)
	if _, err := Merge(ctx, src, "dev", branch.Default, &MergeOptions{Width: 4, TailBytes: 500}); err != nil {
		t.Fatalf("merge: %v", err)
	}
	mh, err := branch.Read(ctx, src, branch.Default)
	if err != nil {
		t.Fatal(err)
	}
	if len(mh.Commit.Parents) != 2 {
		t.Skipf("merge made a commit with %d parents; this test is about two", len(mh.Commit.Parents))
	}
	rep, err := Sync(ctx, src, openStore(t, dstURL), SyncOptions{Branches: []string{branch.Default}})
	if err != nil {
		t.Fatal(err)
	}
	// Both lines of history came along: the dev commits are in dst.
	dh, _ := branch.Read(ctx, src, "dev")
	if ok, err := openStore(t, dstURL).HasNode(ctx, dh.Addr); err != nil || !ok {
		t.Fatalf("dev's head commit (second parent's line) not synced: %v %v; report %+v", ok, err, rep)
	}
	checkSynced(t, srcURL, dstURL)

	if _, err := GC(ctx, openStore(t, srcURL), GCOptions{Now: later, KeepLast: 1000}); err != nil {
		t.Fatal(err)
	}
	vr, err := Verify(ctx, openStore(t, srcURL), VerifyOptions{})
	if err != nil || !vr.OK() || vr.HistoryEnds != 0 {
		t.Fatalf("verify after gc keeping all history: %+v, %v; want OK and no history ends", vr, err)
	}
}
