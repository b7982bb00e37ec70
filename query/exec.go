package query

import (
	"context"
	"fmt"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
)

// Options tunes one evaluation. The zero value means: built-in functions
// only, no row limit.
type Options struct {
	// Funcs holds user functions and aggregates; nil means none.
	Funcs *Funcs
	// MaxRows bounds the rows of any intermediate relation; a query that
	// exceeds it fails with ErrLimit. 0 means no limit.
	MaxRows int
}

// Validate reports options that cannot be used: a negative MaxRows.
func (o Options) Validate() error {
	if o.MaxRows < 0 {
		return &Error{Err: fmt.Errorf("%w: Options.MaxRows is negative (%d)", ErrInput, o.MaxRows)}
	}
	return nil
}

// Relation is the result of a relation :find: a set of tuples (no two are
// equal), each holding the :find elements in order. Its order is
// unspecified but deterministic for a given query, inputs and data. With
// :with and no aggregate it is a bag, as in Datomic.
type Relation [][]any

// Q evaluates query q (a *Query, EDN text or an EDN value) against inputs,
// which bind the :in elements in order; without :in the query reads one
// source, $, the first input. A Source binds a $name; a slice of tuples
// may also bind a $name and is then matched positionally by patterns.
// Rule sets bind % (EDN text, an EDN vector or *Rules). Other inputs are
// Go or EDN values bound to scalars, tuples, collections and relations.
//
// The result is Relation for a relation :find, []any for a collection or a
// tuple (nil when there is no result), any for a scalar (nil when none),
// and []map[edn.Keyword]any, []map[string]any or []map[edn.Symbol]any with
// :keys, :strs, :syms. Values are typed as stored: entity ids are int64,
// attribute variables bind ident keywords.
//
// Q checks ctx between steps and inside scans and fixpoint iterations, and
// returns ctx.Err() (wrapped) when it is done.
func Q(ctx context.Context, q any, inputs ...any) (any, error) {
	return QWith(ctx, Options{}, q, inputs...)
}

// QWith is Q with options (user functions, limits).
func QWith(ctx context.Context, opts Options, q any, inputs ...any) (any, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	pq, err := Parse(q)
	if err != nil {
		return nil, err
	}
	ex := newExec(ctx, opts)
	start, sc, err := ex.bindInputs(pq, inputs)
	if err != nil {
		return nil, err
	}
	bound0 := boundOf(pq, start, sc)
	steps, err := ex.plan(pq.where, sc, bound0)
	if err != nil {
		return nil, err
	}
	needed := pq.needed()
	markLive(steps, bound0, needed, singleValued(pq, sc.width()))
	out, err := ex.run(steps, start)
	if err != nil {
		return nil, err
	}
	ex.distinct = ex.rowsDistinct(pq, steps, bound0, needed)
	res, err := ex.find(pq, out)
	ex.release()
	return res, err
}

// exec is the state of one evaluation. It is used by one goroutine only.
type exec struct {
	ctx      context.Context
	opts     Options
	sources  map[edn.Symbol]any // *dbSrc or *collSrc
	rules    *Rules
	re       *ruleEval // the fixpoint being computed, if any
	negDepth int
	counts   map[countKey]int
	counts1  map[countKey1]int // counts on one int64 component
	keybuf   []byte
	seen     keySet // distinctOn's set, reused
	ticks    int
	distinct bool // the final relation has no two rows equal on :find+:with
	// spare holds cleared row buffers of relations that died in run, for
	// later pattern steps to fill (see takeRows): a join of thousands of
	// rows then reuses its input's room two steps later instead of
	// allocating, and the collector runs less often.
	spare [][]any
	ints  intBox // boxes of the ids scans bind
}

// maxSpare is how many row buffers an evaluation keeps for reuse.
const maxSpare = 2

// takeRows returns an empty row buffer with room for n values: a spare
// one if one is big enough, a new one otherwise.
func (ex *exec) takeRows(n int) []any {
	for i, b := range ex.spare {
		if cap(b) >= n {
			ex.spare = append(ex.spare[:i], ex.spare[i+1:]...)
			return b[:0]
		}
	}
	return getRows(n)
}

