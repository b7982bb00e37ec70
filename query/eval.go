package query

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
)

// This file is the third stage: running a plan over a relation of
// slot-indexed rows. Rows never map variable names; joins hash byte keys
// built by appendKey.

// run applies steps in order to in.
func (ex *exec) run(steps []*step, in *rel) (*rel, error) {
	cur := in
	// fresh reports that cur was made by a pattern step of this run and
	// is referenced by nothing else: it dies when the next step replaces
	// it, and its buffer can be reused.
	fresh := false
	for _, st := range steps {
		if err := ex.ctx.Err(); err != nil {
			return nil, fmt.Errorf("query: %w", err)
		}
		if cur.n == 0 {
			return cur, nil
		}
		var err error
		prev := cur
		switch st.kind {
		case stepPattern:
			cur, err = ex.evalPattern(st, cur)
		case stepPred:
			cur, err = ex.evalPred(st, cur)
		case stepFn:
			cur, err = ex.evalFn(st, cur)
		case stepNot:
			cur, err = ex.evalNot(st, cur)
		case stepOr:
			cur, err = ex.evalOr(st, cur)
		case stepRule:
			cur, err = ex.evalRule(st, cur)
		}
		if err != nil {
			return nil, err
		}
		// Patterns, predicates and functions copy what they keep of their
		// input (rules, or and not may index or mark it).
		if fresh && cur != prev && (st.kind == stepPattern || st.kind == stepPred || st.kind == stepFn) {
			ex.recycle(prev)
		}
		fresh = st.kind == stepPattern
		if st.live != nil && cur.n > 1 {
			if d := ex.distinctOn(cur, st.live); d != cur {
				if fresh {
					ex.recycle(cur)
				}
				cur, fresh = d, true
			}
		}
		if ex.opts.MaxRows > 0 && cur.n > ex.opts.MaxRows {
			return nil, errorf(st.c.raw(), ErrLimit, "more than %d rows", ex.opts.MaxRows)
		}
	}
	return cur, nil
}

// datomValue returns what position i of a pattern binds for d.
func datomValue(src *dbSrc, i int, d *datom.Datom) any {
	switch i {
	case 0:
		return d.E
	case 1:
		return src.identOf(d.A)
	case 2:
		return d.V
	case 3:
		return d.Tx
	}
	return d.Added
}

// rowValue returns the value a known position (constant or bound) has for
// row.
func rowValue(p *pos, row []any) any {
	if p.kind == posConst {
		return p.val
	}
	return row[p.slot]
}

// bind is datomValue for a value a row keeps: the entity and transaction
// ids are boxed from the evaluation's blocks (intBox).
func (s *scanState) bind(i int, d *datom.Datom) any {
	switch i {
	case 0:
		return s.ex.ints.box(d.E)
	case 3:
		return s.ex.ints.box(d.Tx)
	}
	return datomValue(s.src, i, d)
}

// scanState carries one pattern scan's output and first error.
type scanState struct {
	ex   *exec
	st   *step
	src  *dbSrc
	out  *rel
	err  error
	seen map[string]struct{}
	late bool // see lateBoxing
	// fast, when set (see prepFast), is emit compiled for one set of
	// pinned positions: the checks and bindings to do, nothing else.
	fast *fastEmit
}

// fastEmit is what emit does for a pattern without fused filters,
// duplicate removal or repeated variables, given the positions the index
// pins: test the other known positions, then bind the free ones.
type fastEmit struct {
	checks []int8 // known positions (other than the attribute) to test
	frees  []slotPos
}

type slotPos struct {
	i    int8 // the pattern position
	slot int
}

// prepFast compiles s.fast for scans whose index pins the positions in
// pinned, when the pattern allows it; otherwise emitting stays general.
func (s *scanState) prepFast(pinned uint8) {
	s.fast = nil
	st := s.st
	if s.seen != nil || len(st.filters) > 0 || s.late {
		return
	}
	f := &fastEmit{}
	for i := range st.pos {
		p := &st.pos[i]
		switch p.kind {
		case posSame:
			return
		case posConst, posBound:
			if pinned&(1<<i) != 0 {
				continue
			}
			if i == 1 {
				return // attribute ids and idents: emit's own test
			}
			f.checks = append(f.checks, int8(i))
		case posFree:
			f.frees = append(f.frees, slotPos{int8(i), p.slot})
		}
	}
	s.fast = f
}

// directEmit is emitFast for a whole run at once, for a scan of one input
// row (usually the first step's empty row), whose index pins everything
// the pattern knows and which binds only the entity, the value and the
// transaction: no call per datom (callback, emitFast, push, bind), which
// cost more than the rest of such a scan. Merge joins use it too
// (mergeDirect).
type directEmit struct {
	out        *rel
	base       []any                   // the input row, or nil when it is empty
	es, vs, ts int                     // the slots bound to E, V and Tx, or -1
	visit      func(*datom.Datom) bool // row, for vfilter.each
}

// direct returns s's directEmit for rows extending base, or nil when
// s.fast does more (or there is no s.fast).
func (s *scanState) direct(base []any) *directEmit {
	f := s.fast
	if f == nil || len(f.checks) > 0 {
		return nil
	}
	de := &directEmit{out: s.out, base: base, es: -1, vs: -1, ts: -1}
	for _, fr := range f.frees {
		switch fr.i {
		case 0:
			de.es = fr.slot
		case 2:
			de.vs = fr.slot
		case 3:
			de.ts = fr.slot
		default:
			return nil
		}
	}
	return de
}

