package query

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
)

// TestRulesDifferential checks recursive rules against a reference on
// random graphs of :r edges (with cycles and self-loops, and :a/:b flags on
// the nodes): each rule set defines (reach ?x ?y), the reference computes
// the same relation by naive iteration over Go maps, and every query shape
// (nothing bound, either argument bound by an input or a pattern, the
// same variable twice, two calls of the rule joined, a bound call beside
// an unbound one) must give the reference's answer. The seed is printed;
// rerun one with -diff.seed.
func TestRulesDifferential(t *testing.T) {
	seed := *diffSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -diff.seed=%d)", seed, seed)
	r := rand.New(rand.NewPCG(seed, 0x41e5))
	s, sds := buildSchema(t, diffSchema)
	aID, bID, rID := s.AttrByIdent("a").ID, s.AttrByIdent("b").ID, s.AttrByIdent("r").ID
	ctx := context.Background()
	rounds := max(*diffCount/8, 20)
	for round := 0; round < rounds; round++ {
		g := randomGraph(r)
		var data []datom.Datom
		for _, e := range g.nodes {
			data = append(data, datom.Datom{E: e, A: aID, V: int64(g.a[e]), Tx: defaultTx, Added: true})
			if b, ok := g.b[e]; ok {
				data = append(data, datom.Datom{E: e, A: bID, V: int64(b), Tx: defaultTx, Added: true})
			}
		}
		for _, ed := range g.edges {
			data = append(data, datom.Datom{E: ed[0], A: rID, V: ed[1], Tx: defaultTx, Added: true})
		}
		mem := NewMemSource(s, append(slices.Clone(sds), data...), false)
		var db Source = mem
		if round%2 == 0 {
			mem.chunk = 1 + r.IntN(4)
		} else {
			db = plainSource{mem}
		}
		for _, rs := range ruleSets {
			want := rs.ref(g)
			for _, qs := range ruleQueries {
				if rs.required && !qs.bindsFirst {
					continue
				}
				src := g.nodes[r.IntN(len(g.nodes))]
				got, err := Q(ctx, qs.q, db, rs.rules, src)
				if err != nil {
					t.Fatalf("seed %d round %d: rules %s, query %s: %v", seed, round, rs.name, qs.q, err)
				}
				w := qs.ref(g, want, src)
				if gs, ws := canonResult(findRel, false, got), canonResult(findRel, false, w); gs != ws {
					t.Fatalf("seed %d round %d: rules %s, query %s (?s = %d)\nedges %v\n got: %s\nwant: %s", seed, round, rs.name, qs.q, src, g.edges, gs, ws)
				}
			}
		}
	}
}

// TestRulesRequiredBinding checks that a rule whose head requires its
// first argument fails, naming the clause, when it is called unbound.
func TestRulesRequiredBinding(t *testing.T) {
	db := wideDB(t, 2, 2, 1)
	rules := `[[(reach [?x] ?y) [?x "follows" ?y]] [(reach [?x] ?y) [?x "follows" ?z] (reach ?z ?y)]]`
	_, err := Q(context.Background(), `[:find ?x ?y :in $ % :where (reach ?x ?y)]`, db, rules)
	if !errors.Is(err, ErrInsufficientBindings) {
		t.Fatalf("unbound required argument: %v, want ErrInsufficientBindings", err)
	}
}

type graph struct {
	nodes []int64
	edges [][2]int64
	a, b  map[int64]int // :a of every node; :b of some
}

func randomGraph(r *rand.Rand) *graph {
	g := &graph{a: map[int64]int{}, b: map[int64]int{}}
	n := 1 + r.IntN(10)
	for i := range n {
		e := int64(1000 + i)
		g.nodes = append(g.nodes, e)
		g.a[e] = r.IntN(2)
		if r.IntN(2) == 0 {
			g.b[e] = r.IntN(2)
		}
	}
	// Sparse or dense, often with cycles; self-loops included.
	p := []float64{0.1, 0.2, 0.35}[r.IntN(3)]
	for _, x := range g.nodes {
		for _, y := range g.nodes {
			if r.Float64() < p {
				g.edges = append(g.edges, [2]int64{x, y})
			}
		}
	}
	return g
}

type pairSet map[[2]int64]bool

// fix iterates step from base until nothing is added: the reference's
// naive least fixpoint.
func fix(base pairSet, step func(cur pairSet) pairSet) pairSet {
	cur := pairSet{}
	for p := range base {
		cur[p] = true
	}
	for {
		n := len(cur)
		for p := range step(cur) {
			cur[p] = true
		}
		if len(cur) == n {
			return cur
		}
	}
}

