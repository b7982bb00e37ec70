package query

// Right-linear factoring. A table whose adornment binds some arguments,
// and whose every body that calls the rule again does so last, with the
// same arguments bound and its free arguments passed straight through to
// the head's (r ?x ?y ← … (r ?t ?y)), answers a seed s with the union of
// what its other ("base") bodies give for every seed reachable from s
// through those calls. Magic seeding alone derives the answers of every
// reachable seed as well, the closure of the whole reachable part (n²/2
// pairs along a chain of n nodes, for the n answers of its first node);
// factored, the table records the calls as edges between seeds, the base
// answers per seed, and gives each seed a caller asked about (an external
// seed) the base answers of the seeds it reaches, maintained as edges and
// base answers arrive. Its results, the only ones other tables see, are
// those of external seeds, as before.

// factoring is the state of a factored table (ruleTable.fac).
type factoring struct {
	ext      []bool     // per seed: asked about by a caller other than the table's own recursive calls
	succ     pairs      // per seed: the seeds its recursive calls ask about
	base     tupleStore // base answers: head tuples of the bodies without the recursive call
	baseSet  rowHash
	baseOf   pairs                  // per seed: its base answers
	visitors pairs                  // per seed: the external seeds that reach it
	stack    [][2]int32             // reused by visit
	self     map[*bodyPlan]struct{} // the bodies ending in the recursive call
}

// factor decides whether t can be factored (see above) and prepares it.
func factor(t *ruleTable) *factoring {
	if len(t.boundPos) == 0 {
		return nil
	}
	f := &factoring{self: map[*bodyPlan]struct{}{}}
	for _, bp := range t.bodies {
		if bp.naive {
			return nil
		}
		d := bp.def
		for i, s := range bp.steps {
			if s.kind != stepRule || s.key.name != t.key.name || s.key.src != t.key.src {
				continue
			}
			if s.key != t.key || i != len(bp.steps)-1 {
				return nil
			}
			seen := map[int]bool{}
			for p, a := range s.call.args {
				if t.key.adorn&(1<<p) != 0 {
					continue
				}
				if a.kind != termVar || s.argBound[p] || a.slot != d.head[p] || seen[a.slot] {
					return nil
				}
				seen[a.slot] = true
			}
			f.self[bp] = struct{}{}
		}
	}
	if len(f.self) == 0 {
		return nil
	}
	f.base.arity = t.res.arity
	return f
}

// grow extends the per-seed slices to n seeds.
func (f *factoring) grow(n int) {
	for len(f.ext) < n {
		f.ext = append(f.ext, false)
	}
	f.succ.grow(n)
	f.baseOf.grow(n)
	f.visitors.grow(n)
}

// seedOf returns the index of the seed whose values are tuple's at t's
// bound positions (tuple: a head tuple), adding it if new.
func (re *ruleEval) seedOf(t *ruleTable, vals []any) int32 {
	h := hashVals(vals, &re.hbuf)
	k, found := t.seedSet.find(&t.seeds, t.seedPos, h, vals)
	if found {
		return t.seedSet.row(k)
	}
	j := int32(t.seeds.n)
	t.seedSet.insert(k, h, j)
	t.seeds.add(vals)
	t.fac.grow(t.seeds.n)
	return j
}

// headSeed is seedOf for the bound positions of a head tuple.
func (re *ruleEval) headSeed(t *ruleTable, tuple []any) int32 {
	vals := re.hvals[:0]
	for _, p := range t.boundPos {
		vals = append(vals, tuple[p])
	}
	re.hvals = vals
	return re.seedOf(t, vals)
}

// pairs is a set of pairs (a, b) of int32, kept as a linked list per a
// in flat slices (nothing allocated per a); a list is searched while it
// is short, and a map holds the pairs of the lists that grew long.
type pairs struct {
	head []int32 // per a: its last pair, -1: none
	size []int32 // per a: its number of pairs
	next []int32 // per pair: the pair before it with the same a
	val  []int32 // per pair: b
	long map[[2]int32]struct{}
}

const shortPairs = 16

// grow extends the set to first elements below n.
func (ps *pairs) grow(n int) {
	for len(ps.head) < n {
		ps.head = append(ps.head, -1)
		ps.size = append(ps.size, 0)
	}
}

func (ps *pairs) has(a, b int32) bool {
	if ps.size[a] <= shortPairs {
		for i := ps.head[a]; i >= 0; i = ps.next[i] {
			if ps.val[i] == b {
				return true
			}
		}
		return false
	}
	_, ok := ps.long[[2]int32{a, b}]
	return ok
}