// run appends a row for each datom of ds that passes vf.
func (de *directEmit) run(ex *exec, ds []datom.Datom, vf *vfilter) error {
	if err := ex.checkCtxN(len(ds)); err != nil {
		return err
	}
	if vf.kind != vfNone {
		// The test's loop, inlined per kind, is most of the cost: a call
		// per match only.
		if de.visit == nil {
			de.visit = func(d *datom.Datom) bool {
				de.row(ex, d)
				return true
			}
		}
		vf.each(ds, de.visit)
		return nil
	}
	r := de.out
	if need := len(r.data) + len(ds)*r.width; need > cap(r.data) && r.width > 0 {
		r.want = max(r.want, need/r.width)
		r.grow()
	}
	for i := range ds {
		de.row(ex, &ds[i])
	}
	return nil
}

// row appends d's row.
func (de *directEmit) row(ex *exec, d *datom.Datom) {
	r := de.out
	w := r.width
	if len(r.data)+w > cap(r.data) {
		r.grow()
	}
	n := len(r.data)
	r.data = r.data[:n+w]
	r.n++
	row := r.data[n : n+w : n+w]
	if de.base != nil {
		copy(row, de.base)
	}
	if de.es >= 0 {
		row[de.es] = ex.ints.box(d.E)
	}
	if de.vs >= 0 {
		row[de.vs] = d.V
	}
	if de.ts >= 0 {
		row[de.ts] = ex.ints.box(d.Tx)
	}
}

// emitFast is emit through s.fast (see prepFast), for the same pinned
// positions.
func (s *scanState) emitFast(row []any, d *datom.Datom) bool {
	if err := s.ex.checkCtx(); err != nil {
		s.err = err
		return false
	}
	st, f := s.st, s.fast
	for _, i := range f.checks {
		if !valuesEqual(datomValue(s.src, int(i), d), rowValue(&st.pos[i], row)) {
			return true
		}
	}
	dst := s.out.push(row)
	for _, fr := range f.frees {
		dst[fr.slot] = s.bind(int(fr.i), d)
	}
	return true
}

// emit appends row extended by d if d matches the positions the index did
// not already constrain, and the fused filters accept it.
func (s *scanState) emit(row []any, d *datom.Datom, checked uint8) bool {
	if err := s.ex.checkCtx(); err != nil {
		s.err = err
		return false
	}
	st := s.st
	for i := range st.pos {
		p := &st.pos[i]
		if checked&(1<<i) != 0 {
			continue
		}
		switch p.kind {
		case posConst, posBound:
			if i == 1 {
				if p.kind == posConst {
					if d.A != p.val.(int64) {
						return true
					}
				} else if !valuesEqual(s.src.identOf(d.A), row[p.slot]) {
					if id, ok := row[p.slot].(int64); !ok || id != d.A {
						return true
					}
				}
				continue
			}
			if !valuesEqual(datomValue(s.src, i, d), rowValue(p, row)) {
				return true
			}
		}
	}
	dst := s.out.push(row)
	for i := range st.pos {
		p := &st.pos[i]
		switch p.kind {
		case posFree:
			if s.late && (i == 0 || i == 3) {
				continue
			}
			dst[p.slot] = s.bind(i, d)
		case posSame:
			if !valuesEqual(dst[p.slot], datomValue(s.src, i, d)) {
				s.out.pop()
				return true
			}
		}
	}
	if s.late {
		// The filters do not read e or tx: run them before boxing those
		// (an allocation per row), so rejected datoms cost none.
		if ok, cont := s.filter(dst); !ok {
			return cont
		}
		for _, i := range [...]int{0, 3} {
			if p := &st.pos[i]; p.kind == posFree {
				dst[p.slot] = s.bind(i, d)
			}
		}
		return s.dedup(dst)
	}
	return s.finish(dst)
}

// lateBoxing reports whether st's fused filters read none of the slots
// that a scan binds from a datom's entity or transaction (int64s boxed per
// row), so emit may run the filters first.
func lateBoxing(st *step) bool {
	if len(st.filters) == 0 {
		return false
	}
	for _, i := range [...]int{0, 3} {
		p := &st.pos[i]
		if p.kind != posFree {
			continue
		}
		for _, f := range st.filters {
			for _, a := range f.args {
				if a.kind == termVar && a.slot == p.slot {
					return false
				}
			}
		}
	}
	return true
}

// filter runs the fused filters on the row just pushed; when one rejects
// it, the row is popped and ok is false, with cont the scan's go-on flag.
func (s *scanState) filter(dst []any) (ok, cont bool) {
	for _, f := range s.st.filters {
		ok, err := s.ex.test(f, dst)
		if err != nil {
			s.err = err
			return false, false
		}
		if !ok {
			s.out.pop()
			return false, true
		}
	}
	return true, true
}

// finish runs the fused filters and the duplicate check on the row just
// pushed.
func (s *scanState) finish(dst []any) bool {
	if ok, cont := s.filter(dst); !ok {
		return cont
	}
	return s.dedup(dst)
}

// dedup drops the row just pushed if an equal one was emitted before (for
// patterns that project positions away).
func (s *scanState) dedup(dst []any) bool {
	if s.seen != nil {
		s.ex.keybuf = s.ex.keybuf[:0]
		for _, v := range dst {
			s.ex.keybuf = appendKey(s.ex.keybuf, v)
		}
		if _, dup := s.seen[string(s.ex.keybuf)]; dup {
			s.out.pop()
			return true
		}
		s.seen[string(s.ex.keybuf)] = struct{}{}
	}
	return true
}

// access chooses the index and leading components for the known entity,
// attribute and value (nil = unknown), and reports which positions the
// components pin (bit i for position i).
func access(e, a, v any, at *datom.Attribute, buf []any) (datom.Index, []any, uint8) {
	comps := buf[:0]
	switch {
	case e != nil:
		comps = append(comps, e)
		pinned := uint8(1)
		if a != nil {
			comps = append(comps, a)
			pinned |= 2
			if v != nil {
				comps = append(comps, v)
				pinned |= 4
			}
		}
		return datom.EAVT, comps, pinned
	case a != nil && v != nil && at != nil && at.Indexed():
		return datom.AVET, append(comps, a, v), 2 | 4
	case a != nil && v != nil && at != nil && at.IsRef():
		return datom.VAET, append(comps, v, a), 2 | 4
	case a != nil:
		return datom.AEVT, append(comps, a), 2
	}
	return datom.EAVT, comps, 0
}

