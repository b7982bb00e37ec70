package query

import (
	"fmt"

	"github.com/accretedb/accrete/edn"
)

// Rules are evaluated bottom-up and semi-naively, with the bindings of the
// call site pushed down as seeds (the "magic set" idea): a table holds, for
// one rule called with one pattern of bound arguments (its adornment), the
// argument tuples it was asked about (seeds) and the head tuples derived so
// far (results). Every iteration evaluates each body only against what is
// new since the previous iteration: new seeds against all results, and all
// seeds against the new results of one recursive call at a time. The loop
// ends when an iteration derives nothing new, so cycles terminate.
//
// A body whose rule calls sit inside or branches is evaluated naively
// (against everything) in each iteration; rule calls inside not are
// computed to completion in a separate evaluation first (stratified
// negation), with a depth limit against recursion through negation.

// tableKey names one table: a rule, the source its $ means, and which
// arguments the caller binds (bit i for argument i).
type tableKey struct {
	name  edn.Symbol
	src   edn.Symbol
	adorn uint64
}

type ruleTable struct {
	key      tableKey
	boundPos []int
	seedSeen map[tkey]struct{}
	seeds    [][]any
	resSeen  map[tkey]struct{}
	res      [][]any
	resIdx   map[tkey][]int // by the values at boundPos

	seedMark, resMark int
	dSeedLo, dSeedHi  int
	dResLo, dResHi    int

	bodies []*bodyPlan
}

type bodyPlan struct {
	def   *ruleDef
	steps []*step
	calls []*step // top-level rule calls: the literals of semi-naive deltas
	naive bool
}

type ruleEval struct {
	ex        *exec
	tables    map[tableKey]*ruleTable
	order     []*ruleTable
	deltaStep *step // the call reading only new results in this evaluation
	vals      []any // reused buffer of the values a key is made of
}

// ruleStep plans a rule call; it is not ready while a required argument is
// unbound.
func (ex *exec) ruleStep(x *ruleCall, sc *scope, bound []bool) (*step, bool, error) {
	if ex.rules == nil {
		return nil, false, errorf(x.form, ErrMissingSource, "rule %s called but no rule set is bound to %%", x.name)
	}
	defs := ex.rules.defs[x.name]
	if len(defs) == 0 {
		return nil, false, errorf(x.form, ErrUnknownRule, "%s", x.name)
	}
	if len(x.args) != len(defs[0].head) {
		return nil, false, errorf(x.form, ErrArity, "rule %s takes %d arguments, got %d", x.name, len(defs[0].head), len(x.args))
	}
	st := &step{kind: stepRule, c: x, call: x, argBound: make([]bool, len(x.args)), est: 100000}
	var adorn uint64
	for i, a := range x.args {
		if a.kind == termConst || a.kind == termVar && bound[a.slot] {
			st.argBound[i] = true
			adorn |= 1 << i
		}
	}
	for i := 0; i < defs[0].nreq; i++ {
		if !st.argBound[i] {
			return nil, false, nil
		}
	}
	if adorn != 0 {
		st.est = 100
	}
	st.rsrc = sc.src(x.src)
	st.key = tableKey{name: x.name, src: st.rsrc, adorn: adorn}
	return st, true, nil
}

// evalRule joins in with the rule's relation for the bindings in in.
func (ex *exec) evalRule(st *step, in *rel) (*rel, error) {
	if ex.re != nil {
		re := ex.re
		t, err := re.table(st.key)
		if err != nil {
			return nil, err
		}
		re.addSeeds(t, st, in)
		return re.join(st, t, in, re.deltaStep == st), nil
	}
	re := &ruleEval{ex: ex, tables: map[tableKey]*ruleTable{}}
	ex.re = re
	defer func() { ex.re = nil }()
	t, err := re.table(st.key)
	if err != nil {
		return nil, err
	}
	re.addSeeds(t, st, in)
	if err := re.fixpoint(); err != nil {
		return nil, err
	}
	return re.join(st, t, in, false), nil
}

func (re *ruleEval) table(k tableKey) (*ruleTable, error) {
	if t, ok := re.tables[k]; ok {
		return t, nil
	}
	ex := re.ex
	defs := ex.rules.defs[k.name]
	t := &ruleTable{key: k, seedSeen: map[tkey]struct{}{}, resSeen: map[tkey]struct{}{}, resIdx: map[tkey][]int{}}
	for i := range defs[0].head {
		if k.adorn&(1<<i) != 0 {
			t.boundPos = append(t.boundPos, i)
		}
	}
	for _, d := range defs {
		sc := &scope{names: d.vt.names, srcOf: k.src}
		if k.src == "$" {
			sc.srcOf = ""
		}
		bound := make([]bool, len(d.vt.names))
		for _, p := range t.boundPos {
			bound[d.head[p]] = true
		}
		steps, err := ex.plan(d.body, sc, bound)
		if err != nil {
			return nil, err
		}
		markLive(steps, bound, maskOf(len(bound), d.head), nil)
		after := append([]bool(nil), bound...)
		bp := &bodyPlan{def: d, steps: steps}
		for _, s := range steps {
			s.binds(after)
			if s.kind == stepRule {
				bp.calls = append(bp.calls, s)
			}
			if s.kind == stepOr && nestedRule(s.sub) {
				bp.naive = true
			}
		}
		for _, h := range d.head {
			if !after[h] {
				return nil, errorf(d.form, ErrUnboundVariable, "head variable %s of rule %s is not bound by its body", d.vt.names[h], d.name)
			}
		}
		t.bodies = append(t.bodies, bp)
	}
	re.tables[k] = t
	re.order = append(re.order, t)
	return t, nil
}

