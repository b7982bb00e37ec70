package query

import (
	"math"
	"slices"
	"time"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
)

// This file is the second stage: a clause list and the set of variables
// bound before it → an ordered list of steps. The planner is greedy: it
// runs every predicate, function and negation as soon as its variables are
// bound (predicates are fused into the scan that binds their last
// variable), and otherwise picks the cheapest pattern, or or rule call
// that shares a variable with what is bound, using Counter estimates.

type stepKind uint8

const (
	stepPattern stepKind = iota
	stepPred
	stepFn
	stepNot
	stepOr
	stepRule
)

type posKind uint8

const (
	posAbsent posKind = iota // the pattern is shorter
	posBlank                 // _
	posConst                 // a resolved constant
	posBound                 // a variable bound before the step
	posFree                  // a variable this step binds
	posSame                  // a variable bound earlier in this same pattern
)

type pos struct {
	kind posKind
	slot int
	val  any
}

// step is one operation of a plan.
type step struct {
	kind stepKind
	c    clause

	// live lists the variables still needed after this step when some
	// variable bound so far is not: the rows are then deduplicated on
	// them (early projection), which keeps value joins from multiplying
	// rows that differ only in dead variables.
	live []int

	// stepPattern
	src      any // *dbSrc or *collSrc
	pos      [5]pos
	attr     *datom.Attribute // the constant attribute, if any
	lookup   bool             // per-row index lookups on bound positions
	hash     bool             // one scan, then a hash join on bound positions
	dedup    bool             // the pattern projects positions away: remove duplicate rows
	empty    bool             // a constant did not resolve: no datom can match
	rangeLo  any              // pushed-down bounds on V (AVET IndexRange)
	absorbed []*fnClause      // comparisons the range implements exactly (not filters)
	rangeHi  any
	hasRange bool
	filters  []*step // predicates fused into this scan
	// longLo, longHi bound the value a scan's free value variable may take
	// when it is an int64, from fused comparisons with int64 constants
	// (inclusive; see fuseLongRange): chunked scans skip the datoms out of
	// range before anything else. The filters still run on the rest.
	longLo, longHi int64
	hasLongRange   bool
	est            int
	// attrCount is the number of datoms of the constant attribute (AEVT),
	// for a pattern whose entity is bound: 0 when unknown. With many input
	// rows, one scan of the attribute joined on the entity is cheaper than
	// a lookup per row (see scanJoin).
	attrCount int
	// valCount is the number of datoms in AVET for the constant attribute
	// and constant value of such a pattern, when the attribute is in AVET
	// (0 otherwise; -1 until counted, which only a merge join needs, see
	// countValue): those datoms are sorted by entity too, so a merge join
	// can read them instead of all the attribute's (see scanJoin).
	valCount int
	// scanLen is the number of datoms a scan whose yield est only guesses
	// (a constant value outside AVET and VAET) reads: the scan projects
	// its rows from the share it has read so far (see rel.want).
	scanLen int

	// stepPred, stepFn
	cmpOp   byte  // a built-in <, >, <= ('l'), >= ('g') on two values
	argBuf  []any // reused argument slice (a plan belongs to one evaluation)
	fn      builtin
	user    Func
	args    []term
	argSrc  []any // per argument: the source of a termSrc argument
	bind    *binding
	bindOld []bool // per binding term: already bound (unify instead of bind)

	// stepNot, stepOr
	join      []int // join variables
	joinBound []int // join variables bound before the step
	joinFree  []int // join variables the step binds (or)
	sub       [][]*step

	// stepRule
	call     *ruleCall
	key      tableKey
	rsrc     edn.Symbol
	argBound []bool // per argument: constant or bound before the call
}

func (st *step) binds(bound []bool) {
	switch st.kind {
	case stepPattern:
		for _, p := range st.pos {
			if p.kind == posFree {
				bound[p.slot] = true
			}
		}
	case stepFn:
		for _, t := range st.bind.terms {
			if t.kind == termVar {
				bound[t.slot] = true
			}
		}
	case stepOr:
		for _, s := range st.join {
			bound[s] = true
		}
	case stepRule:
		for _, t := range st.call.args {
			if t.kind == termVar {
				bound[t.slot] = true
			}
		}
	}
}