func (ex *exec) evalPattern(st *step, in *rel) (*rel, error) {
	out := &rel{width: in.width, owned: true}
	if st.empty {
		return out, nil
	}
	if cs, ok := st.src.(*collSrc); ok {
		return ex.evalCollPattern(st, cs, in, out)
	}
	src := st.src.(*dbSrc)
	if st.lookup {
		out.data = ex.takeRows(in.n * in.width)
	} else if est := st.est; est > 0 && est < 1<<16 && !guessedValueCount(st) {
		// An estimate, not a promise: a scan for a constant value that
		// finds little must not pay for clearing room for thousands of
		// wide rows, while a scan that keeps most of what it reads should
		// not grow its rows by copying them again and again. (A value of
		// an attribute outside AVET and VAET has a guessed count: its
		// rows start small and double.)
		limit := 1 << 16
		if st.pos[2].kind == posConst {
			limit = 1 << 10
		}
		out.data = ex.takeRows(min(est*in.width, limit))
	}
	s := &scanState{ex: ex, st: st, src: src, out: out, late: lateBoxing(st)}
	if st.dedup {
		s.seen = map[string]struct{}{}
	}
	var buf [3]any
	switch {
	case st.lookup && scanJoinable(st, in):
		return ex.scanJoin(st, src, in, s)
	case st.lookup:
		// One callback for all rows (a closure per row would be allocated
		// per lookup): it reads the row and pinned positions set below.
		var row []any
		var pinned uint8
		emit := func(d datom.Datom) bool {
			return s.emit(row, &d, pinned)
		}
		for i := 0; i < in.n; i++ {
			row = in.row(i)
			e, a, v, at, ok := ex.knownEAV(st, src, row)
			if !ok {
				continue
			}
			var idx datom.Index
			var comps []any
			idx, comps, pinned = access(e, a, v, at, buf[:])
			// The values in comps were resolved; re-check only the rest.
			err := src.s.Datoms(ex.ctx, idx, comps, emit)
			if s.err != nil {
				return nil, s.err
			}
			if err != nil {
				return nil, fmt.Errorf("query: scan %s: %w", qString(st.c.raw()), err)
			}
		}
		return out, nil
	case st.hash:
		return ex.hashPattern(st, src, in, s)
	}
	// No bound variable: one scan, crossed with every input row (usually
	// the single empty row).
	var e, a, v any
	if st.pos[0].kind == posConst {
		e = st.pos[0].val
	}
	if st.pos[1].kind == posConst {
		a = st.pos[1].val
	}
	if st.pos[2].kind == posConst {
		v = st.pos[2].val
	}
	// With one input row (the usual first step) each datom is emitted as
	// it comes; otherwise the datoms are collected once and crossed with
	// every row. visit is called directly, so &d in the callbacks stays on
	// the stack.
	var row0 []any
	var ds []datom.Datom
	collect := in.n != 1
	if !collect {
		row0 = in.row(0)
		if !slices.ContainsFunc(row0, func(x any) bool { return x != nil }) {
			// Nothing bound yet (the usual first step): rows start
			// empty, with nothing to copy per row. A scan without bound
			// variables reads no slot of the row it extends.
			row0 = nil
		}
	}
	visit := func(d *datom.Datom) bool {
		if collect {
			ds = append(ds, *d)
			return true
		}
		if s.fast != nil {
			return s.emitFast(row0, d)
		}
		return s.emit(row0, d, 0)
	}
	var err error
	if st.hasRange {
		hi := st.rangeHi
		// The range pins the attribute: with no filter left (a long or
		// instant range absorbs its comparisons), rows take the fast path.
		s.prepFast(1 << 1)
		var de *directEmit
		var all vfilter // (the range is the whole test)
		if !collect {
			de = s.direct(row0)
		}
		if rs, ok := src.s.(RangeChunkSource); ok {
			err = rs.IndexRangeChunks(ex.ctx, st.attr.ID, rangeStart(st.rangeLo), rangeEnd(hi), func(ds []datom.Datom) bool {
				n := len(ds)
				if hi != nil && compareValues(ds[n-1].V, hi) > 0 {
					// The run passes hi: keep what is within (the range
					// is of one type, in index order).
					n = 0
					for n < len(ds) && compareValues(ds[n].V, hi) <= 0 {
						n++
					}
				}
				if de != nil {
					s.err = de.run(ex, ds[:n], &all)
					return s.err == nil && n == len(ds)
				}
				for j := range n {
					if !visit(&ds[j]) {
						return false
					}
				}
				return n == len(ds)
			})
		} else {
			err = src.s.IndexRange(ex.ctx, st.attr.ID, rangeStart(st.rangeLo), rangeEnd(hi), func(d datom.Datom) bool {
				if hi != nil && compareValues(d.V, hi) > 0 {
					return false
				}
				return visit(&d)
			})
		}
	} else {
		idx, comps, pinned := access(e, a, v, st.attr, buf[:])
		// The source yields only datoms with the leading components given:
		// emitting need not test those again, nor what vf tested.
		if cs, ok := src.s.(ChunkSource); ok {
			vf := newVFilter(st, pinned)
			s.prepFast(pinned | vf.pins())
			read, total := 0, st.scanLen
			var de *directEmit
			if !collect {
				de = s.direct(row0)
			}
			chunk := func(ds []datom.Datom) bool {
				if total > 0 && !collect {
					// Rows so far, scaled to the whole scan, plus a tenth.
					read += len(ds)
					out.want = int(int64(out.n)*int64(total)/int64(read)) + out.n/10
				}
				if de != nil {
					s.err = de.run(ex, ds, &vf)
					return s.err == nil
				}
				return vf.each(ds, visit)
			}
			var parts []func(func([]datom.Datom) bool) error
			if !collect {
				parts, err = ex.splitScan(src, st, &vf, idx, comps)
			}
			if len(parts) > 1 {
				err = filterParallel(parts, min(scanCores(), len(parts))-1, &vf, chunk, visit)
			} else if err == nil {
				err = cs.DatomChunks(ex.ctx, idx, comps, chunk)
			}
		} else {
			s.prepFast(pinned)
			err = src.s.Datoms(ex.ctx, idx, comps, func(d datom.Datom) bool { return visit(&d) })
		}
	}
	if collect {
		s.fast = nil
		for i := 0; i < in.n && err == nil && s.err == nil; i++ {
			row := in.row(i)
			for j := range ds {
				if !s.emit(row, &ds[j], 0) {
					break
				}
			}
		}
	}
	if s.err != nil {
		return nil, s.err
	}
	if err != nil {
		return nil, fmt.Errorf("query: scan %s: %w", qString(st.c.raw()), err)
	}
	return out, nil
}

