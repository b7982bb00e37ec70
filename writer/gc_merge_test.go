package writer

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/internal/blobtest"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/ops"
	"github.com/accretedb/accrete/reader"
)

// TestIdleMergeAdoptedAfterGC: a background merge finishes and the
// writer stays idle past GC's grace. The next commit adopts the merge
// (its base still has the pre-GC head, so adoptMerge's GCGen check
// passes); GC runs while that commit is in flight (between its objects and
// its head swap: it bumps the head and sweeps the merge's nodes, which no
// head names and which are older than its cutoff); the commit loses its
// swap to the bump and is re-pointed at it without a rebase. The head must
// not name nodes GC deleted.
func TestIdleMergeAdoptedAfterGC(t *testing.T) {
	ctx := context.Background()
	f := blobtest.NewFaulty(newMapBackend())
	st := konserve.New(f, nil)
	w, err := CreateStore(ctx, st, &Options{Width: 4, TailBytes: bgTailBytes})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.opts.MergeInCommit = false
	mustTx(t, w, crashSchema)
	for i := 0; w.mergesStarted.Load() == 0; i++ {
		if i == 50 {
			t.Fatal("no background merge started")
		}
		mustTx(t, w, fmt.Sprintf(`[{:c/name "x%d" :c/n %d}]`, i, i))
	}
	j := w.merge
	<-j.done
	if j.err != nil {
		t.Fatalf("background merge: %v", j.err)
	}
	// The writer is now idle; "an hour later" (the clock GC is given),
	// GC runs from another process, at the moment of the next commit's
	// head swap.
	time.Sleep(20 * time.Millisecond)
	mid := time.Now()
	time.Sleep(20 * time.Millisecond)
	grace := time.Hour
	gst := konserve.New(f, nil)
	var armed atomic.Bool
	armed.Store(true)
	var gcRep ops.GCReport
	var gcErr error
	f.SetHook(func(op blobtest.Op, key string) {
		if op == blobtest.OpSwap && strings.HasPrefix(key, "branches/") && armed.Swap(false) {
			gcRep, gcErr = ops.GC(ctx, gst, ops.GCOptions{Grace: grace, Now: func() time.Time { return mid.Add(grace) }})
		}
	})
	mustTx(t, w, `[{:c/name "after" :c/n 1000}]`)
	f.SetHook(nil)
	if gcErr != nil {
		t.Fatalf("gc: %v", gcErr)
	}
	t.Logf("gc: swept %d, bumped %d; merges started %d adopted %d dropped %d; repoints %d",
		gcRep.Swept, gcRep.Bumped, w.mergesStarted.Load(), w.mergesAdopted.Load(), w.mergesDropped.Load(), w.repoints.Load())

	vst := konserve.New(f, nil)
	vr, err := ops.Verify(ctx, vst, ops.VerifyOptions{})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if !vr.OK() {
		t.Fatalf("the head names %d missing nodes (GC swept the merge's nodes before the commit that adopted them was re-pointed at GC's bump): %v",
			len(vr.Missing), vr.Missing)
	}
	h, err := branch.Read(ctx, vst, branch.Default)
	if err != nil {
		t.Fatal(err)
	}
	db, err := reader.FromHead(ctx, vst, h, 4)
	if err != nil {
		t.Fatalf("open after gc: %v", err)
	}
	dumpDB(t, db)
}
