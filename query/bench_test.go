package query

import (
	"context"
	"fmt"
	"testing"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
)

// Benchmarks over DataScript's benchmark workload (shared/bench/datascript:
// 20,000 generated people, queries q1–q5, qpred1–2, recursive rules),
// regenerated here with the same PRNG so the test needs no data file. The
// schema is DataScript's: no attribute is indexed, so value lookups scan
// AEVT. cmd/accrete-bench is the side-by-side runner; these measure the
// engine alone over MemSource.

// mulberry32 is the workload's PRNG (workload.js).
type mulberry32 uint32

func (m *mulberry32) next() uint32 {
	*m += 0x6D2B79F5
	t := uint32(*m)
	t = (t ^ t>>15) * (t | 1)
	t ^= t + (t^t>>7)*(t|61)
	return t ^ t>>14
}

func (m *mulberry32) intN(n int) int { return int(uint64(m.next()) * uint64(n) >> 32) }

var (
	benchNames     = []string{"Ivan", "Petr", "Sergei", "Oleg", "Yuri", "Dmitry", "Fedor", "Denis"}
	benchLastNames = []string{"Ivanov", "Petrov", "Sidorov", "Kovalev", "Kuznetsov", "Voronoi"}
	benchAliases   = []string{"A. C. Q. W.", "A. J. Finn", "A.A. Fair", "Aapeli", "Aaron Wolfe",
		"Abigail Van Buren", "Jeanne Phillips", "Abram Tertz", "Abu Nuwas", "Acton Bell", "Adunis"}
	benchSexes = []string{"male", "female"}
)

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

type benchDB struct {
	s  *datom.Schema
	ds []datom.Datom
}

func (b *benchDB) add(e datom.ID, attr string, v any) {
	a := b.s.AttrByIdent(edn.Keyword(attr))
	b.ds = append(b.ds, datom.Datom{E: e, A: a.ID, V: v, Tx: defaultTx, Added: true})
}

// randomMan adds one person, drawing in workload.js's order.
func (b *benchDB) randomMan(rng *mulberry32, e datom.ID) {
	name := benchNames[rng.intN(len(benchNames))]
	last := benchLastNames[rng.intN(len(benchLastNames))]
	k := rng.intN(10)
	seen := map[string]bool{}
	var aliases []string
	for i := 0; i < k; i++ {
		a := benchAliases[rng.intN(len(benchAliases))]
		if !seen[a] {
			seen[a] = true
			aliases = append(aliases, a)
		}
	}
	sex := benchSexes[rng.intN(2)]
	age := int64(rng.intN(100))
	salary := int64(rng.intN(100000))
	b.add(e, "name", name)
	b.add(e, "last-name", last)
	b.add(e, "full-name", name+" "+last)
	for _, a := range aliases {
		b.add(e, "alias", a)
	}
	b.add(e, "sex", sex)
	b.add(e, "age", age)
	b.add(e, "salary", salary)
}

func newBenchDB(tb testing.TB) *benchDB {
	s, sds := buildSchema(tb, benchSchema)
	return &benchDB{s: s, ds: sds}
}

// people20k builds the 20,000 people (seed 20000); entity ids follow the
// shuffled order, as DataScript assigns them when it transacts the array.
func people20k(tb testing.TB) *MemSource {
	b := newBenchDB(tb)
	rng := mulberry32(20000)
	tmp := newBenchDB(tb)
	const n = 20000
	for i := 1; i <= n; i++ {
		tmp.randomMan(&rng, datom.ID(i))
	}
	// Shuffle the people (Fisher-Yates from the end) and renumber.
	order := make([]int, n)
	for i := range order {
		order[i] = i + 1
	}
	for i := n - 1; i > 0; i-- {
		j := rng.intN(i + 1)
		order[i], order[j] = order[j], order[i]
	}
	newID := make(map[datom.ID]datom.ID, n)
	for pos, tempid := range order {
		newID[datom.ID(tempid)] = datom.MakeID(datom.PartUser, int64(pos+1))
	}
	for _, d := range tmp.ds[len(b.ds):] {
		d.E = newID[d.E]
		b.ds = append(b.ds, d)
	}
	return NewMemSource(b.s, b.ds, false)
}