// guessedValueCount reports whether st scans for a constant value of an
// attribute that neither AVET nor VAET holds, whose count the planner
// could only guess.
func guessedValueCount(st *step) bool {
	return st.pos[2].kind == posConst && st.attr != nil && !st.attr.Indexed() && !st.attr.IsRef()
}

// vfilter is the part of a pattern scan's test that a chunked scan runs in
// its loop, before anything else per datom: the pattern's constant value
// (when the index does not pin it) and the int64 range of fused
// comparisons (see fuseLongRange). It only rejects datoms emit would
// reject too. A string, keyword, int64, boolean or double constant is
// tested exactly (valuesEqual holds only between values of one type), so
// emitting need not test it again (pins); a range lets other types
// through for the filters.
type vfilter struct {
	kind   vfKind
	str    string // vfString; vfKeyword, the keyword's text
	long   int64  // vfLong; vfBool, 1 for true; vfDouble, floatBits
	lo, hi int64  // vfLongRange, inclusive
}

type vfKind uint8

const (
	vfNone      vfKind = iota
	vfString           // V must be a string equal to str
	vfLong             // V must be an int64 equal to long
	vfLongRange        // V must lie in [lo, hi] when it is an int64 (none if lo > hi)
	vfKeyword          // V must be a keyword equal to str
	vfBool             // V must be a boolean equal to long != 0
	vfDouble           // V must be a double of floatBits long
)

// newVFilter compiles st's tests on V given the positions the index pins.
func newVFilter(st *step, pinned uint8) vfilter {
	if p := &st.pos[2]; p.kind == posConst && pinned&4 == 0 {
		switch x := p.val.(type) {
		case string:
			return vfilter{kind: vfString, str: x}
		case int64:
			return vfilter{kind: vfLong, long: x}
		case edn.Keyword:
			return vfilter{kind: vfKeyword, str: string(x)}
		case bool:
			f := vfilter{kind: vfBool}
			if x {
				f.long = 1
			}
			return f
		case float64:
			return vfilter{kind: vfDouble, long: int64(floatBits(x))}
		}
		return vfilter{}
	}
	if st.hasLongRange && st.pos[2].kind == posFree {
		return vfilter{kind: vfLongRange, lo: st.longLo, hi: st.longHi}
	}
	return vfilter{}
}

// pins returns the positions f tests exactly: 4 (the value) for a
// constant, 0 otherwise.
func (f *vfilter) pins() uint8 {
	if f.kind != vfNone && f.kind != vfLongRange {
		return 4
	}
	return 0
}

// ok reports whether d passes f.
func (f *vfilter) ok(d *datom.Datom) bool {
	switch f.kind {
	case vfString:
		x, ok := d.V.(string)
		return ok && strEq(x, f.str)
	case vfLong:
		x, ok := d.V.(int64)
		return ok && x == f.long
	case vfLongRange:
		x, ok := d.V.(int64)
		return !ok || (x >= f.lo && x <= f.hi)
	case vfKeyword:
		x, ok := d.V.(edn.Keyword)
		return ok && strEq(string(x), f.str)
	case vfBool:
		x, ok := d.V.(bool)
		return ok && x == (f.long != 0)
	case vfDouble:
		x, ok := d.V.(float64)
		return ok && int64(floatBits(x)) == f.long
	}
	return true
}

// strEq is x == s, comparing the first bytes inline before calling the
// runtime's comparison: a scan for one value among values of the same
// length (first names) then rarely leaves its loop.
func strEq(x, s string) bool {
	return len(x) == len(s) && (len(s) == 0 || x[0] == s[0]) && x == s
}

// each calls visit for the datoms of ds that pass f, until visit returns
// false; it returns whether the scan goes on.
func (f *vfilter) each(ds []datom.Datom, visit func(*datom.Datom) bool) bool {
	switch f.kind {
	case vfString:
		for i := range ds {
			if x, ok := ds[i].V.(string); !ok || !strEq(x, f.str) {
				continue
			}
			if !visit(&ds[i]) {
				return false
			}
		}
	case vfLong:
		for i := range ds {
			if x, ok := ds[i].V.(int64); !ok || x != f.long {
				continue
			}
			if !visit(&ds[i]) {
				return false
			}
		}
	case vfLongRange:
		for i := range ds {
			if x, ok := ds[i].V.(int64); ok && (x < f.lo || x > f.hi) {
				continue
			}
			if !visit(&ds[i]) {
				return false
			}
		}
	case vfNone:
		for i := range ds {
			if !visit(&ds[i]) {
				return false
			}
		}
	default:
		for i := range ds {
			if f.ok(&ds[i]) && !visit(&ds[i]) {
				return false
			}
		}
	}
	return true
}

// scanJoinFactor is how many datoms of a scan cost about as much as one
// index lookup (a descent from the root: a few node fetches through the
// cache and binary searches). Measured on MemSource and reader.DB, a lookup
// costs 20–40 scanned datoms; 16 leans towards lookups.
const scanJoinFactor = 16

