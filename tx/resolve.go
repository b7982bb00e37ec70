package tx

import (
	"fmt"

	"github.com/accretedb/accrete/datom"
)

// find returns the root of tempid i's class, compressing the path.
func (t *txn) find(i int32) int32 {
	for t.temps[i].parent != i {
		p := t.temps[i].parent
		t.temps[i].parent = t.temps[p].parent
		i = p
	}
	return i
}

// union merges the classes of tempids a and b; the root is the one seen
// first, so allocation order follows first appearance.
func (t *txn) union(a, b int32) error {
	ra, rb := t.find(a), t.find(b)
	if ra == rb {
		return nil
	}
	if rb < ra {
		ra, rb = rb, ra
	}
	ta, tb := &t.temps[ra], &t.temps[rb]
	if ta.resolved && tb.resolved && ta.id != tb.id {
		return fmt.Errorf("%w: tempids resolve to entities %d and %d", ErrUniqueConflict, ta.id, tb.id)
	}
	if tb.resolved {
		ta.resolved, ta.id = true, tb.id
	}
	ta.entity = ta.entity || tb.entity
	ta.ident = ta.ident || tb.ident
	tb.parent = ra
	return nil
}

// settle sets tempid class root r to entity id, failing when it already
// resolved elsewhere.
func (t *txn) settle(r int32, id datom.ID) error {
	ti := &t.temps[r]
	if ti.resolved {
		if ti.id != id {
			return fmt.Errorf("%w: tempid resolves to entities %d and %d", ErrUniqueConflict, ti.id, id)
		}
		return nil
	}
	ti.resolved, ti.id = true, id
	return nil
}

// opValue returns the concrete value of an op whose tempids may be
// resolved: ok is false while its ref value is an unresolved tempid.
func (t *txn) opValue(o *op) (any, bool) {
	if !o.attr.IsRef() {
		return o.v, true
	}
	if o.ve.tmp == 0 {
		return o.ve.id, true
	}
	ti := &t.temps[t.find(o.ve.tmp-1)]
	return ti.id, ti.resolved
}

// resolve gives every tempid an entity id (T5).
func (t *txn) resolve() error {
	if len(t.temps) == 0 {
		return nil
	}
	// 1. Upsert: a tempid asserting an existing identity value is that
	// entity. Resolving one tempid can make a ref value concrete, so repeat
	// until nothing changes.
	for changed := true; changed; {
		changed = false
		for i := range t.ops {
			o := &t.ops[i]
			if o.done || o.kind != opAdd || o.e.tmp == 0 || o.attr.Unique != datom.UniqueIdentity {
				continue
			}
			v, ok := t.opValue(o)
			if !ok {
				continue
			}
			o.done = true
			id, found, err := t.avetEntity(o.attr.ID, v)
			if err != nil {
				return &Error{Index: o.index, Form: o.form, Err: err}
			}
			if !found {
				continue
			}
			r := t.find(o.e.tmp - 1)
			wasResolved := t.temps[r].resolved
			if err := t.settle(r, id); err != nil {
				return &Error{Index: o.index, Form: o.form, Err: err}
			}
			changed = changed || !wasResolved
		}
	}
	// 2. Tempids asserting the same new identity value are one entity, and a
	// tempid asserting the identity value an explicit entity asserts is that
	// entity.
	// seen finds the first op asserting each (attribute, value), as fact
	// (0, attribute, value).
	seen := &t.avIdx
	defer seen.release()
	for i := range t.ops {
		o := &t.ops[i]
		if o.kind != opAdd || o.attr.Unique != datom.UniqueIdentity {
			continue
		}
		v, ok := t.opValue(o)
		if !ok {
			continue
		}
		j, ok := seen.get(0, o.attr.ID, v)
		if !ok {
			seen.put(0, o.attr.ID, v, int32(i))
			continue
		}
		prev := t.ops[j].e
		var err error
		switch {
		case prev.tmp != 0 && o.e.tmp != 0:
			err = t.union(prev.tmp-1, o.e.tmp-1)
		case prev.tmp != 0:
			err = t.settle(t.find(prev.tmp-1), o.e.id)
		case o.e.tmp != 0:
			err = t.settle(t.find(o.e.tmp-1), prev.id)
		}
		if err != nil {
			return &Error{Index: o.index, Form: o.form, Err: err}
		}
	}
	// 3. Allocate fresh ids, in order of first appearance.
	for i := range t.temps {
		r := t.find(int32(i))
		if int32(i) != r {
			ti := t.temps[i]
			t.temps[r].entity = t.temps[r].entity || ti.entity
			t.temps[r].ident = t.temps[r].ident || ti.ident
		}
	}
	for i := range t.temps {
		r := t.find(int32(i))
		ti := &t.temps[r]
		if ti.resolved {
			continue
		}
		if !ti.entity {
			u := t.temps[i]
			name := "a nested map"
			if u.key != nil {
				name = formText(u.key)
			}
			return &Error{Index: u.index, Form: u.form, Err: fmt.Errorf("%w: tempid %s is used only as a value", ErrTempID, name)}
		}
		part, n := datom.PartUser, &t.nextUser
		if ti.ident {
			part, n = datom.PartDB, &t.nextDB
		}
		if *n >= 1<<datom.PartShift {
			return &Error{Index: ti.index, Form: ti.form, Err: fmt.Errorf("%w: partition %d is full", ErrInvalidEntity, part)}
		}
		ti.resolved, ti.id = true, datom.MakeID(part, *n)
		*n++
	}
	return nil
}

// idOf returns the entity id of e after resolve.
func (t *txn) idOf(e eref) datom.ID {
	if e.tmp == 0 {
		return e.id
	}
	return t.temps[t.find(e.tmp-1)].id
}
