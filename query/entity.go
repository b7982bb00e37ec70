package query

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
)

// Entity is a lazy, navigable view of one entity of a Source, like
// Datomic's d/entity. Nothing is read when it is made: the first Get, Keys
// or Touch reads all of the entity's datoms with one EAVT scan, and each
// reverse reference is read (one VAET scan) the first time it is asked for.
// What was read is kept, so an Entity is a snapshot of its Source, which is
// itself immutable.
//
// Values follow Datomic's entity API rather than pull:
//   - cardinality-one attributes give the value; cardinality-many ones an
//     edn.Set of the values, in index order;
//   - a reference gives the target as an *Entity on the same Source, or the
//     target's ident keyword when it has one (an enum value);
//   - :db/id gives ID();
//   - a reverse reference :ns/_attr gives an edn.Set of the referring
//     entities (*Entity), or the single owner (*Entity) when the attribute
//     is a component; nil when there are none.
//
// An Entity is safe for concurrent use. Its loading holds an internal lock
// across the Source scan.
type Entity struct {
	src Source
	id  datom.ID

	mu     sync.Mutex
	loaded bool
	attrs  []entityAttr           // in attribute-id (EAVT) order
	rev    map[datom.ID]entityRev // reverse refs by attribute, once read
}

type entityAttr struct {
	a    *datom.Attribute
	vals []any // converted: refs as *Entity or edn.Keyword
}

type entityRev struct {
	ents []*Entity
}

// EntityOf returns the entity of src named by eid: an entity id (datom.ID
// or any Go integer), an ident keyword, or a lookup ref [attr value] on a
// unique attribute. It does I/O only to resolve a lookup ref.
//
// As in Datomic, an id always gives an Entity (one with no datoms has no
// keys), while an ident or lookup ref that names nothing gives nil and a
// nil error. Malformed identifiers and history sources give an error
// wrapping ErrInput.
func EntityOf(ctx context.Context, src Source, eid any) (*Entity, error) {
	if src.IsHistory() {
		return nil, fmt.Errorf("query: entity: %w: entities are not defined on a history value", ErrInput)
	}
	e, ok, err := resolveEntityID(ctx, src, eid)
	if err != nil || !ok {
		return nil, err
	}
	return &Entity{src: src, id: e}, nil
}

// ID returns the entity id.
func (en *Entity) ID() datom.ID { return en.id }

// String returns "#entity <id>", for debugging.
func (en *Entity) String() string { return fmt.Sprintf("#entity %d", en.id) }

// load reads the entity's datoms once.
func (en *Entity) load(ctx context.Context) error {
	en.mu.Lock()
	defer en.mu.Unlock()
	if en.loaded {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("query: entity %d: %w", en.id, err)
	}
	schema := en.src.Schema()
	var attrs []entityAttr
	var bad error
	err := en.src.Datoms(ctx, datom.EAVT, []any{en.id}, func(d datom.Datom) bool {
		if n := len(attrs); n == 0 || attrs[n-1].a.ID != d.A {
			a := schema.Attr(d.A)
			if a == nil {
				bad = fmt.Errorf("query: entity %d: datom of attribute %d, which the schema does not know", en.id, d.A)
				return false
			}
			attrs = append(attrs, entityAttr{a: a})
		}
		cur := &attrs[len(attrs)-1]
		cur.vals = append(cur.vals, en.convert(schema, cur.a, d.V))
		return true
	})
	if err == nil {
		err = bad
	}
	if err != nil {
		return fmt.Errorf("query: entity %d: %w", en.id, err)
	}
	en.attrs, en.loaded = attrs, true
	return nil
}

// convert turns a stored value into its entity-API form.
func (en *Entity) convert(schema *datom.Schema, a *datom.Attribute, v any) any {
	if !a.IsRef() {
		return v
	}
	id, ok := v.(int64)
	if !ok {
		return v
	}
	if kw, ok := schema.Ident(id); ok {
		return kw
	}
	return &Entity{src: en.src, id: id}
}

