package reader_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/reader"
)

// The in-memory transaction path on the shape of DataScript's benchmark
// workload (../shared/bench/datascript): people with name, last-name,
// full-name, alias (cardinality many), sex, age and salary on a
// schema-on-read database. Each benchmark runs a chain of With calls and
// reports ns and allocations per With; cmd/accrete-bench runs the real
// workload side by side with DataScript.

const withSchema = `[
 {:db/ident :id      :db/unique :db.unique/identity}
 {:db/ident :follows :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}
 {:db/ident :alias   :db/cardinality :db.cardinality/many}]`

type benchPerson struct {
	id    string
	attrs []edn.MapEntry
}

// mulberry is the workload's PRNG (mulberry32).
type mulberry uint32

func (r *mulberry) intn(n int) int {
	*r += 0x6D2B79F5
	t := uint32(*r)
	t = (t ^ t>>15) * (t | 1)
	t ^= t + (t^t>>7)*(t|61)
	t ^= t >> 14
	return int((uint64(t) * uint64(n)) >> 32)
}

func benchPeople(n int) []benchPerson {
	names := []string{"Ivan", "Petr", "Sergei", "Oleg", "Yuri", "Dmitry", "Fedor", "Denis"}
	lasts := []string{"Ivanov", "Petrov", "Sidorov", "Kovalev", "Kuznetsov", "Voronoi"}
	aliases := []string{"A. C. Q. W.", "A. J. Finn", "A.A. Fair", "Aapeli", "Aaron Wolfe", "Abigail Van Buren",
		"Jeanne Phillips", "Abram Tertz", "Abu Nuwas", "Acton Bell", "Adunis"}
	sexes := []string{"male", "female"}
	r := mulberry(20000)
	out := make([]benchPerson, n)
	for i := range out {
		name, last := names[r.intn(len(names))], lasts[r.intn(len(lasts))]
		var al edn.Vector
		for k := r.intn(10); k > 0; k-- {
			al = append(al, aliases[r.intn(len(aliases))])
		}
		sex := sexes[r.intn(2)]
		age, salary := int64(r.intn(100)), int64(r.intn(100000))
		out[i] = benchPerson{id: strconv.Itoa(i + 1), attrs: []edn.MapEntry{
			{Key: edn.Keyword("name"), Val: name},
			{Key: edn.Keyword("last-name"), Val: last},
			{Key: edn.Keyword("full-name"), Val: name + " " + last},
			{Key: edn.Keyword("alias"), Val: al},
			{Key: edn.Keyword("sex"), Val: sex},
			{Key: edn.Keyword("age"), Val: age},
			{Key: edn.Keyword("salary"), Val: salary},
		}}
	}
	// The workload shuffles the people with the same stream (people-20k.json
	// is in this order): entity ids then come in no order, as in the file.
	for i := len(out) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func (p benchPerson) txMap() edn.Map {
	m := edn.Map{{Key: edn.Keyword("db/id"), Val: p.id}}
	return append(m, p.attrs...)
}

func benchEmpty(b *testing.B) *reader.DB {
	b.Helper()
	ctx := context.Background()
	db, err := reader.NewEmpty(ctx, nil, true, 0)
	if err != nil {
		b.Fatal(err)
	}
	rep, err := db.With(ctx, withSchema, nil)
	if err != nil {
		b.Fatal(err)
	}
	return rep.DBAfter
}

// benchPeopleN is how many people the chains use: the workload's 20,000.
const benchPeopleN = 20000

// runChain times fn (which performs withs With calls) and reports per-With
// figures.
func runChain(b *testing.B, withs int, fn func() error) {
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		if err := fn(); err != nil {
			b.Fatal(err)
		}
	}
	cpu := cpuTime() - cpu0
	n := float64(b.N) * float64(withs)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/with")
	b.ReportMetric(float64(cpu)/n, "cpu-ns/with")
}

// touchIndexes reads the first datom of every index of db, current and
// history, so that overlay work a chain of With calls left pending
// (package pss AddLazily) is done and timed: a chain is measured with its
// first read, as cmd/accrete-bench's readAll does.
func touchIndexes(ctx context.Context, db *reader.DB) error {
	for _, v := range []*reader.DB{db, db.History()} {
		for _, idx := range []datom.Index{datom.EAVT, datom.AEVT, datom.AVET, datom.VAET} {
			if err := v.Datoms(ctx, idx, nil, func(datom.Datom) bool { return false }); err != nil {
				return err
			}
		}
	}
	return nil
}