func allBound(ts []term, bound []bool) (int, bool) {
	for _, t := range ts {
		if t.kind == termVar && !bound[t.slot] {
			return t.slot, false
		}
	}
	return 0, true
}

func slotsBound(slots []int, bound []bool) (int, bool) {
	for _, s := range slots {
		if !bound[s] {
			return s, false
		}
	}
	return 0, true
}

// plan orders cs given the variables bound before them.
func (ex *exec) plan(cs []clause, sc *scope, bound0 []bool) ([]*step, error) {
	bound := append([]bool(nil), bound0...)
	remaining := append([]clause(nil), cs...)
	// memo[i] is the last step planned for the pattern remaining[i] and
	// which of its variables were bound then: a pattern none of whose
	// variables got bound by the step just chosen plans the same again
	// (each round re-plans every remaining clause; resolving constants
	// and estimating is most of a short query's planning).
	memo := make([]patternMemo, len(remaining))
	var steps []*step
	anyBound := func() bool {
		for _, b := range bound {
			if b {
				return true
			}
		}
		return false
	}
	for len(remaining) > 0 {
		// Predicates, functions and negations run as soon as they can.
		progressed := true
		for progressed {
			progressed = false
			for i := 0; i < len(remaining); i++ {
				st, ready, err := ex.planEager(remaining[i], sc, bound)
				if err != nil {
					return nil, err
				}
				if !ready {
					continue
				}
				remaining = append(remaining[:i], remaining[i+1:]...)
				memo = append(memo[:i], memo[i+1:]...)
				i--
				progressed = true
				if st.kind == stepPred && len(steps) > 0 && steps[len(steps)-1].kind == stepPattern {
					last := steps[len(steps)-1]
					last.filters = append(last.filters, st)
					fuseLongRange(last, st, sc)
					continue
				}
				st.binds(bound)
				steps = append(steps, st)
			}
		}
		if len(remaining) == 0 {
			break
		}
		best, bestScore := -1, math.MaxInt
		var bestStep *step
		ab := anyBound()
		for i, c := range remaining {
			var st *step
			ready := true
			var err error
			if pc, ok := c.(*patternClause); ok {
				sig := patternSig(pc, bound)
				if m := &memo[i]; m.st != nil && m.sig == sig {
					st = m.st
				} else if st, err = ex.patternStep(pc, sc, bound); err == nil {
					*m = patternMemo{st: st, sig: sig}
				}
			} else {
				st, ready, err = ex.planScan(c, sc, bound)
			}
			if err != nil {
				return nil, err
			}
			if !ready {
				continue
			}
			score := st.est
			if ab && !connected(c, bound) {
				score = satAdd(score, 1<<40)
			}
			if score < bestScore {
				best, bestScore, bestStep = i, score, st
			}
		}
		if best < 0 {
			return nil, ex.unreadyError(remaining, sc, bound)
		}
		remaining = append(remaining[:best], remaining[best+1:]...)
		memo = append(memo[:best], memo[best+1:]...)
		if bestStep.kind == stepPattern {
			for _, c := range ex.pushRange(bestStep, remaining, sc) {
				i := slices.Index(remaining, c)
				remaining = slices.Delete(remaining, i, i+1)
				memo = slices.Delete(memo, i, i+1)
			}
		}
		bestStep.binds(bound)
		steps = append(steps, bestStep)
	}
	return steps, nil
}

// patternMemo is a pattern's step as planned when the pattern's variables
// bound were sig (see patternSig).
type patternMemo struct {
	st  *step
	sig uint8
}

// patternSig is the set of pc's positions holding a bound variable: what
// patternStep's plan for pc depends on, besides fixed scalars.
func patternSig(pc *patternClause, bound []bool) uint8 {
	var sig uint8
	for i, t := range pc.terms {
		if t.kind == termVar && bound[t.slot] {
			sig |= 1 << i
		}
	}
	return sig
}

