package tx

import (
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
)

// fact is one assertion or retraction being built.
type fact struct {
	e, a   datom.ID
	v      any
	attr   *datom.Attribute
	op     int32 // index in t.ops, -1 when implied
	elided bool  // assertion already true (T2)
	old    datom.Datom
}

type eaKey struct{ e, a datom.ID }

func (t *txn) opErr(i int32, err error) error {
	if i < 0 {
		return &Error{Index: -1, Err: err}
	}
	o := &t.ops[i]
	return &Error{Index: o.index, Form: o.form, Err: err}
}

// factErr is opErr for an error about fact f: implied facts (composite
// tuples) are named by their datom form.
func (t *txn) factErr(f *fact, err error) error {
	if f.op < 0 {
		return &Error{Index: -1, Form: datomForm("db/add", f.e, f.attr, f.v), Err: err}
	}
	return t.opErr(f.op, err)
}

// datomForm renders a fact as the datom form that caused an error.
func datomForm(op string, e datom.ID, attr *datom.Attribute, v any) edn.Vector {
	return edn.Vector{edn.Keyword(op), e, attr.Ident, v}
}

// build turns the resolved operations into datoms (T2–T6).
func (t *txn) build() error {
	n := len(t.ops) + len(t.autoDs) + 1
	if cap(t.adds) < n {
		t.adds = make([]fact, 0, n)
	}
	t.addIdx.expect = n
	t.adds = t.adds[:0]
	addFact := func(e datom.ID, attr *datom.Attribute, v any, oi int32) error {
		if _, ok := t.addIdx.get(e, attr.ID, v); ok {
			return nil
		}
		if attr.Cardinality != datom.CardinalityMany {
			ek := eaKey{e, attr.ID}
			if prev, ok := t.cardOne.get(ek); ok {
				return t.opErr(oi, fmt.Errorf("%w: %s of %d is both %s and %s", ErrCardinalityConflict,
					attr.Ident, e, formText(t.adds[prev].v), formText(v)))
			}
			t.cardOne.put(ek, int32(len(t.adds)))
		}
		t.addIdx.put(e, attr.ID, v, int32(len(t.adds)))
		t.adds = append(t.adds, fact{e: e, a: attr.ID, v: v, attr: attr, op: oi})
		return nil
	}
	for _, d := range t.autoDs {
		attr := t.schema.Attr(d.A)
		if attr == nil {
			return fmt.Errorf("tx: schema lacks built-in attribute %d", d.A)
		}
		if err := addFact(d.E, attr, d.V, -1); err != nil {
			return err
		}
	}
	deferred := t.deferred[:0]
	defer func() { t.deferred = deferred[:0] }()
	for i := range t.ops {
		o := &t.ops[i]
		oi := int32(i)
		switch o.kind {
		case opAdd:
			v, _ := t.opValue(o)
			if err := addFact(t.idOf(o.e), o.attr, v, oi); err != nil {
				return err
			}
		case opCAS:
			e := t.idOf(o.e)
			// A cardinality-one attribute has at most one current value.
			curD, hasCur, err := t.first(datom.EAVT, t.comps(e, o.attr.ID))
			if err != nil {
				return t.opErr(oi, err)
			}
			cur := curD.V
			var old any
			if o.hasOld {
				old = o.old
				if o.attr.IsRef() {
					old = o.olde.id
				}
			}
			switch {
			case !o.hasOld && hasCur:
				return t.opErr(oi, fmt.Errorf("%w: %s of %d is %s, want none", ErrCAS, o.attr.Ident, e, formText(cur)))
			case o.hasOld && !hasCur:
				return t.opErr(oi, fmt.Errorf("%w: %s of %d is absent, want %s", ErrCAS, o.attr.Ident, e, formText(old)))
			case o.hasOld && datom.CompareValues(cur, old) != 0:
				return t.opErr(oi, fmt.Errorf("%w: %s of %d is %s, want %s", ErrCAS, o.attr.Ident, e, formText(cur), formText(old)))
			}
			v, _ := t.opValue(o)
			if err := addFact(e, o.attr, v, oi); err != nil {
				return err
			}
		default:
			deferred = append(deferred, oi)
		}
	}

	// Explicit retractions, then implied ones.
	addRet := func(d datom.Datom, attr *datom.Attribute, oi int32, explicit bool) error {
		if _, ok := t.addIdx.get(d.E, d.A, d.V); ok {
			if explicit {
				return t.opErr(oi, fmt.Errorf("%w: %s is both asserted and retracted", ErrConflict,
					formText(datomForm("db/retract", d.E, attr, d.V))))
			}
			return nil
		}
		if _, ok := t.retIdx.get(d.E, d.A, d.V); ok {
			return nil
		}
		t.retIdx.put(d.E, d.A, d.V, int32(len(t.retracts)))
		t.retracts = append(t.retracts, fact{e: d.E, a: d.A, v: d.V, attr: attr, op: oi, old: d})
		return nil
	}
	for _, oi := range deferred {
		o := &t.ops[oi]
		e := t.idOf(o.e)
		switch o.kind {
		case opRetract:
			v, ok := t.opValue(o)
			if !ok {
				return t.opErr(oi, fmt.Errorf("%w: retraction of an unresolved tempid", ErrTempID))
			}
			if _, ok := t.addIdx.get(e, o.attr.ID, v); ok {
				return t.opErr(oi, fmt.Errorf("%w: %s is both asserted and retracted", ErrConflict,
					formText(datomForm("db/retract", e, o.attr, v))))
			}
			old, found, err := t.first(datom.EAVT, t.comps(e, o.attr.ID, v))
			if err != nil {
				return t.opErr(oi, err)
			}
			if found {
				if err := addRet(old, o.attr, oi, true); err != nil {
					return err
				}
			}
		case opRetractAttr:
			if err := t.retractScan(datom.EAVT, []any{e, o.attr.ID}, oi, addRet); err != nil {
				return err
			}
		case opRetractEntity:
			t.seen.reset()
			if err := t.retractEntity(e, oi, addRet, &t.seen); err != nil {
				return err
			}
		}
	}

	// Cardinality one (T3) and elision (T2) for entities that exist.
	for i := range t.adds {
		f := &t.adds[i]
		if t.isNew(f.e) {
			continue
		}
		comps := t.comps(f.e, f.a, f.v)
		if f.attr.Cardinality != datom.CardinalityMany {
			comps = comps[:2]
		}
		start, end, err := t.collect(datom.EAVT, comps)
		if err != nil {
			return t.opErr(f.op, err)
		}
		for j := start; j < end; j++ {
			d := &t.scanBuf[j]
			if datom.CompareValues(d.V, f.v) == 0 {
				f.elided = true
				continue
			}
			if err := addRet(*d, f.attr, f.op, false); err != nil {
				return err
			}
		}
		t.dropCollected(start)
	}

	if err := t.tuples(addFact, addRet); err != nil {
		return err
	}
	if err := t.checkUnique(); err != nil {
		return err
	}

	// The transaction's instant, unless the data gives one.
	if _, ok := t.cardOne.get(eaKey{t.txID, datom.DBTxInstant}); !ok {
		if err := addFact(t.txID, t.txInstant, boxInstant(t.in.TxInstant), -1); err != nil {
			return err
		}
	}

	// Datoms and Retracted share one allocation (each capped, so that
	// appending to one never writes into the other).
	nOut, nRet := len(t.adds)+len(t.retracts), len(t.retracts)
	buf := make([]datom.Datom, 0, nOut+nRet)
	t.out, t.outRet = buf[:0:nOut], buf[nOut:nOut:nOut+nRet]
	for i := range t.retracts {
		f := &t.retracts[i] // a fact is about a hundred bytes: no copy
		t.out = append(t.out, datom.Datom{E: f.e, A: f.a, V: f.v, Tx: t.txID, Added: false})
		t.outRet = append(t.outRet, f.old)
	}
	for i := range t.adds {
		if f := &t.adds[i]; !f.elided {
			t.out = append(t.out, datom.Datom{E: f.e, A: f.a, V: f.v, Tx: t.txID, Added: true})
		}
	}
	// Usually in order already (one entity's datoms, as a scan found
	// them, then the transaction's): a check is cheaper than a sort.
	if !slices.IsSortedFunc(t.out, compareDatoms) {
		slices.SortFunc(t.out, compareDatoms)
	}
	if !slices.IsSortedFunc(t.outRet, compareDatoms) {
		slices.SortFunc(t.outRet, compareDatoms)
	}
	return nil
}

