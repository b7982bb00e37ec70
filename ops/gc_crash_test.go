package ops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/internal/blobtest"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/reader"
)

// scratchURL returns the URL of a fresh named mem bucket, shared by every
// Store opened on it in this process. The crash tests use mem rather than
// file buckets because each needs a fresh database, and building one on this
// machine's disk costs a second.
func scratchURL(t testing.TB) string {
	scratchSeq++
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, t.Name())
	return fmt.Sprintf("mem://ops-%s-%d", name, scratchSeq)
}

var scratchSeq int

// faultyStore returns a Store over a Faulty wrapping the store at url.
func faultyStore(t *testing.T, url string) (*konserve.Store, *blobtest.Faulty) {
	t.Helper()
	inner, err := konserve.Open(context.Background(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := blobtest.NewFaulty(inner.Backend())
	st := konserve.New(f, &konserve.Options{CacheBytes: -1})
	t.Cleanup(func() { st.Close() })
	return st, f
}

// TestGCCrashAtEachStep kills GC at operations spread over all its phases
// (and fails single operations, and loses replies), then checks that the
// database answers as before, and that a rerun leaves no garbage (G4).
func TestGCCrashAtEachStep(t *testing.T) {
	ctx := context.Background()
	const ntx = 20
	// Count the operations of one whole run.
	probe := scratchURL(t)
	buildDB(t, openStore(t, probe), ntx)
	pst, pf := faultyStore(t, probe)
	full, err := GC(ctx, pst, GCOptions{Now: later, Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	total := pf.Count(blobtest.OpAny)
	t.Logf("one gc: %d operations, %+v", total, full)

	// The first operations (listing and reading heads), a spread up to the
	// last one (deletions), and the bump's swap, the first deletion and the
	// listing of the sweep by name.
	var faults []blobtest.Fault
	for kind, k := range map[blobtest.Kind]int{blobtest.Crash: 12, blobtest.Fail: 6, blobtest.LoseReply: 6} {
		for _, n := range spread(total, k) {
			faults = append(faults, blobtest.Fault{Op: blobtest.OpAny, N: n, Kind: kind})
		}
		faults = append(faults, blobtest.Fault{Op: blobtest.OpSwap, N: 1, Kind: kind},
			blobtest.Fault{Op: blobtest.OpDelete, N: 1, Kind: kind}, blobtest.Fault{Op: blobtest.OpList, N: 2, Kind: kind})
	}
	for _, fault := range faults {
		kind, n := fault.Kind, fault.N
		t.Run(fmt.Sprintf("%v@%v#%d", kind, fault.Op, n), func(t *testing.T) {
			url := scratchURL(t)
			buildDB(t, openStore(t, url), ntx)
			want := snapshotURL(t, url)
			st, f := faultyStore(t, url)
			f.Inject(fault)
			_, gcErr := GC(ctx, st, GCOptions{Now: later, Parallelism: 1})
			if fired := f.Fired(); len(fired) == 1 && gcErr == nil && kind != blobtest.LoseReply {
				t.Fatalf("fault %v fired but GC reported success", fired)
			}
			checkSubtreesComplete(t, openStore(t, url))
			if got := snapshotURL(t, url); got != want {
				t.Fatalf("after %v at %v #%d (gc err %v): database answers differently", kind, fault.Op, n, gcErr)
			}
			if _, err := GC(ctx, openStore(t, url), GCOptions{Now: later}); err != nil {
				t.Fatalf("rerun: %v", err)
			}
			if got := snapshotURL(t, url); got != want {
				t.Fatalf("after rerun: database answers differently")
			}
			left, err := GC(ctx, openStore(t, url), GCOptions{Now: later, DryRun: true})
			if err != nil || left.Swept != 0 {
				t.Fatalf("after rerun: %d nodes still collectable (err %v), want 0", left.Swept, err)
			}
		})
	}
}

// TestGCCancelled cancels GC in each phase through its progress callback.
func TestGCCancelled(t *testing.T) {
	for _, phase := range []GCPhase{PhaseMark, PhaseBump, PhaseSweep} {
		t.Run(phase.String(), func(t *testing.T) {
			url := scratchURL(t)
			buildDB(t, openStore(t, url), 20)
			want := snapshotURL(t, url)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, err := GC(ctx, openStore(t, url), GCOptions{Now: later, Progress: func(p GCProgress) {
				if p.Phase == phase {
					cancel()
				}
			}})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("gc cancelled in %v: err %v, want context.Canceled", phase, err)
			}
			if got := snapshotURL(t, url); got != want {
				t.Fatalf("database answers differently after a cancelled gc")
			}
			if _, err := GC(context.Background(), openStore(t, url), GCOptions{Now: later}); err != nil {
				t.Fatalf("rerun: %v", err)
			}
			if got := snapshotURL(t, url); got != want {
				t.Fatalf("database answers differently after the rerun")
			}
		})
	}
}

// TestGCKeepsValueHeldWithinGrace opens a value, lets the branch move on,
// collects, and reads the old value: it was a head within the grace, so it
// must read exactly as before.
func TestGCKeepsValueHeldWithinGrace(t *testing.T) {
	ctx := context.Background()
	url := scratchURL(t)
	w := buildDB(t, openStore(t, url), 40)
	want := snapshotURL(t, url)
	held, err := reader.OpenStore(ctx, openStore(t, url), nil) // nothing of its trees read yet
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	mid := time.Now()
	time.Sleep(20 * time.Millisecond)
	transactRange(t, w, 40, 60) // the held value stops being the head after mid
	grace := time.Hour
	rep, err := GC(ctx, openStore(t, url), GCOptions{Grace: grace, Now: func() time.Time { return mid.Add(grace) }})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Swept == 0 {
		t.Fatalf("gc swept nothing: %+v; the test needs garbage older than the grace", rep)
	}
	got, err := snapshot(ctx, held)
	if err != nil {
		t.Fatalf("held value after gc: %v", err)
	}
	if got != want {
		t.Fatalf("held value answers differently after gc")
	}
	// A value older than the grace that meets a missing node is told to
	// reopen; the current value is not.
	missing := fmt.Errorf("load: %w", konserve.ErrNodeMissing)
	farFuture := mid.Add(10 * grace)
	if err := Expired(ctx, openStore(t, url), held.Head(), missing, grace, farFuture); !errors.Is(err, ErrSnapshotExpired) || !errors.Is(err, konserve.ErrNodeMissing) {
		t.Errorf("Expired(old value) = %v, want ErrSnapshotExpired wrapping ErrNodeMissing", err)
	}
	cur, err := reader.OpenStore(ctx, openStore(t, url), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := Expired(ctx, openStore(t, url), cur.Head(), missing, grace, farFuture); !errors.Is(err, ErrDamaged) {
		t.Errorf("Expired(current value) = %v, want ErrDamaged", err)
	}
	if err := Expired(ctx, openStore(t, url), held.Head(), missing, grace, mid); !errors.Is(err, ErrDamaged) {
		t.Errorf("Expired(value within grace) = %v, want ErrDamaged", err)
	}
	other := errors.New("other")
	if err := Expired(ctx, openStore(t, url), held.Head(), other, grace, farFuture); err != other {
		t.Errorf("Expired(other error) = %v, want it unchanged", err)
	}
}

// TestGCUnderConcurrentWrites runs GC while a writer commits, and checks
// that every acknowledged transaction is readable and nothing reachable is
// missing.
func TestGCUnderConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	url := scratchURL(t)
	w := buildDB(t, openStore(t, url), 40)
	time.Sleep(20 * time.Millisecond)
	mid := time.Now()
	time.Sleep(20 * time.Millisecond)
	grace := time.Hour
	now := func() time.Time { return mid.Add(grace) }

	const from, to = 40, 100
	var wg sync.WaitGroup
	var txErr error
	started := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := from; i < to; i++ {
			if i == from+2 {
				close(started)
			}
			if _, err := w.Transact(ctx, txData(i)); err != nil {
				txErr = fmt.Errorf("tx %d: %w", i, err)
				return
			}
		}
	}()
	<-started
	var reps []GCReport
	writerDone := make(chan struct{})
	go func() { wg.Wait(); close(writerDone) }()
	// Collect at least three times, and until the writer has finished, so
	// that GC and commits overlap throughout.
	for i := 0; ; i++ {
		if i >= 3 && closed(writerDone) {
			break
		}
		rep, err := GC(ctx, openStore(t, url), GCOptions{Grace: grace, Now: now})
		if err != nil {
			t.Fatalf("gc beside a writer: %v", err)
		}
		reps = append(reps, rep)
		// Every GC moves the head once (the gc_gen bump). Back to back on
		// an in-memory bucket that is a head move every few milliseconds,
		// which can make one transaction lose its bounded retries (seen
		// once in CI); real GCs run minutes apart. A pause keeps GC and
		// commits overlapping without starving the writer.
		time.Sleep(5 * time.Millisecond)
	}
	wg.Wait()
	if txErr != nil {
		t.Fatalf("writer beside gc: %v", txErr)
	}
	if reps[0].Swept == 0 {
		t.Errorf("first gc swept nothing: %+v", reps[0])
	}
	t.Logf("gc reports: %+v", reps)
	db, err := reader.OpenStore(ctx, openStore(t, url), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := snapshot(ctx, db); err != nil {
		t.Fatalf("full scan after gc: %v", err)
	}
	name, _ := db.Schema().Entid("person/name")
	age, _ := db.Schema().Entid("person/age")
	for i := 0; i < to; i++ {
		var e datom.ID = -1
		db.Datoms(ctx, datom.AVET, []any{name, fmt.Sprintf("n%04d", i)}, func(d datom.Datom) bool { e = d.E; return false })
		var got any
		db.Datoms(ctx, datom.EAVT, []any{e, age}, func(d datom.Datom) bool { got = d.V; return false })
		if got != int64(i*7) {
			t.Fatalf("person n%04d: age %v, want %d", i, got, i*7)
		}
	}
	vr, err := Verify(ctx, openStore(t, url), VerifyOptions{})
	if err != nil || !vr.OK() {
		t.Fatalf("verify: %+v, %v", vr, err)
	}
}

// spread returns k operation numbers spread over 1..total, always including
// the first three and the last.
func spread(total int64, k int) []int64 {
	out := []int64{1, 2, 3, total}
	for i := 1; i < k-3; i++ {
		out = append(out, 3+int64(i)*(total-4)/int64(k-3))
	}
	return out
}

// closed reports whether ch is closed, without blocking.
func closed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// checkSubtreesComplete asserts G5/S1: every stored tree node's children are
// stored, and every stored commit's trees' roots and tail.
func checkSubtreesComplete(t *testing.T, st *konserve.Store) {
	t.Helper()
	ctx := context.Background()
	nodes := nodeSet(t, st)
	for h := range nodes {
		data, err := st.GetNode(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		var kids []konserve.Hash
		if c, err := branch.DecodeCommit(data); err == nil {
			for _, it := range commitItems(c) {
				kids = append(kids, it.h)
			}
		} else if level, ks, err := children(data, false); err == nil && level > 0 {
			kids = ks
		}
		for _, k := range kids {
			if _, ok := nodes[k]; !ok {
				t.Fatalf("stored node %s names %s, which is gone (an interrupted sweep deleted a child before its parent)", h, k)
			}
		}
	}
}