func satAdd(a, b int) int {
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}

func connected(c clause, bound []bool) bool {
	found := false
	vars := 0
	clauseVars(c, func(s int) {
		vars++
		if bound[s] {
			found = true
		}
	})
	return found || vars == 0
}

// unreadyError explains why none of the remaining clauses can run.
func (ex *exec) unreadyError(cs []clause, sc *scope, bound []bool) error {
	c := cs[0]
	name := func(s int) edn.Symbol { return sc.names[s] }
	switch x := c.(type) {
	case *fnClause:
		s, _ := allBound(x.args, bound)
		return errorf(x.form, ErrUnboundVariable, "%s is not bound before the call", name(s))
	case *notClause:
		s, _ := slotsBound(x.join, bound)
		return errorf(x.form, ErrUnboundVariable, "join variable %s of not is not bound", name(s))
	case *orClause:
		s, _ := slotsBound(x.required, bound)
		return errorf(x.form, ErrInsufficientBindings, "required variable %s of or-join is not bound", name(s))
	case *ruleCall:
		return errorf(x.form, ErrInsufficientBindings, "the rule's required arguments are not bound")
	}
	return errorf(c.raw(), ErrMalformed, "cannot schedule clause")
}

// planEager returns a step for c if c is a predicate, function or not whose
// inputs are all bound.
func (ex *exec) planEager(c clause, sc *scope, bound []bool) (*step, bool, error) {
	switch x := c.(type) {
	case *fnClause:
		st, err := ex.fnStep(x, sc, bound)
		if err != nil {
			return nil, false, err
		}
		if _, ok := allBound(x.args, bound); !ok {
			return nil, false, nil
		}
		return st, true, nil
	case *notClause:
		if _, ok := slotsBound(x.join, bound); !ok {
			return nil, false, nil
		}
		st := &step{kind: stepNot, c: x, join: x.join}
		inner := make([]bool, len(bound))
		for _, s := range x.join {
			inner[s] = true
		}
		sub, err := ex.plan(x.body, sc, inner)
		if err != nil {
			return nil, false, err
		}
		markLive(sub, inner, maskOf(len(bound), x.join), nil)
		st.sub = [][]*step{sub}
		return st, true, nil
	}
	return nil, false, nil
}

func (ex *exec) fnStep(x *fnClause, sc *scope, bound []bool) (*step, error) {
	st := &step{kind: stepPred, c: x, args: x.args, bind: x.bind}
	if x.bind != nil {
		st.kind = stepFn
		st.bindOld = make([]bool, len(x.bind.terms))
		for i, t := range x.bind.terms {
			st.bindOld[i] = t.kind == termVar && bound[t.slot]
		}
	}
	if ex.opts.Funcs != nil {
		st.user = ex.opts.Funcs.fns[x.fn]
	}
	if st.user == nil && x.bind == nil && len(x.args) == 2 && valueTerm(x.args[0]) && valueTerm(x.args[1]) {
		st.cmpOp = map[edn.Symbol]byte{"<": '<', ">": '>', "<=": 'l', ">=": 'g'}[x.fn]
	}
	if st.user == nil {
		st.fn = builtins[x.fn]
		if st.fn == nil {
			if x.fn == "fulltext" {
				return nil, errorf(x.form, ErrUnknownFunction, "fulltext is not supported")
			}
			return nil, errorf(x.form, ErrUnknownFunction, "%s", x.fn)
		}
	}
	st.argSrc = make([]any, len(x.args))
	for i, a := range x.args {
		if a.kind == termSrc {
			s, ok := ex.sources[sc.src(a.name)]
			if !ok {
				return nil, errorf(x.form, ErrMissingSource, "%s is not bound by :in", a.name)
			}
			st.argSrc[i] = s
		}
	}
	return st, nil
}

