package query

import (
	"fmt"

	"github.com/accretedb/accrete/edn"
)

// This file is the last stage: the relation left by :where → the shape
// :find asks for (aggregates, pull, :keys).

func (ex *exec) find(q *Query, r *rel) (any, error) {
	rows, err := ex.findRows(q, r)
	if err != nil {
		return nil, err
	}
	if err := ex.pullRows(q, rows); err != nil {
		return nil, err
	}
	switch q.kind {
	case findScalar:
		if len(rows) == 0 {
			return nil, nil
		}
		return rows[0][0], nil
	case findColl:
		out := make([]any, len(rows))
		for i, t := range rows {
			out[i] = t[0]
		}
		return out, nil
	case findTuple:
		if len(rows) == 0 {
			return nil, nil
		}
		return rows[0], nil
	}
	switch q.keysKind {
	case keysKeywords:
		out := make([]map[edn.Keyword]any, len(rows))
		for i, t := range rows {
			m := make(map[edn.Keyword]any, len(t))
			for j, k := range q.keys {
				m[k.(edn.Keyword)] = t[j]
			}
			out[i] = m
		}
		return out, nil
	case keysStrings:
		out := make([]map[string]any, len(rows))
		for i, t := range rows {
			m := make(map[string]any, len(t))
			for j, k := range q.keys {
				m[k.(string)] = t[j]
			}
			out[i] = m
		}
		return out, nil
	case keysSymbols:
		out := make([]map[edn.Symbol]any, len(rows))
		for i, t := range rows {
			m := make(map[edn.Symbol]any, len(t))
			for j, k := range q.keys {
				m[k.(edn.Symbol)] = t[j]
			}
			out[i] = m
		}
		return out, nil
	}
	return Relation(rows), nil
}

// findRows projects r onto :find (and :with), deduplicates, and applies
// aggregates per group.
func (ex *exec) findRows(q *Query, r *rel) ([][]any, error) {
	// The basis: :find variables, then :with variables.
	slots := make([]int, 0, len(q.find)+len(q.with))
	for _, f := range q.find {
		slots = append(slots, f.slot)
	}
	slots = append(slots, q.with...)
	if ex.distinct && !q.hasAgg && len(q.with) == 0 && len(slots) == r.width && identitySlots(slots) {
		// The rows are the result's tuples already: no copy, unless
		// their buffer is mostly room (a lookup's output is sized for its
		// input) and can serve the next query instead (see rowpool.go).
		data := r.data
		if r.owned && cap(data) >= 2*len(data) && cap(data) >= 1<<minPoolClass {
			data = append([]any(nil), data...)
			putRows(r.data)
			r.data = nil
		}
		basis := make([][]any, r.n)
		for i := range basis {
			basis[i] = data[i*r.width : (i+1)*r.width : (i+1)*r.width]
		}
		return basis, nil
	}
	basis := make([][]any, 0, r.n)
	backing := make([]any, r.n*len(slots))
	var seen map[tkey]struct{}
	var seen1 map[any]struct{} // one plain-valued column: no key encoding
	switch {
	case ex.distinct:
	case len(slots) == 1:
		seen1 = make(map[any]struct{}, r.n)
	default:
		seen = make(map[tkey]struct{}, r.n)
	}
	for i := 0; i < r.n; i++ {
		if err := ex.checkCtx(); err != nil {
			return nil, err
		}
		row := r.row(i)
		if ex.distinct {
			// No duplicates to remove (see rowsDistinct).
		} else if seen1 != nil {
			v := row[slots[0]]
			switch v.(type) {
			case int64, string, edn.Keyword, bool, nil:
				if _, ok := seen1[v]; ok {
					continue
				}
				seen1[v] = struct{}{}
			default:
				k := encodedKey(ex.keyString(row, slots))
				if _, ok := seen1[k]; ok {
					continue
				}
				seen1[k] = struct{}{}
			}
		} else {
			k := ex.keyOf(row, slots)
			if _, ok := seen[k]; ok {
				continue
			}
			seen[k] = struct{}{}
		}
		t := backing[:len(slots):len(slots)]
		backing = backing[len(slots):]
		for j, s := range slots {
			t[j] = row[s]
		}
		basis = append(basis, t)
	}
	if r.owned {
		// Everything the result holds was copied out of r.
		putRows(r.data)
		r.data = nil
	}
	n := len(q.find)
	if !q.hasAgg {
		for i := range basis {
			basis[i] = basis[i][:n:n]
		}
		return basis, nil
	}
	// Group by the non-aggregate :find elements.
	var keyCols []int
	for j, f := range q.find {
		if f.kind != elemAgg {
			keyCols = append(keyCols, j)
		}
	}
	type group struct {
		first []any
		vals  [][]any // per :find column
	}
	var groups []*group
	byKey := map[string]*group{}
	for _, t := range basis {
		ex.keybuf = ex.keybuf[:0]
		for _, c := range keyCols {
			ex.keybuf = appendKey(ex.keybuf, t[c])
		}
		g, ok := byKey[string(ex.keybuf)]
		if !ok {
			g = &group{first: t, vals: make([][]any, n)}
			byKey[string(ex.keybuf)] = g
			groups = append(groups, g)
		}
		for j, f := range q.find {
			if f.kind == elemAgg {
				g.vals[j] = append(g.vals[j], t[j])
			}
		}
	}
	if len(groups) == 0 && len(keyCols) == 0 {
		// Aggregates over nothing: Datomic returns no result.
		return nil, nil
	}
	out := make([][]any, 0, len(groups))
	for _, g := range groups {
		t := make([]any, n)
		for j, f := range q.find {
			if f.kind != elemAgg {
				t[j] = g.first[j]
				continue
			}
			v, err := ex.aggregate(f, g.vals[j])
			if err != nil {
				return nil, err
			}
			t[j] = v
		}
		out = append(out, t)
	}
	return out, nil
}

