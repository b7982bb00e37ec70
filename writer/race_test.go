package writer

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/internal/testenv"
	"github.com/accretedb/accrete/reader"
	"github.com/accretedb/accrete/tx"
)

// Racing writer processes (issue 3): N processes, each a re-executed copy
// of this test binary running TestHelperProcessWriter, increment one
// counter M times on one branch, through :db/cas (retrying on a cas
// failure) or through a registered transaction function. At the end the
// counter is exactly N×M, the log holds exactly N×M increments, and the
// acknowledged transactions are N×M distinct ones: none lost, none
// applied twice.

// Environment of a helper process.
const (
	envHelper = "ACCRETE_WRITER_HELPER" // which helper to run; unset in a normal test run
	envURL    = "ACCRETE_WRITER_HELPER_URL"
	envCount  = "ACCRETE_WRITER_HELPER_COUNT"
	envMode   = "ACCRETE_WRITER_HELPER_MODE" // "cas" or "fn"
)

const counterSchema = `[
 {:db/ident :counter/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :counter/n    :db/valueType :db.type/long   :db/cardinality :db.cardinality/one}
 {:db/ident :counter/by   :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]`

// counterFuncs holds :counter/inc, which reads the counter in the database
// it is given and asserts its successor. Rebasing re-runs it on the new
// head, so it never needs a retry loop of its own.
var counterFuncs = map[edn.Keyword]tx.Func{
	"counter/inc": func(ctx context.Context, db tx.Snapshot, args ...any) ([]any, error) {
		if len(args) != 1 {
			return nil, fmt.Errorf("counter/inc: want 1 argument, got %d", len(args))
		}
		n, err := counterValue(ctx, db)
		if err != nil {
			return nil, err
		}
		return []any{edn.Vector{edn.Keyword("db/add"), edn.Vector{edn.Keyword("counter/name"), args[0]}, edn.Keyword("counter/n"), n + 1}}, nil
	},
}

// counterValue reads the value of the counter named "c".
func counterValue(ctx context.Context, db tx.Snapshot) (int64, error) {
	nameA, ok1 := db.Schema().Entid("counter/name")
	nA, ok2 := db.Schema().Entid("counter/n")
	if !ok1 || !ok2 {
		return 0, errors.New("counter: schema missing")
	}
	var e datom.ID = -1
	err := db.Datoms(ctx, datom.AVET, []any{nameA, "c"}, func(d datom.Datom) bool { e = d.E; return false })
	if err != nil || e < 0 {
		return 0, fmt.Errorf("counter: no counter entity: %v", err)
	}
	var n int64 = -1
	err = db.Datoms(ctx, datom.EAVT, []any{e, nA}, func(d datom.Datom) bool { n = d.V.(int64); return false })
	if err != nil || n < 0 {
		return 0, fmt.Errorf("counter: no value: %v", err)
	}
	return n, nil
}

// TestHelperProcessWriter is not a test: it is the body of a racing writer
// process, run only when the parent test sets ACCRETE_WRITER_HELPER. It
// prints one "acked <t> <value>" line per acknowledged increment.
func TestHelperProcessWriter(t *testing.T) {
	if os.Getenv(envHelper) != "writer" {
		return // a normal test run: nothing to do
	}
	ctx := context.Background()
	m, _ := strconv.Atoi(os.Getenv(envCount))
	mode := os.Getenv(envMode)
	w, err := Open(ctx, os.Getenv(envURL), &Options{Funcs: counterFuncs, MaxRetries: 1000})
	if err != nil {
		t.Fatalf("helper: open: %v", err)
	}
	defer w.Close()
	me := strconv.Itoa(os.Getpid())
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	casRetries := 0
	for i := 0; i < m; i++ {
		for {
			var data string
			var old int64
			if mode == "fn" {
				data = fmt.Sprintf(`[[:counter/inc "c"] {:db/id "datomic.tx" :counter/by %q}]`, me)
			} else {
				if old, err = counterValue(ctx, w.DB()); err != nil {
					t.Fatalf("helper: %v", err)
				}
				data = fmt.Sprintf(`[[:db/cas [:counter/name "c"] :counter/n %d %d] {:db/id "datomic.tx" :counter/by %q}]`, old, old+1, me)
			}
			rep, err := w.Transact(ctx, data)
			if errors.Is(err, tx.ErrCAS) || errors.Is(err, ErrConflict) {
				// Not applied: another process got there first. The
				// writer has rebased onto the newer head; read it again.
				casRetries++
				continue
			}
			if err != nil {
				t.Fatalf("helper: transact: %v", err)
			}
			n, err := counterValue(ctx, rep.DBAfter)
			if err != nil {
				t.Fatalf("helper: %v", err)
			}
			fmt.Fprintf(out, "acked %d %d\n", rep.T, n)
			break
		}
	}
	fmt.Fprintf(out, "retries %d\n", casRetries)
}

