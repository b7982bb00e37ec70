package query

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
)

// TestDirectEmit: a first scan that binds only the entity, value and
// transaction makes its rows a run at a time (directEmit); its answers are
// the data's, for every run length, with and without a constant tested in
// the loop, and patterns it cannot serve keep emitting a datom at a time.
func TestDirectEmit(t *testing.T) {
	s, ds := buildSchema(t, `[{:db/ident :name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/index true}
	 {:db/ident :tag :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
	 {:db/ident :age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]`)
	at := func(kw edn.Keyword) datom.ID { return s.AttrByIdent(kw).ID }
	type fact struct {
		e, tx  int64
		name   string
		tag    string
		age    int64
		hasTag bool
	}
	var facts []fact
	for i := 0; i < 1500; i++ {
		e := datom.MakeID(datom.PartUser, int64(1+i))
		f := fact{e: e, tx: defaultTx, name: []string{"Ivan", "Petr", "Oleg"}[i%3], age: int64(i % 70), tag: []string{"a", "b"}[i%2], hasTag: i%5 != 0}
		facts = append(facts, f)
		ds = append(ds, datom.Datom{E: e, A: at("name"), V: f.name, Tx: f.tx, Added: true},
			datom.Datom{E: e, A: at("age"), V: f.age, Tx: f.tx, Added: true})
		if f.hasTag {
			ds = append(ds, datom.Datom{E: e, A: at("tag"), V: f.tag, Tx: f.tx, Added: true})
		}
	}
	cases := []struct {
		q      string
		direct bool
		want   func(f fact) (string, bool)
	}{
		{`[:find ?e :where [?e :name "Ivan"]]`, true, func(f fact) (string, bool) { return fmt.Sprint(f.e), f.name == "Ivan" }},
		{`[:find ?e ?a :where [?e :age ?a]]`, true, func(f fact) (string, bool) { return fmt.Sprint(f.e, f.age), true }},
		{`[:find ?e ?a ?tx :where [?e :age ?a ?tx]]`, true, func(f fact) (string, bool) { return fmt.Sprint(f.e, f.age, f.tx), true }},
		// :tag is not in AVET: its value is tested in the loop (vfilter).
		{`[:find ?e ?tx :where [?e :tag "b" ?tx]]`, true, func(f fact) (string, bool) { return fmt.Sprint(f.e, f.tx), f.hasTag && f.tag == "b" }},
		// The attribute bound per datom, and a repeated variable: emit's own tests.
		{`[:find ?e ?v :where [?e ?a ?v] [(= ?a :tag)]]`, false, func(f fact) (string, bool) { return fmt.Sprint(f.e, f.tag), f.hasTag }},
		{`[:find ?e :where [?e :age ?e]]`, false, func(f fact) (string, bool) { return "", false }},
	}
	ctx := context.Background()
	for _, chunk := range []int{1, 5, 128, 1 << 20} {
		src := NewMemSource(s, slices.Clone(ds), false)
		src.chunk = chunk
		for _, c := range cases {
			// Which path the first scan takes.
			pq, ex, sc, steps := testPlan(t, c.q, src)
			st := steps[0]
			sst := &scanState{ex: ex, st: st, src: st.src.(*dbSrc), out: &rel{width: sc.width()}, late: lateBoxing(st)}
			var buf [3]any
			var e, a, v any
			if st.pos[1].kind == posConst {
				a = st.pos[1].val
			}
			if st.pos[2].kind == posConst {
				v = st.pos[2].val
			}
			_, _, pinned := access(e, a, v, st.attr, buf[:])
			vf := newVFilter(st, pinned)
			sst.prepFast(pinned | vf.pins())
			if got := sst.direct(nil) != nil; got != c.direct {
				t.Fatalf("%s: direct = %v, want %v", c.q, got, c.direct)
			}

			res, err := Q(ctx, pq, src)
			if err != nil {
				t.Fatalf("%s: %v", c.q, err)
			}
			var got, want []string
			for _, row := range res.(Relation) {
				got = append(got, fmt.Sprint(row...))
			}
			for _, f := range facts {
				if k, ok := c.want(f); ok {
					want = append(want, k)
				}
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("chunk %d: %s: %d rows, want %d (first %v)", chunk, c.q, len(got), len(want), got[:min(3, len(got))])
			}
		}
	}

	// An input the scan does not use: every row carries it.
	src0 := NewMemSource(s, slices.Clone(ds), false)
	src0.chunk = 7
	res, err := Q(ctx, `[:find ?e ?x :in $ ?x :where [?e :name "Petr"]]`, src0, "k")
	if err != nil {
		t.Fatal(err)
	}
	petrs := 0
	for _, f := range facts {
		if f.name == "Petr" {
			petrs++
		}
	}
	if rows := res.(Relation); len(rows) != petrs {
		t.Fatalf("with an input: %d rows, want %d", len(rows), petrs)
	} else {
		for _, row := range rows {
			if row[1] != "k" {
				t.Fatalf("with an input: row %v lost it", row)
			}
		}
	}

	// A context cancelled during a direct scan stops it (the engine
	// consults it every 4,096 datoms).
	var many []datom.Datom
	for i := 0; i < 20000; i++ {
		many = append(many, datom.Datom{E: datom.MakeID(datom.PartUser, int64(1+i)), A: at("age"), V: int64(i), Tx: defaultTx, Added: true})
	}
	mem := NewMemSource(s, many, false)
	mem.chunk = 16
	src := &countingChunks{MemSource: mem}
	cctx := &cancelAfter{Context: ctx, n: 2}
	if _, err := Q(cctx, `[:find ?e ?a :where [?e :age ?a]]`, src); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled during the scan: err = %v, want context.Canceled", err)
	}
	if src.n >= len(many) {
		t.Fatalf("the scan read all %d datoms after its context was cancelled", src.n)
	}
}

// countingChunks counts the datoms its DatomChunks hands out, whatever its
// context, and records what it was asked to read.
type countingChunks struct {
	*MemSource
	n     int
	reads []string // the index and components of each DatomChunks
}

func (c *countingChunks) DatomChunks(ctx context.Context, idx datom.Index, comps []any, fn func([]datom.Datom) bool) error {
	c.reads = append(c.reads, fmt.Sprint(idx, comps))
	// The source does not consult ctx: only the engine can stop the scan.
	return c.MemSource.DatomChunks(context.Background(), idx, comps, func(ds []datom.Datom) bool {
		c.n += len(ds)
		return fn(ds)
	})
}

// cancelAfter is a context that reports itself cancelled from its n+1st
// Err on.
type cancelAfter struct {
	context.Context
	n, calls int
}

func (c *cancelAfter) Err() error {
	c.calls++
	if c.calls > c.n {
		return context.Canceled
	}
	return nil
}
