package tx

import (
	"context"
	"fmt"
	"strings"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
)

// opKind is what an expanded operation does.
type opKind uint8

const (
	opAdd           opKind = iota // assert e a v
	opRetract                     // retract e a v
	opRetractAttr                 // retract every value of e a
	opRetractEntity               // retract e, refs to it, and its components
	opCAS                         // assert e a v if e a's value is old
)

// eref names an entity in an operation: a concrete id, or a tempid (tmp > 0
// is the index in txn.temps plus one) resolved later.
type eref struct {
	id  datom.ID
	tmp int32
}

// op is one primitive operation expanded from the data.
type op struct {
	kind   opKind
	e      eref
	attr   *datom.Attribute
	v      any  // value of a non-ref attribute
	ve     eref // value of a ref attribute
	old    any  // :db/cas expected value (non-ref)
	olde   eref // :db/cas expected value (ref)
	hasOld bool
	done   bool // upsert: looked up already
	index  int  // top-level form index
	form   any  // the form it came from
}

// tempInfo is one tempid; tempids that resolve to one entity form a
// union-find class whose root holds the resolution.
type tempInfo struct {
	key      any // string or int64 as given; nil for a map without :db/id
	parent   int32
	resolved bool
	id       datom.ID
	entity   bool // used as the entity of an assertion or a non-empty map
	ident    bool // asserts :db/ident: allocate in PartDB
	index    int  // first use, for errors
	form     any
}

func (t *txn) tempid(key any, form any) eref {
	if t.tempIdx != nil {
		if i, ok := t.tempIdx[key]; ok {
			return eref{tmp: i + 1}
		}
	} else {
		// Few tempids: a scan, and no map until there are many.
		for i := range t.temps {
			if k := t.temps[i].key; k != nil && k == key {
				return eref{tmp: int32(i) + 1}
			}
		}
	}
	i := int32(len(t.temps))
	if t.tempIdx == nil && len(t.temps) >= smallIndex {
		t.tempIdx = make(map[any]int32, 2*smallIndex)
		for j := range t.temps {
			if k := t.temps[j].key; k != nil {
				if _, dup := t.tempIdx[k]; !dup {
					t.tempIdx[k] = int32(j)
				}
			}
		}
	}
	if t.tempIdx != nil {
		t.tempIdx[key] = i
	}
	t.temps = append(t.temps, tempInfo{key: key, parent: i, index: t.cur, form: form})
	return eref{tmp: i + 1}
}

func (t *txn) newTemp(form any) eref {
	i := int32(len(t.temps))
	t.temps = append(t.temps, tempInfo{parent: i, index: t.cur, form: form})
	return eref{tmp: i + 1}
}

// expand turns one form into operations.
func (t *txn) expand(form any, depth int) error {
	if err := t.ctx.Err(); err != nil {
		return t.errAt(form, fmt.Errorf("tx: %w", err))
	}
	switch f := form.(type) {
	case edn.Map:
		_, _, err := t.expandMap(f, form)
		return err
	case edn.Vector:
		return t.expandCall(f, form, depth)
	case edn.List:
		return t.expandCall(f, form, depth)
	case []any:
		return t.expandCall(f, form, depth)
	}
	return t.errAt(form, fmt.Errorf("%w: want a list or map form, got %T", ErrInvalidForm, form))
}