// scanJoinable reports whether a lookup step [?e :attr ...] with the
// entity bound should instead scan the attribute once and join on the
// entity: when the input has so many rows that one lookup each costs more
// than reading every datom of the attribute. Values of ref attributes may
// need resolving per row (idents, lookup refs), so those keep lookups.
func scanJoinable(st *step, in *rel) bool {
	if st.attrCount <= 0 || st.attr == nil || st.pos[0].kind != posBound || st.pos[1].kind != posConst {
		return false
	}
	if k := st.pos[2].kind; (k == posConst || k == posBound) && st.attr.IsRef() {
		return false
	}
	return in.n*scanJoinFactor >= st.attrCount
}

// countValue sets st.valCount if it is still to be counted. Only a merge
// join needs it: counting a value in AVET descends the tree, which for a
// lookup of a few rows on a cold reader would fetch nodes the lookups
// themselves never read (an attribute's count comes from its commit).
func (ex *exec) countValue(st *step) {
	if st.valCount >= 0 {
		return
	}
	st.valCount = ex.count(st.src.(*dbSrc), datom.AVET, []any{st.attr.ID, st.pos[2].val}, 0)
}

// byValue reports whether scanJoin reads st's constant value in AVET
// rather than its attribute in AEVT: when the value has fewer datoms than
// the attribute, and the source hands out runs (ChunkSource). Both are
// sorted by entity; the value's run is shorter, and it needs no test per
// datom.
func byValue(st *step) bool {
	if st.valCount <= 0 || st.valCount >= st.attrCount {
		return false
	}
	src, ok := st.src.(*dbSrc)
	if !ok {
		return false
	}
	_, ok = src.s.(ChunkSource)
	return ok
}

// scanJoin evaluates a lookup step as a merge join: the input rows sorted
// by entity (stably, so rows of one entity keep their order) against one
// AEVT scan of the attribute, which is sorted by entity too. It yields
// the rows the per-row lookups would, ordered by entity and value, and
// stops the scan past the last entity.
func (ex *exec) scanJoin(st *step, src *dbSrc, in *rel, s *scanState) (*rel, error) {
	slot := st.pos[0].slot
	jb := takeJoinBuf(in.n)
	defer joinBufs.Put(jb)
	eids, order := jb.eids[:in.n], jb.order[:0]
	sorted := true
	for i := 0; i < in.n; i++ {
		x := in.row(i)[slot]
		id, ok := x.(int64)
		if !ok {
			if id, ok = src.entity(ex, x); !ok {
				continue
			}
		}
		eids[i] = id
		if n := len(order); n > 0 && eids[order[n-1]] > id {
			sorted = false
		}
		order = append(order, int32(i))
	}
	if !sorted {
		slices.SortStableFunc(order, func(a, b int32) int { return cmp.Compare(eids[a], eids[b]) })
	}
	if cs, ok := src.s.(ChunkSource); ok {
		ex.countValue(st)
		if byValue(st) {
			return ex.scanJoinChunks(st, cs, datom.AVET, []any{st.attr.ID, st.pos[2].val}, 1|2|4, in, s, eids, order)
		}
		return ex.scanJoinChunks(st, cs, datom.AEVT, []any{st.attr.ID}, 1|2, in, s, eids, order)
	}
	k := 0
	err := src.s.Datoms(ex.ctx, datom.AEVT, []any{st.attr.ID}, func(d datom.Datom) bool {
		for k < len(order) && eids[order[k]] < d.E {
			k++
		}
		if k == len(order) {
			return false
		}
		for j := k; j < len(order) && eids[order[j]] == d.E; j++ {
			if !s.emit(in.row(int(order[j])), &d, 1|2) {
				return false
			}
		}
		return true
	})
	if s.err != nil {
		return nil, s.err
	}
	if err != nil {
		return nil, fmt.Errorf("query: scan %s: %w", qString(st.c.raw()), err)
	}
	return s.out, nil
}

// scanJoinChunks is scanJoin over runs of datoms: for each entity of the
// sorted rows it searches the run for the entity's first datom instead of
// stepping over every datom in between, and it tests the pattern's
// constant value in the loop (vfilter) before emitting.
func (ex *exec) scanJoinChunks(st *step, cs ChunkSource, idx datom.Index, comps []any, pinned uint8, in *rel, s *scanState, eids []int64, order []int32) (*rel, error) {
	vf := newVFilter(st, pinned)
	s.prepFast(pinned | vf.pins())
	if de := s.direct(nil); de != nil {
		return ex.mergeDirect(st, cs, idx, comps, &vf, de, in, eids, order)
	}
	k := 0 // the first row of the current entity group
	err := cs.DatomChunks(ex.ctx, idx, comps, func(ds []datom.Datom) bool {
		j := 0
		for k < len(order) {
			x := eids[order[k]]
			if ds[len(ds)-1].E < x {
				return true // x is in a later run
			}
			if ds[j].E < x {
				j = gallopE(ds, j, x)
			}
			k2 := k + 1
			for k2 < len(order) && eids[order[k2]] == x {
				k2++
			}
			j2 := j
			for j2 < len(ds) && ds[j2].E == x {
				j2++
			}
			for jj := j; jj < j2; jj++ {
				d := &ds[jj]
				if !vf.ok(d) {
					continue
				}
				for r := k; r < k2; r++ {
					var ok bool
					if s.fast != nil {
						ok = s.emitFast(in.row(int(order[r])), d)
					} else {
						ok = s.emit(in.row(int(order[r])), d, pinned)
					}
					if !ok {
						return false
					}
				}
			}
			j = j2
			if j == len(ds) {
				// The entity's datoms may go on in the next run: keep its
				// rows (the next run starts at or after x).
				return true
			}
			k = k2
		}
		return false
	})
	if s.err != nil {
		return nil, s.err
	}
	if err != nil {
		return nil, fmt.Errorf("query: scan %s: %w", qString(st.c.raw()), err)
	}
	return s.out, nil
}