// wideDB is bench.cljc's wide-db: a tree where node id follows id*width+c.
func wideDB(tb testing.TB, depth, width int, seed uint32) *MemSource {
	b := newBenchDB(tb)
	rng := mulberry32(seed)
	var rec func(id int64, depth int)
	rec = func(id int64, depth int) {
		e := datom.MakeID(datom.PartUser, id)
		b.randomMan(&rng, e)
		if depth > 0 {
			b.add(e, "id", id)
			for c := 0; c < width; c++ {
				b.add(e, "follows", datom.MakeID(datom.PartUser, id*int64(width)+int64(c)))
			}
			for c := 0; c < width; c++ {
				rec(id*int64(width)+int64(c), depth-1)
			}
		}
	}
	rec(1, depth)
	return NewMemSource(b.s, b.ds, false)
}

// longDB is bench.cljc's long-db: width chains of depth edges.
func longDB(tb testing.TB, depth, width int) *MemSource {
	b := newBenchDB(tb)
	for x := 0; x < width; x++ {
		for y := 0; y < depth; y++ {
			from := int64(x*(depth+1) + y)
			fe, te := datom.MakeID(datom.PartUser, from+1), datom.MakeID(datom.PartUser, from+2)
			b.add(fe, "name", "Ivan")
			b.add(fe, "follows", te)
			b.add(te, "name", "Ivan")
		}
	}
	return NewMemSource(b.s, dedupDatoms(b.ds), false)
}

func dedupDatoms(ds []datom.Datom) []datom.Datom {
	seen := map[string]bool{}
	var out []datom.Datom
	for _, d := range ds {
		k := fmt.Sprint(d.E, d.A, d.V)
		if !seen[k] {
			seen[k] = true
			out = append(out, d)
		}
	}
	return out
}

var benchQueries = []struct {
	name, q string
	inputs  []any
}{
	{"q1", `[:find ?e :where [?e "name" "Ivan"]]`, nil},
	{"q2", `[:find ?e ?a :where [?e "name" "Ivan"] [?e "age" ?a]]`, nil},
	{"q2-switch", `[:find ?e ?a :where [?e "age" ?a] [?e "name" "Ivan"]]`, nil},
	{"q3", `[:find ?e ?a :where [?e "name" "Ivan"] [?e "age" ?a] [?e "sex" "male"]]`, nil},
	{"q4", `[:find ?e ?l ?a :where [?e "name" "Ivan"] [?e "last-name" ?l] [?e "age" ?a] [?e "sex" "male"]]`, nil},
	{"q5-shortcircuit", `[:find ?e ?n ?l ?a ?s ?al :in $ ?n ?a :where [?e "name" ?n] [?e "age" ?a] [?e "last-name" ?l] [?e "sex" ?s] [?e "alias" ?al]]`, []any{"Anastasia", int64(35)}},
	{"qpred1", `[:find ?e ?s :where [?e "salary" ?s] [(> ?s 50000)]]`, nil},
	{"qpred2", `[:find ?e ?s :in $ ?min_s :where [?e "salary" ?s] [(> ?s ?min_s)]]`, []any{int64(50000)}},
	{"q5-valuejoin", `[:find ?e1 ?l ?a :where [?e "name" "Ivan"] [?e "age" ?a] [?e1 "age" ?a] [?e1 "last-name" ?l]]`, nil},
}

const benchRules = `[[(follows ?x ?y) [?x "follows" ?y]] [(follows ?x ?y) [?x "follows" ?t] (follows ?t ?y)]]`

func resultSize(v any) int {
	switch r := v.(type) {
	case Relation:
		return len(r)
	case []any:
		return len(r)
	}
	return 1
}