// release hands the evaluation's spare row buffers to the pools for the
// next evaluation (see rowpool.go). ex MUST NOT be used after.
func (ex *exec) release() {
	for _, b := range ex.spare {
		putRows(b)
	}
	ex.spare = nil
}

// recycle keeps r's row buffer for takeRows, cleared (it must not keep
// values alive, and takeRows hands out zeroed room), and empties r. r
// MUST NOT be referenced by anything any more.
func (ex *exec) recycle(r *rel) {
	b := r.data
	r.data, r.n = nil, 0
	if cap(b) < 256 {
		return
	}
	if len(ex.spare) < maxSpare {
		clear(b)
		ex.spare = append(ex.spare, b[:0])
		return
	}
	// Keep the bigger ones; the smaller go to the pools.
	for i, x := range ex.spare {
		if cap(x) < cap(b) {
			clear(b)
			ex.spare[i] = b[:0]
			b = x
			break
		}
	}
	putRows(b)
}

// singleValued marks the variables bound by scalar and tuple inputs: one
// value for the whole query.
func singleValued(q *Query, width int) []bool {
	single := make([]bool, width)
	for _, in := range q.in {
		if in.kind != inScalar && in.kind != inTuple {
			continue
		}
		for _, t := range in.terms {
			if t.kind == termVar {
				single[t.slot] = true
			}
		}
	}
	return single
}

// rowsDistinct reports whether the plan's result has no duplicate rows
// when projected on :find and :with, so find need not deduplicate. Every
// step keeps distinct input rows distinct: a pattern yields each datom
// once per row and binds or checks every position that tells datoms of
// a current (non-history) value apart (st.dedup covers the rest), and
// functions, or, rules and early projection deduplicate their own
// output. So it holds when the input is one row or a product of
// single-row bindings (no collection or relation inputs, which may repeat
// values), no source is a history (whose datoms may repeat a fact), and
// every variable the plan binds is in :find or :with (nothing is
// projected away), and no rule call passes _ (results differing there
// would collapse).
func (ex *exec) rowsDistinct(q *Query, steps []*step, bound0, needed []bool) bool {
	for _, in := range q.in {
		if in.kind == inColl || in.kind == inRel {
			return false
		}
	}
	for _, s := range ex.sources {
		d, ok := s.(*dbSrc)
		if !ok || d.s.IsHistory() {
			return false
		}
	}
	// Variables bound by the inputs hold one value each (scalars and
	// tuples): they cannot tell rows apart, so they need not be found.
	bound := make([]bool, len(bound0))
	for _, st := range steps {
		if st.kind == stepRule {
			// A rule's results that differ only under a _ argument
			// collapse into equal rows.
			for _, a := range st.call.args {
				if a.kind == termBlank {
					return false
				}
			}
		}
		st.binds(bound)
	}
	for i, b := range bound {
		if b && !needed[i] {
			return false
		}
	}
	return true
}

func newExec(ctx context.Context, opts Options) *exec {
	return &exec{ctx: ctx, opts: opts, sources: map[edn.Symbol]any{}}
}

// checkCtxN is checkCtx for n steps of an inner loop at once: it consults
// ctx when the count passes a multiple of 4096 (and for n == 0).
func (ex *exec) checkCtxN(n int) error {
	t := ex.ticks
	ex.ticks += n
	if n != 0 && t>>12 == ex.ticks>>12 {
		return nil
	}
	if err := ex.ctx.Err(); err != nil {
		return fmt.Errorf("query: %w", err)
	}
	return nil
}

// checkCtx is called in inner loops; it consults ctx every 4096 calls.
func (ex *exec) checkCtx() error {
	ex.ticks++
	if ex.ticks&4095 != 0 {
		return nil
	}
	if err := ex.ctx.Err(); err != nil {
		return fmt.Errorf("query: %w", err)
	}
	return nil
}

// scope describes the variable space a plan is built for.
type scope struct {
	names   []edn.Symbol
	scalars map[int]any // slots bound to one known value (scalar inputs)
	srcOf   edn.Symbol  // what $ means here (rule bodies called with $x)
}

func (sc *scope) width() int { return len(sc.names) }

func (sc *scope) src(name edn.Symbol) edn.Symbol {
	if name == "$" && sc.srcOf != "" {
		return sc.srcOf
	}
	return name
}

