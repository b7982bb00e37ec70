package query

import (
	"fmt"
	"slices"

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
// Once the table of a rule with nothing bound exists, calls of that rule
// that bind arguments read it through an index on those arguments instead
// of seeding tables of their own (subsumption): that table holds the whole
// relation and is computed to the end anyway, so a closure asked for
// unbound is derived once, not once more per bound call inside it.
//
// Tables keep their tuples in blocks (tupleStore) and index them with
// open-addressing hash tables of row numbers (rowHash, rules_hash.go); a
// join of a call with a table reads an index on the positions the call
// binds, kept up to date incrementally. The steps of a body before its
// first rule call read only the sources: their rows are cached per body
// and extended only by new seeds, and a delta join after them runs from
// the new results into an index of those rows built once (deltaEach).
//
// A table with bound arguments whose recursion is right-linear (the
// recursive call last, passing the free arguments through) is factored
// (rules_factor.go): it answers its callers' seeds from the seeds they
// reach, without deriving the answers of every reachable seed.
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
	seeds    tupleStore // the values at boundPos
	seedSet  rowHash    // seeds by all their values
	res      tupleStore
	allPos   []int   // 0, 1, … arity-1
	seedPos  []int   // 0, 1, … len(boundPos)-1
	resSet   rowHash // res by all positions: the set of results

	// byPos indexes res by the values at the positions a call binds
	// (keyed by their bit mask): the table's adornment, or more for
	// calls it subsumes (see table). They are brought up to date with
	// res when a join needs them.
	byPos map[uint64]*resIndex

	seedMark, resMark int
	dSeedLo, dSeedHi  int
	dResLo, dResHi    int

	bodies []*bodyPlan
	fac    *factoring // non-nil: the table is factored (rules_factor.go)

	// seeded remembers, per calling step, the input whose rows' arguments
	// were last added as seeds, and how many rows it had (see addSeeds).
	// Holding the relation keeps its address from being reused.
	seeded map[*step]seedMark
}

// resIndex is an index of a table's results by the values at pos, over
// res[:hi]: head holds the last result of each key, next[j] the result
// before j with the same key (-1: none), so indexing a result allocates
// nothing per key.
type resIndex struct {
	pos  []int
	head rowHash
	next []int32
	hi   int
}

// extend indexes res[lo:hi] (x.next must be at least hi long).
func (re *ruleEval) extend(x *resIndex, res *tupleStore, lo, hi int) {
	if len(x.pos) == 0 {
		// One key: every result is on the chain, newest first.
		for j := lo; j < hi; j++ {
			x.next[j] = int32(j) - 1
		}
		return
	}
	for j := lo; j < hi; j++ {
		vals := re.vals[:0]
		r := res.row(j)
		for _, p := range x.pos {
			vals = append(vals, r[p])
		}
		re.vals = vals
		h := hashVals(vals, &re.hbuf)
		i, found := x.head.find(res, x.pos, h, vals)
		if found {
			x.next[j] = x.head.row(i)
			x.head.slots[i].row = int32(j) + 1
		} else {
			x.next[j] = -1
			x.head.insert(i, h, int32(j))
		}
	}
}

type seedMark struct {
	rel *rel
	n   int
}

type bodyPlan struct {
	def   *ruleDef
	steps []*step
	calls []*step // top-level rule calls: the literals of semi-naive deltas
	naive bool

	// prefixes caches, per step index p of a delta call, the relation the
	// steps before p produce for the seeds t.seeds[:hi]. Those steps read
	// only the sources (see pureSteps), so each iteration extends the
	// cache with the new seeds instead of re-running them for all seeds.
	prefixes map[int]*prefixCache
}

type prefixCache struct {
	hi  int // seeds covered
	rel *rel
	idx *resIndex // rel's rows by the bound arguments of the call after it (see deltaEach)
}