func BenchmarkDataScript(b *testing.B) {
	ctx := context.Background()
	db := people20k(b)
	for _, bq := range benchQueries {
		q := MustParse(bq.q)
		b.Run(bq.name, func(b *testing.B) {
			b.ReportAllocs()
			var n int
			m := startCPU(b)
			for i := 0; i < b.N; i++ {
				r, err := Q(ctx, q, append([]any{db}, bq.inputs...)...)
				if err != nil {
					b.Fatal(err)
				}
				n = resultSize(r)
			}
			m.report(b)
			b.ReportMetric(float64(n), "rows")
		})
	}
	for _, rb := range []struct {
		name string
		db   func() *MemSource
	}{
		{"rules-wide-3x3", func() *MemSource { return wideDB(b, 3, 3, 33) }},
		{"rules-wide-5x3", func() *MemSource { return wideDB(b, 5, 3, 53) }},
		{"rules-long-10x3", func() *MemSource { return longDB(b, 10, 3) }},
		{"rules-long-30x3", func() *MemSource { return longDB(b, 30, 3) }},
	} {
		rdb := rb.db()
		q := MustParse(`[:find ?e ?e2 :in $ % :where (follows ?e ?e2)]`)
		rules, err := ParseRules(benchRules)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(rb.name, func(b *testing.B) {
			b.ReportAllocs()
			var n int
			m := startCPU(b)
			for i := 0; i < b.N; i++ {
				r, err := Q(ctx, q, rdb, rules)
				if err != nil {
					b.Fatal(err)
				}
				n = resultSize(r)
			}
			m.report(b)
			b.ReportMetric(float64(n), "rows")
		})
	}
}

// TestBenchWorkload checks the answers of the benchmark queries on the
// generated data against counts computed directly from the datoms, so a
// fast wrong answer cannot pass as a speed-up.
func TestBenchWorkload(t *testing.T) {
	ctx := context.Background()
	db := people20k(t)
	s := db.Schema()
	attr := func(n string) datom.ID { return s.AttrByIdent(edn.Keyword(n)).ID }
	ivans, ivanMales, over50k := 0, 0, 0
	byE := map[datom.ID]map[datom.ID]any{}
	for _, d := range db.All() {
		if byE[d.E] == nil {
			byE[d.E] = map[datom.ID]any{}
		}
		byE[d.E][d.A] = d.V
	}
	for _, m := range byE {
		if m[attr("name")] == "Ivan" {
			ivans++
			if m[attr("sex")] == "male" {
				ivanMales++
			}
		}
		if sal, ok := m[attr("salary")].(int64); ok && sal > 50000 {
			over50k++
		}
	}
	want := map[string]int{"q1": ivans, "q2": ivans, "q2-switch": ivans, "q3": ivanMales, "q4": ivanMales, "q5-shortcircuit": 0, "qpred1": over50k, "qpred2": over50k}
	for _, bq := range benchQueries {
		w, ok := want[bq.name]
		if !ok {
			continue
		}
		r, err := Q(ctx, bq.q, append([]any{db}, bq.inputs...)...)
		if err != nil {
			t.Fatalf("%s: %v", bq.name, err)
		}
		if got := resultSize(r); got != w {
			t.Errorf("%s: %d rows, want %d", bq.name, got, w)
		}
	}
	// long-10x3: 3 chains of 10 edges: each chain has 11 nodes and 55
	// reachable pairs.
	r, err := Q(ctx, `[:find ?e ?e2 :in $ % :where (follows ?e ?e2)]`, longDB(t, 10, 3), benchRules)
	if err != nil {
		t.Fatal(err)
	}
	if got := resultSize(r); got != 3*55 {
		t.Errorf("rules-long-10x3: %d pairs, want %d", got, 3*55)
	}
}

// TestBenchPlans checks that the planner starts every people query with
// its most selective clause and continues with per-entity lookups, so the
// clause order in the text (q2 vs q2-switch) does not matter.
func TestBenchPlans(t *testing.T) {
	db := people20k(t)
	for _, bq := range benchQueries[:5] {
		p, err := Explain(context.Background(), bq.q, append([]any{db}, bq.inputs...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s:\n%s", bq.name, p)
		if got := p.Steps[0].Clause; got != `[?e "name" "Ivan"]` {
			t.Errorf("%s starts with %s, want the name clause", bq.name, got)
		}
		for _, s := range p.Steps[1:] {
			if s.Op != "lookup" {
				t.Errorf("%s: step %s is a %s, want a lookup", bq.name, s.Clause, s.Op)
			}
		}
	}
}