// rel is an intermediate relation: n rows of width values, flattened.
// Which slots are bound is known to the plan, not stored here.
type rel struct {
	width int
	n     int
	data  []any
	// want, when set, is the number of rows r is expected to reach: the
	// next growth makes room for them at once instead of doubling.
	want int
	// owned: nothing but r refers to its buffer while it is filled (a
	// pattern step's output), so growing it may pool the old buffer.
	owned bool
}

func unitRel(width int) *rel { return &rel{width: width, n: 1, data: make([]any, width)} }

func (r *rel) row(i int) []any { return r.data[i*r.width : (i+1)*r.width : (i+1)*r.width] }

// push appends a copy of src (or an empty row if src is nil) and returns it.
// An empty row needs no clearing: a relation's room past its rows is
// always zero (buffers come zeroed, from make or cleared from the pools,
// grow copies only the rows, and pop clears the row it removes).
func (r *rel) push(src []any) []any {
	if len(r.data)+r.width > cap(r.data) {
		r.grow()
	}
	n := len(r.data)
	r.data = r.data[:n+r.width]
	if src != nil {
		copy(r.data[n:], src)
	}
	r.n++
	return r.data[n : n+r.width : n+r.width]
}

// grow doubles r's room. append grows large slices by a quarter at a
// time, which for a scan that finds thousands of rows means copying them
// over and over.
func (r *rel) grow() {
	d := getRows(max(2*cap(r.data), 4*r.width, r.want*r.width))[:len(r.data)]
	copy(d, r.data)
	if r.owned {
		putRows(r.data)
	}
	r.data = d
}

// pop removes the last row.
func (r *rel) pop() {
	r.n--
	clear(r.data[r.n*r.width:])
	r.data = r.data[:r.n*r.width]
}

func boundOf(q *Query, start *rel, sc *scope) []bool {
	b := make([]bool, sc.width())
	for _, in := range q.in {
		for _, t := range in.terms {
			if t.kind == termVar {
				b[t.slot] = true
			}
		}
	}
	return b
}

// bindInputs turns the inputs into sources, rules and the starting
// relation (the product of the input bindings).
func (ex *exec) bindInputs(q *Query, inputs []any) (*rel, *scope, error) {
	sc := &scope{names: q.vars.names, scalars: map[int]any{}}
	if q.defaultIn {
		if len(inputs) > 1 {
			return nil, nil, errorf(nil, ErrArity, "query has no :in but got %d inputs", len(inputs))
		}
		if len(inputs) == 1 {
			if err := ex.bindSource("$", inputs[0]); err != nil {
				return nil, nil, err
			}
		}
		return unitRel(sc.width()), sc, nil
	}
	if len(inputs) != len(q.in) {
		return nil, nil, errorf(nil, ErrArity, ":in has %d elements but got %d inputs", len(q.in), len(inputs))
	}
	cur := unitRel(sc.width())
	bound := make([]bool, sc.width())
	for i, in := range q.in {
		v := inputs[i]
		switch in.kind {
		case inBlank:
			continue
		case inSrc:
			if err := ex.bindSource(in.name, v); err != nil {
				return nil, nil, err
			}
			continue
		case inRules:
			r, err := ParseRules(v)
			if err != nil {
				return nil, nil, err
			}
			ex.rules = r
			continue
		}
		rows, err := inputRows(in, normalize(v))
		if err != nil {
			return nil, nil, err
		}
		if in.kind == inScalar && in.terms[0].kind == termVar {
			sc.scalars[in.terms[0].slot] = rows[0][0]
		}
		cur = product(cur, in.terms, rows, bound)
		for _, t := range in.terms {
			if t.kind == termVar {
				bound[t.slot] = true
			}
		}
	}
	return cur, sc, nil
}

func (ex *exec) bindSource(name edn.Symbol, v any) error {
	switch s := v.(type) {
	case Source:
		ex.sources[name] = newDBSrc(s)
		return nil
	case nil:
		return errorf(name, ErrInput, "source is nil")
	}
	xs, ok := asSeq(v)
	if !ok {
		return errorf(name, ErrInput, "a source is a Source or a collection of tuples, got %T", v)
	}
	cs := &collSrc{tuples: make([][]any, 0, len(xs))}
	for _, x := range xs {
		t, ok := asSeq(x)
		if !ok {
			return errorf(name, ErrInput, "a collection source holds tuples, got %T", x)
		}
		for i := range t {
			t[i] = normalize(t[i])
		}
		cs.tuples = append(cs.tuples, t)
	}
	ex.sources[name] = cs
	return nil
}

