package query

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
)

// The differential test: random data and random queries (patterns, joins,
// predicates, not, or, a recursive rule) are answered by the engine and by
// a naive reference evaluator that walks the datom list left to right with
// nested loops and maps of variable names, no planner, no index. The
// answers must be identical. The seed is printed; rerun one with
// -diff.seed.

var (
	diffSeed  = flag.Uint64("diff.seed", 0, "seed of the differential test (0: time-based)")
	diffCount = flag.Int("diff.n", 400, "random queries in the differential test")
)

const diffSchema = `[
 {:db/ident :a :db/valueType :db.type/long   :db/cardinality :db.cardinality/one  :db/index true}
 {:db/ident :b :db/valueType :db.type/long   :db/cardinality :db.cardinality/many}
 {:db/ident :s :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :r :db/valueType :db.type/ref    :db/cardinality :db.cardinality/many}
 {:db/ident :k :db/valueType :db.type/keyword :db/cardinality :db.cardinality/one :db/index true}
 {:db/ident :d :db/valueType :db.type/double  :db/cardinality :db.cardinality/one :db/index true}
 {:db/ident :n :db/valueType :db.type/string  :db/cardinality :db.cardinality/one :db/index true}
 {:db/ident :t :db/valueType :db.type/instant :db/cardinality :db.cardinality/one :db/index true}
 {:db/ident :q :db/valueType :db.type/keyword :db/cardinality :db.cardinality/one}
 {:db/ident :x :db/valueType :db.type/double  :db/cardinality :db.cardinality/one}
 {:db/ident :f :db/valueType :db.type/boolean :db/cardinality :db.cardinality/one}
]`

var diffAttrs = []edn.Keyword{"a", "b", "s", "r", "k", "d", "n", "t", "q", "x", "f"}

// diffKeywords, diffDoubles, diffNames and diffInstants are the values of
// :k, :d, :n and :t: keywords whose namespaces sort apart from their
// strings, doubles at the edges of their order, strings that are prefixes
// of one another, instants a millisecond apart. Ranges over them are
// pushed down into AVET. :q and :x hold keywords and doubles too, and :f
// booleans, unindexed: their constants are tested while scanning AEVT.
var (
	diffKeywords = []edn.Keyword{"user/name", "user-x/id", "user.x/id", "a/b", "a.b/c", "z", "ab"}
	diffDoubles  = []float64{math.Inf(-1), -1.5, math.Copysign(0, -1), 0, 0.5, math.Inf(1), math.NaN()}
	diffNames    = []string{"", "a", "ab", "abc", "b", "B", "é"}
	diffInstants = []time.Time{time.UnixMilli(0).UTC(), time.UnixMilli(1).UTC(), time.UnixMilli(2).UTC(), time.UnixMilli(-1).UTC()}
)

const diffRules = `[[(reach ?x ?y) [?x :r ?y]] [(reach ?x ?y) [?x :r ?z] (reach ?z ?y)]]`

// rterm is a reference term: a variable name or a constant.
type rterm struct {
	v string
	c any
}

func (t rterm) String() string {
	if t.v != "" {
		return t.v
	}
	return qString(t.c)
}

type rclause struct {
	kind     string // "pat", "pred", "not", "or", "reach"
	terms    []rterm
	op       string
	body     []rclause
	branches [][]rclause
}

func (c rclause) String() string {
	switch c.kind {
	case "pat":
		return "[" + joinTerms(c.terms) + "]"
	case "pred":
		return "[(" + c.op + " " + joinTerms(c.terms) + ")]"
	case "not":
		return "(not " + joinClauses(c.body) + ")"
	case "or":
		var bs []string
		for _, b := range c.branches {
			bs = append(bs, "(and "+joinClauses(b)+")")
		}
		return "(or " + strings.Join(bs, " ") + ")"
	}
	return "(reach " + joinTerms(c.terms) + ")"
}

func joinTerms(ts []rterm) string {
	var s []string
	for _, t := range ts {
		s = append(s, t.String())
	}
	return strings.Join(s, " ")
}

func joinClauses(cs []rclause) string {
	var s []string
	for _, c := range cs {
		s = append(s, c.String())
	}
	return strings.Join(s, " ")
}

