package datom

import (
	"fmt"
	"slices"

	"github.com/accretedb/accrete/edn"
)

// Apply returns the schema after a transaction whose datoms (assertions and
// retractions, entity and attribute ids resolved, values coerced) are given.
// Datoms on attributes other than the schema attributes (:db/ident …
// :db/tupleTypes) are ignored, so the whole transaction may be passed. If
// the datoms touch no schema attribute, Apply returns s itself.
//
// What it does, following Datomic:
//
//   - :db/ident asserted on an entity names it; asserted on a named entity it
//     renames it, and the old ident keeps resolving (Entid) until another
//     entity takes it. An ident that is the current name of another entity
//     is an error. Retracting :db/ident removes every name of the entity;
//     retracting an attribute's ident is an error unless it is renamed in the
//     same transaction.
//   - An entity becomes an attribute when it has :db/ident, :db/valueType
//     and :db/cardinality. Under schema-on-read :db/valueType may be omitted
//     (the attribute is then typed by its values) and :db/cardinality
//     defaults to one, so that declaring only :db/unique, :db/isComponent or
//     :db/index is enough. Attributes may not live in PartTx.
//   - Existing attributes may change :db/cardinality, :db/unique (added or
//     retracted), :db/index, :db/isComponent (refs only), :db/noHistory,
//     :db/doc and their ident. :db/valueType, :db/tupleAttrs and
//     :db/tupleTypes can never change, and :db/valueType and :db/cardinality
//     cannot be retracted. Built-in entities (IsReserved) cannot change.
//   - :db/tupleAttrs names 2–8 existing cardinality-one, non-tuple attributes
//     (ids or idents, possibly installed by the same transaction) and
//     requires :db.type/tuple; so does :db/tupleTypes (2–8 scalar types).
//
// Data invariants are the caller's to check, since Apply sees no data: when
// an existing attribute goes from cardinality many to one, or gains
// :db/unique, the writer MUST verify that the current data satisfies the
// new constraint and otherwise fail the transaction (ChangedConstraints lists
// those attributes).
//
// Errors match ErrSchema and name the attribute (or entity) concerned.
func (s *Schema) Apply(datoms []Datom) (*Schema, error) {
	return s.apply(datoms, false)
}

