package writer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/internal/blobtest"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/reader"
)

// Background merges (see doc.go): the commit that starts a merge and the
// one that adopts it, crashed at every storage operation of the sequence.

var bgMergeTxs = []string{
	`[{:c/name "bg1" :c/n 11 :c/tag [:t1 :t2] :c/ref [:c/name "n3"]} [:db/add [:c/name "n2"] :c/n 77]]`,
	`[{:c/name "bg2" :c/n 12 :c/ref [:c/name "bg1"]} [:db/retract [:c/name "n4"] :c/n 4]]`,
}

// bgTailBytes is below one transaction's tail (each commit starts a
// merge) and above a quarter of two (no commit merges in its own path).
const bgTailBytes = 60

// runBgMerge opens a writer whose every commit leaves its tail due (so
// each commit starts a background merge and the next one waits for it and
// adopts it), commits bgMergeTxs and closes the writer (which waits for the
// last merge). It returns how many transactions were acknowledged.
func runBgMerge(ctx context.Context, t *testing.T, f *blobtest.Faulty, arm func()) (acked int, w *Writer) {
	t.Helper()
	st := konserve.New(f, nil)
	w, err := OpenStore(ctx, st, &Options{Width: 4, TailBytes: bgTailBytes, Now: crashClock, MaxRetries: 2})
	if err != nil {
		t.Fatalf("open writer on an unfaulted bucket: %v", err)
	}
	w.waitMerges = true
	w.opts.MergeInCommit = false
	f.Reset()
	if arm != nil {
		arm()
	}
	for _, data := range bgMergeTxs {
		if _, err := w.Transact(ctx, data); err != nil {
			if !errors.Is(err, blobtest.ErrCrashed) && !errors.Is(err, blobtest.ErrInjected) {
				t.Fatalf("Transact: %v does not wrap the injected fault", err)
			}
			break
		}
		acked++
	}
	w.Close()
	return acked, w
}