// planScan returns a step for a pattern, or or rule call, with its cost.
func (ex *exec) planScan(c clause, sc *scope, bound []bool) (*step, bool, error) {
	switch x := c.(type) {
	case *patternClause:
		st, err := ex.patternStep(x, sc, bound)
		return st, err == nil, err
	case *orClause:
		if _, ok := slotsBound(x.required, bound); !ok {
			return nil, false, nil
		}
		st := &step{kind: stepOr, c: x, join: x.join, est: 100000}
		inner := make([]bool, len(bound))
		for _, s := range x.join {
			if bound[s] {
				st.joinBound = append(st.joinBound, s)
				inner[s] = true
				st.est = 50
			} else {
				st.joinFree = append(st.joinFree, s)
			}
		}
		for _, br := range x.branches {
			sub, err := ex.plan(br, sc, inner)
			if err != nil {
				return nil, false, err
			}
			markLive(sub, inner, maskOf(len(bound), x.join), nil)
			after := append([]bool(nil), inner...)
			for _, s := range sub {
				s.binds(after)
			}
			if s, ok := slotsBound(st.joinFree, after); !ok {
				return nil, false, errorf(x.form, ErrUnboundVariable, "a branch of or does not bind %s", sc.names[s])
			}
			st.sub = append(st.sub, sub)
		}
		return st, true, nil
	case *ruleCall:
		st, ready, err := ex.ruleStep(x, sc, bound)
		return st, ready, err
	}
	return nil, false, nil
}

// patternStep resolves the constants of a data pattern and decides how it
// will be scanned given the bound variables.
func (ex *exec) patternStep(pc *patternClause, sc *scope, bound []bool) (*step, error) {
	srcName := sc.src(pc.src)
	src, ok := ex.sources[srcName]
	if !ok {
		return nil, errorf(pc.form, ErrMissingSource, "%s is not bound by :in", srcName)
	}
	st := &step{kind: stepPattern, c: pc, src: src}
	seen := map[int]bool{}
	for i, t := range pc.terms {
		switch t.kind {
		case termBlank:
			st.pos[i] = pos{kind: posBlank}
		case termConst:
			st.pos[i] = pos{kind: posConst, val: t.val}
		case termVar:
			switch {
			case bound[t.slot] && hasScalar(sc, t.slot):
				// A scalar input is one value for every row: a constant.
				st.pos[i] = pos{kind: posConst, val: sc.scalars[t.slot]}
			case bound[t.slot]:
				st.pos[i] = pos{kind: posBound, slot: t.slot}
			case seen[t.slot]:
				st.pos[i] = pos{kind: posSame, slot: t.slot}
			default:
				st.pos[i] = pos{kind: posFree, slot: t.slot}
				seen[t.slot] = true
			}
		}
	}
	for i := len(pc.terms); i < 5; i++ {
		st.pos[i] = pos{kind: posAbsent}
	}
	known := func(i int) bool { return st.pos[i].kind == posConst || st.pos[i].kind == posBound }
	if cs, ok := src.(*collSrc); ok {
		n := len(cs.tuples)
		for i := range st.pos {
			if known(i) {
				n /= 4
			}
		}
		st.est = n + 1
		st.hash = anyBound(st)
		return st, nil
	}
	d := src.(*dbSrc)
	if d.s.IsHistory() && len(pc.terms) == 5 {
		// fine: the fifth position is the added flag
	} else if len(pc.terms) == 5 {
		return nil, errorf(pc.form, ErrMalformed, "the fifth position (added) needs a history source")
	}
	// Resolve constants.
	if st.pos[1].kind == posConst {
		st.attr = d.attr(st.pos[1].val)
		if st.attr == nil {
			st.empty = true
		} else {
			st.pos[1].val = st.attr.ID
		}
	}
	if st.pos[0].kind == posConst {
		if id, ok := d.entity(ex, st.pos[0].val); ok {
			st.pos[0].val = id
		} else {
			st.empty = true
		}
	}
	if st.pos[2].kind == posConst && st.attr != nil && st.attr.IsRef() {
		if id, ok := d.entity(ex, st.pos[2].val); ok {
			st.pos[2].val = id
		} else {
			st.empty = true
		}
	}
	if st.pos[3].kind == posConst {
		if _, ok := st.pos[3].val.(int64); !ok {
			st.empty = true
		}
	}
	// Duplicates appear when a blank or missing position is projected away
	// from datoms that differ only there.
	for i := 0; i < 3; i++ {
		if k := st.pos[i].kind; k == posBlank || k == posAbsent {
			st.dedup = true
		}
	}
	if d.s.IsHistory() && (st.pos[3].kind == posBlank || st.pos[3].kind == posAbsent || st.pos[4].kind == posBlank || st.pos[4].kind == posAbsent) {
		st.dedup = true
	}
	if st.empty {
		st.est = 0
		return st, nil
	}
	// Choose the access path and estimate.
	indexedAttr := st.attr != nil && (st.attr.Indexed() || st.attr.IsRef())
	switch {
	case st.pos[0].kind == posConst:
		st.est = 1
		if st.attr == nil {
			st.est = 20
		}
	case st.pos[0].kind == posBound:
		st.lookup = true
		st.est = 2
		if st.attr != nil && st.pos[1].kind == posConst {
			st.attrCount = ex.countAttr(d, datom.AEVT, st.attr.ID, 0)
			if st.pos[2].kind == posConst && st.attr.Indexed() && !st.attr.IsRef() {
				st.valCount = -1
			}
		}
		switch {
		case st.attr == nil:
			st.est = 20
		case st.pos[2].kind == posConst || st.pos[2].kind == posBound:
			st.est = 1 // a filter: run it before lookups that add values
		}
	case st.attr != nil && st.pos[2].kind == posConst:
		base := ex.countAttr(d, datom.AEVT, st.attr.ID, 10000)
		switch {
		case st.attr.Indexed():
			st.est = ex.count(d, datom.AVET, []any{st.attr.ID, st.pos[2].val}, 10)
		case st.attr.IsRef():
			st.est = ex.count(d, datom.VAET, []any{st.pos[2].val, st.attr.ID}, 10)
		default:
			st.est = base/4 + 1
			st.scanLen = base
		}
	case st.attr != nil && st.pos[2].kind == posBound:
		if indexedAttr {
			st.lookup = true
			st.est = 5
		} else {
			st.hash = true
			st.est = ex.countAttr(d, datom.AEVT, st.attr.ID, 10000)
		}
	case st.attr != nil:
		st.est = ex.countAttr(d, datom.AEVT, st.attr.ID, 10000)
		if st.pos[1].kind == posBound {
			st.lookup = true
		}
	default:
		st.est = ex.count(d, datom.EAVT, nil, 1000000)
		if st.pos[1].kind == posBound && st.pos[0].kind != posBound {
			st.lookup = true // the attribute comes from each row
			st.est /= 10
		} else if anyBound(st) {
			st.hash = true
		}
	}
	if !st.lookup && !st.hash && anyBound(st) {
		st.hash = true
	}
	return st, nil
}

