package writer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/internal/testenv"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/reader"
)

// Write-path benchmarks (issue 3, "Write cost … beat it"). The big ones
// build a 1,000,000-datom database once per process and backend (see
// bigDB); run them with a fixed count, e.g.
//
//	go test -run '^$' -bench 'SmallCommit|ColdLookup' -benchtime 500x ./writer/
//	go test -run '^$' -bench BulkImport -benchtime 1x ./writer/
//
// Metrics: objects/commit and bytes/commit (node PUTs and their bytes, plus
// the head swap as one object), p50-µs, tx/s, GETs/lookup, depth,
// datoms/s, round-trips/commit.

const (
	benchDatoms     = 1_000_000
	benchTxDatoms   = 50_000 // datoms per import transaction
	benchPerEntity  = 5
	benchSampleIDs  = 1000 // entity ids remembered for lookups
	benchSmallTxEnt = 2    // entities per small transaction: 10 datoms
)

const benchSchema = `[
 {:db/ident :b/id    :db/valueType :db.type/long    :db/cardinality :db.cardinality/one :db/index true}
 {:db/ident :b/name  :db/valueType :db.type/string  :db/cardinality :db.cardinality/one}
 {:db/ident :b/age   :db/valueType :db.type/long    :db/cardinality :db.cardinality/one}
 {:db/ident :b/tag   :db/valueType :db.type/keyword :db/cardinality :db.cardinality/one}
 {:db/ident :b/score :db/valueType :db.type/double  :db/cardinality :db.cardinality/one}]`

var (
	kwID, kwName, kwAge, kwTag, kwScore = edn.Keyword("b/id"), edn.Keyword("b/name"), edn.Keyword("b/age"), edn.Keyword("b/tag"), edn.Keyword("b/score")
	kwDBID                              = edn.Keyword("db/id")
)

// benchEntity is one entity of benchPerEntity datoms, as Go values.
func benchEntity(i int64, tempid string) edn.Map {
	m := edn.Map{
		{Key: kwID, Val: i},
		{Key: kwName, Val: fmt.Sprintf("name-%08d", i)},
		{Key: kwAge, Val: i % 97},
		{Key: kwTag, Val: edn.Keyword(fmt.Sprintf("t/k%d", i%13))},
		{Key: kwScore, Val: float64(i) * 0.5},
	}
	if tempid != "" {
		m = append(m, edn.MapEntry{Key: kwDBID, Val: tempid})
	}
	return m
}

