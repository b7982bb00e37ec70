package query

import (
	"context"
	"testing"

	"github.com/accretedb/accrete/datom"
)

// BenchmarkRules runs DataScript's recursive rule benches (the transitive
// closure of "follows", nothing bound) on every tree of its suite, with
// CPU time per operation (run with -cpu 1: the machines are shared).
func BenchmarkRules(b *testing.B) {
	ctx := context.Background()
	for _, rb := range []struct {
		name string
		db   func() *MemSource
	}{
		{"wide-3x3", func() *MemSource { return wideDB(b, 3, 3, 33) }},
		{"wide-5x3", func() *MemSource { return wideDB(b, 5, 3, 53) }},
		{"wide-7x3", func() *MemSource { return wideDB(b, 7, 3, 73) }},
		{"wide-4x6", func() *MemSource { return wideDB(b, 4, 6, 46) }},
		{"long-10x3", func() *MemSource { return longDB(b, 10, 3) }},
		{"long-30x3", func() *MemSource { return longDB(b, 30, 3) }},
		{"long-30x5", func() *MemSource { return longDB(b, 30, 5) }},
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

// BenchmarkRulesBound runs the follows closure from one bound node (the
// root of wide-7x3, every node below it), through an input and through a
// pattern, to one node, and along a chain: the magic-set path, seeds
// instead of the whole relation.
func BenchmarkRulesBound(b *testing.B) {
	ctx := context.Background()
	db, chain := wideDB(b, 7, 3, 73), longDB(b, 1000, 1)
	rules, err := ParseRules(benchRules)
	if err != nil {
		b.Fatal(err)
	}
	for _, bq := range []struct {
		name string
		q    string
		in   []any
	}{
		{"input", `[:find ?y :in $ % ?x :where (follows ?x ?y)]`, []any{datom.MakeID(datom.PartUser, 1)}},
		{"pattern", `[:find ?y :in $ % :where [?x "id" 1] (follows ?x ?y)]`, nil},
		{"reverse", `[:find ?x :in $ % ?y :where (follows ?x ?y)]`, []any{datom.MakeID(datom.PartUser, 3000)}},
		// A chain of 1,000 edges from its first node: 1,000 answers, where
		// seeding alone derives the closure of the chain (500,500 pairs).
		{"chain", `[:find ?y :in $ % ?x :where (follows ?x ?y)]`, []any{datom.MakeID(datom.PartUser, 1)}},
	} {
		q := MustParse(bq.q)
		db := db
		if bq.name == "chain" {
			db = chain
		}
		b.Run(bq.name, func(b *testing.B) {
			b.ReportAllocs()
			var n int
			m := startCPU(b)
			for i := 0; i < b.N; i++ {
				r, err := Q(ctx, q, append([]any{db, rules}, bq.in...)...)
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