// add adds (a, b), which must not be in the set.
func (ps *pairs) add(a, b int32) {
	ps.val = append(ps.val, b)
	ps.next = append(ps.next, ps.head[a])
	ps.head[a] = int32(len(ps.val) - 1)
	ps.size[a]++
	switch {
	case ps.size[a] == shortPairs+1:
		if ps.long == nil {
			ps.long = map[[2]int32]struct{}{}
		}
		for i := ps.head[a]; i >= 0; i = ps.next[i] {
			ps.long[[2]int32{a, ps.val[i]}] = struct{}{}
		}
	case ps.size[a] > shortPairs+1:
		ps.long[[2]int32{a, b}] = struct{}{}
	}
}

// external marks seed s as asked about by a caller.
func (re *ruleEval) external(t *ruleTable, s int32) {
	f := t.fac
	f.grow(t.seeds.n)
	if f.ext[s] {
		return
	}
	f.ext[s] = true
	re.visit(t, s, s)
}

// visit records that external seed e reaches seed s, and what follows:
// e gets s's base answers, and reaches s's successors.
func (re *ruleEval) visit(t *ruleTable, e, s int32) {
	f := t.fac
	f.stack = append(f.stack[:0], [2]int32{e, s})
	for len(f.stack) > 0 {
		v := f.stack[len(f.stack)-1]
		f.stack = f.stack[:len(f.stack)-1]
		if f.visitors.has(v[1], v[0]) {
			continue
		}
		f.visitors.add(v[1], v[0])
		for i := f.baseOf.head[v[1]]; i >= 0; i = f.baseOf.next[i] {
			re.emit(t, v[0], f.baseOf.val[i])
		}
		for i := f.succ.head[v[1]]; i >= 0; i = f.succ.next[i] {
			f.stack = append(f.stack, [2]int32{v[0], f.succ.val[i]})
		}
	}
}

// addEdge records that seed s's recursive calls ask about seed n.
func (re *ruleEval) addEdge(t *ruleTable, s, n int32) {
	f := t.fac
	if f.succ.has(s, n) {
		return
	}
	f.succ.add(s, n)
	for i := f.visitors.head[s]; i >= 0; i = f.visitors.next[i] {
		re.visit(t, f.visitors.val[i], n)
	}
}

// addBase records a head tuple of a base body of t: an answer of its seed,
// and so of every external seed that reaches it.
func (re *ruleEval) addBase(t *ruleTable, tuple []any) {
	f := t.fac
	h := hashVals(tuple, &re.hbuf)
	k, found := f.baseSet.find(&f.base, t.allPos, h, tuple)
	if found {
		return
	}
	b := int32(f.base.n)
	f.baseSet.insert(k, h, b)
	f.base.add(tuple)
	s := re.headSeed(t, tuple)
	f.baseOf.add(s, b)
	for i := f.visitors.head[s]; i >= 0; i = f.visitors.next[i] {
		re.emit(t, f.visitors.val[i], b)
	}
}

// emit adds the result of external seed e for base answer b: e's values
// at the bound positions, b's at the free ones.
func (re *ruleEval) emit(t *ruleTable, e, b int32) {
	seed, ans := t.seeds.row(int(e)), t.fac.base.row(int(b))
	tuple := append(re.ftuple[:0], ans...)
	for j, p := range t.boundPos {
		tuple[p] = seed[j]
	}
	re.ftuple = tuple
	re.addResult(t, tuple)
}

// addHead records a head tuple derived by a body of t.
func (re *ruleEval) addHead(t *ruleTable, tuple []any) {
	if t.fac != nil {
		re.addBase(t, tuple)
		return
	}
	re.addResult(t, tuple)
}

// passThrough handles the rows cur of a factored table's body that ends
// in its recursive call last: each row links its seed to the seed the
// call asks about.
func (re *ruleEval) passThrough(t *ruleTable, bp *bodyPlan, last *step, cur *rel) {
	d := bp.def
	args := last.call.args
	from := make([]any, len(t.boundPos))
	to := make([]any, len(t.boundPos))
	for i := 0; i < cur.n; i++ {
		row := cur.row(i)
		for j, p := range t.boundPos {
			from[j] = row[d.head[p]]
			to[j] = argValue(&args[p], row)
		}
		s := re.seedOf(t, from)
		n := re.seedOf(t, to)
		re.addEdge(t, s, n)
	}
}
