package writer

import (
	"context"
	"errors"
	"fmt"
	stdmaps "maps"
	"os"
	"slices"
	"strconv"
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

// Crash injection (issue 3, "Crash injection"): one commit is made to fail
// at each of its storage operations in turn, in three ways (the operation
// fails; the process "crashes" there, so it and every later operation
// fail; the operation succeeds but its reply is lost). Afterwards a fresh,
// fault-free store over the same bucket must open the database, its head
// must name the old or the new commit, every node reachable from the head
// must be present (every index and the log are iterated in full), and its
// content must equal the state before or after the commit: the one its
// head names. An acknowledged commit must be the one the head names.

// crashClock makes :db/txInstant deterministic, so that the datoms of the
// commit under test are the same in every run and the after-state of a
// clean run is the after-state of every run that committed.
func crashClock() time.Time { return time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC) }

const crashSchema = `[
 {:db/ident :c/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :c/n    :db/valueType :db.type/long   :db/cardinality :db.cardinality/one :db/index true}
 {:db/ident :c/tag  :db/valueType :db.type/keyword :db/cardinality :db.cardinality/many}
 {:db/ident :c/ref  :db/valueType :db.type/ref    :db/cardinality :db.cardinality/one}
]`

// crashTemplate builds a database with deep trees (width 4; with
// tailBytes 1 every commit merges its tail), some history and a non-empty
// log tail, on b. Every run of the test starts from a copy of it.
func crashTemplate(t *testing.T, b konserve.Backend, tailBytes int64) {
	t.Helper()
	ctx := context.Background()
	st := konserve.New(b, nil)
	w, err := CreateStore(ctx, st, &Options{Width: 4, TailBytes: tailBytes, Now: crashClock})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	mustTx(t, w, crashSchema)
	mustTx(t, w, `[{:c/name "n0" :c/n 0} {:c/name "n1" :c/n 1} {:c/name "n2" :c/n 2} {:c/name "n3" :c/n 3} {:c/name "n4" :c/n 4}]`)
	for i := 1; i < 3; i++ {
		var b strings.Builder
		b.WriteString("[")
		for j := 0; j < 5; j++ {
			k := i*5 + j
			// Each entity refers to one of the previous transaction.
			fmt.Fprintf(&b, `{:c/name "n%d" :c/n %d :c/tag [:t%d :u%d] :c/ref [:c/name "n%d"]}`, k, k%7, k%3, k%5, k-5)
		}
		b.WriteString("]")
		mustTx(t, w, b.String())
	}
	// History: overwrite and retract some values.
	mustTx(t, w, `[[:db/add [:c/name "n3"] :c/n 100] [:db/retract [:c/name "n4"] :c/tag :t1]]`)
	mustTx(t, w, `[[:db/retractEntity [:c/name "n5"]]]`)
}

func mustTx(t *testing.T, w *Writer, data string) *reader.Report {
	t.Helper()
	rep, err := w.Transact(context.Background(), data)
	if err != nil {
		t.Fatalf("transact %.80s: %v", data, err)
	}
	return rep
}

// mapBackend is an in-memory konserve.Backend: a map and a mutex. The crash
// sweep makes hundreds of bucket copies; memblob's per-call tracing made
// copying dominate the test's time, and the property under test is the
// writer's ordering, which a faithful in-memory twin exercises as well.
// The file-backend run below checks the same on real storage.
type mapBackend struct {
	mu   sync.Mutex
	objs map[string][]byte
	vers map[string]konserve.Version
	gen  int
}

var _ konserve.Backend = (*mapBackend)(nil)

func (m *mapBackend) Get(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.objs[key]
	if !ok {
		return nil, fmt.Errorf("map: get %s: %w", key, konserve.ErrNotFound)
	}
	return slices.Clone(d), nil
}

func (m *mapBackend) PutImmutable(_ context.Context, key string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objs[key]; !ok {
		m.objs[key] = slices.Clone(data)
	}
	return nil
}

func (m *mapBackend) ReadVersioned(_ context.Context, key string) ([]byte, konserve.Version, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.objs[key]
	if !ok {
		return nil, "", fmt.Errorf("map: read %s: %w", key, konserve.ErrNotFound)
	}
	return slices.Clone(d), m.vers[key], nil
}