// mergeDirect is scanJoinChunks for a pattern that binds only the value
// and the transaction (see directEmit): each input row extended by its
// entity's matching datoms, the rows made in the loop. A call per row
// (emitFast, push, bind; or directEmit.row) costs as much as the search:
// inlined, DataScript's q2 with --index-all went from 0.235–0.255 to 0.18
// ms (fastest tenth of alternated batches), q4's median from 0.51 to
// 0.40–0.43 ms.
func (ex *exec) mergeDirect(st *step, cs ChunkSource, idx datom.Index, comps []any, vf *vfilter, de *directEmit, in *rel, eids []int64, order []int32) (*rel, error) {
	out := de.out
	w := in.width
	k := 0 // the first row of the current entity group
	var cerr error
	err := cs.DatomChunks(ex.ctx, idx, comps, func(ds []datom.Datom) bool {
		if cerr = ex.checkCtxN(len(ds)); cerr != nil {
			return false
		}
		j := 0
		for k < len(order) {
			x := eids[order[k]]
			if ds[len(ds)-1].E < x {
				return true // x is in a later run
			}
			if ds[j].E < x {
				j = gallopE(ds, j, x)
			}
			k2 := k + 1
			for k2 < len(order) && eids[order[k2]] == x {
				k2++
			}
			for ; j < len(ds) && ds[j].E == x; j++ {
				d := &ds[j]
				if !vf.ok(d) {
					continue
				}
				for r := k; r < k2; r++ {
					if len(out.data)+w > cap(out.data) {
						out.grow()
					}
					n := len(out.data)
					out.data = out.data[:n+w]
					out.n++
					row := out.data[n : n+w : n+w]
					o := int(order[r]) * w
					copy(row, in.data[o:o+w])
					if de.vs >= 0 {
						row[de.vs] = d.V
					}
					if de.ts >= 0 {
						row[de.ts] = ex.ints.box(d.Tx)
					}
				}
			}
			if j == len(ds) {
				// The entity's datoms may go on in the next run: keep its
				// rows (the next run starts at or after x).
				return true
			}
			k = k2
		}
		return false
	})
	if cerr != nil {
		return nil, cerr
	}
	if err != nil {
		return nil, fmt.Errorf("query: scan %s: %w", qString(st.c.raw()), err)
	}
	return out, nil
}

// gallopE returns the first index i >= j of ds (sorted by entity, with
// ds[j].E < x <= ds[len(ds)-1].E) with ds[i].E >= x, probing 1, 2, 4, …
// datoms ahead before a binary search: the entities of a merge join's
// rows are usually close together, a few datoms apart. (Stepping over the
// first few one by one measured slower: BenchmarkGallopE.)
func gallopE(ds []datom.Datom, j int, x int64) int {
	lo, step := j, 1 // ds[lo].E < x
	hi := lo + step
	for hi < len(ds) && ds[hi].E < x {
		lo = hi
		step <<= 1
		hi = lo + step
	}
	hi = min(hi, len(ds)-1) // ds[hi].E >= x
	for lo+1 < hi {
		m := int(uint(lo+hi) >> 1)
		if ds[m].E < x {
			lo = m
		} else {
			hi = m
		}
	}
	return hi
}

// knownEAV resolves the entity, attribute and value a lookup step knows for
// row. ok is false when a bound value cannot name anything in the source.
func (ex *exec) knownEAV(st *step, src *dbSrc, row []any) (e, a, v any, at *datom.Attribute, ok bool) {
	at = st.attr
	if p := &st.pos[1]; p.kind == posConst {
		a = p.val
	} else if p.kind == posBound {
		at = src.attr(row[p.slot])
		if at == nil {
			return nil, nil, nil, nil, false
		}
		a = at.ID
	}
	if p := &st.pos[0]; p.kind == posConst || p.kind == posBound {
		x := rowValue(p, row)
		if _, isID := x.(int64); !isID {
			id, found := src.entity(ex, x)
			if !found {
				return nil, nil, nil, nil, false
			}
			x = id
		}
		e = x
	}
	if p := &st.pos[2]; p.kind == posConst || p.kind == posBound {
		x := rowValue(p, row)
		if at != nil && at.IsRef() {
			if _, isID := x.(int64); !isID {
				id, found := src.entity(ex, x)
				if !found {
					return nil, nil, nil, nil, false
				}
				x = id
			}
		}
		v = x
	}
	return e, a, v, at, true
}

// hashPattern scans the pattern's constants once, indexes the matches by
// the bound positions, and probes with every input row.
func (ex *exec) hashPattern(st *step, src *dbSrc, in *rel, s *scanState) (*rel, error) {
	var e, a, v any
	if st.pos[0].kind == posConst {
		e = st.pos[0].val
	}
	if st.pos[1].kind == posConst {
		a = st.pos[1].val
	}
	if st.pos[2].kind == posConst {
		v = st.pos[2].val
	}
	var buf [3]any
	idx, comps, _ := access(e, a, v, st.attr, buf[:])
	var ds []datom.Datom
	index := map[string][]int32{}
	var key []byte
	err := src.s.Datoms(ex.ctx, idx, comps, func(d datom.Datom) bool {
		if s.err = ex.checkCtx(); s.err != nil {
			return false
		}
		key = key[:0]
		for i := range st.pos {
			if st.pos[i].kind == posBound {
				key = appendKey(key, datomValue(src, i, &d))
			}
		}
		index[string(key)] = append(index[string(key)], int32(len(ds)))
		ds = append(ds, d)
		return true
	})
	if s.err != nil {
		return nil, s.err
	}
	if err != nil {
		return nil, fmt.Errorf("query: scan %s: %w", qString(st.c.raw()), err)
	}
	for r := 0; r < in.n; r++ {
		row := in.row(r)
		key = key[:0]
		for i := range st.pos {
			if st.pos[i].kind == posBound {
				key = appendKey(key, row[st.pos[i].slot])
			}
		}
		for _, j := range index[string(key)] {
			if !s.emit(row, &ds[j], 0) {
				break
			}
		}
		if s.err != nil {
			return nil, s.err
		}
	}
	return s.out, nil
}