// add appends the rows of more, those of the seeds up to hi.
func (pc *prefixCache) add(more *rel, hi int) {
	if pc.rel.n == 0 {
		// Adopt the rows; more only reads its own.
		pc.rel.data = more.data[:more.n*more.width]
	} else {
		add := more.data[:more.n*more.width]
		if d := pc.rel.data; len(d)+len(add) > cap(d) {
			// Doubling: append grows a large slice by a quarter.
			nd := make([]any, len(d), max(2*cap(d), len(d)+len(add)))
			copy(nd, d)
			pc.rel.data = nd
		}
		pc.rel.data = append(pc.rel.data, add...)
	}
	pc.rel.n += more.n
	pc.hi = hi
}

// pureSteps reports whether steps read only the sources: patterns,
// predicates and functions, whose results do not change between fixpoint
// iterations.
func pureSteps(steps []*step) bool {
	for _, s := range steps {
		switch s.kind {
		case stepPattern, stepPred, stepFn:
		default:
			return false
		}
	}
	return true
}

type ruleEval struct {
	ex        *exec
	tables    map[tableKey]*ruleTable
	order     []*ruleTable
	deltaStep *step    // the call reading only new results in this evaluation
	vals      []any    // reused buffer of the values a key is made of
	pos       []int    // reused by callPos
	tuple     []any    // reused buffer of a head tuple
	ftuple    []any    // reused by emit
	hvals     []any    // reused by headSeed
	fromRes   []int    // reused by evalBodyCall
	hbuf      []byte   // scratch space of hashVals
	firsts    []int32  // reused by join: each input row's first result
	next      []int32  // the chains firsts start
	dIdx      resIndex // a delta join's index of the new results, reused
	lo        int32    // the first result a join reads
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
	// The planner asks about every waiting call in each round: a call
	// that is not ready allocates nothing.
	for _, a := range x.args[:defs[0].nreq] {
		if a.kind != termConst && !(a.kind == termVar && bound[a.slot]) {
			return nil, false, nil
		}
	}
	st := &step{kind: stepRule, c: x, call: x, argBound: make([]bool, len(x.args)), est: 100000}
	var adorn uint64
	for i, a := range x.args {
		if a.kind == termConst || a.kind == termVar && bound[a.slot] {
			st.argBound[i] = true
			adorn |= 1 << i
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
	if k.adorn != 0 {
		// The table of the same rule with nothing bound holds the whole
		// relation, and it is computed to the end in this evaluation
		// anyway: a call binding some arguments reads it through an
		// index on those arguments instead of deriving a subset of it
		// again in a table of its own (subsumption). This is what makes
		// the closure of a relation, asked for unbound, one table.
		if t, ok := re.tables[tableKey{name: k.name, src: k.src}]; ok {
			re.tables[k] = t
			return t, nil
		}
	}
	ex := re.ex
	defs := ex.rules.defs[k.name]
	t := &ruleTable{key: k, res: tupleStore{arity: len(defs[0].head)}}
	for i := range defs[0].head {
		t.allPos = append(t.allPos, i)
		if k.adorn&(1<<i) != 0 {
			t.seedPos = append(t.seedPos, len(t.boundPos))
			t.boundPos = append(t.boundPos, i)
		}
	}
	t.seeds.arity = len(t.boundPos)
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
		if n := len(steps); n > 0 {
			// addResult deduplicates the head tuples: projecting the last
			// step's rows onto the head first would only repeat the work.
			steps[n-1].live = nil
		}
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
	t.fac = factor(t)
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
// A call whose input is the relation it saw last time, grown (a cached
// prefix, see bodyPlan.prefixes), only reads the new rows.
func (re *ruleEval) addSeeds(t *ruleTable, st *step, in *rel) {
	if len(t.boundPos) == 0 && t.seeds.n > 0 {
		return // the only seed, the empty tuple, is there
	}
	from := 0
	if m, ok := t.seeded[st]; ok && m.rel == in && m.n <= in.n {
		from = m.n
	}
	if t.seeded == nil {
		t.seeded = map[*step]seedMark{}
	}
	t.seeded[st] = seedMark{in, in.n}
	for i := from; i < in.n; i++ {
		row := in.row(i)
		vals := re.vals[:0]
		for _, p := range t.boundPos {
			vals = append(vals, argValue(&st.call.args[p], row))
		}
		re.vals = vals
		if t.fac != nil {
			re.external(t, re.seedOf(t, vals))
			continue
		}
		h := hashVals(vals, &re.hbuf)
		k, found := t.seedSet.find(&t.seeds, t.seedPos, h, vals)
		if found {
			continue
		}
		t.seedSet.insert(k, h, int32(t.seeds.n))
		t.seeds.add(vals)
	}
}

func argValue(a *term, row []any) any {
	if a.kind == termConst {
		return a.val
	}
	return row[a.slot]
}

// addResult records a head tuple of t if it is new; tuple is copied.
func (re *ruleEval) addResult(t *ruleTable, tuple []any) {
	h := hashVals(tuple, &re.hbuf)
	i, found := t.resSet.find(&t.res, t.allPos, h, tuple)
	if found {
		return
	}
	t.resSet.insert(i, h, int32(t.res.n))
	t.res.add(tuple)
}

// callPos returns the positions st binds, in a buffer reused by the next
// call.
func (re *ruleEval) callPos(st *step) []int {
	pos := re.pos[:0]
	for i, b := range st.argBound {
		if b {
			pos = append(pos, i)
		}
	}
	re.pos = pos
	return pos
}

// index returns t's index of results by the values at pos (the positions
// a call binds), brought up to date with t.res.
func (re *ruleEval) index(t *ruleTable, pos []int) *resIndex {
	var mask uint64
	for _, p := range pos {
		mask |= 1 << p
	}
	x := t.byPos[mask]
	if x == nil {
		if t.byPos == nil {
			t.byPos = map[uint64]*resIndex{}
		}
		x = &resIndex{pos: slices.Clone(pos)}
		t.byPos[mask] = x
	}
	if n := t.res.n; x.hi < n {
		x.next = slices.Grow(x.next, n-len(x.next))[:n]
		re.extend(x, &t.res, x.hi, n)
		x.hi = n
	}
	return x
}

// joinCount prepares a join of in with the results of t (with delta, only
// those new in the previous iteration): it finds each row's chain of
// agreeing results (re.firsts, re.next, re.lo) and returns how many
// results they hold in all. The results are matched on the arguments st
// binds, which may be more than t's adornment (see table).
func (re *ruleEval) joinCount(st *step, t *ruleTable, in *rel, delta bool) int {
	pos := re.callPos(st)
	var x *resIndex
	lo := int32(0)
	if delta {
		// Index only the new results, in buffers reused across joins
		// (only next[dResLo:dResHi] is written, and chains end before
		// dResLo).
		x = &re.dIdx
		x.pos = append(x.pos[:0], pos...)
		x.head.reset(t.dResHi - t.dResLo)
		if cap(x.next) < t.dResHi {
			x.next = make([]int32, t.dResHi, 2*t.dResHi)
		}
		x.next = x.next[:t.dResHi]
		re.extend(x, &t.res, t.dResLo, t.dResHi)
		lo = int32(t.dResLo)
	} else {
		x = re.index(t, pos)
	}
	next := x.next
	re.next, re.lo = next, lo
	args := st.call.args
	firsts := re.firsts[:0]
	total := 0
	if len(pos) == 0 {
		// Every row meets every result in range.
		j := int32(len(next)) - 1
		n := 0
		for c := j; c >= lo; c = next[c] {
			if !delta || int(c) < t.dResHi {
				n++
			}
		}
		for range in.n {
			firsts = append(firsts, j)
		}
		re.firsts = firsts
		return n * in.n
	}
	for i := 0; i < in.n; i++ {
		row := in.row(i)
		vals := re.vals[:0]
		for _, p := range pos {
			vals = append(vals, argValue(&args[p], row))
		}
		re.vals = vals
		j := int32(-1)
		if k, ok := x.head.find(&t.res, pos, hashVals(vals, &re.hbuf), vals); ok {
			j = x.head.row(k)
		}
		firsts = append(firsts, j)
		for ; j >= lo; j = next[j] {
			if !delta || int(j) < t.dResHi {
				total++
			}
		}
	}
	re.firsts = firsts
	return total
}

// join extends the rows of in with the results of t that agree with them;
// with delta, only the results new in the previous iteration.
func (re *ruleEval) join(st *step, t *ruleTable, in *rel, delta bool) *rel {
	total := re.joinCount(st, t, in, delta)
	out := &rel{width: in.width, data: make([]any, 0, total*in.width)}
	re.joinEach(st, t, in, delta, func(row, res []any) bool {
		dst := out.push(row)
		for p, a := range st.call.args {
			if a.kind == termVar && !st.argBound[p] {
				dst[a.slot] = res[p]
			}
		}
		return true
	})
	return out
}

// joinEach calls fn for each row of in and each result of t that agrees
// with it (after joinCount, which found each row's chain), skipping
// results that give one free variable two values.
func (re *ruleEval) joinEach(st *step, t *ruleTable, in *rel, delta bool, fn func(row, res []any) bool) {
	next, lo := re.next, re.lo
	args := st.call.args
	for i := 0; i < in.n; i++ {
		j := re.firsts[i]
		if j < 0 {
			continue
		}
		row := in.row(i)
	chain:
		for ; j >= lo; j = next[j] {
			if int(j) >= t.dResHi && delta {
				continue
			}
			res := t.res.row(int(j))
			for p, a := range args {
				if a.kind != termVar || st.argBound[p] {
					continue
				}
				// A free variable given twice must get one value.
				for q := 0; q < p; q++ {
					if args[q].kind == termVar && args[q].slot == a.slot && !st.argBound[q] && !valuesEqual(res[q], res[p]) {
						continue chain
					}
				}
			}
			if !fn(row, res) {
				return
			}
		}
	}
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
			t.dSeedLo, t.dSeedHi, t.seedMark = t.seedMark, t.seeds.n, t.seeds.n
			t.dResLo, t.dResHi, t.resMark = t.resMark, t.res.n, t.res.n
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
					if err := re.evalBody(t, bp, 0, t.seeds.n, nil); err != nil {
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
					if callee == nil || callee.dResHi == callee.dResLo || t.fac != nil && callee == t {
						continue
					}
					if err := re.evalBody(t, bp, 0, t.seeds.n, cs); err != nil {
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
	steps := bp.steps
	// The steps before the delta call (or, evaluating new seeds, before
	// the first rule call) read only the sources: their rows for the
	// seeds so far are cached, and extended by the rows of new seeds.
	var in *rel
	var cached *prefixCache
	p := -1
	if delta != nil {
		p = slices.Index(bp.steps, delta)
	} else {
		p = slices.IndexFunc(bp.steps, func(s *step) bool { return s.kind == stepRule })
	}
	if p > 0 && pureSteps(bp.steps[:p]) {
		if bp.prefixes == nil {
			bp.prefixes = map[int]*prefixCache{}
		}
		pc := bp.prefixes[p]
		if pc == nil {
			pc = &prefixCache{rel: &rel{width: len(d.vt.names)}}
			bp.prefixes[p] = pc
		}
		switch {
		case delta != nil && lo == 0:
			if pc.hi < hi {
				more, err := ex.run(bp.steps[:p], re.seedRel(t, bp, pc.hi, hi))
				if err != nil {
					return err
				}
				pc.add(more, hi)
			}
			in, steps, cached = pc.rel, bp.steps[p:], pc
		case delta == nil && pc.hi == lo:
			more, err := ex.run(bp.steps[:p], re.seedRel(t, bp, lo, hi))
			if err != nil {
				return err
			}
			pc.add(more, hi)
			in, steps = more, bp.steps[p:]
			if lo == 0 {
				in, cached = pc.rel, pc // the same rows
			}
		}
	}
	if in == nil {
		in = re.seedRel(t, bp, lo, hi)
	}
	if n := len(steps); n > 0 && steps[n-1].kind == stepRule && steps[n-1].live == nil {
		return re.evalBodyCall(t, bp, steps, in, delta, cached)
	}
	re.deltaStep = delta
	out, err := ex.run(steps, in)
	re.deltaStep = nil
	if err != nil {
		return err
	}
	t.resSet.reserve(min(out.n, max(4*t.res.n, 4096)))
	t.res.reserve(out.n)
	for i := 0; i < out.n; i++ {
		row := out.row(i)
		tuple := re.tuple[:0]
		for _, h := range d.head {
			tuple = append(tuple, row[h])
		}
		re.tuple = tuple
		re.addHead(t, tuple)
	}
	return nil
}

// evalBodyCall is evalBody for steps that end with a rule call: the call's
// join hands its matches straight to addResult instead of building the
// joined relation first.
//
// When the call is the delta and all that precedes it is the cached
// prefix pc, the join runs the other way (deltaEach): each new result
// looks up the prefix rows it extends, through an index of the prefix
// built once, instead of indexing the new results anew in every
// iteration and probing it with every prefix row.
func (re *ruleEval) evalBodyCall(t *ruleTable, bp *bodyPlan, steps []*step, in *rel, delta *step, pc *prefixCache) error {
	ex := re.ex
	last := steps[len(steps)-1]
	re.deltaStep = delta
	cur, err := ex.run(steps[:len(steps)-1], in)
	re.deltaStep = nil
	if err != nil || cur.n == 0 {
		return err
	}
	if err := ex.ctx.Err(); err != nil {
		return fmt.Errorf("query: %w", err)
	}
	callee, err := re.table(last.key)
	if err != nil {
		return err
	}
	if t.fac != nil && callee == t {
		re.passThrough(t, bp, last, cur)
		return nil
	}
	re.addSeeds(callee, last, cur)
	isDelta := delta == last
	each := func(fn func(row, res []any) bool) { re.joinEach(last, callee, cur, isDelta, fn) }
	var total int
	// Reversed, a join reads every result in its range: the new ones of
	// a delta, or all for a full join, which only pays while they are
	// few next to the prefix rows.
	lo, hi := callee.dResLo, callee.dResHi
	if !isDelta {
		lo, hi = 0, callee.res.n
	}
	if pc != nil && cur == pc.rel && (isDelta || hi <= 2*cur.n) {
		re.indexPrefix(pc, last)
		each = func(fn func(row, res []any) bool) { re.deltaEach(last, callee, pc, lo, hi, fn) }
		if ex.opts.MaxRows > 0 {
			each(func(_, _ []any) bool { total++; return true })
		}
		// Otherwise total stays 0: no reserve. An estimate (results
		// times prefix rows per key) overshoots where results meet no
		// prefix row, and the table then ends twice the size it needs.
	} else {
		total = re.joinCount(last, callee, cur, isDelta)
	}
	if ex.opts.MaxRows > 0 && total > ex.opts.MaxRows {
		// total may count results that give a repeated free variable two
		// values: count exactly before failing.
		n := 0
		each(func(_, _ []any) bool { n++; return true })
		if n > ex.opts.MaxRows {
			return errorf(last.c.raw(), ErrLimit, "more than %d rows", ex.opts.MaxRows)
		}
	}
	// Room for the new results at once (total counts duplicates too, or
	// is an estimate: at most four times the table).
	t.resSet.reserve(min(total, max(4*t.res.n, 4096)))
	t.res.reserve(total)
	// Where each head value comes from: a free argument of the call
	// (fromRes[i] >= 0, the argument's position) or the row.
	d := bp.def
	fromRes := slices.Grow(re.fromRes[:0], len(d.head))[:len(d.head)]
	re.fromRes = fromRes
	for i, h := range d.head {
		fromRes[i] = -1
		for p, a := range last.call.args {
			if a.kind == termVar && !last.argBound[p] && a.slot == h {
				fromRes[i] = p
				break
			}
		}
	}
	tuple := slices.Grow(re.tuple[:0], len(d.head))[:len(d.head)]
	re.tuple = tuple
	each(func(r, res []any) bool {
		for i, h := range d.head {
			if p := fromRes[i]; p >= 0 {
				tuple[i] = res[p]
			} else {
				tuple[i] = r[h]
			}
		}
		re.addHead(t, tuple)
		return true
	})
	return nil
}

// seedRel is the relation of body bp's variables bound by the seeds
// t.seeds[lo:hi] (a seed that binds one variable twice to different values
// has no row).
func (re *ruleEval) seedRel(t *ruleTable, bp *bodyPlan, lo, hi int) *rel {
	d := bp.def
	in := &rel{width: len(d.vt.names)}
	in.data = make([]any, 0, (hi-lo)*in.width)
	set := make([]bool, in.width)
	for i := lo; i < hi; i++ {
		seed := t.seeds.row(i)
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
	return in
}

// indexPrefix brings pc.idx, the index of the prefix rows by the values of
// st's bound arguments, up to date with pc.rel.
func (re *ruleEval) indexPrefix(pc *prefixCache, st *step) {
	if pc.idx == nil {
		pc.idx = &resIndex{pos: slices.Clone(re.callPos(st))}
	}
	x, rows := pc.idx, pc.rel
	if x.hi == rows.n {
		return
	}
	x.next = slices.Grow(x.next, rows.n-len(x.next))[:rows.n]
	args := st.call.args
	for i := x.hi; i < rows.n; i++ {
		row := rows.row(i)
		vals := re.vals[:0]
		for _, p := range x.pos {
			vals = append(vals, argValue(&args[p], row))
		}
		re.vals = vals
		h := hashVals(vals, &re.hbuf)
		k, found := x.head.findRel(rows, args, x.pos, h, vals)
		if found {
			x.next[i] = x.head.row(k)
			x.head.slots[k].row = int32(i) + 1
		} else {
			x.next[i] = -1
			x.head.insert(k, h, int32(i))
		}
	}
	x.hi = rows.n
}

// deltaEach calls fn for each result t.res[lo:hi] (for a delta, those new
// in the previous iteration) and each row of the prefix pc that agrees
// with it on st's bound arguments, skipping results that give one free
// variable two values.
func (re *ruleEval) deltaEach(st *step, t *ruleTable, pc *prefixCache, lo, hi int, fn func(row, res []any) bool) {
	x, rows := pc.idx, pc.rel
	args := st.call.args
	vals := make([]any, len(x.pos))
results:
	for j := lo; j < hi; j++ {
		res := t.res.row(j)
		for k, p := range x.pos {
			vals[k] = res[p]
		}
		k, found := x.head.findRel(rows, args, x.pos, hashVals(vals, &re.hbuf), vals)
		if !found {
			continue
		}
		for p, a := range args {
			if a.kind != termVar || st.argBound[p] {
				continue
			}
			// A free variable given twice must get one value.
			for q := 0; q < p; q++ {
				if args[q].kind == termVar && args[q].slot == a.slot && !st.argBound[q] && !valuesEqual(res[q], res[p]) {
					continue results
				}
			}
		}
		for i := x.head.row(k); i >= 0; i = x.next[i] {
			if !fn(rows.row(int(i)), res) {
				return
			}
		}
	}
}
