package tx

import (
	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
)

type addFunc func(e datom.ID, attr *datom.Attribute, v any, oi int32) error

// tuples maintains composite tuples (T6): for every entity on which a
// component of a :db/tupleAttrs attribute changed, it asserts the tuple of
// the entity's values after the transaction, or retracts it when every
// component is absent.
func (t *txn) tuples(addFact addFunc, addRet retFunc) error {
	// The snapshot's schema is derived from its :db/tupleAttrs datoms, so
	// it knows the composite tuples without a scan.
	tas := t.schema.CompositeTuples()
	if len(tas) == 0 {
		return nil
	}
	byComp := make(map[datom.ID][]*datom.Attribute)
	for _, a := range tas {
		for _, c := range a.TupleAttrs {
			if l := byComp[c]; len(l) == 0 || l[len(l)-1] != a {
				byComp[c] = append(l, a)
			}
		}
	}
	type target struct {
		e  datom.ID
		ta *datom.Attribute
	}
	var targets []target
	seen := make(map[target]bool)
	touch := func(e, a datom.ID) {
		for _, ta := range byComp[a] {
			k := target{e, ta}
			if !seen[k] {
				seen[k] = true
				targets = append(targets, k)
			}
		}
	}
	for i := range t.adds {
		if !t.adds[i].elided {
			touch(t.adds[i].e, t.adds[i].a)
		}
	}
	for i := range t.retracts {
		touch(t.retracts[i].e, t.retracts[i].a)
	}
	for _, g := range targets {
		tuple := make(edn.Vector, len(g.ta.TupleAttrs))
		allNil := true
		for j, c := range g.ta.TupleAttrs {
			v, err := t.postValue(g.e, c)
			if err != nil {
				return &Error{Index: -1, Err: err}
			}
			tuple[j] = v
			allNil = allNil && v == nil
		}
		start, end := len(t.scanBuf), len(t.scanBuf)
		if !t.isNew(g.e) {
			var err error
			if start, end, err = t.collect(datom.EAVT, t.comps(g.e, g.ta.ID)); err != nil {
				return &Error{Index: -1, Err: err}
			}
		}
		keep := false
		for j := start; j < end; j++ {
			d := t.scanBuf[j]
			if !allNil && datom.CompareValues(d.V, tuple) == 0 {
				keep = true
				continue
			}
			if err := addRet(d, g.ta, -1, false); err != nil {
				return err
			}
		}
		t.dropCollected(start)
		if !allNil && !keep {
			if err := addFact(g.e, g.ta, tuple, -1); err != nil {
				return err
			}
		}
	}
	return nil
}

// postValue returns the value of cardinality-one attribute a of entity e
// after the transaction, or nil when it has none.
func (t *txn) postValue(e, a datom.ID) (any, error) {
	if i, ok := t.cardOne.get(eaKey{e, a}); ok {
		return t.adds[i].v, nil
	}
	if t.isNew(e) {
		return nil, nil
	}
	start, end, err := t.collect(datom.EAVT, t.comps(e, a))
	defer t.dropCollected(start)
	for j := start; j < end && err == nil; j++ {
		if d := &t.scanBuf[j]; !t.hasRet(d.E, d.A, d.V) {
			return d.V, nil
		}
	}
	return nil, err
}