func nestedRule(subs [][]*step) bool {
	for _, ss := range subs {
		for _, s := range ss {
			if s.kind == stepRule || s.kind == stepOr && nestedRule(s.sub) {
				return true
			}
		}
	}
	return false
}

// addSeeds records the bound arguments of every row of in as seeds of t.
func (re *ruleEval) addSeeds(t *ruleTable, st *step, in *rel) {
	ex := re.ex
	for i := 0; i < in.n; i++ {
		row := in.row(i)
		vals := re.vals[:0]
		for _, p := range t.boundPos {
			vals = append(vals, argValue(&st.call.args[p], row))
		}
		re.vals = vals
		k := ex.tupleKey(vals)
		if _, ok := t.seedSeen[k]; ok {
			continue
		}
		t.seedSeen[k] = struct{}{}
		t.seeds = append(t.seeds, append([]any(nil), vals...))
	}
}

func argValue(a *term, row []any) any {
	if a.kind == termConst {
		return a.val
	}
	return row[a.slot]
}

// addResult records a head tuple of t.
func (re *ruleEval) addResult(t *ruleTable, tuple []any) {
	ex := re.ex
	k := ex.tupleKey(tuple)
	if _, ok := t.resSeen[k]; ok {
		return
	}
	t.resSeen[k] = struct{}{}
	t.res = append(t.res, tuple)
	k = re.boundKey(t, tuple)
	t.resIdx[k] = append(t.resIdx[k], len(t.res)-1)
}

// boundKey is the key of tuple's values at t's bound positions.
func (re *ruleEval) boundKey(t *ruleTable, tuple []any) tkey {
	vals := re.vals[:0]
	for _, p := range t.boundPos {
		vals = append(vals, tuple[p])
	}
	re.vals = vals
	return re.ex.tupleKey(vals)
}

// join extends the rows of in with the results of t that agree with them;
// with delta, only the results new in the previous iteration.
func (re *ruleEval) join(st *step, t *ruleTable, in *rel, delta bool) *rel {
	ex := re.ex
	idx := t.resIdx
	if delta {
		idx = map[tkey][]int{}
		for j := t.dResLo; j < t.dResHi; j++ {
			k := re.boundKey(t, t.res[j])
			idx[k] = append(idx[k], j)
		}
	}
	args := st.call.args
	out := &rel{width: in.width, data: make([]any, 0, in.n*in.width)}
	for i := 0; i < in.n; i++ {
		row := in.row(i)
		vals := re.vals[:0]
		for _, p := range t.boundPos {
			vals = append(vals, argValue(&args[p], row))
		}
		re.vals = vals
	next:
		for _, j := range idx[ex.tupleKey(vals)] {
			res := t.res[j]
			dst := out.push(row)
			for p, a := range args {
				if a.kind != termVar || st.argBound[p] {
					continue
				}
				// A free variable given twice must get one value.
				for q := 0; q < p; q++ {
					if args[q].kind == termVar && args[q].slot == a.slot && !st.argBound[q] && !valuesEqual(res[q], res[p]) {
						out.pop()
						continue next
					}
				}
				dst[a.slot] = res[p]
			}
		}
	}
	return out
}

// fixpoint iterates until no table gains a seed or a result.
func (re *ruleEval) fixpoint() error {
	ex := re.ex
	for {
		if err := ex.ctx.Err(); err != nil {
			return fmt.Errorf("query: %w", err)
		}
		changed := false
		for _, t := range re.order {
			t.dSeedLo, t.dSeedHi, t.seedMark = t.seedMark, len(t.seeds), len(t.seeds)
			t.dResLo, t.dResHi, t.resMark = t.resMark, len(t.res), len(t.res)
			if t.dSeedHi > t.dSeedLo || t.dResHi > t.dResLo {
				changed = true
			}
		}
		if !changed {
			return nil
		}
		n := len(re.order)
		for _, t := range re.order[:n] {
			for _, bp := range t.bodies {
				if bp.naive {
					if err := re.evalBody(t, bp, 0, len(t.seeds), nil); err != nil {
						return err
					}
					continue
				}
				if t.dSeedHi > t.dSeedLo {
					if err := re.evalBody(t, bp, t.dSeedLo, t.dSeedHi, nil); err != nil {
						return err
					}
				}
				for _, cs := range bp.calls {
					callee := re.tables[cs.key]
					if callee == nil || callee.dResHi == callee.dResLo {
						continue
					}
					if err := re.evalBody(t, bp, 0, len(t.seeds), cs); err != nil {
						return err
					}
				}
			}
		}
	}
}

// evalBody evaluates one body for the seeds t.seeds[lo:hi], with the call
// delta (if any) reading only new results, and records the head tuples.
func (re *ruleEval) evalBody(t *ruleTable, bp *bodyPlan, lo, hi int, delta *step) error {
	if lo >= hi {
		return nil
	}
	ex := re.ex
	d := bp.def
	in := &rel{width: len(d.vt.names)}
	set := make([]bool, in.width)
	for i := lo; i < hi; i++ {
		seed := t.seeds[i]
		row := in.push(nil)
		clear(set)
		ok := true
		for j, p := range t.boundPos {
			s := d.head[p]
			if set[s] && !valuesEqual(row[s], seed[j]) {
				ok = false
				break
			}
			row[s], set[s] = seed[j], true
		}
		if !ok {
			in.pop()
		}
	}
	re.deltaStep = delta
	out, err := ex.run(bp.steps, in)
	re.deltaStep = nil
	if err != nil {
		return err
	}
	for i := 0; i < out.n; i++ {
		row := out.row(i)
		tuple := make([]any, len(d.head))
		for j, h := range d.head {
			tuple[j] = row[h]
		}
		re.addResult(t, tuple)
	}
	return nil
}