func anyBound(st *step) bool {
	for _, p := range st.pos {
		if p.kind == posBound {
			return true
		}
	}
	return false
}

// pushRange looks for comparisons of the pattern's free value variable
// against a constant among the remaining clauses and, when the attribute
// is in AVET, scans only that range. It returns the comparisons the range
// implements exactly, which need not run as filters: those on a long or
// instant attribute, whose values all have that type (a strict bound
// becomes the next value, so the range is exact). Other comparisons stay
// as filters (a string's strict bound, and a double's NaN, are not a range
// of the index).
func (ex *exec) pushRange(st *step, remaining []clause, sc *scope) (absorbed []clause) {
	if _, ok := st.src.(*dbSrc); !ok || st.attr == nil || !st.attr.Indexed() || st.pos[2].kind != posFree || st.pos[0].kind == posConst || st.pos[0].kind == posBound {
		return nil
	}
	v := st.pos[2].slot
	for _, c := range remaining {
		fc, ok := c.(*fnClause)
		if !ok || fc.bind != nil || len(fc.args) != 2 {
			continue
		}
		op := string(fc.fn)
		if op != "<" && op != ">" && op != "<=" && op != ">=" {
			continue
		}
		a, b := fc.args[0], fc.args[1]
		var other term
		switch {
		case a.kind == termVar && a.slot == v:
			other = b
		case b.kind == termVar && b.slot == v:
			other = a
			op = map[string]string{"<": ">", ">": "<", "<=": ">=", ">=": "<="}[op]
		default:
			continue
		}
		var val any
		switch other.kind {
		case termConst:
			val = other.val
		case termVar:
			x, ok := sc.scalars[other.slot]
			if !ok {
				continue
			}
			val = x
		default:
			continue
		}
		if !sameFamily(st.attr.ValueType, val) {
			continue
		}
		exact := false
		switch x := val.(type) {
		case int64:
			switch {
			case op == ">" && x < math.MaxInt64:
				val, op, exact = x+1, ">=", true
			case op == "<" && x > math.MinInt64:
				val, op, exact = x-1, "<=", true
			case op == ">=" || op == "<=":
				exact = true
			}
		case time.Time:
			switch op {
			case ">":
				val, op = x.Add(time.Nanosecond), ">="
			case "<":
				val, op = x.Add(-time.Nanosecond), "<="
			}
			exact = true
		}
		if exact && !st.hash && !st.lookup {
			// (A hash join or a lookup reads the attribute, not the
			// range: there the comparison stays a filter.)
			absorbed = append(absorbed, c)
			st.absorbed = append(st.absorbed, fc)
		}
		switch op {
		case ">", ">=":
			if st.rangeLo == nil || compareValues(val, st.rangeLo) > 0 {
				st.rangeLo = val
			}
		default:
			if st.rangeHi == nil || compareValues(val, st.rangeHi) < 0 {
				st.rangeHi = val
			}
		}
		st.hasRange = true
	}
	if st.hasRange {
		st.est = st.est/3 + 1
	}
	return absorbed
}