// inputRows converts an input value into the rows its binding form binds.
func inputRows(in inBinding, v any) ([][]any, error) {
	switch in.kind {
	case inScalar:
		return [][]any{{v}}, nil
	case inTuple:
		t, ok := asSeq(v)
		if !ok || len(t) != len(in.terms) {
			return nil, errorf(in.form, ErrInput, "want a tuple of %d values, got %s", len(in.terms), qString(v))
		}
		return [][]any{normalizeAll(t)}, nil
	case inColl:
		xs, ok := asSeq(v)
		if !ok {
			return nil, errorf(in.form, ErrInput, "want a collection, got %T", v)
		}
		rows := make([][]any, len(xs))
		for i, x := range xs {
			rows[i] = []any{normalize(x)}
		}
		return rows, nil
	case inRel:
		xs, ok := asSeq(v)
		if !ok {
			return nil, errorf(in.form, ErrInput, "want a relation, got %T", v)
		}
		rows := make([][]any, len(xs))
		for i, x := range xs {
			t, ok := asSeq(x)
			if !ok || len(t) != len(in.terms) {
				return nil, errorf(in.form, ErrInput, "want tuples of %d values, got %s", len(in.terms), qString(x))
			}
			rows[i] = normalizeAll(t)
		}
		return rows, nil
	}
	return nil, errorf(in.form, ErrInput, "unsupported binding")
}

func normalizeAll(t []any) []any {
	out := make([]any, len(t))
	for i, x := range t {
		out[i] = normalize(x)
	}
	return out
}

// product joins cur with rows bound to terms: a cross product, or a filter
// on variables bound already. A variable that terms name twice ([?x ?x])
// unifies: a row whose two values differ binds nothing.
func product(cur *rel, terms []term, rows [][]any, bound []bool) *rel {
	first := make([]int, len(terms)) // the first term naming the same variable
	for j, t := range terms {
		first[j] = j
		for k := range j {
			if t.kind == termVar && terms[k].kind == termVar && terms[k].slot == t.slot {
				first[j] = k
				break
			}
		}
	}
	out := &rel{width: cur.width, data: make([]any, 0, cur.n*len(rows)*cur.width)}
	for i := 0; i < cur.n; i++ {
		base := cur.row(i)
	next:
		for _, r := range rows {
			for j, t := range terms {
				if t.kind == termVar && bound[t.slot] && !valuesEqual(base[t.slot], r[j]) {
					continue next
				}
				if k := first[j]; k != j && !valuesEqual(r[k], r[j]) {
					continue next
				}
			}
			dst := out.push(base)
			for j, t := range terms {
				if t.kind == termVar {
					dst[t.slot] = r[j]
				}
			}
		}
	}
	return out
}

// dbSrc is a Source as the engine uses it, with per-query caches of
// resolved idents and lookup refs.
type dbSrc struct {
	s       Source
	schema  *datom.Schema
	counter Counter
	idents  map[datom.ID]any
	attrs   map[any]*datom.Attribute
	ents    map[string]entRes
}

type entRes struct {
	id datom.ID
	ok bool
}

func newDBSrc(s Source) *dbSrc {
	d := &dbSrc{s: s, schema: s.Schema(), idents: map[datom.ID]any{}, attrs: map[any]*datom.Attribute{}, ents: map[string]entRes{}}
	d.counter, _ = s.(Counter)
	return d
}

// identOf returns the value an attribute variable binds for attribute id a:
// its ident keyword, or the id when it has none.
func (d *dbSrc) identOf(a datom.ID) any {
	if v, ok := d.idents[a]; ok {
		return v
	}
	var v any = a
	if d.schema != nil {
		if kw, ok := d.schema.Ident(a); ok {
			v = kw
		}
	}
	d.idents[a] = v
	return v
}