type diffGen struct {
	r      *rand.Rand
	output []string // variables that may be found but not joined
	ents   []int64
	nvars  int
}

// typedVars maps a variable bound to values of :k, :d, :n or :t to that
// attribute, for predicates that compare it with a constant of its type.
type typedVars map[string]edn.Keyword

func (g *diffGen) newVar() string { g.nvars++; return fmt.Sprintf("?v%d", g.nvars) }

func (g *diffGen) pick(vars []string) string { return vars[g.r.IntN(len(vars))] }

func (g *diffGen) value(attr edn.Keyword) any {
	switch attr {
	case "s":
		return []string{"x", "y", "z"}[g.r.IntN(3)]
	case "r":
		return g.ents[g.r.IntN(len(g.ents))]
	case "k", "q":
		return diffKeywords[g.r.IntN(len(diffKeywords))]
	case "d", "x":
		return diffDoubles[g.r.IntN(len(diffDoubles))]
	case "f":
		return g.r.IntN(2) == 0
	case "n":
		return diffNames[g.r.IntN(len(diffNames))]
	case "t":
		return diffInstants[g.r.IntN(len(diffInstants))]
	}
	return int64(g.r.IntN(5))
}

// pattern returns a pattern that shares a variable with bound when it can.
func (g *diffGen) pattern(bound *[]string, numeric *[]string, typed typedVars) rclause {
	attr := diffAttrs[g.r.IntN(len(diffAttrs))]
	var e, a, v rterm
	switch {
	case len(*bound) > 0 && g.r.IntN(3) > 0:
		e = rterm{v: g.pick(*bound)}
	case g.r.IntN(6) == 0:
		e = rterm{c: g.ents[g.r.IntN(len(g.ents))]}
	default:
		e = rterm{v: g.newVar()}
	}
	a = rterm{c: attr}
	if g.r.IntN(12) == 0 {
		a = rterm{v: g.newVar()}
	}
	switch g.r.IntN(4) {
	case 0:
		v = rterm{c: g.value(attr)}
		if a.v != "" {
			v = rterm{c: int64(g.r.IntN(5))}
		}
		if g.r.IntN(8) == 0 {
			// A constant of another type than the attribute's matches
			// nothing (scans test string and long constants exactly).
			switch v.c.(type) {
			case string:
				v = rterm{c: int64(g.r.IntN(5))}
			default:
				v = rterm{c: "x"}
			}
		}
	case 1:
		if len(*bound) > 0 {
			v = rterm{v: g.pick(*bound)}
			break
		}
		fallthrough
	default:
		v = rterm{v: g.newVar()}
	}
	// An attribute variable binds idents, and the value next to it may be
	// of any type: joining those elsewhere would mix ids and idents, whose
	// answer depends on evaluation order (as in Datomic). They may only be
	// found.
	joinable := []rterm{e, a, v}
	if a.v != "" {
		joinable = joinable[:1]
		g.output = append(g.output, a.v)
		if v.v != "" && !slices.Contains(*bound, v.v) {
			g.output = append(g.output, v.v)
		}
	}
	for _, t := range joinable {
		if t.v != "" && !slices.Contains(*bound, t.v) {
			*bound = append(*bound, t.v)
		}
	}
	if e.v != "" && !slices.Contains(*numeric, e.v) {
		*numeric = append(*numeric, e.v)
	}
	switch {
	case v.v == "" || a.v != "":
	case attr == "f":
	case attr == "k" || attr == "d" || attr == "n" || attr == "t" || attr == "q" || attr == "x":
		if _, ok := typed[v.v]; !ok && !slices.Contains(*numeric, v.v) {
			typed[v.v] = attr
		}
	case attr != "s" && !slices.Contains(*numeric, v.v):
		if _, ok := typed[v.v]; !ok {
			*numeric = append(*numeric, v.v)
		}
	}
	return rclause{kind: "pat", terms: []rterm{e, a, v}}
}

