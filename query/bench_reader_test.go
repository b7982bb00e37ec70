package query_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/query"
	"github.com/accretedb/accrete/reader"
	"github.com/accretedb/accrete/writer"
)

// BenchmarkDataScriptReader runs DataScript's bench queries and pulls over
// a *reader.DB: the workload is transacted by the writer into a mem://
// bucket (one transaction, so the tail is merged into the index trees) and
// the database is reopened, so every datom comes from stored trees through
// the node cache (warm after the first iteration). BenchmarkDataScript and
// BenchmarkPull measure the engine alone over MemSource; the difference is
// the storage read path.
//
// The "with" sub-benchmarks build the same databases in memory with
// DB.With on a fresh empty value (as cmd/accrete-bench's mem backend
// does): trees built in memory, never stored.
func BenchmarkDataScriptReader(b *testing.B) {
	b.Run("stored", func(b *testing.B) { benchReader(b, openBenchDB) })
	b.Run("with", func(b *testing.B) { benchReader(b, withBenchDB) })
}

func benchReader(b *testing.B, open func(*testing.B, string) *reader.DB) {
	ctx := context.Background()
	people := open(b, "people20k")
	for _, bq := range []struct{ name, q string }{
		{"q1", `[:find ?e :where [?e :name "Ivan"]]`},
		{"q2", `[:find ?e ?a :where [?e :name "Ivan"] [?e :age ?a]]`},
		{"q3", `[:find ?e ?a :where [?e :name "Ivan"] [?e :age ?a] [?e :sex "male"]]`},
		{"q4", `[:find ?e ?l ?a :where [?e :name "Ivan"] [?e :last-name ?l] [?e :age ?a] [?e :sex "male"]]`},
		{"q2-switch", `[:find ?e ?a :where [?e :age ?a] [?e :name "Ivan"]]`},
		{"q5-shortcircuit", `[:find ?e ?n ?l ?a ?s ?al :in $ ?n ?a :where [?e :name ?n] [?e :age ?a] [?e :last-name ?l] [?e :sex ?s] [?e :alias ?al]]`},
		{"qpred1", `[:find ?e ?s :where [?e :salary ?s] [(> ?s 50000)]]`},
	} {
		q := query.MustParse(bq.q)
		inputs := []any{people}
		if bq.name == "q5-shortcircuit" {
			inputs = append(inputs, "Anastasia", int64(35))
		}
		b.Run(bq.name, func(b *testing.B) {
			b.ReportAllocs()
			var n int
			cpu := query.StartCPU(b)
			for b.Loop() {
				r, err := query.Q(ctx, q, inputs...)
				if err != nil {
					b.Fatal(err)
				}
				n = len(r.(query.Relation))
			}
			cpu.Report(b)
			b.ReportMetric(float64(n), "rows")
		})
	}
	b.Run("find-datoms", func(b *testing.B) { benchFindDatoms(b, people) })
	b.Run("count", func(b *testing.B) {
		// The planner's estimate of a pattern on one attribute.
		a := people.Schema().AttrByIdent("name").ID
		comps := []any{a}
		b.ReportAllocs()
		for b.Loop() {
			if n, err := people.Count(ctx, datom.AEVT, comps); err != nil || n != 20000 {
				b.Fatalf("Count = %d, %v; want 20000", n, err)
			}
		}
	})
	tree := open(b, "wide-4x5")
	for _, bp := range []struct{ name, pattern string }{
		{"pull-one", `[:name {:follows ...}]`},
		{"pull-many", `[:db/id :last-name :alias :sex :age :salary {:follows ...}]`},
		{"pull-wildcard", `[* {:follows ...}]`},
	} {
		p := query.MustParsePull(bp.pattern)
		root := rootOf(b, tree)
		b.Run(bp.name, func(b *testing.B) {
			m, err := p.Pull(ctx, tree, root)
			if err != nil {
				b.Fatal(err)
			}
			if n := countPulled(m); n != 781 {
				b.Fatalf("pulled %d entities, want 781", n)
			}
			b.ReportAllocs()
			cpu := query.StartCPU(b)
			for b.Loop() {
				if _, err := p.Pull(ctx, tree, root); err != nil {
					b.Fatal(err)
				}
			}
			cpu.Report(b)
		})
	}
}

var benchBucket atomic.Int64

// openBenchDB writes one of the bench datasets to a fresh mem:// bucket
// and returns the database reopened from it.
func openBenchDB(b *testing.B, dataset string) *reader.DB {
	b.Helper()
	ctx := context.Background()
	url := fmt.Sprintf("mem://query-bench-%s-%d", dataset, benchBucket.Add(1))
	w, err := writer.Create(ctx, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := w.Transact(ctx, query.BenchSchema); err != nil {
		b.Fatal(err)
	}
	if _, err := w.Transact(ctx, query.BenchTxData(b, dataset)); err != nil {
		b.Fatal(err)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	db, err := reader.Open(ctx, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	return db
}

// withBenchDB builds one of the bench datasets in memory with DB.With.
func withBenchDB(b *testing.B, dataset string) *reader.DB {
	b.Helper()
	ctx := context.Background()
	st, err := konserve.Open(ctx, "mem://", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	db, err := reader.NewEmpty(ctx, st, false, 0)
	if err != nil {
		b.Fatal(err)
	}
	for _, data := range []any{query.BenchSchema, query.BenchTxData(b, dataset)} {
		rep, err := db.With(ctx, data, nil)
		if err != nil {
			b.Fatal(err)
		}
		db = rep.DBAfter
	}
	return db
}

func rootOf(b *testing.B, db *reader.DB) datom.ID {
	b.Helper()
	r, err := query.Q(context.Background(), `[:find ?e . :where [?e :id 1]]`, db)
	if err != nil || r == nil {
		b.Fatalf("root of the pull tree: %v, %v", r, err)
	}
	return r.(int64)
}

func countPulled(m map[edn.Keyword]any) int {
	n := 1
	if fs, ok := m["follows"].(edn.Vector); ok {
		for _, f := range fs {
			n += countPulled(f.(map[edn.Keyword]any))
		}
	}
	return n
}

// benchFindDatoms is accrete-bench's find-datoms: db.Datoms(EAVT, [e a])
// for 2,000 entities (the 9,000th to the 11,000th person), stopping at
// the first datom. ns/op is per lookup.
func benchFindDatoms(b *testing.B, db *reader.DB) {
	ctx := context.Background()
	var eids []int64
	err := db.Datoms(ctx, datom.AEVT, []any{db.Schema().AttrByIdent("full-name").ID}, func(d datom.Datom) bool {
		eids = append(eids, d.E)
		return true
	})
	if err != nil || len(eids) < 11000 {
		b.Fatalf("full-name datoms: %d, %v", len(eids), err)
	}
	eids = eids[9000:11000]
	a := db.Schema().AttrByIdent("full-name").ID
	comps := make([][]any, len(eids))
	for i, e := range eids {
		comps[i] = []any{e, a}
	}
	n := 0
	visit := func(d datom.Datom) bool {
		if s, ok := d.V.(string); ok {
			n += len(s)
		}
		return false
	}
	b.ReportAllocs()
	cpu := query.StartCPU(b)
	i := 0
	for b.Loop() {
		if err := db.Datoms(ctx, datom.EAVT, comps[i], visit); err != nil {
			b.Fatal(err)
		}
		if i++; i == len(comps) {
			i = 0
		}
	}
	cpu.Report(b)
	if n == 0 {
		b.Fatal("no full-name found")
	}
}