func (m *mapBackend) Swap(_ context.Context, key string, old konserve.Version, data []byte) (konserve.Version, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.vers[key] != old {
		return "", fmt.Errorf("map: swap %s: %w", key, konserve.ErrConflict)
	}
	m.gen++
	v := konserve.Version(strconv.Itoa(m.gen))
	m.objs[key], m.vers[key] = slices.Clone(data), v
	return v, nil
}

func (m *mapBackend) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objs, key)
	delete(m.vers, key)
	return nil
}

func (m *mapBackend) List(_ context.Context, prefix string, fn func(konserve.ObjectInfo) error) error {
	m.mu.Lock()
	keys := make([]string, 0, len(m.objs))
	for k := range m.objs {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	m.mu.Unlock()
	for _, k := range keys {
		if err := fn(konserve.ObjectInfo{Key: k}); err != nil {
			return err
		}
	}
	return nil
}

func (m *mapBackend) Close() error { return nil }

func newMapBackend() *mapBackend {
	return &mapBackend{objs: map[string][]byte{}, vers: map[string]konserve.Version{}}
}

// clone returns an independent copy (object bytes are never mutated, so
// they are shared).
func (m *mapBackend) clone() *mapBackend {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := &mapBackend{objs: stdmaps.Clone(m.objs), vers: stdmaps.Clone(m.vers), gen: m.gen}
	return c
}

// dbState is everything a database value shows: the head's commit, the
// current and history datoms of every index, and the log.
type dbState struct {
	seq    uint64
	basisT int64
	dump   []string
}

// readState opens the database through a fresh store over b (no cache
// shared with the writer) and iterates every index and the log in full,
// so that every node reachable from the head is fetched.
func readState(ctx context.Context, b konserve.Backend) (dbState, error) {
	st := konserve.New(b, nil)
	// The store is not closed: closing it would close b, which the caller
	// still uses.
	db, err := reader.OpenStore(ctx, st, nil)
	if err != nil {
		return dbState{}, err
	}
	s := dbState{seq: db.Head().Commit.Seq, basisT: db.BasisT()}
	for _, idx := range []datom.Index{datom.EAVT, datom.AEVT, datom.AVET, datom.VAET} {
		for _, v := range []*reader.DB{db, db.History()} {
			err := v.Datoms(ctx, idx, nil, func(d datom.Datom) bool {
				s.dump = append(s.dump, fmt.Sprintf("%v hist=%v %v", idx, v.IsHistory(), d))
				return true
			})
			if err != nil {
				return dbState{}, fmt.Errorf("scan %v (history %v): %w", idx, v.IsHistory(), err)
			}
		}
	}
	err = db.TxRange(ctx, 0, 0, func(ti reader.TxInfo) bool {
		s.dump = append(s.dump, fmt.Sprintf("log %d %v", ti.T, ti.Datoms))
		return true
	})
	if err != nil {
		return dbState{}, fmt.Errorf("read log: %w", err)
	}
	// Every commit of the branch's history must be present too.
	err = branch.Walk(ctx, st, db.Head().Addr, func(konserve.Hash, *branch.Commit) (bool, error) { return true, nil })
	if err != nil {
		return dbState{}, fmt.Errorf("walk commits: %w", err)
	}
	return s, nil
}

// crashCommit is the commit under test, made by a writer opened on f.
type crashScenario struct {
	name      string
	tailBytes int64 // of the writer making the commit
	data      string
}

var crashScenarios = []crashScenario{
	// A small commit that only appends to the log tail.
	{"tail", 1 << 20, `[{:c/name "new" :c/n 3 :c/tag [:t9] :c/ref [:c/name "n7"]} [:db/add [:c/name "n8"] :c/n 42]]`},
	// The same commit by a writer whose threshold makes it merge the tail
	// into every tree: many node writes at width 4.
	{"merge", 1, `[{:c/name "new" :c/n 3 :c/tag [:t9] :c/ref [:c/name "n7"]} [:db/add [:c/name "n8"] :c/n 42]]`},
}

// runCrashCommit opens a writer on the faulty backend, re-arms f after the
// open (so that operation numbers count from the commit's start), runs
// the commit and closes the writer.
func runCrashCommit(ctx context.Context, t *testing.T, f *blobtest.Faulty, sc crashScenario, arm func()) error {
	t.Helper()
	st := konserve.New(f, nil)
	w, err := OpenStore(ctx, st, &Options{Width: 4, TailBytes: sc.tailBytes, Now: crashClock, MaxRetries: 2})
	if err != nil {
		t.Fatalf("open writer on an unfaulted bucket: %v", err)
	}
	f.Reset()
	if arm != nil {
		arm()
	}
	_, err = w.Transact(ctx, sc.data)
	w.Close()
	return err
}

func TestCrashInjection(t *testing.T) {
	tmpl := newMapBackend()
	crashTemplate(t, tmpl, 1)
	crashSweep(t, tmpl, crashScenarios, func(t *testing.T) konserve.Backend { return tmpl.clone() })
}

// TestCrashInjectionFile runs the sweep of the small commit on the file
// backend, each run on a copy of the template's directory.
func TestCrashInjectionFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := konserve.Open(ctx, "file://"+dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Keep the template's novelty in the log tail: fewer files to copy
	// per run (the merge sweep runs on the map backend above).
	crashTemplate(t, st.Backend(), 1<<20)
	crashSweep(t, st.Backend(), crashScenarios[:1], func(t *testing.T) konserve.Backend {
		cp := t.TempDir()
		if err := os.CopyFS(cp, os.DirFS(dir)); err != nil {
			t.Fatal(err)
		}
		st, err := konserve.Open(ctx, "file://"+cp, nil)
		if err != nil {
			t.Fatal(err)
		}
		return st.Backend()
	})
}

// crashSweep runs each scenario's commit once cleanly (counting its
// storage operations), then once per operation index and fault kind on a
// fresh copy of the template, and checks the bucket after each.
func crashSweep(t *testing.T, tmpl konserve.Backend, scenarios []crashScenario, clone func(t *testing.T) konserve.Backend) {
	ctx := context.Background()
	before, err := readState(ctx, tmpl)
	if err != nil {
		t.Fatalf("template: %v", err)
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			// A clean run counts the operations and gives the after-state.
			clean := blobtest.NewFaulty(clone(t))
			if err := runCrashCommit(ctx, t, clean, sc, nil); err != nil {
				t.Fatalf("clean commit: %v", err)
			}
			ops := clean.Count(blobtest.OpAny)
			after, err := readState(ctx, clean.Inner())
			if err != nil {
				t.Fatalf("after clean commit: %v", err)
			}
			if after.seq != before.seq+1 || slices.Equal(after.dump, before.dump) {
				t.Fatalf("clean commit: seq %d -> %d, content changed %v; want seq+1 and a change",
					before.seq, after.seq, !slices.Equal(after.dump, before.dump))
			}
			t.Logf("%s commit: %d storage operations (%d puts, %d gets, %d swaps)", sc.name, ops,
				clean.Count(blobtest.OpPutImmutable), clean.Count(blobtest.OpGet), clean.Count(blobtest.OpSwap))
			if sc.name == "merge" && clean.Count(blobtest.OpPutImmutable) < 20 {
				t.Fatalf("merge commit wrote %d objects; the scenario should write many", clean.Count(blobtest.OpPutImmutable))
			}
			// Fail and Crash fire at every operation; LoseReply only at
			// writes (a read whose reply is lost is a failed read: it
			// has no effect to lose).
			type point struct {
				kind blobtest.Kind
				op   blobtest.Op
				n    int64
			}
			var points []point
			for _, kind := range []blobtest.Kind{blobtest.Fail, blobtest.Crash} {
				for n := int64(1); n <= ops; n++ {
					points = append(points, point{kind, blobtest.OpAny, n})
				}
			}
			for _, op := range []blobtest.Op{blobtest.OpPutImmutable, blobtest.OpSwap} {
				for n := int64(1); n <= clean.Count(op); n++ {
					points = append(points, point{blobtest.LoseReply, op, n})
				}
			}
			outcomes := map[string]int{}
			for _, p := range points {
				kind, n := p.kind, p.n
				f := blobtest.NewFaulty(clone(t))
				txErr := runCrashCommit(ctx, t, f, sc, func() { f.Inject(blobtest.Fault{Op: p.op, N: n, Kind: kind}) })
				fired := f.Fired()
				where := fmt.Sprintf("%v at %v #%d", kind, p.op, n)
				got, err := readState(ctx, f.Inner())
				if err != nil {
					t.Fatalf("%s (%v): database does not open or a node is missing: %v", where, fired, err)
				}
				switch {
				case got.seq == before.seq:
					if !slices.Equal(got.dump, before.dump) {
						t.Fatalf("%s: head is the old commit but content differs from the before-state", where)
					}
					if txErr == nil {
						t.Fatalf("%s (%v): Transact acknowledged, but the head is the old commit", where, fired)
					}
					outcomes["old"]++
				case got.seq == after.seq:
					if !slices.Equal(got.dump, after.dump) {
						t.Fatalf("%s: head is the new commit but content differs from the after-state:\n got %d entries\nwant %d",
							where, len(got.dump), len(after.dump))
					}
					outcomes["new"]++
				default:
					t.Fatalf("%s: head seq %d, want %d (old) or %d (new)", where, got.seq, before.seq, after.seq)
				}
				if len(fired) != 1 {
					t.Fatalf("%s: fired %v, want exactly one fault", where, fired)
				}
				if txErr != nil && kind != blobtest.LoseReply && !errors.Is(txErr, blobtest.ErrInjected) && !errors.Is(txErr, blobtest.ErrCrashed) {
					t.Fatalf("%s: error %v does not wrap the injected fault", where, txErr)
				}
			}
			t.Logf("%s: %d faulted runs, outcomes %v", sc.name, len(points), outcomes)
			if outcomes["old"] == 0 || outcomes["new"] == 0 {
				t.Fatalf("outcomes %v: want both old and new heads among the runs", outcomes)
			}
		})
	}
}

