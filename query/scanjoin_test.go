package query

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
)

// TestScanJoinByValue: an entity-bound lookup of a constant value in AVET
// with many input rows is a merge join against that value's datoms (not
// the attribute's); its answers are those of the data, whatever the run
// lengths, and attributes outside AVET, or values every entity has, keep
// the attribute's scan.
func TestScanJoinByValue(t *testing.T) {
	s, ds := buildSchema(t, `[{:db/ident :name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/index true}
	 {:db/ident :sex :db/valueType :db.type/keyword :db/cardinality :db.cardinality/one :db/index true}
	 {:db/ident :kind :db/valueType :db.type/keyword :db/cardinality :db.cardinality/one :db/index true}
	 {:db/ident :tag :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
	 {:db/ident :age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]`)
	at := func(kw edn.Keyword) datom.ID { return s.AttrByIdent(kw).ID }
	r := rand.New(rand.NewPCG(3, 9))
	names := []string{"Ivan", "Petr", "Oleg", "Yuri"}
	type person struct {
		name, tag string
		male      bool
		age       int64
	}
	people := map[datom.ID]person{}
	males := 0
	for i := 0; i < 3000; i++ {
		e := datom.MakeID(datom.PartUser, int64(1+i+r.IntN(3)*i))
		if _, dup := people[e]; dup {
			continue
		}
		p := person{name: names[r.IntN(len(names))], male: r.IntN(2) == 0, age: int64(r.IntN(90)), tag: names[r.IntN(2)]}
		people[e] = p
		sex := edn.Keyword("female")
		if p.male {
			sex = "male"
			males++
		}
		ds = append(ds, datom.Datom{E: e, A: at("name"), V: p.name, Tx: defaultTx, Added: true},
			datom.Datom{E: e, A: at("sex"), V: sex, Tx: defaultTx, Added: true},
			datom.Datom{E: e, A: at("kind"), V: edn.Keyword("person"), Tx: defaultTx, Added: true},
			datom.Datom{E: e, A: at("tag"), V: p.tag, Tx: defaultTx, Added: true},
			datom.Datom{E: e, A: at("age"), V: p.age, Tx: defaultTx, Added: true})
	}
	var want []int64 // ages of the male Ivans tagged "Petr", by entity
	var ivans int
	for _, e := range slices.Sorted(func(yield func(datom.ID) bool) {
		for e := range people {
			if !yield(e) {
				return
			}
		}
	}) {
		p := people[e]
		if p.name == "Ivan" {
			ivans++
			if p.male && p.tag == "Petr" {
				want = append(want, e, p.age)
			}
		}
	}
	const q = `[:find ?e ?a :where [?e :name "Ivan"] [?e :sex :male] [?e :kind :person] [?e :tag "Petr"] [?e :age ?a]]`
	ctx := context.Background()
	for _, chunk := range []int{1, 7, 128, 1 << 20} {
		src := NewMemSource(s, slices.Clone(ds), false)
		src.chunk = chunk

		// The plan: :sex by value, :kind (every entity's) and :tag (not
		// in AVET) by attribute.
		pq, ex, sc, steps := testPlan(t, q, src)
		in := &rel{width: sc.width(), n: ivans}
		for _, st := range steps {
			if st.attr == nil {
				continue
			}
			if st.lookup {
				ex.countValue(st) // as scanJoin does
			}
			switch kw, _ := s.Ident(st.attr.ID); kw {
			case "sex":
				if st.valCount != males || !byValue(st) || !scanJoinable(st, in) {
					t.Fatalf("chunk %d: [?e :sex :male]: valCount %d (want %d), byValue %v, joinable %v",
						chunk, st.valCount, males, byValue(st), scanJoinable(st, in))
				}
			case "kind", "tag":
				if byValue(st) {
					t.Fatalf("chunk %d: %s read by value: valCount %d, attrCount %d", chunk, kw, st.valCount, st.attrCount)
				}
			}
		}

		cc := &countingChunks{MemSource: src}
		res, err := Q(ctx, pq, cc)
		if err != nil {
			t.Fatal(err)
		}
		byMale := fmt.Sprint(datom.AVET, []any{at("sex"), edn.Keyword("male")})
		if !slices.Contains(cc.reads, byMale) {
			t.Fatalf("chunk %d: the join did not read :sex :male in AVET: %v", chunk, cc.reads)
		}
		rows := res.(Relation)
		slices.SortFunc(rows, func(a, b []any) int { return int(a[0].(int64) - b[0].(int64)) })
		var got []int64
		for _, row := range rows {
			got = append(got, row[0].(int64), row[1].(int64))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("chunk %d: got %d rows, want %d: %v", chunk, len(got)/2, len(want)/2, got[:min(len(got), 10)])
		}
	}
}

