package tx

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/accretedb/accrete/edn"
)

// benchSchema is DataScript's benchmark schema (bench/datascript.cljc), with
// the value types accrete's schema-on-write needs.
const benchSchema = `[
 {:db/ident :name      :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :last-name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :full-name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :alias     :db/valueType :db.type/string :db/cardinality :db.cardinality/many}
 {:db/ident :sex       :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :age       :db/valueType :db.type/long   :db/cardinality :db.cardinality/one}
 {:db/ident :salary    :db/valueType :db.type/long   :db/cardinality :db.cardinality/one}
 {:db/ident :id        :db/valueType :db.type/long   :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :follows   :db/valueType :db.type/ref    :db/cardinality :db.cardinality/many}
]`

var (
	benchNames     = []string{"Ivan", "Petr", "Sergei", "Oleg", "Yuri", "Dmitry", "Fedor", "Denis"}
	benchLastNames = []string{"Ivanov", "Petrov", "Sidorov", "Kovalev", "Kuznetsov", "Voronoi"}
	benchAliases   = []string{"A. C. Q. W.", "A. J. Finn", "A.A. Fair", "Aapeli", "Aaron Wolfe", "Abigail Van Buren",
		"Jeanne Phillips", "Abram Tertz", "Abu Nuwas", "Acton Bell", "Adunis"}
)

// benchPeople returns n person maps shaped like DataScript's "full" people
// (name, last-name, full-name, sex, age, salary and 0–9 aliases: 6–15
// attribute values each, 9.6 datoms on average), each with its own tempid.
func benchPeople(n int) [][]any {
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([][]any, n)
	for i := range out {
		name, last := benchNames[rng.IntN(len(benchNames))], benchLastNames[rng.IntN(len(benchLastNames))]
		var alias edn.Vector
		for range rng.IntN(10) {
			alias = append(alias, benchAliases[rng.IntN(len(benchAliases))])
		}
		sex := "male"
		if rng.IntN(2) == 0 {
			sex = "female"
		}
		out[i] = []any{edn.Map{
			{Key: edn.Keyword("db/id"), Val: "p"},
			{Key: edn.Keyword("name"), Val: name},
			{Key: edn.Keyword("last-name"), Val: last},
			{Key: edn.Keyword("full-name"), Val: name + " " + last},
			{Key: edn.Keyword("alias"), Val: alias},
			{Key: edn.Keyword("sex"), Val: sex},
			{Key: edn.Keyword("age"), Val: int64(rng.IntN(100))},
			{Key: edn.Keyword("salary"), Val: int64(rng.IntN(100000))},
		}}
	}
	return out
}

// BenchmarkApplyAdd5 is DataScript's add-5 workload shape: one transaction
// per person map. Each transaction is expanded against the same snapshot
// (new entities read nothing from it), so this measures tx alone.
func BenchmarkApplyAdd5(b *testing.B) {
	db := newMemDB(b, false)
	db.mustTx(b, benchSchema)
	datoms, _ := applyBench(b, db, benchPeople(1024), true)
	b.ReportMetric(float64(datoms)/b.Elapsed().Seconds(), "datoms/s")
}

// BenchmarkApplyUpdate re-asserts an existing entity through its identity
// (upsert), changing one cardinality-one value: the path that reads the
// snapshot (AVET lookup, EAVT for T2/T3, AVET for uniqueness).
func BenchmarkApplyUpdate(b *testing.B) {
	db := newMemDB(b, false)
	db.mustTx(b, benchSchema)
	db.mustTx(b, `[{:id 1 :name "Ivan" :age 30 :alias ["x" "y"]}]`)
	forms := make([][]any, 64)
	for i := range forms {
		forms[i] = []any{edn.Map{
			{Key: edn.Keyword("id"), Val: int64(1)},
			{Key: edn.Keyword("age"), Val: int64(31 + i)},
			{Key: edn.Keyword("alias"), Val: edn.Vector{"x", "z"}},
		}}
	}
	applyBench(b, db, forms, false)
}