// rangeEnd is the exclusive end IndexRange takes for the inclusive upper
// bound hi of a pushed-down range: the value just above hi in the index
// order, when there is one (longs, instants, strings, keywords, doubles).
// The source can then stop its scan where the range ends, rather than at
// the attribute's end, and not read the leaf after it. nil otherwise (the
// largest long, NaN, other types): the scan's callback stops at the first
// value past hi.
func rangeEnd(hi any) any {
	switch v := hi.(type) {
	case int64:
		if v < math.MaxInt64 {
			return v + 1
		}
	case time.Time:
		return v.Add(time.Nanosecond)
	case string:
		// Strings sort by their bytes: nothing lies between s and s+"\x00".
		return v + "\x00"
	case edn.Keyword:
		// Keywords sort by namespace, then name: a zero byte appended to
		// the name keeps the namespace, and no name lies between.
		return v + "\x00"
	case float64:
		if v == 0 {
			// -0.0 and 0.0 are equal to a predicate (compareDoubles)
			// and apart in the index: the range takes both.
			v = 0
		}
		return nextDouble(v)
	}
	return nil
}

// rangeStart is the start IndexRange takes for the lower bound lo of a
// pushed-down range: lo itself, except that a zero double starts at -0.0,
// which the index puts just below 0.0 and a predicate holds equal to it.
func rangeStart(lo any) any {
	if f, ok := lo.(float64); ok && f == 0 {
		return math.Copysign(0, -1)
	}
	return lo
}

// nextDouble is the double just above f in the index order (Java's
// Double.compare: -0.0 below 0.0, NaN above +Inf, every NaN equal), or nil
// for NaN. It steps the order's key, not the number: math.Nextafter would
// skip 0.0 above -0.0.
func nextDouble(f float64) any {
	switch {
	case f != f:
		return nil
	case math.IsInf(f, 1):
		return math.NaN()
	}
	b := math.Float64bits(f)
	switch {
	case b == 1<<63: // -0.0
		return 0.0
	case b&(1<<63) != 0: // negative: one step towards zero
		b--
	default:
		b++
	}
	return math.Float64frombits(b)
}