// evalCollPattern matches a pattern positionally against a collection of
// tuples.
func (ex *exec) evalCollPattern(st *step, cs *collSrc, in *rel, out *rel) (*rel, error) {
	s := &scanState{ex: ex, st: st, out: out, seen: map[string]struct{}{}}
	n := 0
	for i := range st.pos {
		if st.pos[i].kind != posAbsent {
			n = i + 1
		}
	}
	match := func(row []any, t []any) bool {
		if len(t) < n {
			return true
		}
		for i := 0; i < n; i++ {
			p := &st.pos[i]
			if (p.kind == posConst || p.kind == posBound) && !valuesEqual(t[i], rowValue(p, row)) {
				return true
			}
		}
		dst := s.out.push(row)
		for i := 0; i < n; i++ {
			p := &st.pos[i]
			switch p.kind {
			case posFree:
				dst[p.slot] = t[i]
			case posSame:
				if !valuesEqual(dst[p.slot], t[i]) {
					s.out.pop()
					return true
				}
			}
		}
		return s.finish(dst)
	}
	if !st.hash {
		for r := 0; r < in.n; r++ {
			row := in.row(r)
			for _, t := range cs.tuples {
				if err := ex.checkCtx(); err != nil {
					return nil, err
				}
				if !match(row, t) {
					return nil, s.err
				}
			}
		}
		return out, s.err
	}
	index := map[string][]int{}
	var key []byte
	for j, t := range cs.tuples {
		if len(t) < n {
			continue
		}
		key = key[:0]
		for i := 0; i < n; i++ {
			if st.pos[i].kind == posBound {
				key = appendKey(key, t[i])
			}
		}
		index[string(key)] = append(index[string(key)], j)
	}
	for r := 0; r < in.n; r++ {
		row := in.row(r)
		key = key[:0]
		for i := 0; i < n; i++ {
			if st.pos[i].kind == posBound {
				key = appendKey(key, row[st.pos[i].slot])
			}
		}
		for _, j := range index[string(key)] {
			if !match(row, cs.tuples[j]) {
				return nil, s.err
			}
		}
	}
	return out, s.err
}

// call evaluates a predicate or function step on row.
func (ex *exec) call(st *step, row []any) (any, error) {
	args := st.argBuf[:0]
	for i, a := range st.args {
		switch a.kind {
		case termConst:
			args = append(args, a.val)
		case termVar:
			args = append(args, row[a.slot])
		case termSrc:
			if d, ok := st.argSrc[i].(*dbSrc); ok && st.user != nil {
				args = append(args, d.s)
			} else {
				args = append(args, st.argSrc[i])
			}
		default:
			args = append(args, nil)
		}
	}
	st.argBuf = args
	var v any
	var err error
	if st.user != nil {
		v, err = callUser(st.user, args)
	} else {
		v, err = st.fn(ex, args)
	}
	clear(args)
	if err != nil {
		if errors.Is(err, ErrArity) {
			return nil, &Error{Clause: qString(st.c.raw()), Err: err}
		}
		return nil, &Error{Clause: qString(st.c.raw()), Err: fmt.Errorf("%w: %w", ErrFunction, err)}
	}
	return v, nil
}

// callUser calls a user function, turning a panic in it into an error, as
// a transaction function's is (tx): a function is user code, and its bug
// must fail the query, not the process that runs it (text/template does
// the same for the functions a template calls).
func callUser(fn Func, args []any) (v any, err error) {
	defer func() {
		if p := recover(); p != nil {
			v, err = nil, fmt.Errorf("panic: %v", p)
		}
	}()
	return fn(args)
}

// test evaluates a predicate on row. Binary comparisons of built-in
// operators take a direct path.
func (ex *exec) test(st *step, row []any) (bool, error) {
	if st.cmpOp != 0 {
		x, y := termValue(&st.args[0], row), termValue(&st.args[1], row)
		var c int
		xi, ok1 := x.(int64)
		yi, ok2 := y.(int64)
		switch {
		case ok1 && ok2:
			c = cmpOrdered(xi, yi)
		case unordered(x, y):
			return false, nil
		default:
			c = compareValues(x, y)
		}
		switch st.cmpOp {
		case '<':
			return c < 0, nil
		case '>':
			return c > 0, nil
		case 'l':
			return c <= 0, nil
		}
		return c >= 0, nil
	}
	v, err := ex.call(st, row)
	return truthy(v), err
}

func termValue(t *term, row []any) any {
	if t.kind == termConst {
		return t.val
	}
	return row[t.slot]
}

func (ex *exec) evalPred(st *step, in *rel) (*rel, error) {
	out := &rel{width: in.width}
	for i := 0; i < in.n; i++ {
		if err := ex.checkCtx(); err != nil {
			return nil, err
		}
		row := in.row(i)
		ok, err := ex.test(st, row)
		if err != nil {
			return nil, err
		}
		if ok {
			out.push(row)
		}
	}
	return out, nil
}