// attr resolves an attribute given as an ident keyword, a string (taken as
// a keyword, as DataScript's schema-less attributes) or an id.
func (d *dbSrc) attr(v any) *datom.Attribute {
	switch v.(type) {
	case edn.Keyword, string, int64:
	default:
		return nil
	}
	if a, ok := d.attrs[v]; ok {
		return a
	}
	var a *datom.Attribute
	if d.schema != nil {
		switch x := v.(type) {
		case edn.Keyword:
			a = d.schema.AttrByIdent(x)
		case string:
			a = d.schema.AttrByIdent(edn.Keyword(x))
		case int64:
			a = d.schema.Attr(x)
		}
	}
	d.attrs[v] = a
	return a
}

// entity resolves an entity given as an id, an ident keyword or a lookup
// ref [attr value].
func (d *dbSrc) entity(ex *exec, v any) (datom.ID, bool) {
	if id, ok := v.(int64); ok {
		return id, true
	}
	switch v.(type) {
	case edn.Keyword, edn.Vector, []any, edn.List:
	default:
		return 0, false
	}
	ex.keybuf = appendKey(ex.keybuf[:0], v)
	if r, ok := d.ents[string(ex.keybuf)]; ok {
		return r.id, r.ok
	}
	key := string(ex.keybuf)
	var r entRes
	switch x := v.(type) {
	case edn.Keyword:
		if d.schema != nil {
			r.id, r.ok = d.schema.Entid(x)
		}
	default:
		ref, _ := asSeq(x)
		if len(ref) == 2 {
			if a := d.attr(ref[0]); a != nil {
				val := normalize(ref[1])
				idx, comps := datom.AEVT, []any{a.ID}
				if a.Indexed() {
					idx, comps = datom.AVET, []any{a.ID, val}
				}
				_ = d.s.Datoms(ex.ctx, idx, comps, func(dd datom.Datom) bool {
					if dd.Added && valuesEqual(dd.V, val) {
						r.id, r.ok = dd.E, true
						return false
					}
					return true
				})
			}
		}
	}
	d.ents[key] = r
	return r.id, r.ok
}

// count estimates how many datoms a scan yields; def when the source
// cannot tell.
func (ex *exec) count(d *dbSrc, idx datom.Index, comps []any, def int) int {
	if d.counter == nil {
		return def
	}
	if len(comps) == 1 {
		if a, ok := comps[0].(int64); ok {
			return ex.countAttr(d, idx, a, def)
		}
	}
	b := append(ex.keybuf[:0], byte(idx))
	for _, c := range comps {
		b = appendKey(b, c)
	}
	key := countKey{d, string(b)}
	ex.keybuf = b
	if n, ok := ex.counts[key]; ok {
		return n
	}
	n, err := d.counter.Count(ex.ctx, idx, comps)
	if err != nil {
		n = def
	}
	if ex.counts == nil {
		ex.counts = map[countKey]int{}
	}
	ex.counts[key] = n
	return n
}

// countAttr is count for the one component a (an attribute's count, the
// usual estimate): keyed without an encoding, and its components are
// made only when the count is not known yet.
func (ex *exec) countAttr(d *dbSrc, idx datom.Index, a int64, def int) int {
	if d.counter == nil {
		return def
	}
	k := countKey1{d, idx, a}
	if n, ok := ex.counts1[k]; ok {
		return n
	}
	n, err := d.counter.Count(ex.ctx, idx, []any{a})
	if err != nil {
		n = def
	}
	if ex.counts1 == nil {
		ex.counts1 = map[countKey1]int{}
	}
	ex.counts1[k] = n
	return n
}

// countKey1 names an estimate on one int64 component (an attribute).
type countKey1 struct {
	d   *dbSrc
	idx datom.Index
	a   int64
}

// countKey names one estimate: a source and its index and components.
type countKey struct {
	d *dbSrc
	k string
}

// collSrc is a collection of tuples bound to a $name.
type collSrc struct {
	tuples [][]any
}

// needed marks the :find and :with variables.
func (q *Query) needed() []bool {
	n := make([]bool, len(q.vars.names))
	for _, f := range q.find {
		n[f.slot] = true
	}
	for _, w := range q.with {
		n[w] = true
	}
	return n
}

func maskOf(width int, slots []int) []bool {
	m := make([]bool, width)
	for _, s := range slots {
		m[s] = true
	}
	return m
}