// identitySlots reports whether slots is 0, 1, …, len(slots)-1.
func identitySlots(slots []int) bool {
	for i, s := range slots {
		if s != i {
			return false
		}
	}
	return true
}

func (ex *exec) aggregate(f findElem, vals []any) (any, error) {
	if ex.opts.Funcs != nil {
		if agg := ex.opts.Funcs.aggs[f.fn]; agg != nil {
			v, err := callUserAggregate(agg, f.consts, vals)
			if err != nil {
				return nil, &Error{Clause: qString(f.form), Err: fmt.Errorf("%w: %w", ErrFunction, err)}
			}
			return v, nil
		}
	}
	agg := aggregates[f.fn]
	if agg == nil {
		return nil, errorf(f.form, ErrUnknownFunction, "aggregate %s", f.fn)
	}
	v, err := agg(f.consts, vals)
	if err != nil {
		return nil, &Error{Clause: qString(f.form), Err: fmt.Errorf("%w: %w", ErrFunction, err)}
	}
	return v, nil
}

// callUserAggregate calls a user aggregate, turning a panic in it into an
// error (see callUser).
func callUserAggregate(agg AggregateFunc, consts, vals []any) (v any, err error) {
	defer func() {
		if p := recover(); p != nil {
			v, err = nil, fmt.Errorf("panic: %v", p)
		}
	}()
	return agg(consts, vals)
}

// pullRows replaces the entity of every pull element by its pulled map
// (nil when the entity has none of the pulled attributes).
func (ex *exec) pullRows(q *Query, rows [][]any) error {
	for j, f := range q.find {
		if f.kind != elemPull {
			continue
		}
		s, ok := ex.sources[f.src]
		if !ok {
			return errorf(f.form, ErrMissingSource, "%s is not bound by :in", f.src)
		}
		d, ok := s.(*dbSrc)
		if !ok {
			return errorf(f.form, ErrInput, "pull needs a database source")
		}
		eids := make([]any, len(rows))
		for i, t := range rows {
			eids[i] = t[j]
		}
		maps, err := PullMany(ex.ctx, d.s, f.pattern, eids)
		if err != nil {
			return &Error{Clause: qString(f.form), Err: err}
		}
		for i, t := range rows {
			if maps[i] == nil {
				t[j] = nil
			} else {
				t[j] = maps[i]
			}
		}
	}
	return nil
}

// encodedKey is an appendKey encoding used as a map key next to plain
// values; its own type keeps it from equalling a string value.
type encodedKey string