// lastInstant is the most recent transaction instant boxInstant boxed.
var lastInstant atomic.Pointer[boxedInstant]

type boxedInstant struct {
	t time.Time // normalized
	v any       // t, boxed
}

// boxInstant returns tm as an instant value (what coercing it to
// :db.type/instant gives), sharing the box of the previous call when the
// instant is the same: transactions committed within one millisecond have
// equal instants, and a boxed value is immutable, so they can share it
// instead of allocating one each.
func boxInstant(tm time.Time) any {
	n := datom.NormalizeInstant(tm)
	if b := lastInstant.Load(); b != nil && b.t == n {
		return b.v
	}
	b := &boxedInstant{t: n, v: n}
	lastInstant.Store(b)
	return b.v
}

// compareDatoms orders datoms by E, A, V, then retractions first.
func compareDatoms(x, y datom.Datom) int {
	switch {
	case x.E != y.E:
		return cmpID(x.E, y.E)
	case x.A != y.A:
		return cmpID(x.A, y.A)
	}
	if c := datom.CompareValues(x.V, y.V); c != 0 {
		return c
	}
	switch {
	case x.Added == y.Added:
		return 0
	case !x.Added:
		return -1
	}
	return 1
}

func cmpID(a, b datom.ID) int {
	if a < b {
		return -1
	}
	return 1
}