func (t *txn) expandCall(xs []any, form any, depth int) error {
	if len(xs) == 0 {
		return t.errAt(form, fmt.Errorf("%w: empty list form", ErrInvalidForm))
	}
	name, ok := xs[0].(edn.Keyword)
	if !ok {
		return t.errAt(form, fmt.Errorf("%w: list form must start with a keyword, got %s", ErrInvalidForm, formText(xs[0])))
	}
	arity := func(n ...int) error {
		for _, k := range n {
			if len(xs) == k {
				return nil
			}
		}
		return t.errAt(form, fmt.Errorf("%w: %s takes %d arguments, got %d", ErrInvalidForm, name, n[0]-1, len(xs)-1))
	}
	switch name {
	case "db/add":
		if err := arity(4); err != nil {
			return err
		}
		return t.listOp(opAdd, xs[1], xs[2], xs[3], form)
	case "db/retract":
		if err := arity(4, 3); err != nil {
			return err
		}
		if len(xs) == 3 {
			return t.listOp(opRetractAttr, xs[1], xs[2], nil, form)
		}
		return t.listOp(opRetract, xs[1], xs[2], xs[3], form)
	case "db/retractEntity", "db.fn/retractEntity":
		if err := arity(2); err != nil {
			return err
		}
		e, err := t.concrete(xs[1], form)
		if err != nil {
			return err
		}
		t.ops = append(t.ops, op{kind: opRetractEntity, e: e, index: t.cur, form: form})
		return nil
	case "db/cas", "db.fn/cas":
		if err := arity(5); err != nil {
			return err
		}
		return t.casOp(xs[1], xs[2], xs[3], xs[4], form)
	}
	fn := t.opts.Funcs[name]
	if fn == nil {
		return t.errAt(form, fmt.Errorf("%w: unknown operation or function %s", ErrInvalidForm, name))
	}
	if depth >= t.maxDepth {
		return t.errAt(form, fmt.Errorf("%w: %s: functions nested deeper than %d", ErrTxFunc, name, t.maxDepth))
	}
	out, err := callFunc(t.ctx, fn, t.db, xs[1:])
	if err != nil {
		return t.errAt(form, fmt.Errorf("%w: %s: %w", ErrTxFunc, name, err))
	}
	for _, f := range out {
		if err := t.expand(f, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// callFunc calls a transaction function, turning a panic in it into an
// error: a function is user code, and its bug must fail the transaction,
// not the process that applies it.
func callFunc(ctx context.Context, fn Func, db Snapshot, args []any) (out []any, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("panic: %v", p)
		}
	}()
	return fn(ctx, db, args...)
}

// concrete resolves x to an existing entity; tempids are not allowed.
func (t *txn) concrete(x any, form any) (eref, error) {
	e, err := t.entity(x, form)
	if err != nil {
		return eref{}, t.errAt(form, err)
	}
	if e.tmp != 0 {
		return eref{}, t.errAt(form, fmt.Errorf("%w: %s names no existing entity", ErrTempID, formText(x)))
	}
	return e, nil
}

func (t *txn) listOp(kind opKind, ex, ax, vx any, form any) error {
	attr, rev, err := t.attribute(ax, true)
	if err != nil {
		return t.errAt(form, err)
	}
	if rev {
		if kind == opRetractAttr {
			return t.errAt(form, fmt.Errorf("%w: [:db/retract e a] takes a forward attribute", ErrInvalidForm))
		}
		ex, vx = vx, ex
	}
	if kind == opRetract || kind == opRetractAttr {
		e, err := t.concrete(ex, form)
		if err != nil {
			return err
		}
		o := op{kind: kind, e: e, attr: attr, index: t.cur, form: form}
		if kind == opRetract {
			if o.v, o.ve, err = t.value(attr, vx, form); err != nil {
				return t.errAt(form, err)
			}
		}
		t.ops = append(t.ops, o)
		return nil
	}
	e, err := t.entity(ex, form)
	if err != nil {
		return t.errAt(form, err)
	}
	v, ve, err := t.value(attr, vx, form)
	if err != nil {
		return t.errAt(form, err)
	}
	return t.addOp(e, attr, v, ve, form)
}

func (t *txn) addOp(e eref, attr *datom.Attribute, v any, ve eref, form any) error {
	if len(attr.TupleAttrs) > 0 {
		return t.errAt(form, fmt.Errorf("%w: composite tuple %s is maintained by the transaction, not asserted", ErrInvalidForm, attr.Ident))
	}
	if e.tmp != 0 {
		ti := &t.temps[e.tmp-1]
		ti.entity = true
		if attr.ID == datom.DBIdent {
			ti.ident = true
		}
	}
	t.ops = append(t.ops, op{kind: opAdd, e: e, attr: attr, v: v, ve: ve, index: t.cur, form: form})
	return nil
}

func (t *txn) casOp(ex, ax, oldx, newx any, form any) error {
	attr, _, err := t.attribute(ax, false)
	if err != nil {
		return t.errAt(form, err)
	}
	if attr.Cardinality != datom.CardinalityOne {
		return t.errAt(form, fmt.Errorf("%w: :db/cas needs a cardinality-one attribute, %s is not", ErrInvalidForm, attr.Ident))
	}
	e, err := t.concrete(ex, form)
	if err != nil {
		return err
	}
	o := op{kind: opCAS, e: e, attr: attr, index: t.cur, form: form}
	if oldx != nil {
		o.hasOld = true
		if o.old, o.olde, err = t.value(attr, oldx, form); err != nil {
			return t.errAt(form, err)
		}
		if o.olde.tmp != 0 {
			return t.errAt(form, fmt.Errorf("%w: :db/cas old value cannot be a tempid", ErrTempID))
		}
	}
	if o.v, o.ve, err = t.value(attr, newx, form); err != nil {
		return t.errAt(form, err)
	}
	if len(attr.TupleAttrs) > 0 {
		return t.errAt(form, fmt.Errorf("%w: composite tuple %s is maintained by the transaction, not asserted", ErrInvalidForm, attr.Ident))
	}
	t.ops = append(t.ops, o)
	return nil
}

// expandMap expands a map form and returns its entity and whether it is
// identifiable (has :db/id or a unique attribute), as a nested map must be
// unless it is a component.
//
// form is m as an any (as the data holds it): every op of the map shares
// that box rather than boxing m again.
func (t *txn) expandMap(m edn.Map, form any) (eref, bool, error) {
	var e eref
	have := false
	for _, en := range m {
		if k, ok := en.Key.(edn.Keyword); ok && k == "db/id" {
			if have {
				return eref{}, false, t.errAt(form, fmt.Errorf("%w: :db/id given twice", ErrInvalidForm))
			}
			var err error
			if e, err = t.entity(en.Val, form); err != nil {
				return eref{}, false, t.errAt(form, err)
			}
			have = true
		}
	}
	if !have {
		e = t.newTemp(form)
	}
	identifiable := have
	for _, en := range m {
		if k, ok := en.Key.(edn.Keyword); ok && k == "db/id" {
			continue
		}
		attr, rev, err := t.attribute(en.Key, true)
		if err != nil {
			return eref{}, false, t.errAt(form, err)
		}
		if !rev && attr.Unique != datom.UniqueNone {
			identifiable = true
		}
		if e.tmp != 0 {
			t.temps[e.tmp-1].entity = true
		}
		for _, x := range t.split(attr, rev, en.Val) {
			if rev {
				var src eref
				if mm, ok := x.(edn.Map); ok {
					if src, _, err = t.expandMap(mm, x); err != nil {
						return eref{}, false, err
					}
				} else if src, err = t.entity(x, form); err != nil {
					return eref{}, false, t.errAt(form, err)
				}
				if err := t.addOp(src, attr, nil, e, form); err != nil {
					return eref{}, false, err
				}
				continue
			}
			if mm, ok := x.(edn.Map); ok && attr.IsRef() {
				child, ok, err := t.expandMap(mm, x)
				if err != nil {
					return eref{}, false, err
				}
				if !ok && !attr.IsComponent {
					return eref{}, false, t.errAt(mm, fmt.Errorf("%w: nested map under %s must be a component, have :db/id, or have a unique attribute", ErrInvalidForm, attr.Ident))
				}
				if err := t.addOp(e, attr, nil, child, form); err != nil {
					return eref{}, false, err
				}
				continue
			}
			v, ve, err := t.value(attr, x, form)
			if err != nil {
				return eref{}, false, t.errAt(form, err)
			}
			if err := t.addOp(e, attr, v, ve, form); err != nil {
				return eref{}, false, err
			}
		}
	}
	return e, identifiable, nil
}

// split returns the values a map entry asserts: the elements of a
// collection for cardinality-many and reverse attributes, else the value.
// A vector stays one value when it is a tuple or a lookup ref.
func (t *txn) split(attr *datom.Attribute, rev bool, x any) []any {
	if !rev && attr.Cardinality != datom.CardinalityMany {
		return t.single(x)
	}
	var xs []any
	switch c := x.(type) {
	case edn.Set:
		return c
	case edn.Vector:
		xs = c
	case edn.List:
		xs = c
	case []any:
		xs = c
	default:
		return t.single(x)
	}
	if (rev || attr.IsRef()) && t.isLookupRef(xs) {
		return t.single(x)
	}
	if !rev && attr.ValueType == datom.TypeTuple && (len(xs) == 0 || !isColl(xs[0])) {
		return t.single(x)
	}
	return xs
}

// single returns x as a one-element slice without allocating. The slice is
// scratch space, valid until the next call: callers read its element
// before expanding anything else.
func (t *txn) single(x any) []any {
	t.one[0] = x
	return t.one[:]
}

func isColl(x any) bool {
	switch x.(type) {
	case edn.Vector, edn.List, []any, edn.Set:
		return true
	}
	return false
}

func (t *txn) isLookupRef(xs []any) bool {
	if len(xs) != 2 {
		return false
	}
	var a *datom.Attribute
	switch k := xs[0].(type) {
	case edn.Keyword:
		a = t.schema.AttrByIdent(k)
	case int64:
		a = t.schema.Attr(k)
	}
	return a != nil && a.Unique != datom.UniqueNone
}

// attribute resolves an attribute keyword or id. With allowRev, :ns/_name
// names the ref attribute :ns/name backwards (rev is true).
func (t *txn) attribute(x any, allowRev bool) (attr *datom.Attribute, rev bool, err error) {
	switch k := x.(type) {
	case edn.Keyword:
		if a := t.schema.AttrByIdent(k); a != nil {
			return a, false, nil
		}
		if a := t.auto[k]; a != nil {
			return a, false, nil
		}
		if name := k.Name(); allowRev && strings.HasPrefix(name, "_") && len(name) > 1 {
			fwd := edn.Keyword(name[1:])
			if ns := k.Namespace(); ns != "" {
				fwd = edn.Keyword(ns + "/" + name[1:])
			}
			a := t.schema.AttrByIdent(fwd)
			if a == nil || !a.IsRef() {
				return nil, false, fmt.Errorf("%w: reverse %s needs ref attribute %s", ErrUnknownAttribute, k, fwd)
			}
			return a, true, nil
		}
		if t.schema.SchemaOnRead() && k.Namespace() != "db" {
			a, err := t.autoAttr(k)
			return a, false, err
		}
		return nil, false, fmt.Errorf("%w: %s", ErrUnknownAttribute, k)
	case int64:
		if a := t.schema.Attr(k); a != nil {
			return a, false, nil
		}
		return nil, false, fmt.Errorf("%w: id %d", ErrUnknownAttribute, k)
	case int:
		return t.attribute(int64(k), allowRev)
	}
	return nil, false, fmt.Errorf("%w: %s is not an attribute", ErrUnknownAttribute, formText(x))
}

// autoAttr installs an undeclared attribute under schema-on-read (T7).
func (t *txn) autoAttr(k edn.Keyword) (*datom.Attribute, error) {
	if t.nextDB >= 1<<datom.PartShift {
		return nil, fmt.Errorf("%w: partition db is full", ErrInvalidEntity)
	}
	id := datom.MakeID(datom.PartDB, t.nextDB)
	t.nextDB++
	a := &datom.Attribute{ID: id, Ident: k, Cardinality: datom.CardinalityOne}
	if t.auto == nil {
		t.auto = make(map[edn.Keyword]*datom.Attribute)
	}
	t.auto[k] = a
	t.autoDs = append(t.autoDs,
		datom.Datom{E: id, A: datom.DBIdent, V: k},
		datom.Datom{E: id, A: datom.DBCardinality, V: datom.DBCardinalityOne})
	return a, nil
}

// entity resolves an entity position: an id, a negative-integer or string
// tempid, an ident, or a lookup ref.
func (t *txn) entity(x any, form any) (eref, error) {
	// A tempid is keyed by x itself where x already is the key (a string
	// or an int64), so that it is not boxed a second time.
	switch v := x.(type) {
	case int64:
		return t.entityID(v, x, form)
	case int:
		return t.entityID(int64(v), nil, form)
	case string:
		if v == TxTempID {
			return eref{id: t.txID}, nil
		}
		return t.tempid(x, form), nil
	case edn.Keyword:
		id, ok := t.schema.Entid(v)
		if !ok {
			return eref{}, fmt.Errorf("%w: unknown ident %s", ErrInvalidEntity, v)
		}
		return eref{id: id}, nil
	case edn.Vector:
		return t.lookupRef(v)
	case edn.List:
		return t.lookupRef(v)
	case []any:
		return t.lookupRef(v)
	}
	return eref{}, fmt.Errorf("%w: %s cannot name an entity", ErrInvalidEntity, formText(x))
}

// entityID resolves entity number n; key is n as an any (int64), or nil
// to box it here when n is a tempid.
func (t *txn) entityID(n int64, key any, form any) (eref, error) {
	if n < 0 {
		if key == nil {
			key = n
		}
		return t.tempid(key, form), nil
	}
	if !t.validID(n) {
		return eref{}, fmt.Errorf("%w: %d", ErrInvalidEntity, n)
	}
	return eref{id: n}, nil
}

// lookupRef resolves [attr value] against the snapshot.
func (t *txn) lookupRef(xs []any) (eref, error) {
	if len(xs) != 2 {
		return eref{}, fmt.Errorf("%w: %s is not [attribute value]", ErrLookupRef, formText(edn.Vector(xs)))
	}
	attr, _, err := t.attribute(xs[0], false)
	if err != nil {
		return eref{}, fmt.Errorf("%w: %w", ErrLookupRef, err)
	}
	if attr.Unique == datom.UniqueNone {
		return eref{}, fmt.Errorf("%w: %s is not unique", ErrLookupRef, attr.Ident)
	}
	if xs[1] == nil {
		return eref{}, fmt.Errorf("%w: nil value", ErrLookupRef)
	}
	v, ve, err := t.value(attr, xs[1], nil)
	if err != nil {
		return eref{}, fmt.Errorf("%w: %w", ErrLookupRef, err)
	}
	if attr.IsRef() {
		if ve.tmp != 0 {
			return eref{}, fmt.Errorf("%w: value is a tempid", ErrLookupRef)
		}
		v = ve.id
	}
	id, found, err := t.avetEntity(attr.ID, v)
	if err != nil {
		return eref{}, err
	}
	if !found {
		return eref{}, fmt.Errorf("%w: no entity has %s %s", ErrLookupRef, attr.Ident, formText(xs[1]))
	}
	return eref{id: id}, nil
}

// value resolves a value for attr: an entity for refs, else a value coerced
// to the attribute's type (or typed by itself under schema-on-read).
func (t *txn) value(attr *datom.Attribute, x any, form any) (any, eref, error) {
	if attr.IsRef() {
		if _, ok := x.(edn.Map); ok {
			return nil, eref{}, fmt.Errorf("%w: nested map under %s only in map forms", ErrInvalidForm, attr.Ident)
		}
		e, err := t.entity(x, form)
		if err != nil {
			return nil, eref{}, err
		}
		return nil, e, nil
	}
	if x == nil {
		return nil, eref{}, fmt.Errorf("%w: %s: nil is not a value", ErrWrongType, attr.Ident)
	}
	// attr.Coerce types undeclared values by themselves (T7) and applies
	// :db/tupleTypes.
	v, err := attr.Coerce(x)
	if err != nil {
		return nil, eref{}, fmt.Errorf("%w: %s: %w", ErrWrongType, attr.Ident, err)
	}
	return v, eref{}, nil
}

// avetEntity returns the entity holding value v of unique attribute a.
func (t *txn) avetEntity(a datom.ID, v any) (datom.ID, bool, error) {
	d, found, err := t.first(datom.AVET, t.comps(a, v))
	return d.E, found, err
}