// sameFamily reports whether v has the Go type attributes of type vt hold,
// so that a range over v agrees with the index order.
func sameFamily(vt datom.ValueType, v any) bool {
	switch v.(type) {
	case int64:
		return vt == datom.TypeLong
	case float64:
		return vt == datom.TypeDouble
	case string:
		return vt == datom.TypeString
	case edn.Keyword:
		return vt == datom.TypeKeyword
	case time.Time:
		return vt == datom.TypeInstant
	}
	return false
}

func hasScalar(sc *scope, slot int) bool {
	if sc.scalars == nil {
		return false
	}
	_, ok := sc.scalars[slot]
	return ok
}

// markLive sets step.live where a variable dies: bound before or by the
// step, but used neither by a later step nor by needed (the :find and
// :with variables, a rule's head, a not/or's join).
//
// single marks variables that hold one value in every row (bound by scalar
// or tuple inputs; nil for none): their death does not call for
// deduplication, since no two rows differ there.
func markLive(steps []*step, bound0 []bool, needed []bool, single []bool) {
	n := max(len(bound0), len(needed))
	// usedAfter[i]: the variables used by steps after i, plus needed (one
	// allocation for all of them: short queries plan on every call).
	usedAfter := make([][]bool, len(steps))
	flat := make([]bool, (len(steps)+2)*n)
	acc := flat[:n:n]
	copy(acc, needed)
	for i := len(steps) - 1; i >= 0; i-- {
		usedAfter[i] = flat[(i+1)*n : (i+2)*n : (i+2)*n]
		copy(usedAfter[i], acc)
		clauseVars(steps[i].c, func(s int) { acc[s] = true })
		for _, f := range steps[i].filters {
			clauseVars(f.c, func(s int) { acc[s] = true })
		}
	}
	bound := flat[(len(steps)+1)*n:]
	copy(bound, bound0)
	// The live lists are cut from one block (at most n each).
	block := make([]int, 0, len(steps)*n)
	for i, st := range steps {
		st.binds(bound)
		dead := false
		live := block[len(block):len(block)]
		for s := 0; s < n; s++ {
			if !bound[s] {
				continue
			}
			if usedAfter[i][s] {
				live = append(live, s)
			} else if single == nil || !single[s] {
				dead = true
			}
		}
		if dead && st.kind != stepPred && st.kind != stepNot {
			st.live = live[:len(live):len(live)] // (never nil: set means project)
			block = block[:len(block)+len(live)]
		}
	}
}

func valueTerm(t term) bool { return t.kind == termVar || t.kind == termConst }

// fuseLongRange narrows st's int64 value range by f, a predicate just fused
// into pattern step st, when f compares st's free value variable with an
// int64 constant or scalar input: [(> ?v 5)] means ?v >= 6. Values of
// other types are left to the filter itself, so the range never changes
// an answer.
func fuseLongRange(st *step, f *step, sc *scope) {
	if f.cmpOp == 0 || st.pos[2].kind != posFree {
		return
	}
	v := st.pos[2].slot
	a, b := f.args[0], f.args[1]
	op := f.cmpOp
	var other term
	switch {
	case a.kind == termVar && a.slot == v:
		other = b
	case b.kind == termVar && b.slot == v:
		other = a
		op = map[byte]byte{'<': '>', '>': '<', 'l': 'g', 'g': 'l'}[op]
	default:
		return
	}
	var x any
	switch {
	case other.kind == termConst:
		x = other.val
	case other.kind == termVar && hasScalar(sc, other.slot):
		x = sc.scalars[other.slot]
	default:
		return
	}
	n, ok := x.(int64)
	if !ok {
		return
	}
	if !st.hasLongRange {
		st.longLo, st.longHi, st.hasLongRange = math.MinInt64, math.MaxInt64, true
	}
	switch op {
	case '>':
		if n == math.MaxInt64 {
			st.longLo, st.longHi = 1, 0 // empty
			return
		}
		st.longLo = max(st.longLo, n+1)
	case 'g':
		st.longLo = max(st.longLo, n)
	case '<':
		if n == math.MinInt64 {
			st.longLo, st.longHi = 1, 0
			return
		}
		st.longHi = min(st.longHi, n-1)
	case 'l':
		st.longHi = min(st.longHi, n)
	}
}