// runWithChain times the chain of With calls that transacts txs, one
// after another, on start, and its first read (touchIndexes).
func runWithChain(b *testing.B, start *reader.DB, txs []edn.Vector) {
	ctx := context.Background()
	runChain(b, len(txs), func() error {
		db := start
		for _, t := range txs {
			rep, err := db.With(ctx, t, nil)
			if err != nil {
				return err
			}
			db = rep.DBAfter
		}
		return touchIndexes(ctx, db)
	})
}

// benchFull returns the people and a database holding all of them,
// transacted in one With (add-all) on the empty database.
func benchFull(b *testing.B) ([]benchPerson, *reader.DB) {
	b.Helper()
	ps := benchPeople(benchPeopleN)
	data := make(edn.Vector, len(ps))
	for i, p := range ps {
		data[i] = p.txMap()
	}
	rep, err := benchEmpty(b).With(context.Background(), data, nil)
	if err != nil {
		b.Fatal(err)
	}
	return ps, rep.DBAfter
}

// BenchmarkWithAdd1 is add-1: five one-datom transactions per person, each
// a new entity through a string tempid.
func BenchmarkWithAdd1(b *testing.B) {
	empty := benchEmpty(b)
	ps := benchPeople(benchPeopleN)
	keep := map[string]bool{"name": true, "last-name": true, "sex": true, "age": true, "salary": true}
	var txs []edn.Vector
	for _, p := range ps {
		for _, a := range p.attrs {
			if keep[string(a.Key.(edn.Keyword))] {
				txs = append(txs, edn.Vector{edn.Vector{edn.Keyword("db/add"), p.id, a.Key, a.Val}})
			}
		}
	}
	runWithChain(b, empty, txs)
}

// BenchmarkWithAdd5 is add-5: one map transaction per person.
func BenchmarkWithAdd5(b *testing.B) {
	empty := benchEmpty(b)
	ps := benchPeople(benchPeopleN)
	txs := make([]edn.Vector, len(ps))
	for i, p := range ps {
		txs[i] = edn.Vector{p.txMap()}
	}
	runWithChain(b, empty, txs)
}

// BenchmarkWithAddAll is add-all: every person in one transaction.
func BenchmarkWithAddAll(b *testing.B) {
	ctx := context.Background()
	empty := benchEmpty(b)
	ps := benchPeople(benchPeopleN)
	data := make(edn.Vector, len(ps))
	for i, p := range ps {
		data[i] = p.txMap()
	}
	runChain(b, 1, func() error {
		rep, err := empty.With(ctx, data, nil)
		if err != nil {
			return err
		}
		return touchIndexes(ctx, rep.DBAfter)
	})
}

// BenchmarkWithUpsertAlias adds an alias to one existing person per
// transaction, found through its :id (a :db.unique/identity upsert): every
// With reads the value the one before made, the kind of chain the queue of
// additions (reader's overlay.addq) must not slow down: it would be applied
// one entry at a time (see applyFold's direct mode).
func BenchmarkWithUpsertAlias(b *testing.B) {
	ps, full := benchFull(b)
	txs := make([]edn.Vector, len(ps))
	r := mulberry(7)
	for i := range txs {
		txs[i] = edn.Vector{edn.Map{
			{Key: edn.Keyword("id"), Val: ps[r.intn(len(ps))].id},
			{Key: edn.Keyword("alias"), Val: "alias " + strconv.Itoa(i)},
		}}
	}
	runWithChain(b, full, txs)
}

// BenchmarkWithRetract5 is retract-5: retractEntity of every person, one
// transaction each, from a database holding all of them.
func BenchmarkWithRetract5(b *testing.B) {
	ctx := context.Background()
	_, full := benchFull(b)
	name, _ := full.Schema().Entid("name")
	var txs []edn.Vector
	err := full.Datoms(ctx, datom.AEVT, []any{name}, func(d datom.Datom) bool {
		txs = append(txs, edn.Vector{edn.Vector{edn.Keyword("db.fn/retractEntity"), d.E}})
		return true
	})
	if err != nil {
		b.Fatal(err)
	}
	r := mulberry(5)
	for i := len(txs) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		txs[i], txs[j] = txs[j], txs[i]
	}
	runWithChain(b, full, txs)
}