// TestCrashThenContinue: after a crash at the head swap, a new writer on
// the same bucket commits on top of whatever the head names.
func TestCrashThenContinue(t *testing.T) {
	ctx := context.Background()
	tmpl := newMapBackend()
	crashTemplate(t, tmpl, 1)
	f := blobtest.NewFaulty(tmpl.clone())
	sc := crashScenarios[1]
	err := runCrashCommit(ctx, t, f, sc, func() { f.CrashAt(blobtest.OpSwap, 1) })
	if !errors.Is(err, blobtest.ErrCrashed) {
		t.Fatalf("commit crashed at the swap: error %v, want ErrCrashed", err)
	}
	f.Reset()
	w, err := OpenStore(ctx, konserve.New(f, nil), &Options{Width: 4, TailBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	rep := mustTx(t, w, sc.data)
	if rep.DBBefore.BasisT() != rep.T-1 {
		t.Fatalf("t after restart = %d, before %d", rep.T, rep.DBBefore.BasisT())
	}
	got, err := readState(ctx, f.Inner())
	if err != nil {
		t.Fatal(err)
	}
	if got.basisT != rep.T {
		t.Fatalf("reopened basis t = %d, want %d", got.basisT, rep.T)
	}
}

// TestCrashSwapReplyLostAsConflict: the head swap succeeds but its reply
// is lost and a retry reports a conflict (an SDK retry of a swap that
// landed gets 412). The writer must recognize its own head, acknowledge
// the transaction once, and not apply it again.
func TestCrashSwapReplyLostAsConflict(t *testing.T) {
	ctx := context.Background()
	tmpl := newMapBackend()
	crashTemplate(t, tmpl, 1)
	before, err := readState(ctx, tmpl)
	if err != nil {
		t.Fatal(err)
	}
	f := blobtest.NewFaulty(tmpl.clone())
	err = runCrashCommit(ctx, t, f, crashScenarios[0], func() {
		f.Inject(blobtest.Fault{Op: blobtest.OpSwap, N: 1, Kind: blobtest.LoseReply, Err: konserve.ErrConflict})
	})
	if err != nil {
		t.Fatalf("Transact after a lost swap reply: %v, want success", err)
	}
	if got := f.Fired(); len(got) != 1 {
		t.Fatalf("faults fired: %v, want one", got)
	}
	got, err := readState(ctx, f.Inner())
	if err != nil {
		t.Fatal(err)
	}
	if got.seq != before.seq+1 || got.basisT != before.basisT+1 {
		t.Fatalf("head seq %d basis t %d, want %d and %d (applied exactly once)", got.seq, got.basisT, before.seq+1, before.basisT+1)
	}
}