func TestRacingWriters(t *testing.T) {
	backends := []struct {
		name string
		url  func(t *testing.T) string
		m    int
	}{
		{"file", func(t *testing.T) string { return "file://" + t.TempDir() }, 20},
		{"s3", func(t *testing.T) string { return testenv.S3URL(t) }, 8},
	}
	for _, b := range backends {
		for _, mode := range []string{"cas", "fn"} {
			t.Run(b.name+"/"+mode, func(t *testing.T) {
				runRace(t, b.url(t), mode, 4, b.m)
			})
		}
	}
}

func runRace(t *testing.T, url, mode string, procs, m int) {
	ctx := context.Background()
	w, err := Create(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustTx(t, w, counterSchema)
	mustTx(t, w, `[{:counter/name "c" :counter/n 0}]`)
	start := w.DB().BasisT()
	w.Close()

	var wg sync.WaitGroup
	outs := make([][]byte, procs)
	errs := make([]error, procs)
	for p := 0; p < procs; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcessWriter$", "-test.count=1")
			cmd.Env = append(os.Environ(), envHelper+"=writer", envURL+"="+url,
				envCount+"="+strconv.Itoa(m), envMode+"="+mode)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			outs[p] = out
			if err != nil {
				errs[p] = fmt.Errorf("writer process %d: %w\nstdout:\n%s\nstderr:\n%s", p, err, out, stderr.Bytes())
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Acknowledged transactions: N×M distinct t, each seeing a distinct
	// counter value.
	var ackT, ackV []int64
	retries := 0
	for _, out := range outs {
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			switch {
			case len(f) == 3 && f[0] == "acked":
				tv, _ := strconv.ParseInt(f[1], 10, 64)
				v, _ := strconv.ParseInt(f[2], 10, 64)
				ackT, ackV = append(ackT, tv), append(ackV, v)
			case len(f) == 2 && f[0] == "retries":
				r, _ := strconv.Atoi(f[1])
				retries += r
			}
		}
	}
	total := procs * m
	slices.Sort(ackT)
	slices.Sort(ackV)
	if len(ackT) != total || len(slices.Compact(slices.Clone(ackT))) != total {
		t.Fatalf("acknowledged %d transactions (%d distinct), want %d", len(ackT), len(slices.Compact(slices.Clone(ackT))), total)
	}
	for i, v := range ackV {
		if v != int64(i+1) {
			t.Fatalf("acknowledged counter values %v, want 1..%d each once", ackV, total)
		}
	}
	db, err := reader.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Store().Close()
	n, err := counterValue(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(total) {
		t.Fatalf("counter = %d, want %d×%d = %d", n, procs, m, total)
	}
	// The log: exactly N×M increment transactions after the setup, each
	// asserting the next value once, at the t that was acknowledged.
	nA, _ := db.Schema().Entid("counter/n")
	var logT []int64
	next := int64(1)
	err = db.TxRange(ctx, start+1, 0, func(ti reader.TxInfo) bool {
		for _, d := range ti.Datoms {
			if d.A == nA && d.Added {
				if d.V != next {
					t.Errorf("log t %d asserts counter %v, want %d", ti.T, d.V, next)
				}
				next++
				logT = append(logT, ti.T)
			}
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(logT) != total || !slices.Equal(logT, ackT) {
		t.Fatalf("log has %d increments at t %v; want the %d acknowledged ones %v", len(logT), logT, total, ackT)
	}
	if db.BasisT() != start+int64(total) {
		t.Fatalf("basis t = %d, want %d (no transaction but the increments)", db.BasisT(), start+int64(total))
	}
	t.Logf("%d processes × %d increments (%s): %d retries after losing a race", procs, m, mode, retries)
}