// testPlan parses q and plans it over inputs, as Q does before running.
func testPlan(t *testing.T, q string, inputs ...any) (*Query, *exec, *scope, []*step) {
	t.Helper()
	pq, err := Parse(q)
	if err != nil {
		t.Fatal(err)
	}
	ex := newExec(context.Background(), Options{})
	_, sc, err := ex.bindInputs(pq, inputs)
	if err != nil {
		t.Fatal(err)
	}
	steps, err := ex.plan(pq.where, sc, boundOf(pq, nil, sc))
	if err != nil {
		t.Fatal(err)
	}
	return pq, ex, sc, steps
}

// TestMergeDirect: a merge join that binds the value and transaction
// makes its rows in the loop (mergeDirect): every input row, repeated
// entities and unsorted rows included, extended by each of its entity's
// datoms, whatever the run lengths (an entity's datoms across runs).
func TestMergeDirect(t *testing.T) {
	s, ds := buildSchema(t, `[{:db/ident :tags :db/valueType :db.type/string :db/cardinality :db.cardinality/many}
	 {:db/ident :age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]`)
	tags, age := s.AttrByIdent("tags").ID, s.AttrByIdent("age").ID
	r := rand.New(rand.NewPCG(5, 8))
	type tagged struct {
		v  string
		tx int64
	}
	byEntity := map[int64][]tagged{}
	for i := 0; i < 400; i++ {
		e := datom.MakeID(datom.PartUser, int64(1+i))
		ds = append(ds, datom.Datom{E: e, A: age, V: int64(i % 50), Tx: defaultTx, Added: true})
		for j := 0; j < r.IntN(4); j++ { // 0 to 3 tags
			tg := tagged{fmt.Sprintf("t%d", j), defaultTx + int64(j)}
			byEntity[e] = append(byEntity[e], tg)
			ds = append(ds, datom.Datom{E: e, A: tags, V: tg.v, Tx: tg.tx, Added: true})
		}
	}
	// Input rows: every entity once or twice, in random order, each with a
	// mark of its own.
	var in edn.Vector
	var want []string
	for i := 0; i < 400; i++ {
		e := datom.MakeID(datom.PartUser, int64(1+i))
		for c := 0; c <= r.IntN(2); c++ {
			mark := int64(len(in))
			in = append(in, edn.Vector{e, mark})
			for _, tg := range byEntity[e] {
				want = append(want, fmt.Sprint(e, mark, tg.v, tg.tx))
			}
		}
	}
	r.Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
	slices.Sort(want)
	ctx := context.Background()
	for _, chunk := range []int{1, 3, 128} {
		src := NewMemSource(s, slices.Clone(ds), false)
		src.chunk = chunk
		res, err := Q(ctx, `[:find ?e ?m ?t ?tx :in $ [[?e ?m]] :where [?e :tags ?t ?tx]]`, src, in)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, row := range res.(Relation) {
			got = append(got, fmt.Sprint(row...))
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("chunk %d: %d rows, want %d", chunk, len(got), len(want))
		}
	}
}
