package ops

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/reader"
	"github.com/accretedb/accrete/writer"
)

func TestGCFreesGarbageAndKeepsAnswers(t *testing.T) {
	ctx := context.Background()
	url := "file://" + t.TempDir()
	st := openStore(t, url)
	buildDB(t, st, 40)
	before := snapshotURL(t, url)
	nodesBefore := nodeSet(t, st)

	dry, err := GC(ctx, openStore(t, url), GCOptions{DryRun: true, Now: later})
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if got := len(nodeSet(t, st)); got != len(nodesBefore) {
		t.Fatalf("dry run: %d nodes stored after, want %d (nothing deleted)", got, len(nodesBefore))
	}
	if dry.Swept == 0 || dry.BytesFreed == 0 {
		t.Fatalf("dry run found nothing to free: %+v", dry)
	}

	rep, err := GC(ctx, openStore(t, url), GCOptions{Now: later})
	if err != nil {
		t.Fatalf("gc: %v", err)
	}
	t.Logf("gc: %+v", rep)
	if rep.Swept != dry.Swept {
		t.Errorf("swept %d, dry run predicted %d", rep.Swept, dry.Swept)
	}
	after := nodeSet(t, st)
	// The bump commit is new; everything else that remains was there before.
	if got, want := int64(len(after)), int64(len(nodesBefore))-rep.Swept+1; got != want {
		t.Errorf("nodes after gc = %d, want %d (before %d - swept %d + bump commit)", got, want, len(nodesBefore), rep.Swept)
	}
	if rep.Bumped != 1 || rep.Marked != int64(len(after)) {
		t.Errorf("bumped %d heads, marked %d; want 1 and %d (every remaining node)", rep.Bumped, rep.Marked, len(after))
	}
	if got := snapshotURL(t, url); got != before {
		t.Fatalf("database answers differently after gc:\n got %d bytes\nwant %d bytes", len(got), len(before))
	}
	h, err := branch.Read(ctx, st, branch.Default)
	if err != nil || h.Commit.GCGen != 1 {
		t.Fatalf("head after gc: gen %v, err %v; want gen 1", h, err)
	}
	vr, err := Verify(ctx, openStore(t, url), VerifyOptions{})
	if err != nil || !vr.OK() {
		t.Fatalf("verify after gc: %+v, %v", vr, err)
	}
	if vr.HistoryEnds != 1 {
		t.Errorf("verify: history ends = %d, want 1 (the head's parent is the only retained parent link)", vr.HistoryEnds)
	}
	// A second run has nothing left to free.
	again, err := GC(ctx, openStore(t, url), GCOptions{DryRun: true, Now: later})
	if err != nil || again.Swept != 0 {
		t.Fatalf("dry run after gc: swept %d, err %v; want 0", again.Swept, err)
	}
}

func TestGCKeepLastAndKeepSince(t *testing.T) {
	ctx := context.Background()
	url := "file://" + t.TempDir()
	st := openStore(t, url)
	buildDB(t, st, 20)
	h, err := branch.Read(ctx, st, branch.Default)
	if err != nil {
		t.Fatal(err)
	}
	var chain []konserve.Hash
	branch.Walk(ctx, st, h.Addr, func(a konserve.Hash, c *branch.Commit) (bool, error) {
		chain = append(chain, a)
		return true, nil
	})
	if _, err := GC(ctx, st, GCOptions{KeepLast: 5, Now: later}); err != nil {
		t.Fatal(err)
	}
	// GC marks from the head it found (the old head and its 4 parents) before
	// bumping it, so those 5 remain after it.
	for i, a := range chain {
		_, err := branch.LoadCommit(ctx, openStore(t, url), a)
		if want := i < 5; (err == nil) != want {
			t.Errorf("commit %d back from the old head: loadable=%v, want %v (err %v)", i, err == nil, want, err)
		}
		if err != nil && !errors.Is(err, konserve.ErrNodeMissing) {
			t.Errorf("commit %d: %v, want ErrNodeMissing", i, err)
		}
	}
	// Every retained commit still opens.
	for _, a := range chain[:5] {
		db, err := reader.FromCommit(ctx, openStore(t, url), a, 0)
		if err != nil {
			t.Fatalf("open retained commit: %v", err)
		}
		if _, err := snapshot(ctx, db); err != nil {
			t.Fatalf("scan retained commit: %v", err)
		}
	}
	// KeepSince in the past of every commit keeps them all.
	rep, err := GC(ctx, st, GCOptions{KeepSince: later().Add(-24 * 60 * 60 * 1e9), Now: later, DryRun: true})
	if err != nil || rep.Commits < 5 {
		t.Fatalf("keep since: %+v, %v", rep, err)
	}
}

// TestGCKeepsEveryBranch collects a database with two branches that share
// structure and then diverge: both must read as before.
func TestGCKeepsEveryBranch(t *testing.T) {
	ctx := context.Background()
	url := scratchURL(t)
	st := openStore(t, url)
	buildDB(t, st, 15)
	h, err := branch.Read(ctx, st, branch.Default)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := branch.Create(ctx, st, "dev", h.Addr); err != nil {
		t.Fatal(err)
	}
	dev, err := writer.OpenStore(ctx, st, &writer.Options{Branch: "dev", Width: 4, TailBytes: 500})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	transactRange(t, dev, 100, 120)
	wantMain := snapshotURL(t, url)
	devDB, err := reader.OpenStore(ctx, openStore(t, url), &reader.Options{Branch: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	wantDev, err := snapshot(ctx, devDB)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := GC(ctx, openStore(t, url), GCOptions{Now: later})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Branches != 2 || rep.Bumped != 2 || rep.Swept == 0 {
		t.Errorf("gc of two branches: %+v; want 2 branches, 2 bumps, something swept", rep)
	}
	if got := snapshotURL(t, url); got != wantMain {
		t.Errorf("main answers differently after gc")
	}
	devDB, err = reader.OpenStore(ctx, openStore(t, url), &reader.Options{Branch: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := snapshot(ctx, devDB); err != nil || got != wantDev {
		t.Errorf("dev answers differently after gc (err %v)", err)
	}
}

func TestGCProgressAndOptions(t *testing.T) {
	ctx := context.Background()
	url := scratchURL(t)
	buildDB(t, openStore(t, url), 10)
	var phases []GCPhase
	var last GCProgress
	rep, err := GC(ctx, openStore(t, url), GCOptions{Now: later, Progress: func(p GCProgress) {
		if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
			phases = append(phases, p.Phase)
		}
		last = p
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(phases), "[mark bump sweep done]"; got != want {
		t.Errorf("progress phases %s, want %s", got, want)
	}
	if last.Swept != rep.Swept || last.Listed != rep.Listed || last.Marked != rep.Marked {
		t.Errorf("last progress %+v disagrees with report %+v", last, rep)
	}
	for _, bad := range []GCOptions{{Grace: -1}, {KeepLast: -1}, {Parallelism: -1}} {
		if _, err := GC(ctx, openStore(t, url), bad); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("GC(%+v) = %v, want ErrInvalidOptions", bad, err)
		}
	}
	if _, err := Sync(ctx, openStore(t, url), openStore(t, scratchURL(t)), SyncOptions{Parallelism: -1}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("Sync with negative parallelism: %v, want ErrInvalidOptions", err)
	}
	if _, err := Verify(ctx, openStore(t, url), VerifyOptions{Parallelism: -1}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("Verify with negative parallelism: %v, want ErrInvalidOptions", err)
	}
	if s := GCPhase(9).String(); s != "GCPhase(9)" {
		t.Errorf("GCPhase(9).String() = %q", s)
	}
}