// compose is {(x, y) : (x, z) ∈ a, (z, y) ∈ b}.
func compose(a, b pairSet) pairSet {
	out := pairSet{}
	for p := range a {
		for q := range b {
			if p[1] == q[0] {
				out[[2]int64{p[0], q[1]}] = true
			}
		}
	}
	return out
}

func (g *graph) edgeSet(keep func(x, y int64) bool) pairSet {
	s := pairSet{}
	for _, e := range g.edges {
		if keep == nil || keep(e[0], e[1]) {
			s[e] = true
		}
	}
	return s
}

func closureOf(e pairSet) pairSet {
	return fix(e, func(cur pairSet) pairSet { return compose(e, cur) })
}

var ruleSets = []struct {
	name     string
	rules    string
	required bool // the first argument must be bound
	ref      func(g *graph) pairSet
}{
	{"left-linear", `[[(reach ?x ?y) [?x :r ?y]] [(reach ?x ?y) [?x :r ?z] (reach ?z ?y)]]`, false,
		func(g *graph) pairSet { return closureOf(g.edgeSet(nil)) }},
	{"right-linear", `[[(reach ?x ?y) [?x :r ?y]] [(reach ?x ?y) (reach ?x ?z) [?z :r ?y]]]`, false,
		func(g *graph) pairSet { return closureOf(g.edgeSet(nil)) }},
	{"non-linear", `[[(reach ?x ?y) [?x :r ?y]] [(reach ?x ?y) (reach ?x ?z) (reach ?z ?y)]]`, false,
		func(g *graph) pairSet { return closureOf(g.edgeSet(nil)) }},
	{"required", `[[(reach [?x] ?y) [?x :r ?y]] [(reach [?x] ?y) [?x :r ?z] (reach ?z ?y)]]`, true,
		func(g *graph) pairSet { return closureOf(g.edgeSet(nil)) }},
	{"or-recursive", `[[(reach ?x ?y) (or (and [?x :r ?y]) (and [?x :r ?z] (reach ?z ?y)))]]`, false,
		func(g *graph) pairSet { return closureOf(g.edgeSet(nil)) }},
	{"both-ways", `[[(reach ?x ?y) [?x :r ?y]] [(reach ?x ?y) [?y :r ?x]] [(reach ?x ?y) [?x :r ?z] (reach ?z ?y)]]`, false,
		func(g *graph) pairSet {
			e := g.edgeSet(nil)
			base := pairSet{}
			for p := range e {
				base[p] = true
				base[[2]int64{p[1], p[0]}] = true
			}
			return fix(base, func(cur pairSet) pairSet { return compose(e, cur) })
		}},
	{"mutual-odd", `[[(reach ?x ?y) [?x :r ?y]] [(reach ?x ?y) [?x :r ?z] (even ?z ?y)] [(even ?x ?y) [?x :r ?z] (reach ?z ?y)]]`, false,
		func(g *graph) pairSet {
			// Walks of odd length.
			e := g.edgeSet(nil)
			odd := pairSet{}
			even := pairSet{}
			for {
				n := len(odd) + len(even)
				for p := range e {
					odd[p] = true
				}
				for p := range compose(e, even) {
					odd[p] = true
				}
				for p := range compose(e, odd) {
					even[p] = true
				}
				if len(odd)+len(even) == n {
					return odd
				}
			}
		}},
	{"not-in-body", `[[(reach ?x ?y) [?x :r ?y] (not [?y :b 0])] [(reach ?x ?y) [?x :r ?z] (not [?z :b 0]) (reach ?z ?y)]]`, false,
		func(g *graph) pairSet {
			return closureOf(g.edgeSet(func(_, y int64) bool { b, ok := g.b[y]; return !ok || b != 0 }))
		}},
	{"rule-in-not", `[[(tc ?x ?y) [?x :r ?y]] [(tc ?x ?y) [?x :r ?z] (tc ?z ?y)] [(reach ?x ?y) (tc ?x ?y) (not (tc ?y ?x))]]`, false,
		func(g *graph) pairSet {
			tc := closureOf(g.edgeSet(nil))
			out := pairSet{}
			for p := range tc {
				if !tc[[2]int64{p[1], p[0]}] {
					out[p] = true
				}
			}
			return out
		}},
	{"composed", `[[(tc ?x ?y) [?x :r ?y]] [(tc ?x ?y) [?x :r ?z] (tc ?z ?y)] [(reach ?x ?y) (tc ?x ?z) (tc ?z ?y)]]`, false,
		func(g *graph) pairSet { tc := closureOf(g.edgeSet(nil)); return compose(tc, tc) }},
	{"base-calls-rule", `[[(reach ?x ?y) (hop ?x ?y)] [(reach ?x ?y) [?x :r ?z] (reach ?z ?y)] [(hop ?x ?y) [?x :r ?y]]]`, false,
		func(g *graph) pairSet { return closureOf(g.edgeSet(nil)) }},
	{"prefix-calls-rule", `[[(reach ?x ?y) [?x :r ?y]] [(reach ?x ?y) (hop ?x ?z) (reach ?z ?y)] [(hop ?x ?y) [?x :r ?y]]]`, false,
		func(g *graph) pairSet { return closureOf(g.edgeSet(nil)) }},
	{"flagged", `[[(reach ?x ?y) [?x :r ?y] [?x :a 1]] [(reach ?x ?y) (reach ?x ?z) [?z :r ?y] [?z :a 1]]]`, false,
		func(g *graph) pairSet {
			return closureOf(g.edgeSet(func(x, _ int64) bool { return g.a[x] == 1 }))
		}},
}