func (g *diffGen) query() ([]rclause, []string) {
	var bound, numeric []string
	typed := typedVars{}
	var cs []rclause
	n := 1 + g.r.IntN(4)
	for i := 0; i < n; i++ {
		switch k := g.r.IntN(10); {
		case k < 5 || len(bound) == 0:
			cs = append(cs, g.pattern(&bound, &numeric, typed))
		case k < 6 && len(typed) > 0:
			// A keyword, double, string or instant against a constant of
			// its type (or another variable of the attribute): ranges
			// pushed down into AVET. Order predicates only: = on doubles
			// is Clojure's (-0.0 = 0.0), which the reference's
			// unification is not.
			var vars []string
			for v := range typed {
				vars = append(vars, v)
			}
			slices.Sort(vars)
			x := g.pick(vars)
			y := rterm{c: g.value(typed[x])}
			if g.r.IntN(4) == 0 {
				for _, w := range vars {
					if typed[w] == typed[x] && w != x {
						y = rterm{v: w}
					}
				}
			}
			ops := []string{"<", ">", "<=", ">="}
			t := []rterm{{v: x}, y}
			if g.r.IntN(2) == 0 {
				t[0], t[1] = t[1], t[0]
			}
			cs = append(cs, rclause{kind: "pred", op: ops[g.r.IntN(len(ops))], terms: t})
		case k < 7 && len(numeric) > 0:
			x := rterm{v: g.pick(numeric)}
			y := rterm{c: int64(g.r.IntN(5))}
			if g.r.IntN(3) == 0 {
				y = rterm{v: g.pick(numeric)}
			}
			ops := []string{"<", ">", "<=", ">=", "=", "not="}
			cs = append(cs, rclause{kind: "pred", op: ops[g.r.IntN(len(ops))], terms: []rterm{x, y}})
		case k < 8:
			// not: a pattern over a bound variable, possibly with a predicate.
			b2 := slices.Clone(bound)
			n2 := slices.Clone(numeric)
			t2 := maps.Clone(typed)
			saved := len(b2)
			outs := len(g.output)
			body := []rclause{g.pattern(&b2, &n2, t2)}
			g.output = g.output[:outs] // the body's variables are local
			if !sharesVar(body[0], bound) {
				body[0].terms[0] = rterm{v: g.pick(bound)}
			}
			if ev := body[0].terms[0].v; ev != "" && g.r.IntN(2) == 0 {
				body = append(body, rclause{kind: "pred", op: ">", terms: []rterm{{v: ev}, {c: int64(1000 + g.r.IntN(4))}}})
			}
			_ = saved
			cs = append(cs, rclause{kind: "not", body: body})
		case k < 9:
			// or: two branches over the same variables.
			ev := g.pick(bound)
			xv := g.newVar()
			a1 := diffAttrs[g.r.IntN(2)]
			a2 := diffAttrs[g.r.IntN(2)]
			cs = append(cs, rclause{kind: "or", branches: [][]rclause{
				{{kind: "pat", terms: []rterm{{v: ev}, {c: a1}, {v: xv}}}},
				{{kind: "pat", terms: []rterm{{v: ev}, {c: a2}, {v: xv}}}, {kind: "pred", op: "<", terms: []rterm{{v: xv}, {c: int64(3)}}}},
			}})
			bound = append(bound, xv)
			numeric = append(numeric, xv)
		default:
			x := rterm{v: g.pick(bound)}
			y := rterm{v: g.newVar()}
			if g.r.IntN(2) == 0 {
				x, y = y, x
			}
			cs = append(cs, rclause{kind: "reach", terms: []rterm{x, y}})
			for _, t := range []rterm{x, y} {
				if !slices.Contains(bound, t.v) {
					bound = append(bound, t.v)
				}
				if !slices.Contains(numeric, t.v) {
					numeric = append(numeric, t.v)
				}
			}
		}
	}
	for len(bound) == 0 {
		cs = append(cs, g.pattern(&bound, &numeric, typed))
	}
	findable := append(slices.Clone(bound), g.output...)
	find := []string{g.pick(findable)}
	if len(findable) > 1 && g.r.IntN(2) == 0 {
		if w := g.pick(findable); w != find[0] {
			find = append(find, w)
		}
	}
	return cs, find
}

func sharesVar(c rclause, bound []string) bool {
	for _, t := range c.terms {
		if t.v != "" && slices.Contains(bound, t.v) {
			return true
		}
	}
	return false
}

// reference evaluates cs naively over ds.
type reference struct {
	s     *datom.Schema
	ds    []datom.Datom
	ident map[datom.ID]edn.Keyword
	attr  map[edn.Keyword]datom.ID
	reach [][2]int64
}