// importDatoms fills the database of w with n datoms in transactions of
// benchTxDatoms, and returns a sample of the entity ids it made.
func importDatoms(ctx context.Context, w *Writer, n int) ([]datom.ID, error) {
	if _, err := w.Transact(ctx, benchSchema); err != nil {
		return nil, err
	}
	var ids []datom.ID
	every := max(n/benchPerEntity/benchSampleIDs, 1)
	var next int64
	for done := 0; done < n; {
		var forms []any
		for k := 0; k < benchTxDatoms/benchPerEntity && done < n; k++ {
			tempid := ""
			if next%int64(every) == 0 {
				tempid = fmt.Sprintf("e%d", next)
			}
			forms = append(forms, benchEntity(next, tempid))
			next++
			done += benchPerEntity
		}
		rep, err := w.Transact(ctx, forms)
		if err != nil {
			return nil, err
		}
		for k, id := range rep.TempIDs.All() {
			if k != "datomic.tx" {
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// bigDB is a 1,000,000-datom database built once per process and backend.
type bigDB struct {
	url      string
	ids      []datom.ID
	took     time.Duration
	nextUser atomic.Int64 // for unique :b/id values of later commits
}

var (
	bigMu   sync.Mutex
	bigDBs  = map[string]*bigDB{}
	bigDirs []string
)

// TestMain removes the directories of the file databases the benchmarks
// built (they outlive any one benchmark, so no b.TempDir fits).
func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range bigDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

func getBigDB(b *testing.B, kind string) *bigDB {
	b.Helper()
	bigMu.Lock()
	defer bigMu.Unlock()
	if db, ok := bigDBs[kind]; ok {
		return db
	}
	var url string
	switch kind {
	case "mem":
		url = fmt.Sprintf("mem://bench-%d", rand.Int64())
	case "file":
		dir, err := os.MkdirTemp("", "accrete-bench-")
		if err != nil {
			b.Fatal(err)
		}
		bigDirs = append(bigDirs, dir)
		url = "file://" + dir
	default:
		b.Fatalf("unknown backend %q", kind)
	}
	ctx := context.Background()
	w, err := Create(ctx, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	start := time.Now()
	ids, err := importDatoms(ctx, w, benchDatoms)
	if err != nil {
		b.Fatalf("import: %v", err)
	}
	db := &bigDB{url: url, ids: ids, took: time.Since(start)}
	db.nextUser.Store(benchDatoms)
	b.Logf("built a %d-datom %s database in %v", benchDatoms, kind, db.took)
	bigDBs[kind] = db
	return db
}

// smallTx returns a 10-datom transaction of new entities.
func (db *bigDB) smallTx() []any {
	forms := make([]any, benchSmallTxEnt)
	for i := range forms {
		forms[i] = benchEntity(db.nextUser.Add(1), "")
	}
	return forms
}

// BenchmarkSmallCommit: objects and bytes one 10-datom commit writes into a
// 1,000,000-datom database, amortized over b.N commits (use enough, e.g.
// -benchtime 500x, for the log tail to be merged several times).
func BenchmarkSmallCommit(b *testing.B) {
	for _, kind := range []string{"mem", "file"} {
		b.Run(kind, func(b *testing.B) {
			big := getBigDB(b, kind)
			ctx := context.Background()
			w, err := Open(ctx, big.url, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			before := w.Store().Stats()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := w.Transact(ctx, big.smallTx()); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			after := w.Store().Stats()
			n := float64(b.N)
			b.ReportMetric(float64(after.Puts-before.Puts+after.HeadSwaps-before.HeadSwaps)/n, "objects/commit")
			b.ReportMetric(float64(after.BytesWritten-before.BytesWritten)/n, "bytes/commit")
			b.ReportMetric(float64(after.Gets-before.Gets)/n, "GETs/commit")
			reportMerges(b, w)
		})
	}
}

// BenchmarkCommitLatency: sequential small durable commits on the file
// backend, one goroutine; reports the median and 99th percentile.
func BenchmarkCommitLatency(b *testing.B) {
	big := getBigDB(b, "file")
	ctx := context.Background()
	w, err := Open(ctx, big.url, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	lat := make([]time.Duration, 0, b.N)
	stop := profileTimed(b)
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		data := big.smallTx()
		start := time.Now()
		if _, err := w.Transact(ctx, data); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	stop()
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/commit")
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkGroupCommit: 64 goroutines submit small transactions at once;
// the writer commits them in groups, each with its own report. The target
// is on file; mem shows the share that is not storage.
func BenchmarkGroupCommit(b *testing.B) {
	for _, kind := range []string{"mem", "file"} {
		b.Run(kind, func(b *testing.B) { benchGroupCommit(b, kind, 64) })
	}
	// More submitters make larger groups: each commit's storage round
	// trips and tail rewrite are shared by more transactions.
	b.Run("file/submitters=256", func(b *testing.B) { benchGroupCommit(b, "file", 256) })
}

// benchGroupCommit commits b.N small transactions from workers goroutines
// that each submit one at a time.
func benchGroupCommit(b *testing.B, kind string, workers int) {
	big := getBigDB(b, kind)
	ctx := context.Background()
	w, err := Open(ctx, big.url, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	var left atomic.Int64
	left.Store(int64(b.N))
	s0 := w.Store().Stats()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	b.ResetTimer()
	stopProfile := profileTimed(b)
	start := time.Now()
	cpu0 := cpuTime()
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left.Add(-1) >= 0 {
				if _, err := w.Transact(ctx, big.smallTx()); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	stopProfile()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	s1 := w.Store().Stats()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "tx/s")
	// CPU time per transaction (user+system, whole process): the figure
	// that other load on a shared machine distorts least.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/tx")
	b.ReportMetric(float64(b.N)/float64(s1.HeadSwaps-s0.HeadSwaps), "tx/commit")
	b.ReportMetric(float64(s1.Puts-s0.Puts)/float64(s1.HeadSwaps-s0.HeadSwaps), "objects/commit")
	b.ReportMetric(float64(s1.BytesWritten-s0.BytesWritten)/float64(b.N), "B-written/tx")
	reportMerges(b, w)
}

// profileEnv names a file to write a CPU profile of the timed part of a
// benchmark to (the -cpuprofile flag also profiles building the database,
// whose goroutines no pprof filter can tell apart). Each benchmark writes
// its own: the file name gets the benchmark's name (slashes and equal
// signs made dashes) before its extension, so the sub-benchmarks of one
// run do not overwrite each other's.
const profileEnv = "ACCRETE_BENCH_CPUPROFILE"

// profileTimed starts a CPU profile into the file profileEnv names, if
// set, and returns the function that stops it.
func profileTimed(b *testing.B) func() {
	path := os.Getenv(profileEnv)
	if path == "" || b.N < 100 {
		return func() {}
	}
	ext := filepath.Ext(path)
	path = strings.TrimSuffix(path, ext) + "." + strings.NewReplacer("/", "-", "=", "-").Replace(b.Name()) + ext
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// cpuTime returns the CPU time (user+system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportMerges reports the writer's background merges: started, adopted
// by a later commit, the commits that had to wait for one, and those
// dropped (stale or failed).
func reportMerges(b *testing.B, w *Writer) {
	b.ReportMetric(float64(w.mergesStarted.Load()), "merges")
	b.ReportMetric(float64(w.mergesAdopted.Load()), "adopted")
	b.ReportMetric(float64(w.mergeWaits.Load()), "merge-waits")
	b.ReportMetric(float64(w.mergesDropped.Load()), "dropped")
}

// BenchmarkColdLookup: a cold reader (fresh store, empty cache) opens the
// 1,000,000-datom database and reads one entity through EAVT. GETs counts
// every request: the head read (which inlines the commit) plus node GETs,
// the log tail's among them when the head names one (tails/lookup): the
// floor is depth+1 without a tail, depth+2 with one.
func BenchmarkColdLookup(b *testing.B) {
	for _, kind := range []string{"file"} {
		b.Run(kind, func(b *testing.B) {
			big := getBigDB(b, kind)
			ctx := context.Background()
			var gets, nodeGets, tails int64
			depth := 0
			r := rand.New(rand.NewPCG(1, 2))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				st, err := konserve.Open(ctx, big.url, nil)
				if err != nil {
					b.Fatal(err)
				}
				db, err := reader.OpenStore(ctx, st, nil)
				if err != nil {
					b.Fatal(err)
				}
				e := big.ids[r.IntN(len(big.ids))]
				n := 0
				if err := db.Datoms(ctx, datom.EAVT, []any{e}, func(datom.Datom) bool { n++; return true }); err != nil {
					b.Fatal(err)
				}
				if n != benchPerEntity {
					b.Fatalf("entity %d has %d datoms, want %d", e, n, benchPerEntity)
				}
				s := st.Stats()
				gets += s.Gets + s.HeadReads
				nodeGets += s.Gets
				if r, ok := db.Head().Commit.Root("eavt"); ok {
					depth = r.Depth
				}
				if !db.Head().Commit.Tail.IsZero() {
					tails++
				}
				st.Close()
			}
			b.ReportMetric(float64(gets)/float64(b.N), "GETs/lookup")
			b.ReportMetric(float64(nodeGets)/float64(b.N), "nodeGETs/lookup")
			b.ReportMetric(float64(depth), "depth")
			b.ReportMetric(float64(tails)/float64(b.N), "tails/lookup")
		})
	}
}

// BenchmarkBulkImport: 1,000,000 datoms in 50,000-datom transactions into
// a fresh bucket, per iteration (run with -benchtime 1x). The target is on
// file; mem shows the share that is not storage.
func BenchmarkBulkImport(b *testing.B) {
	for _, kind := range []string{"mem", "file"} {
		b.Run(kind, func(b *testing.B) {
			ctx := context.Background()
			var total time.Duration
			var puts, bytes int64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				url := fmt.Sprintf("mem://bulk-%d", rand.Int64())
				if kind == "file" {
					url = "file://" + b.TempDir()
				}
				w, err := Create(ctx, url, nil)
				if err != nil {
					b.Fatal(err)
				}
				s0 := w.Store().Stats()
				b.StartTimer()
				start := time.Now()
				if _, err := importDatoms(ctx, w, benchDatoms); err != nil {
					b.Fatal(err)
				}
				total += time.Since(start)
				b.StopTimer()
				s1 := w.Store().Stats()
				puts += s1.Puts - s0.Puts
				bytes += s1.BytesWritten - s0.BytesWritten
				w.Close()
			}
			n := float64(b.N)
			b.ReportMetric(float64(benchDatoms)*n/total.Seconds(), "datoms/s")
			b.ReportMetric(float64(puts)/n, "objects")
			b.ReportMetric(float64(bytes)/n/(1<<20), "MiB")
		})
	}
}

// timedBackend records when each backend request starts and ends, to count
// the sequential round trips of a commit.
type timedBackend struct {
	konserve.Backend
	mu   sync.Mutex
	reqs []timedReq
}

type timedReq struct {
	op         string
	start, end time.Time
}

func (t *timedBackend) record(op string, start time.Time) {
	t.mu.Lock()
	t.reqs = append(t.reqs, timedReq{op, start, time.Now()})
	t.mu.Unlock()
}

func (t *timedBackend) Get(ctx context.Context, key string) ([]byte, error) {
	defer t.record("get", time.Now())
	return t.Backend.Get(ctx, key)
}

func (t *timedBackend) PutImmutable(ctx context.Context, key string, data []byte) error {
	defer t.record("put", time.Now())
	return t.Backend.PutImmutable(ctx, key, data)
}

func (t *timedBackend) ReadVersioned(ctx context.Context, key string) ([]byte, konserve.Version, error) {
	defer t.record("read-head", time.Now())
	return t.Backend.ReadVersioned(ctx, key)
}

func (t *timedBackend) Swap(ctx context.Context, key string, old konserve.Version, data []byte) (konserve.Version, error) {
	defer t.record("swap", time.Now())
	return t.Backend.Swap(ctx, key, old, data)
}

// take returns the recorded requests and forgets them.
func (t *timedBackend) take() []timedReq {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.reqs
	t.reqs = nil
	return r
}

// roundTrips counts sequential phases: a request that starts after every
// earlier one has ended begins a new phase.
func roundTrips(reqs []timedReq) int {
	sort.Slice(reqs, func(i, j int) bool { return reqs[i].start.Before(reqs[j].start) })
	n := 0
	var end time.Time
	for _, r := range reqs {
		if n == 0 || r.start.After(end) {
			n++
		}
		if r.end.After(end) {
			end = r.end
		}
	}
	return n
}

// BenchmarkS3Commit: small commits on the S3 test server (versitygw via
// testenv.S3URL); reports requests per commit by kind and the sequential
// round trips per commit. The design target is two: nodes in parallel,
// then the head.
func BenchmarkS3Commit(b *testing.B) {
	ctx := context.Background()
	url := testenv.S3URL(b)
	raw, err := konserve.Open(ctx, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	tb := &timedBackend{Backend: raw.Backend()}
	st := konserve.New(tb, nil)
	defer st.Close()
	w, err := CreateStore(ctx, st, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Transact(ctx, benchSchema); err != nil {
		b.Fatal(err)
	}
	big := &bigDB{}
	tb.take()
	counts := map[string]int{}
	trips := 0
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := w.Transact(ctx, big.smallTx()); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		reqs := tb.take()
		trips += roundTrips(reqs)
		for _, r := range reqs {
			counts[r.op]++
		}
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(trips)/n, "round-trips/commit")
	for _, op := range []string{"put", "swap", "get", "read-head"} {
		b.ReportMetric(float64(counts[op])/n, op+"s/commit")
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
}

// BenchmarkImport: 1,000,000 datoms (200,000 entities of benchPerEntity
// datoms) through Writer.Import, in batches of the given size, into a fresh
// bucket per iteration (run with -benchtime 1x). The datoms are built
// before the timer starts: the figure covers validation, sorting, the tree
// builds, encoding, hashing, writing and syncing, and the commits; not
// parsing an input file.
func BenchmarkImport(b *testing.B) {
	for _, kind := range []string{"mem", "file"} {
		for _, batch := range []int{benchDatoms, 100_000} {
			b.Run(fmt.Sprintf("%s/batch=%d", kind, batch), func(b *testing.B) { benchImport(b, kind, batch, 0) })
		}
	}
	// Narrower nodes than reader.DefaultBulkWidth: smaller reads per cold
	// lookup, but four times the files (the cost on a file system is
	// mostly per file).
	b.Run(fmt.Sprintf("file/batch=%d/width=2048", benchDatoms), func(b *testing.B) { benchImport(b, "file", benchDatoms, 2048) })
}

func benchImport(b *testing.B, kind string, batch, width int) {
	ctx := context.Background()
	var total, cpu time.Duration
	var puts, bytes, syncs int64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		url := fmt.Sprintf("mem://import-%d", rand.Int64())
		if kind == "file" {
			url = "file://" + b.TempDir()
		}
		w, err := Create(ctx, url, &Options{BulkWidth: width})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := w.Transact(ctx, benchSchema); err != nil {
			b.Fatal(err)
		}
		s := w.DB().Schema()
		var attrs [benchPerEntity]datom.ID
		for k, kw := range []edn.Keyword{kwID, kwName, kwAge, kwTag, kwScore} {
			attrs[k], _ = s.Entid(kw)
		}
		var batches [][]datom.Datom
		for start := 0; start < benchDatoms; start += batch {
			ds := make([]datom.Datom, 0, batch)
			for j := start / benchPerEntity; j < (start+batch)/benchPerEntity; j++ {
				e := -int64(j + 1)
				n := int64(j)
				ds = append(ds,
					datom.Datom{E: e, A: attrs[0], V: n},
					datom.Datom{E: e, A: attrs[1], V: fmt.Sprintf("name-%08d", n)},
					datom.Datom{E: e, A: attrs[2], V: n % 97},
					datom.Datom{E: e, A: attrs[3], V: edn.Keyword(fmt.Sprintf("t/k%d", n%13))},
					datom.Datom{E: e, A: attrs[4], V: float64(n) * 0.5})
			}
			batches = append(batches, ds)
		}
		s0 := w.Store().Stats()
		c0 := cpuTime()
		b.StartTimer()
		start := time.Now()
		for _, ds := range batches {
			rep, err := w.Import(ctx, ds)
			if err != nil {
				b.Fatal(err)
			}
			syncs += int64(rep.Syncs)
		}
		total += time.Since(start)
		b.StopTimer()
		cpu += cpuTime() - c0
		s1 := w.Store().Stats()
		puts += s1.Puts - s0.Puts
		bytes += s1.BytesWritten - s0.BytesWritten
		w.Close()
	}
	n := float64(b.N)
	b.ReportMetric(float64(benchDatoms)*n/total.Seconds(), "datoms/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/n/benchDatoms, "cpu-ns/datom")
	b.ReportMetric(float64(puts)/n, "objects")
	b.ReportMetric(float64(bytes)/n/(1<<20), "MiB")
	b.ReportMetric(float64(syncs)/n, "syncs")
}