var ruleQueries = []struct {
	q          string
	bindsFirst bool
	ref        func(g *graph, reach pairSet, s int64) []any
}{
	{`[:find ?x ?y :in $ % ?s :where (reach ?x ?y)]`, false, func(g *graph, rs pairSet, s int64) []any {
		return rows(rs, func(p [2]int64) []any { return []any{p[0], p[1]} })
	}},
	{`[:find ?y :in $ % ?s :where (reach ?s ?y)]`, true, func(g *graph, rs pairSet, s int64) []any {
		return rows(rs, func(p [2]int64) []any {
			if p[0] != s {
				return nil
			}
			return []any{p[1]}
		})
	}},
	{`[:find ?x :in $ % ?s :where (reach ?x ?s)]`, false, func(g *graph, rs pairSet, s int64) []any {
		return rows(rs, func(p [2]int64) []any {
			if p[1] != s {
				return nil
			}
			return []any{p[0]}
		})
	}},
	{`[:find ?x :in $ % ?s :where (reach ?x ?x)]`, false, func(g *graph, rs pairSet, s int64) []any {
		return rows(rs, func(p [2]int64) []any {
			if p[0] != p[1] {
				return nil
			}
			return []any{p[0]}
		})
	}},
	{`[:find ?x ?y :in $ % ?s :where [?x :a 1] (reach ?x ?y)]`, true, func(g *graph, rs pairSet, s int64) []any {
		return rows(rs, func(p [2]int64) []any {
			if g.a[p[0]] != 1 {
				return nil
			}
			return []any{p[0], p[1]}
		})
	}},
	{`[:find ?x ?z :in $ % ?s :where (reach ?x ?y) (reach ?y ?z)]`, false, func(g *graph, rs pairSet, s int64) []any {
		return rows(compose(rs, rs), func(p [2]int64) []any { return []any{p[0], p[1]} })
	}},
	{`[:find ?z :in $ % ?s :where (reach ?s ?y) (reach ?y ?z)]`, true, func(g *graph, rs pairSet, s int64) []any {
		return rows(compose(rs, rs), func(p [2]int64) []any {
			if p[0] != s {
				return nil
			}
			return []any{p[1]}
		})
	}},
	{`[:find ?y ?b :in $ % ?s :where (reach ?s ?y) (reach ?a ?b) [(= ?a ?y)]]`, false, func(g *graph, rs pairSet, s int64) []any {
		var out []any
		for p := range rs {
			for q := range rs {
				if p[0] == s && p[1] == q[0] {
					out = append(out, edn.Vector{p[1], q[1]})
				}
			}
		}
		return dedup(out)
	}},
}

func dedup(vs []any) []any {
	seen := map[string]bool{}
	out := []any{}
	for _, v := range vs {
		if k := fmt.Sprint(v); !seen[k] {
			seen[k] = true
			out = append(out, v)
		}
	}
	return out
}

// rows maps each pair to a result tuple (nil: none), deduplicated.
func rows(ps pairSet, f func([2]int64) []any) []any {
	var out []any
	for p := range ps {
		if t := f(p); t != nil {
			out = append(out, edn.Vector(t))
		}
	}
	return dedup(out)
}

// TestRulesMaxRows checks that Options.MaxRows bounds a recursive rule's
// evaluation (an error, not a partial answer) and lets a smaller one pass.
func TestRulesMaxRows(t *testing.T) {
	db := longDB(t, 30, 2) // 2 chains of 31 nodes: 2·465 pairs
	q := `[:find ?x ?y :in $ % :where (follows ?x ?y)]`
	_, err := QWith(context.Background(), Options{MaxRows: 100}, q, db, benchRules)
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("MaxRows 100: err = %v, want ErrLimit", err)
	}
	r, err := QWith(context.Background(), Options{MaxRows: 5000}, q, db, benchRules)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(r.(Relation)); n != 2*465 {
		t.Fatalf("MaxRows 5000: %d pairs, want %d", n, 2*465)
	}
}