type solution map[string]any

func (rf *reference) term(t rterm, s solution) (any, bool) {
	if t.v == "" {
		return t.c, true
	}
	v, ok := s[t.v]
	return v, ok
}

func (rf *reference) unify(t rterm, val any, s solution) (solution, bool) {
	if cur, ok := rf.term(t, s); ok {
		return s, valuesEqual(cur, val)
	}
	n := make(solution, len(s)+1)
	for k, v := range s {
		n[k] = v
	}
	n[t.v] = val
	return n, true
}

func (rf *reference) eval(cs []rclause, sols []solution) []solution {
	for _, c := range cs {
		var next []solution
		for _, s := range sols {
			switch c.kind {
			case "pat":
				for _, d := range rf.ds {
					// Entity positions, and values of ref attributes, take
					// idents for entity ids, as in Datomic.
					s1, ok := rf.unify(c.terms[0], d.E, s)
					if !ok {
						if cur, bound := rf.term(c.terms[0], s); bound {
							if kw, isKw := cur.(edn.Keyword); isKw {
								id, found := rf.s.Entid(kw)
								s1, ok = s, found && id == d.E
							}
						}
					}
					if !ok {
						continue
					}
					var attr any = d.A
					if kw, ok := rf.ident[d.A]; ok {
						attr = kw
					}
					s2, ok := rf.unify(c.terms[1], attr, s1)
					if cur, bound := rf.term(c.terms[1], s1); !ok && bound {
						// An attribute may also be given by its id.
						id, isID := cur.(int64)
						s2, ok = s1, isID && id == d.A
					}
					if !ok {
						continue
					}
					s3, ok := rf.unify(c.terms[2], d.V, s2)
					if a := rf.s.Attr(d.A); !ok && a != nil && a.IsRef() {
						if cur, bound := rf.term(c.terms[2], s2); bound {
							if kw, isKw := cur.(edn.Keyword); isKw {
								id, found := rf.s.Entid(kw)
								s3, ok = s2, found && id == d.V
							}
						}
					}
					if ok {
						next = append(next, s3)
					}
				}
			case "pred":
				x, _ := rf.term(c.terms[0], s)
				y, _ := rf.term(c.terms[1], s)
				cmp := compareValues(x, y)
				ok := map[string]bool{"<": cmp < 0, ">": cmp > 0, "<=": cmp <= 0, ">=": cmp >= 0, "=": valuesEqual(x, y), "not=": !valuesEqual(x, y)}[c.op]
				if c.op != "=" && c.op != "not=" && unordered(x, y) {
					ok = false // order predicates are false of NaN, as in Clojure
				}
				if ok {
					next = append(next, s)
				}
			case "not":
				if len(rf.eval(c.body, []solution{s})) == 0 {
					next = append(next, s)
				}
			case "or":
				for _, b := range c.branches {
					next = append(next, rf.eval(b, []solution{s})...)
				}
			case "reach":
				for _, p := range rf.reach {
					s1, ok := rf.unify(c.terms[0], p[0], s)
					if !ok {
						continue
					}
					if s2, ok := rf.unify(c.terms[1], p[1], s1); ok {
						next = append(next, s2)
					}
				}
			}
		}
		sols = next
	}
	return sols
}

// closure computes the transitive closure of :r naively.
func (rf *reference) closure() {
	r := rf.attr["r"]
	set := map[[2]int64]bool{}
	for _, d := range rf.ds {
		if d.A == r {
			set[[2]int64{d.E, d.V.(int64)}] = true
		}
	}
	for changed := true; changed; {
		changed = false
		for p := range set {
			for q := range set {
				if p[1] == q[0] && !set[[2]int64{p[0], q[1]}] {
					set[[2]int64{p[0], q[1]}] = true
					changed = true
				}
			}
		}
	}
	for p := range set {
		rf.reach = append(rf.reach, p)
	}
}