// ChangedConstraints returns, sorted, the existing attributes of old whose
// constraints are tighter in s: cardinality many → one, or :db/unique
// added. The writer checks the data of these before committing.
func (s *Schema) ChangedConstraints(old *Schema) []ID {
	var out []ID
	for id, a := range s.attrs {
		o := old.attrs[id]
		if o == nil || o == a {
			continue
		}
		if (o.Cardinality == CardinalityMany && a.Cardinality == CardinalityOne) ||
			(o.Unique == UniqueNone && a.Unique != UniqueNone) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// entityChanges holds the schema datoms of one entity in a transaction.
type entityChanges struct {
	e                 ID
	retracts, asserts []Datom
	identGone         bool
}

func (s *Schema) apply(datoms []Datom, bootstrap bool) (*Schema, error) {
	var order []ID
	byE := map[ID]*entityChanges{}
	for _, d := range datoms {
		if !isSchemaAttr(d.A) {
			continue
		}
		if !bootstrap && IsReserved(d.E) {
			return nil, schemaErrorf("entity %d is built in (%s) and cannot change", d.E, s.name(d.E))
		}
		c := byE[d.E]
		if c == nil {
			c = &entityChanges{e: d.E}
			byE[d.E] = c
			order = append(order, d.E)
		}
		if d.Added {
			c.asserts = append(c.asserts, d)
		} else {
			c.retracts = append(c.retracts, d)
		}
	}
	if len(order) == 0 {
		return s, nil
	}
	ns := s.clone()

	// Pass 1: idents, so that the attributes and tuple attrs of this
	// transaction can refer to idents it introduces.
	for _, e := range order {
		if err := ns.applyIdents(byE[e]); err != nil {
			return nil, err
		}
	}
	// Pass 2: attributes.
	var tupleChecks []ID
	for _, e := range order {
		c := byE[e]
		a, err := ns.applyAttr(s, c)
		if err != nil {
			return nil, err
		}
		if a != nil && len(a.TupleAttrs) > 0 {
			tupleChecks = append(tupleChecks, a.ID)
		}
	}
	// Pass 3: composite tuples need the final set of attributes.
	for _, id := range tupleChecks {
		a := ns.attrs[id]
		for _, ref := range a.TupleAttrs {
			t := ns.attrs[ref]
			switch {
			case t == nil:
				return nil, schemaErrorf("attribute %s: :db/tupleAttrs names %s, which is not an attribute", a.Ident, ns.name(ref))
			case t.ID == a.ID || t.ValueType == TypeTuple:
				return nil, schemaErrorf("attribute %s: :db/tupleAttrs names tuple attribute %s", a.Ident, t.Ident)
			case t.Cardinality != CardinalityOne:
				return nil, schemaErrorf("attribute %s: :db/tupleAttrs names cardinality-many attribute %s", a.Ident, t.Ident)
			}
		}
	}
	return ns, nil
}

// name returns a printable name for an entity: its ident if it has one.
func (s *Schema) name(e ID) string {
	if kw, ok := s.idents[e]; ok {
		return kw.String()
	}
	return fmt.Sprint(e)
}

func (s *Schema) applyIdents(c *entityChanges) error {
	e := c.e
	var newIdent edn.Keyword
	for _, d := range c.asserts {
		if d.A != DBIdent {
			continue
		}
		kw, ok := d.V.(edn.Keyword)
		if !ok || kw == "" {
			return schemaErrorf("entity %d: :db/ident must be a non-empty keyword, got %T %v", e, d.V, d.V)
		}
		if newIdent != "" && newIdent != kw {
			return schemaErrorf("entity %d: two values for :db/ident in one transaction: %s and %s", e, newIdent, kw)
		}
		newIdent = kw
	}
	for _, d := range c.retracts {
		if d.A != DBIdent {
			continue
		}
		kw, ok := d.V.(edn.Keyword)
		if !ok || s.entids[kw] != e {
			continue // retracting a fact that does not hold changes nothing
		}
		switch {
		case s.idents[e] != kw:
			delete(s.entids, kw) // an old name
		case newIdent != "":
			// Retraction of the current ident alongside a new one (how a
			// cardinality-one change arrives): a rename, below.
		default:
			for k, id := range s.entids {
				if id == e {
					delete(s.entids, k)
				}
			}
			delete(s.idents, e)
			c.identGone = true
		}
	}
	if newIdent == "" {
		return nil
	}
	if other, ok := s.entids[newIdent]; ok && other != e {
		if s.idents[other] == newIdent {
			return schemaErrorf("ident %s already names entity %d", newIdent, other)
		}
		// newIdent was an old name of other: it moves to e.
	}
	if old, ok := s.idents[e]; ok && old != newIdent {
		s.entids[old] = e // the old name keeps resolving
	}
	s.idents[e] = newIdent
	s.entids[newIdent] = e
	return nil
}

// applyAttr installs or changes the attribute of c.e in s (the new schema,
// idents already applied); before is the schema before the transaction. It
// returns the new attribute, or nil if c.e is not an attribute.
func (s *Schema) applyAttr(before *Schema, c *entityChanges) (*Attribute, error) {
	e := c.e
	old := before.attrs[e]
	var a Attribute
	hasType, hasCard := false, false
	if old != nil {
		a = *old
		hasType, hasCard = old.ValueType != TypeInvalid, true
	}
	ident, hasIdent := s.idents[e]
	label := func() string {
		if hasIdent {
			return ident.String()
		}
		return s.name(e)
	}
	isAttr := old != nil
	typeGone, cardGone := false, false
	for _, d := range c.retracts {
		switch d.A {
		case DBValueType:
			if old != nil {
				typeGone = true
			}
		case DBCardinality:
			if old != nil {
				cardGone = true
			}
		case DBUnique:
			if u, ok := s.uniqueOf(d.V); ok && u == a.Unique {
				a.Unique = UniqueNone
			}
		case DBIsComponent:
			if b, ok := d.V.(bool); ok && b == a.IsComponent {
				a.IsComponent = false
			}
		case DBIndex:
			if b, ok := d.V.(bool); ok && b == a.Index {
				a.Index = false
			}
		case DBNoHistory:
			if b, ok := d.V.(bool); ok && b == a.NoHistory {
				a.NoHistory = false
			}
		case DBDoc:
			if str, ok := d.V.(string); ok && str == a.Doc {
				a.Doc = ""
			}
		case DBTupleAttrs, DBTupleTypes:
			if old != nil {
				return nil, schemaErrorf("attribute %s: :db/tupleAttrs and :db/tupleTypes cannot be retracted", label())
			}
		}
	}
	seen := map[ID]any{}
	for _, d := range c.asserts {
		if d.A == DBIdent {
			continue
		}
		if prev, ok := seen[d.A]; ok {
			if !EqualValues(prev, d.V) {
				return nil, schemaErrorf("attribute %s: two values for %s in one transaction: %v and %v", label(), s.name(d.A), prev, d.V)
			}
			continue
		}
		seen[d.A] = d.V
		isAttr = true
		switch d.A {
		case DBValueType:
			vt, ok := s.valueTypeOf(d.V)
			if !ok {
				return nil, schemaErrorf("attribute %s: :db/valueType %v is not a :db.type/* ident", label(), d.V)
			}
			if old != nil && vt != old.ValueType {
				return nil, schemaErrorf("attribute %s: :db/valueType cannot change (from %s to %s)", label(), old.ValueType, vt)
			}
			a.ValueType, hasType, typeGone = vt, true, false
		case DBCardinality:
			switch id, _ := s.refOf(d.V); id {
			case DBCardinalityOne:
				a.Cardinality = CardinalityOne
			case DBCardinalityMany:
				a.Cardinality = CardinalityMany
			default:
				return nil, schemaErrorf("attribute %s: :db/cardinality %v is not :db.cardinality/one or many", label(), d.V)
			}
			hasCard, cardGone = true, false
		case DBUnique:
			u, ok := s.uniqueOf(d.V)
			if !ok {
				return nil, schemaErrorf("attribute %s: :db/unique %v is not :db.unique/value or identity", label(), d.V)
			}
			a.Unique = u
		case DBIsComponent, DBIndex, DBNoHistory:
			b, ok := d.V.(bool)
			if !ok {
				return nil, schemaErrorf("attribute %s: %s must be a boolean, got %T", label(), s.name(d.A), d.V)
			}
			switch d.A {
			case DBIsComponent:
				a.IsComponent = b
			case DBIndex:
				a.Index = b
			default:
				a.NoHistory = b
			}
		case DBDoc:
			str, ok := d.V.(string)
			if !ok {
				return nil, schemaErrorf("entity %s: :db/doc must be a string, got %T", label(), d.V)
			}
			a.Doc = str
		case DBTupleAttrs:
			ids, err := s.tupleRefs(d.V, label)
			if err != nil {
				return nil, err
			}
			if old != nil && !slices.Equal(ids, old.TupleAttrs) {
				return nil, schemaErrorf("attribute %s: :db/tupleAttrs cannot change", label())
			}
			a.TupleAttrs = ids
		case DBTupleTypes:
			types, err := s.tupleTypes(d.V, label)
			if err != nil {
				return nil, err
			}
			if old != nil && !slices.Equal(types, old.TupleTypes) {
				return nil, schemaErrorf("attribute %s: :db/tupleTypes cannot change", label())
			}
			a.TupleTypes = types
		}
	}
	if !isAttr {
		return nil, nil // an ident (enum) or a doc on a non-attribute
	}
	if old == nil && len(seen) == 1 && seen[DBDoc] != nil {
		return nil, nil // only a :db/doc: not an attribute
	}
	switch {
	case typeGone:
		return nil, schemaErrorf("attribute %s: :db/valueType cannot be retracted", label())
	case cardGone:
		return nil, schemaErrorf("attribute %s: :db/cardinality cannot be retracted", label())
	case !hasIdent && c.identGone:
		return nil, schemaErrorf("attribute %s: :db/ident of an attribute cannot be retracted", before.name(e))
	case !hasIdent:
		return nil, schemaErrorf("attribute entity %d has no :db/ident", e)
	case Part(e) == PartTx:
		return nil, schemaErrorf("attribute %s: entity %d is a transaction", label(), e)
	}
	if old == nil {
		if !hasType && !s.schemaOnRead {
			return nil, schemaErrorf("attribute %s: missing :db/valueType", label())
		}
		if !hasCard {
			if !s.schemaOnRead {
				return nil, schemaErrorf("attribute %s: missing :db/cardinality", label())
			}
			a.Cardinality = CardinalityOne
		}
	}
	if a.IsComponent && a.ValueType != TypeRef && a.ValueType != TypeInvalid {
		return nil, schemaErrorf("attribute %s: :db/isComponent requires :db.type/ref, not %s", label(), a.ValueType)
	}
	if (a.TupleAttrs != nil || a.TupleTypes != nil) && a.ValueType != TypeTuple {
		return nil, schemaErrorf("attribute %s: :db/tupleAttrs and :db/tupleTypes require :db.type/tuple, not %s", label(), a.ValueType)
	}
	if a.TupleAttrs != nil && a.TupleTypes != nil {
		return nil, schemaErrorf("attribute %s: has both :db/tupleAttrs and :db/tupleTypes", label())
	}
	a.ID, a.Ident = e, ident
	if old != nil && attrEqual(old, &a) {
		return old, nil
	}
	na := &a
	s.attrs[e] = na
	return na, nil
}

// refOf resolves an enum reference given as an entity id or an ident.
func (s *Schema) refOf(v any) (ID, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case edn.Keyword:
		id, ok := s.entids[x]
		return id, ok
	}
	return 0, false
}

func (s *Schema) valueTypeOf(v any) (ValueType, bool) {
	id, ok := s.refOf(v)
	if !ok || id <= DBTypeBase || id > TypeEntity(TypeTuple) {
		return TypeInvalid, false
	}
	return ValueType(id - DBTypeBase), true
}

func (s *Schema) uniqueOf(v any) (Unique, bool) {
	switch id, _ := s.refOf(v); id {
	case DBUniqueValue:
		return UniqueValue, true
	case DBUniqueIdentity:
		return UniqueIdentity, true
	}
	return UniqueNone, false
}

func (s *Schema) tupleRefs(v any, label func() string) ([]ID, error) {
	elems, ok := asTuple(v)
	if !ok || len(elems) < MinTupleLen || len(elems) > MaxTupleLen {
		return nil, schemaErrorf("attribute %s: :db/tupleAttrs must be a tuple of 2 to 8 attributes, got %v", label(), v)
	}
	ids := make([]ID, len(elems))
	for i, el := range elems {
		id, ok := s.refOf(el)
		if !ok {
			return nil, schemaErrorf("attribute %s: :db/tupleAttrs element %v is not an attribute", label(), el)
		}
		ids[i] = id
	}
	return ids, nil
}

func (s *Schema) tupleTypes(v any, label func() string) ([]ValueType, error) {
	elems, ok := asTuple(v)
	if !ok || len(elems) < MinTupleLen || len(elems) > MaxTupleLen {
		return nil, schemaErrorf("attribute %s: :db/tupleTypes must be a tuple of 2 to 8 types, got %v", label(), v)
	}
	types := make([]ValueType, len(elems))
	for i, el := range elems {
		vt, ok := s.valueTypeOf(el)
		if !ok || vt == TypeTuple {
			return nil, schemaErrorf("attribute %s: :db/tupleTypes element %v is not a scalar :db.type/*", label(), el)
		}
		types[i] = vt
	}
	return types, nil
}

func attrEqual(a, b *Attribute) bool {
	return a.ID == b.ID && a.Ident == b.Ident && a.ValueType == b.ValueType &&
		a.Cardinality == b.Cardinality && a.Unique == b.Unique && a.Index == b.Index &&
		a.IsComponent == b.IsComponent && a.NoHistory == b.NoHistory && a.Doc == b.Doc &&
		slices.Equal(a.TupleAttrs, b.TupleAttrs) && slices.Equal(a.TupleTypes, b.TupleTypes)
}