// Get returns the value of attribute kw (see Entity for the forms), or nil
// when the entity has none. :db/id gives the id without reading anything.
// A keyword that names no attribute gives an error wrapping ErrInput.
func (en *Entity) Get(ctx context.Context, kw edn.Keyword) (any, error) {
	if kw == "db/id" {
		return en.id, nil
	}
	schema := en.src.Schema()
	if a := schema.AttrByIdent(kw); a != nil {
		if err := en.load(ctx); err != nil {
			return nil, err
		}
		en.mu.Lock()
		defer en.mu.Unlock()
		for _, ea := range en.attrs {
			if ea.a.ID != a.ID {
				continue
			}
			if a.Cardinality == datom.CardinalityMany {
				return append(edn.Set(nil), ea.vals...), nil
			}
			return ea.vals[0], nil
		}
		return nil, nil
	}
	if fwd, ok := reverseAttr(kw); ok {
		if a := schema.AttrByIdent(fwd); a != nil {
			return en.reverse(ctx, a)
		}
	}
	return nil, fmt.Errorf("query: entity %d: %w: unknown attribute %s", en.id, ErrInput, kw)
}

// reverseAttr maps :ns/_name to :ns/name.
func reverseAttr(kw edn.Keyword) (edn.Keyword, bool) {
	name := kw.Name()
	if !strings.HasPrefix(name, "_") || len(name) < 2 {
		return "", false
	}
	if ns := kw.Namespace(); ns != "" {
		return edn.Keyword(ns + "/" + name[1:]), true
	}
	return edn.Keyword(name[1:]), true
}

// reverse returns the entities whose attribute a refers to this one.
func (en *Entity) reverse(ctx context.Context, a *datom.Attribute) (any, error) {
	if !a.IsRef() {
		return nil, fmt.Errorf("query: entity %d: %w: reverse reference to %s, which is not a ref", en.id, ErrInput, a.Ident)
	}
	en.mu.Lock()
	defer en.mu.Unlock()
	r, ok := en.rev[a.ID]
	if !ok {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("query: entity %d: %w", en.id, err)
		}
		err := en.src.Datoms(ctx, datom.VAET, []any{en.id, a.ID}, func(d datom.Datom) bool {
			r.ents = append(r.ents, &Entity{src: en.src, id: d.E})
			return true
		})
		if err != nil {
			return nil, fmt.Errorf("query: entity %d: reverse %s: %w", en.id, a.Ident, err)
		}
		if en.rev == nil {
			en.rev = make(map[datom.ID]entityRev)
		}
		en.rev[a.ID] = r
	}
	if len(r.ents) == 0 {
		return nil, nil
	}
	if a.IsComponent {
		return r.ents[0], nil
	}
	out := make(edn.Set, len(r.ents))
	for i, e := range r.ents {
		out[i] = e
	}
	return out, nil
}

// Keys returns the idents of the attributes the entity has, in attribute
// id order. Reverse references are not listed, as in Datomic.
func (en *Entity) Keys(ctx context.Context) ([]edn.Keyword, error) {
	if err := en.load(ctx); err != nil {
		return nil, err
	}
	en.mu.Lock()
	defer en.mu.Unlock()
	out := make([]edn.Keyword, len(en.attrs))
	for i, ea := range en.attrs {
		out[i] = ea.a.Ident
	}
	return out, nil
}

// Touch reads the entity's datoms now, and those of its components,
// recursively, as Datomic's d/touch does. Later Gets then do no I/O for
// forward attributes.
func (en *Entity) Touch(ctx context.Context) error {
	return en.touch(ctx, map[datom.ID]bool{})
}

func (en *Entity) touch(ctx context.Context, seen map[datom.ID]bool) error {
	if seen[en.id] {
		return nil
	}
	seen[en.id] = true
	if err := en.load(ctx); err != nil {
		return err
	}
	en.mu.Lock()
	var comps []*Entity
	for _, ea := range en.attrs {
		if !ea.a.IsComponent {
			continue
		}
		for _, v := range ea.vals {
			if c, ok := v.(*Entity); ok {
				comps = append(comps, c)
			}
		}
	}
	en.mu.Unlock()
	for _, c := range comps {
		if err := c.touch(ctx, seen); err != nil {
			return err
		}
	}
	return nil
}

// Map returns the entity's attributes as a map in the entity-API forms
// (what Keys lists, with Get's values). It reads the datoms if needed but
// no reverse references.
func (en *Entity) Map(ctx context.Context) (map[edn.Keyword]any, error) {
	if err := en.load(ctx); err != nil {
		return nil, err
	}
	en.mu.Lock()
	defer en.mu.Unlock()
	out := make(map[edn.Keyword]any, len(en.attrs))
	for _, ea := range en.attrs {
		if ea.a.Cardinality == datom.CardinalityMany {
			out[ea.a.Ident] = append(edn.Set(nil), ea.vals...)
		} else {
			out[ea.a.Ident] = ea.vals[0]
		}
	}
	return out, nil
}