type retFunc func(d datom.Datom, attr *datom.Attribute, oi int32, explicit bool) error

// retractScan retracts every current datom a scan yields.
func (t *txn) retractScan(idx datom.Index, comps []any, oi int32, addRet retFunc) error {
	start, end, err := t.collect(idx, comps)
	defer t.dropCollected(start)
	if err != nil {
		return t.opErr(oi, err)
	}
	for i := start; i < end; i++ {
		d := &t.scanBuf[i]
		attr := t.schema.Attr(d.A)
		if attr == nil {
			return t.opErr(oi, fmt.Errorf("tx: snapshot datom has unknown attribute %d", d.A))
		}
		if err := addRet(*d, attr, oi, false); err != nil {
			return err
		}
	}
	return nil
}

// retractEntity retracts e's datoms and the refs to it, cascading to its
// components; seen holds the entities the operation retracted already.
func (t *txn) retractEntity(e datom.ID, oi int32, addRet retFunc, seen *idSet) error {
	if !seen.add(e) {
		return nil
	}
	ebox := any(e) // both scans take it
	start, end, err := t.collect(datom.EAVT, t.comps(ebox))
	defer t.dropCollected(start)
	if err != nil {
		return t.opErr(oi, err)
	}
	t.retracts = slices.Grow(t.retracts, end-start)
	for i := start; i < end; i++ {
		// A component's retraction collects past end (it may move
		// t.scanBuf): index it afresh each time.
		d := t.scanBuf[i]
		attr := t.schema.Attr(d.A)
		if attr == nil {
			return t.opErr(oi, fmt.Errorf("tx: snapshot datom has unknown attribute %d", d.A))
		}
		if err := addRet(d, attr, oi, false); err != nil {
			return err
		}
		if attr.IsComponent && attr.IsRef() {
			if c, ok := d.V.(datom.ID); ok {
				if err := t.retractEntity(c, oi, addRet, seen); err != nil {
					return err
				}
			}
		}
	}
	t.dropCollected(start)
	return t.retractScan(datom.VAET, t.comps(ebox), oi, addRet)
}

// checkUnique fails when an assertion gives a unique value to a second
// entity, in the transaction or in the snapshot (minus what it retracts).
func (t *txn) checkUnique() error {
	// seen finds the first assertion of each (attribute, value), as fact
	// (0, attribute, value).
	seen := &t.avIdx
	defer seen.release()
	for i := range t.adds {
		f := &t.adds[i]
		if f.elided || f.attr.Unique == datom.UniqueNone {
			continue
		}
		if j, ok := seen.get(0, f.a, f.v); !ok {
			seen.put(0, f.a, f.v, int32(i))
		} else if prev := t.adds[j].e; prev != f.e {
			return t.factErr(f, fmt.Errorf("%w: %s %s asserted for entities %d and %d", ErrUniqueConflict,
				f.attr.Ident, formText(f.v), prev, f.e))
		}
		// A unique value has at most one current holder (more only in a
		// snapshot whose schema just made the attribute unique).
		start, end, err := t.collect(datom.AVET, t.comps(f.a, f.v))
		if err != nil {
			return t.opErr(f.op, err)
		}
		var holder datom.ID
		held := false
		for j := start; j < end && !held; j++ {
			if d := &t.scanBuf[j]; d.E != f.e && !t.hasRet(d.E, d.A, d.V) {
				holder, held = d.E, true
			}
		}
		t.dropCollected(start)
		if held {
			return t.factErr(f, fmt.Errorf("%w: %s %s already belongs to entity %d", ErrUniqueConflict,
				f.attr.Ident, formText(f.v), holder))
		}
	}
	return nil
}

func (t *txn) hasRet(e, a datom.ID, v any) bool {
	_, ok := t.retIdx.get(e, a, v)
	return ok
}