// TestCrashBackgroundMerge: the head names the state after 0, 1 or 2 of
// the transactions, never less than was acknowledged, and every node it
// reaches is present, whichever operation the process crashed at (in the
// commit, in the background merge, or in the commit adopting it).
func TestCrashBackgroundMerge(t *testing.T) {
	ctx := context.Background()
	tmpl := newMapBackend()
	crashTemplate(t, tmpl, 1)
	before, err := readState(ctx, tmpl)
	if err != nil {
		t.Fatal(err)
	}
	clean := blobtest.NewFaulty(tmpl.clone())
	acked, w := runBgMerge(ctx, t, clean, nil)
	if acked != len(bgMergeTxs) {
		t.Fatalf("clean run acknowledged %d transactions", acked)
	}
	if got := w.mergesAdopted.Load(); got < 1 {
		t.Fatalf("clean run adopted %d background merges, want ≥1 (the path under test)", got)
	}
	ops := clean.Count(blobtest.OpAny)
	// The states after each prefix of the transactions.
	states := []dbState{before}
	for k := 1; k <= len(bgMergeTxs); k++ {
		b := tmpl.clone()
		f := blobtest.NewFaulty(b)
		st := konserve.New(f, nil)
		w, err := OpenStore(ctx, st, &Options{Width: 4, TailBytes: bgTailBytes, Now: crashClock})
		if err != nil {
			t.Fatal(err)
		}
		w.waitMerges = true
		w.opts.MergeInCommit = false
		for _, data := range bgMergeTxs[:k] {
			mustTx(t, w, data)
		}
		w.Close()
		s, err := readState(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		states = append(states, s)
	}
	if cs, err := readState(ctx, clean.Inner()); err != nil || !slices.Equal(cs.dump, states[2].dump) {
		t.Fatalf("clean run's state differs from the replayed one (err %v)", err)
	}
	t.Logf("%d storage operations in the sequence (%d puts)", ops, clean.Count(blobtest.OpPutImmutable))
	outcomes := map[int]int{}
	for n := int64(1); n <= ops; n++ {
		f := blobtest.NewFaulty(tmpl.clone())
		acked, _ := runBgMerge(ctx, t, f, func() { f.CrashAt(blobtest.OpAny, n) })
		where := fmt.Sprintf("crash at operation %d of %d", n, ops)
		got, err := readState(ctx, f.Inner())
		if err != nil {
			t.Fatalf("%s: database does not open or a node is missing: %v", where, err)
		}
		k := int(got.seq - before.seq)
		if k < 0 || k >= len(states) {
			t.Fatalf("%s: head seq %d, want %d..%d", where, got.seq, before.seq, before.seq+uint64(len(bgMergeTxs)))
		}
		if !slices.Equal(got.dump, states[k].dump) {
			t.Fatalf("%s: head names the state after %d transactions, but the content differs from it", where, k)
		}
		if k < acked {
			t.Fatalf("%s: %d transactions acknowledged, head has %d", where, acked, k)
		}
		outcomes[k]++
	}
	t.Logf("outcomes by transactions in the head: %v", outcomes)
	if len(outcomes) < 3 {
		t.Fatalf("outcomes %v: want heads after 0, 1 and 2 transactions among the runs", outcomes)
	}
}

// TestAdoptMergeStale: a merge applies only to values derived from its
// source by transactions; a value reopened from the head (as after a
// rebase) gets ErrStaleMerge, and a descendant gets the same facts on the
// merged trees.
func TestAdoptMergeStale(t *testing.T) {
	ctx := context.Background()
	w, err := Create(ctx, "mem://adopt-stale-"+strconv.FormatInt(rand.Int64(), 36), &Options{Width: 4, TailBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	mustTx(t, w, crashSchema)
	src := mustTx(t, w, `[{:c/name "a" :c/n 1}]`).DBAfter
	merged, err := src.MergeTail(ctx)
	if err != nil {
		t.Fatal(err)
	}
	later := mustTx(t, w, `[{:c/name "b" :c/n 2} [:db/retract [:c/name "a"] :c/n 1]]`).DBAfter
	adopted, err := later.AdoptMerge(ctx, src, merged)
	if err != nil {
		t.Fatalf("AdoptMerge of a descendant: %v", err)
	}
	if adopted.TailTxs() != 1 || adopted.BasisT() != later.BasisT() {
		t.Fatalf("adopted: %d tail txs, basis %d; want 1 and %d", adopted.TailTxs(), adopted.BasisT(), later.BasisT())
	}
	for _, v := range [][2]*reader.DB{{later, adopted}, {later.History(), adopted.History()}} {
		a, b := dumpDB(t, v[0]), dumpDB(t, v[1])
		if !slices.Equal(a, b) {
			t.Fatalf("adopted value differs:\n%v\n%v", a, b)
		}
	}
	reopened, err := reader.FromHead(ctx, w.Store(), later.Head(), 4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reopened.AdoptMerge(ctx, src, merged); !errors.Is(err, reader.ErrStaleMerge) {
		t.Fatalf("AdoptMerge of a reopened value: %v, want ErrStaleMerge", err)
	}
}

func dumpDB(t *testing.T, db *reader.DB) []string {
	t.Helper()
	var out []string
	for _, idx := range []datom.Index{datom.EAVT, datom.AEVT, datom.AVET, datom.VAET} {
		err := db.Datoms(context.Background(), idx, nil, func(d datom.Datom) bool {
			out = append(out, fmt.Sprint(idx, d))
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestFastForward: a value moved to a head another writer appended to
// equals the value reopened from that head, and keeps its own tail list
// (so a background merge of it still applies); after a merge changed the
// roots it falls back to reopening.
func TestFastForward(t *testing.T) {
	ctx := context.Background()
	url := "mem://ff-" + strconv.FormatInt(rand.Int64(), 36)
	w1, err := Create(ctx, url, &Options{Width: 4, TailBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer w1.Close()
	mustTx(t, w1, crashSchema)
	stale := mustTx(t, w1, `[{:c/name "a" :c/n 1}]`).DBAfter
	w2, err := OpenStore(ctx, w1.Store(), &Options{Width: 4, TailBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	mustTx(t, w2, `[{:c/name "b" :c/n 2 :c/tag [:x]} [:db/retract [:c/name "a"] :c/n 1]]`)
	h := mustTx(t, w2, `[{:c/name "c" :c/ref [:c/name "b"]}]`).DBAfter.Head()
	check := func(ff *reader.DB) {
		t.Helper()
		fresh, err := reader.FromHead(ctx, w1.Store(), h, 4)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range [][2]*reader.DB{{fresh, ff}, {fresh.History(), ff.History()}} {
			if a, b := dumpDB(t, v[0]), dumpDB(t, v[1]); !slices.Equal(a, b) {
				t.Fatalf("fast-forwarded value differs from the reopened one:\n%v\n%v", b, a)
			}
		}
		if ff.BasisT() != fresh.BasisT() || ff.Head().Addr != h.Addr || ff.TailTxs() != fresh.TailTxs() {
			t.Fatalf("basis %d head %s tail txs %d; want %d %s %d", ff.BasisT(), ff.Head().Addr, ff.TailTxs(), fresh.BasisT(), h.Addr, fresh.TailTxs())
		}
	}
	ff, err := stale.FastForward(ctx, h, 4)
	if err != nil {
		t.Fatal(err)
	}
	check(ff)
	// A merge of the stale value still applies to the fast-forwarded one.
	merged, err := stale.MergeTail(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ff.AdoptMerge(ctx, stale, merged); err != nil {
		t.Fatalf("AdoptMerge after FastForward: %v", err)
	}
	// Roots that changed (another writer merged): reopen.
	if _, err := w2.Transact(ctx, `[{:c/name "d"}]`); err != nil {
		t.Fatal(err)
	}
	w3, err := OpenStore(ctx, w1.Store(), &Options{Width: 4, TailBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer w3.Close()
	h = mustTx(t, w3, `[{:c/name "e"}]`).DBAfter.Head()
	ff, err = stale.FastForward(ctx, h, 4)
	if err != nil {
		t.Fatal(err)
	}
	check(ff)
}

// TestGroupPastBoundWaitsForMerge: a transaction that takes the log tail
// past maxTailFactor × TailBytes while a background merge is in flight
// waits for that merge and is applied again on its trees. Merging in its
// own commit path instead would cost the commit the merge's work and
// leave the merge in flight stale, to be dropped.
func TestGroupPastBoundWaitsForMerge(t *testing.T) {
	ctx := context.Background()
	w, err := Create(ctx, "mem://", &Options{Width: 8, TailBytes: 400})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Transact(ctx, `[{:db/ident :g/n :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]`); err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	release := sync.OnceFunc(func() { close(gate) })
	defer release() // before Close, which waits for the merge
	w.mergeGate = gate
	// Past TailBytes: the commit starts a background merge, held at the gate.
	small := 0
	for ; w.mergesStarted.Load() == 0; small++ {
		if small > 100 {
			t.Fatal("no background merge started")
		}
		if _, err := w.Transact(ctx, fmt.Sprintf(`[[:db/add "e" :g/n %d]]`, small)); err != nil {
			t.Fatal(err)
		}
	}
	// One transaction of several times the bound.
	var big []string
	for i := range 400 {
		big = append(big, fmt.Sprintf(`[:db/add "b%d" :g/n %d]`, i, i))
	}
	done := make(chan error, 1)
	go func() {
		_, err := w.Transact(ctx, "["+strings.Join(big, " ")+"]")
		done <- err
	}()
	for w.mergeWaits.Load() == 0 {
		select {
		case err := <-done:
			t.Fatalf("the transaction past the bound committed (%v) without waiting for the merge in flight", err)
		case <-time.After(time.Millisecond):
		}
	}
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if a, d := w.mergesAdopted.Load(), w.mergesDropped.Load(); a != 1 || d != 0 {
		t.Fatalf("merges adopted %d, dropped %d; want 1 and 0", a, d)
	}
	var n int
	if err := w.DB().Datoms(ctx, datom.AEVT, []any{w.DB().Schema().AttrByIdent("g/n").ID}, func(datom.Datom) bool { n++; return true }); err != nil {
		t.Fatal(err)
	}
	if n != small+400 {
		t.Fatalf("%d :g/n datoms, want %d", n, small+400)
	}
}