func (ex *exec) evalFn(st *step, in *rel) (*rel, error) {
	out := &rel{width: in.width}
	b := st.bind
	put := func(row []any, vals []any) {
		for j, t := range b.terms {
			if t.kind == termVar && st.bindOld[j] && !valuesEqual(row[t.slot], vals[j]) {
				return
			}
		}
		dst := out.push(row)
		for j, t := range b.terms {
			if t.kind == termVar {
				dst[t.slot] = vals[j]
			}
		}
	}
	for i := 0; i < in.n; i++ {
		if err := ex.checkCtx(); err != nil {
			return nil, err
		}
		row := in.row(i)
		v, err := ex.call(st, row)
		if err != nil {
			return nil, err
		}
		if v == nil {
			continue
		}
		switch b.kind {
		case bindScalar:
			put(row, []any{v})
		case bindTuple:
			t, ok := asSeq(v)
			if !ok || len(t) < len(b.terms) {
				return nil, errorf(st.c.raw(), ErrArity, "cannot bind %s to a tuple of %d", qString(v), len(b.terms))
			}
			put(row, t)
		case bindColl:
			xs, ok := asSeq(v)
			if !ok {
				return nil, errorf(st.c.raw(), ErrArity, "cannot bind %s to a collection", qString(v))
			}
			for _, x := range xs {
				put(row, []any{x})
			}
		case bindRel:
			xs, ok := asSeq(v)
			if !ok {
				return nil, errorf(st.c.raw(), ErrArity, "cannot bind %s to a relation", qString(v))
			}
			for _, x := range xs {
				t, ok := asSeq(x)
				if !ok || len(t) < len(b.terms) {
					return nil, errorf(st.c.raw(), ErrArity, "cannot bind %s to a tuple of %d", qString(x), len(b.terms))
				}
				put(row, t)
			}
		}
	}
	return dedupRel(ex, out), nil
}

// dedupRel removes duplicate rows.
func dedupRel(ex *exec, r *rel) *rel {
	if r.n < 2 {
		return r
	}
	out := &rel{width: r.width}
	seen := make(map[string]struct{}, r.n)
	for i := 0; i < r.n; i++ {
		row := r.row(i)
		ex.keybuf = ex.keybuf[:0]
		for _, v := range row {
			ex.keybuf = appendKey(ex.keybuf, v)
		}
		if _, ok := seen[string(ex.keybuf)]; ok {
			continue
		}
		seen[string(ex.keybuf)] = struct{}{}
		out.push(row)
	}
	return out
}

// keyString is the appendKey encoding of row's values at slots.
func (ex *exec) keyString(row []any, slots []int) string {
	ex.keybuf = ex.keybuf[:0]
	for _, s := range slots {
		ex.keybuf = appendKey(ex.keybuf, row[s])
	}
	return string(ex.keybuf)
}

// keyOf is the map key of row's values at slots (see tkey).
func (ex *exec) keyOf(row []any, slots []int) tkey {
	if len(slots) <= len(tkey{}.i) {
		var k tkey
		plain := true
		for j, s := range slots {
			x, ok := row[s].(int64)
			if !ok {
				plain = false
				break
			}
			k.i[j] = x
		}
		if plain {
			return k
		}
	}
	return tkey{s: ex.keyString(row, slots)}
}

// project returns the distinct rows of in restricted to slots (the other
// slots nil).
func (ex *exec) project(in *rel, slots []int) *rel {
	out := &rel{width: in.width}
	seen := map[tkey]struct{}{}
	for i := 0; i < in.n; i++ {
		row := in.row(i)
		k := ex.keyOf(row, slots)
		if _, ok := seen[k]; ok {
			continue
		}
		seen[k] = struct{}{}
		dst := out.push(nil)
		for _, s := range slots {
			dst[s] = row[s]
		}
	}
	return out
}

// evalNot removes the rows for which the body has a solution. Rule calls
// inside the body are computed to completion first (stratification).
func (ex *exec) evalNot(st *step, in *rel) (*rel, error) {
	ex.negDepth++
	saved := ex.re
	ex.re = nil
	defer func() { ex.negDepth--; ex.re = saved }()
	if ex.negDepth > 64 {
		return nil, errorf(st.c.raw(), ErrLimit, "rules recurse through negation")
	}
	res, err := ex.run(st.sub[0], ex.project(in, st.join))
	if err != nil {
		return nil, err
	}
	found := make(map[tkey]struct{}, res.n)
	for i := 0; i < res.n; i++ {
		found[ex.keyOf(res.row(i), st.join)] = struct{}{}
	}
	out := &rel{width: in.width}
	for i := 0; i < in.n; i++ {
		row := in.row(i)
		if _, ok := found[ex.keyOf(row, st.join)]; !ok {
			out.push(row)
		}
	}
	return out, nil
}

// evalOr unions its branches over the join variables and joins the union
// back into the input.
func (ex *exec) evalOr(st *step, in *rel) (*rel, error) {
	proj := ex.project(in, st.joinBound)
	union := &rel{width: in.width}
	seen := map[tkey]struct{}{}
	for _, br := range st.sub {
		res, err := ex.run(br, proj)
		if err != nil {
			return nil, err
		}
		for i := 0; i < res.n; i++ {
			row := res.row(i)
			k := ex.keyOf(row, st.join)
			if _, ok := seen[k]; ok {
				continue
			}
			seen[k] = struct{}{}
			union.push(row)
		}
	}
	index := map[tkey][]int{}
	for i := 0; i < union.n; i++ {
		k := ex.keyOf(union.row(i), st.joinBound)
		index[k] = append(index[k], i)
	}
	out := &rel{width: in.width}
	for i := 0; i < in.n; i++ {
		row := in.row(i)
		for _, j := range index[ex.keyOf(row, st.joinBound)] {
			src := union.row(j)
			dst := out.push(row)
			for _, s := range st.joinFree {
				dst[s] = src[s]
			}
		}
	}
	return out, nil
}

// distinctOn keeps one row per distinct combination of the live slots.
func (ex *exec) distinctOn(in *rel, live []int) *rel {
	out := &rel{width: in.width, data: make([]any, 0, len(in.data))}
	// One set serves every call of the evaluation (rule bodies project in
	// each fixpoint iteration).
	seen := &ex.seen
	seen.reset(in.n)
	for i := 0; i < in.n; i++ {
		row := in.row(i)
		if !seen.add(ex.keyOf(row, live)) {
			continue
		}
		out.push(row)
	}
	return out
}