// BenchmarkInit is init: DataScript's init-db, every person's datoms (ids
// 1..20000 in the file's order, aliases one datom per distinct value) built into a value by
// Init, the schema-on-read attributes installed first, then read.
func BenchmarkInit(b *testing.B) {
	ctx := context.Background()
	empty := benchEmpty(b)
	ps := benchPeople(benchPeopleN)
	type fact struct {
		e  datom.ID
		kw edn.Keyword
		v  any
	}
	var facts []fact
	for _, p := range ps {
		n, err := strconv.Atoi(p.id) // entity n is the file's person n, as in cmd/accrete-bench
		if err != nil {
			b.Fatal(err)
		}
		e := datom.MakeID(datom.PartUser, int64(n))
		for _, a := range p.attrs {
			if xs, ok := a.Val.(edn.Vector); ok {
				seen := map[any]bool{}
				for _, x := range xs {
					if !seen[x] {
						seen[x] = true
						facts = append(facts, fact{e, a.Key.(edn.Keyword), x})
					}
				}
				continue
			}
			facts = append(facts, fact{e, a.Key.(edn.Keyword), a.Val})
		}
	}
	var install edn.Vector
	seen := map[edn.Keyword]bool{}
	for _, f := range facts {
		if _, ok := empty.Schema().Entid(f.kw); !ok && !seen[f.kw] {
			seen[f.kw] = true
			install = append(install, edn.Map{{Key: edn.Keyword("db/ident"), Val: f.kw},
				{Key: edn.Keyword("db/cardinality"), Val: edn.Keyword("db.cardinality/one")}})
		}
	}
	ds := make([]datom.Datom, len(facts))
	runChain(b, 1, func() error {
		rep, err := empty.With(ctx, install, nil)
		if err != nil {
			return err
		}
		db := rep.DBAfter
		for i, f := range facts {
			a, _ := db.Schema().Entid(f.kw)
			ds[i] = datom.Datom{E: f.e, A: a, V: f.v}
		}
		if rep, err = db.Init(ctx, ds, nil); err != nil {
			return err
		}
		return touchIndexes(ctx, rep.DBAfter)
	})
}

// BenchmarkReadAfterWith reads the value one With of every person made
// (the 20k database of the query benchmarks on --backend mem): a scan of
// one attribute in AEVT (q1's shape) and 2,000 point lookups in EAVT
// (find-datoms). A value made by a big With should read as fast as a
// merged one.
func BenchmarkReadAfterWith(b *testing.B) {
	ctx := context.Background()
	empty := benchEmpty(b)
	ps := benchPeople(benchPeopleN)
	data := make(edn.Vector, len(ps))
	for i, p := range ps {
		data[i] = p.txMap()
	}
	rep, err := empty.With(ctx, data, nil)
	if err != nil {
		b.Fatal(err)
	}
	db := rep.DBAfter
	name, _ := db.Schema().Entid("name")
	full, _ := db.Schema().Entid("full-name")
	var eids []datom.ID
	for i := 9000; i < 11000; i++ {
		eids = append(eids, rep.TempIDs.ID(ps[i].id))
	}
	b.Run("scan-aevt", func(b *testing.B) {
		b.ReportAllocs()
		cpu0 := cpuTime()
		for b.Loop() {
			n := 0
			err := db.Datoms(ctx, datom.AEVT, []any{name}, func(d datom.Datom) bool {
				if d.V == "Ivan" {
					n++
				}
				return true
			})
			if err != nil || n == 0 {
				b.Fatal(err, n)
			}
		}
		b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	})
	b.Run("lookup-eavt", func(b *testing.B) {
		b.ReportAllocs()
		cpu0 := cpuTime()
		for b.Loop() {
			n := 0
			for _, e := range eids {
				err := db.Datoms(ctx, datom.EAVT, []any{e, full}, func(d datom.Datom) bool {
					n++
					return false
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			if n != len(eids) {
				b.Fatal(n)
			}
		}
		b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	})
}