// applyBench applies txs in turn, each to db's snapshot (so the loop
// measures tx alone), with fresh entity ids per transaction if fresh; it
// reports CPU time per op and datoms per transaction, and returns the
// datoms made and the CPU time at the start.
func applyBench(b *testing.B, db *memDB, txs [][]any, fresh bool) (datoms int, cpu0 int64) {
	ctx := context.Background()
	in := db.input()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 = cpuTime()
	for i := 0; i < b.N; i++ {
		if fresh {
			in.NextUser = db.nextUser + int64(i)
		}
		r, err := Apply(ctx, db, txs[i%len(txs)], in, nil)
		if err != nil {
			b.Fatal(err)
		}
		datoms += len(r.Datoms)
	}
	b.StopTimer()
	reportCPU(b, cpu0)
	b.ReportMetric(float64(datoms)/float64(b.N), "datoms/tx")
	return datoms, cpu0
}

// reportCPU reports process CPU time per op (all threads, GC included).
func reportCPU(b *testing.B, cpu0 int64) {
	if cpu1 := cpuTime(); cpu0 > 0 && cpu1 > cpu0 {
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkApplyAddAll is DataScript's add-all shape, scaled down: one
// transaction of 1,000 person maps (about 9,500 datoms).
func BenchmarkApplyAddAll(b *testing.B) {
	db := newMemDB(b, false)
	db.mustTx(b, benchSchema)
	var data []any
	for i, p := range benchPeople(1000) {
		m := slices.Clone(p[0].(edn.Map))
		m[0].Val = fmt.Sprintf("p%d", i)
		data = append(data, m)
	}
	datoms, cpu0 := applyBench(b, db, [][]any{data}, false)
	b.ReportMetric(float64(datoms)/b.Elapsed().Seconds(), "datoms/s")
	if cpu := cpuTime() - cpu0; cpu0 > 0 && cpu > 0 {
		b.ReportMetric(float64(datoms)/(float64(cpu)/1e9), "datoms/cpu-s")
	}
}

// BenchmarkApplyAdd1 is DataScript's add-1 shape: transactions of one
// [:db/add tempid attr v] each, a new entity per transaction, so the cost
// is tx's fixed cost per transaction (plus the :db/txInstant datom).
func BenchmarkApplyAdd1(b *testing.B) {
	db := newMemDB(b, false)
	db.mustTx(b, benchSchema)
	attrs := []edn.Keyword{"name", "last-name", "sex", "age", "salary"}
	var txs [][]any
	for _, p := range benchPeople(256) {
		for _, en := range p[0].(edn.Map) {
			if k := en.Key.(edn.Keyword); slices.Contains(attrs, k) {
				txs = append(txs, []any{edn.Vector{edn.Keyword("db/add"), "p", k, en.Val}})
			}
		}
	}
	applyBench(b, db, txs, true)
}

// BenchmarkApplyRetractEntity is DataScript's retract-5 shape: one
// [:db.fn/retractEntity e] per transaction, of a person with 6–15 datoms,
// expanded against the same snapshot.
func BenchmarkApplyRetractEntity(b *testing.B) {
	db := newMemDB(b, false)
	db.mustTx(b, benchSchema)
	people := benchPeople(1024)
	var data []any
	for i, p := range people {
		m := slices.Clone(p[0].(edn.Map))
		m[0].Val = fmt.Sprintf("p%d", i)
		data = append(data, m)
	}
	r, err := db.transact(data)
	if err != nil {
		b.Fatal(err)
	}
	txs := make([][]any, len(people))
	for i := range people {
		e := r.TempIDs.ID(fmt.Sprintf("p%d", i))
		txs[i] = []any{edn.Vector{edn.Keyword("db.fn/retractEntity"), e}}
	}
	applyBench(b, db, txs, false)
}