func TestDifferential(t *testing.T) {
	seed := *diffSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -diff.seed=%d)", seed, seed)
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	s, sds := buildSchema(t, diffSchema)
	ctx := context.Background()
	parallel0 := parallelScans.Load()
	p, ps, c := minScanPart, minParallelScan, scanCores
	restoreScans := func() { minScanPart, minParallelScan, scanCores = p, ps, c }
	defer restoreScans()
	for round := 0; round < *diffCount; round++ {
		g := &diffGen{r: r}
		nEnt := 3 + r.IntN(8)
		for i := 0; i < nEnt; i++ {
			g.ents = append(g.ents, int64(1000+i))
		}
		var data []datom.Datom
		for _, e := range g.ents {
			for _, kw := range diffAttrs {
				a := s.AttrByIdent(kw)
				n := r.IntN(3)
				if a.Cardinality == datom.CardinalityOne && n > 1 {
					n = 1
				}
				seen := map[string]bool{}
				for j := 0; j < n; j++ {
					v := g.value(kw)
					if seen[qString(v)] {
						continue
					}
					seen[qString(v)] = true
					data = append(data, datom.Datom{E: e, A: a.ID, V: v, Tx: defaultTx, Added: true})
				}
			}
		}
		mem := NewMemSource(s, append(slices.Clone(sds), data...), false)
		// Rounds alternate the engine's two scan paths: runs of datoms
		// (ChunkSource, with short runs so joins cross run boundaries) and
		// one callback per datom.
		var db Source = mem
		// Every fourth round filters its scans in parallel, in parts of
		// any size (parscan.go).
		restoreScans()
		if round%4 == 2 {
			minScanPart, minParallelScan, scanCores = 1, 2, func() int { return 2 + round%3 }
		}
		if round%2 == 0 {
			mem.chunk = 1 + r.IntN(5)
			if round%4 == 0 {
				mem.chunk = 8 + r.IntN(64) // merge joins gallop within long runs
			}
		} else {
			db = plainSource{mem}
		}
		rf := &reference{s: s, ds: mem.All(), ident: map[datom.ID]edn.Keyword{}, attr: map[edn.Keyword]datom.ID{}}
		for _, d := range rf.ds {
			if kw, ok := s.Ident(d.A); ok {
				rf.ident[d.A] = kw
			}
		}
		for _, kw := range diffAttrs {
			rf.attr[kw] = s.AttrByIdent(kw).ID
		}
		rf.closure()
		cs, find := g.query()
		q := "[:find " + strings.Join(find, " ") + " :in $ % :where " + joinClauses(cs) + "]"
		got, err := Q(ctx, q, db, diffRules)
		if err != nil {
			t.Fatalf("seed %d round %d: %s: %v", seed, round, q, err)
		}
		var want []any
		seen := map[string]bool{}
		for _, sol := range rf.eval(cs, []solution{{}}) {
			tuple := make(edn.Vector, len(find))
			for i, f := range find {
				tuple[i] = sol[f]
			}
			if k := canon(tuple); !seen[k] {
				seen[k] = true
				want = append(want, tuple)
			}
		}
		g1, w1 := canonResult(findRel, false, got), canonResult(findRel, false, edn.Vector(want))
		if g1 != w1 {
			plan, _ := Explain(ctx, q, db, diffRules)
			t.Fatalf("seed %d round %d: %s\n got: %s\nwant: %s\nplan:\n%s", seed, round, q, g1, w1, plan)
		}
	}
	restoreScans()
	if *diffCount >= 100 && parallelScans.Load() == parallel0 {
		t.Fatal("no scan was filtered in parallel")
	}
}

// plainSource is a MemSource without its optional interfaces other than
// Counter: the engine then scans through Datoms alone.
type plainSource struct{ m *MemSource }

func (p plainSource) Schema() *datom.Schema { return p.m.Schema() }
func (p plainSource) IsHistory() bool       { return p.m.IsHistory() }
func (p plainSource) Datoms(ctx context.Context, idx datom.Index, comps []any, fn func(datom.Datom) bool) error {
	return p.m.Datoms(ctx, idx, comps, fn)
}
func (p plainSource) IndexRange(ctx context.Context, a datom.ID, start, end any, fn func(datom.Datom) bool) error {
	return p.m.IndexRange(ctx, a, start, end, fn)
}
func (p plainSource) Count(ctx context.Context, idx datom.Index, comps []any) (int, error) {
	return p.m.Count(ctx, idx, comps)
}
