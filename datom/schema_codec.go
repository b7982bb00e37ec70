package datom

import (
	"fmt"
	"slices"

	"github.com/accretedb/accrete/edn"
)

// SchemaVersion is the first byte of MarshalSchema output.
const SchemaVersion = 1

// Attribute flag bits in the schema encoding.
const (
	flagIndex       = 1 << 0
	flagIsComponent = 1 << 1
	flagNoHistory   = 1 << 2
	flagsAll        = flagIndex | flagIsComponent | flagNoHistory
)

// MarshalSchema encodes s deterministically, so that a commit can name its
// schema by content address:
//
//	SchemaVersion byte, then the msgpack array
//	[schema-on-read bool,
//	 idents  [[id, "ns/name"] …] sorted by id (current idents),
//	 aliases [["ns/name", id] …] sorted by ident (old names of renamed entities),
//	 attrs   [[id, valueType, cardinality, unique, flags, doc, [tupleAttr ids…], [tupleTypes…]] …] sorted by id]
//
// flags: 1 :db/index, 2 :db/isComponent, 4 :db/noHistory. Built-ins are
// included, so a decoded schema is self-contained.
func MarshalSchema(s *Schema) ([]byte, error) {
	ids := s.Idents()
	aliases := make([]edn.Keyword, 0)
	for kw, id := range s.entids {
		if s.idents[id] != kw {
			aliases = append(aliases, kw)
		}
	}
	slices.Sort(aliases)
	attrs := s.Attrs()

	b := make([]byte, 0, 64+32*len(ids)+16*len(attrs))
	b = append(b, SchemaVersion)
	b = appendArrayLen(b, 4)
	b = appendBool(b, s.schemaOnRead)
	b = appendArrayLen(b, len(ids))
	for _, id := range ids {
		b = appendStr(appendInt(appendArrayLen(b, 2), id), s.idents[id])
	}
	b = appendArrayLen(b, len(aliases))
	for _, kw := range aliases {
		b = appendInt(appendStr(appendArrayLen(b, 2), kw), s.entids[kw])
	}
	b = appendArrayLen(b, len(attrs))
	for _, a := range attrs {
		flags := uint64(0)
		if a.Index {
			flags |= flagIndex
		}
		if a.IsComponent {
			flags |= flagIsComponent
		}
		if a.NoHistory {
			flags |= flagNoHistory
		}
		b = appendArrayLen(b, 8)
		b = appendInt(b, a.ID)
		b = appendUint(b, uint64(a.ValueType))
		b = appendUint(b, uint64(a.Cardinality))
		b = appendUint(b, uint64(a.Unique))
		b = appendUint(b, flags)
		b = appendStr(b, a.Doc)
		b = appendArrayLen(b, len(a.TupleAttrs))
		for _, id := range a.TupleAttrs {
			b = appendInt(b, id)
		}
		b = appendArrayLen(b, len(a.TupleTypes))
		for _, vt := range a.TupleTypes {
			b = appendUint(b, uint64(vt))
		}
	}
	return b, nil
}

// UnmarshalSchema decodes the output of MarshalSchema and validates it: the
// structure, the ranges of every enum, the order of every list, idents
// unique, every attribute named, tuple declarations consistent, and the
// built-ins exactly those of Bootstrap. Errors match ErrCorrupt.
func UnmarshalSchema(b []byte) (*Schema, error) {
	if len(b) == 0 {
		return nil, corruptf("schema: empty input")
	}
	if b[0] != SchemaVersion {
		return nil, corruptf("schema: unknown version %d", b[0])
	}
	p := parser{b: b, off: 1}
	s, err := p.schema()
	if err != nil {
		return nil, fmt.Errorf("datom: schema: %w", err)
	}
	if p.remaining() != 0 {
		return nil, corruptf("schema: %d trailing bytes", p.remaining())
	}
	return s, nil
}

func (p *parser) schema() (*Schema, error) {
	if err := p.fixedArray(4); err != nil {
		return nil, err
	}
	onRead, err := p.bool()
	if err != nil {
		return nil, err
	}
	s := &Schema{schemaOnRead: onRead, attrs: map[ID]*Attribute{}, entids: map[edn.Keyword]ID{}, idents: map[ID]edn.Keyword{}}

	n, err := p.listLen(3)
	if err != nil {
		return nil, err
	}
	prevID := ID(-1 << 63)
	for i := 0; i < n; i++ {
		if err := p.fixedArray(2); err != nil {
			return nil, err
		}
		id, err := p.int()
		if err != nil {
			return nil, err
		}
		str, err := p.str()
		if err != nil {
			return nil, err
		}
		kw := edn.Keyword(str)
		if i > 0 && id <= prevID {
			return nil, corruptf("idents not sorted at %d", id)
		}
		if _, dup := s.entids[kw]; dup || kw == "" {
			return nil, corruptf("ident %q empty or repeated", str)
		}
		prevID = id
		s.idents[id], s.entids[kw] = kw, id
	}

	if n, err = p.listLen(3); err != nil {
		return nil, err
	}
	var prevKw edn.Keyword
	for i := 0; i < n; i++ {
		if err := p.fixedArray(2); err != nil {
			return nil, err
		}
		str, err := p.str()
		if err != nil {
			return nil, err
		}
		id, err := p.int()
		if err != nil {
			return nil, err
		}
		kw := edn.Keyword(str)
		if i > 0 && kw <= prevKw {
			return nil, corruptf("aliases not sorted at %q", str)
		}
		prevKw = kw
		if _, dup := s.entids[kw]; dup || kw == "" {
			return nil, corruptf("alias %q empty or also an ident", str)
		}
		if _, ok := s.idents[id]; !ok {
			return nil, corruptf("alias %q names entity %d, which has no ident", str, id)
		}
		s.entids[kw] = id
	}

	if n, err = p.listLen(9); err != nil {
		return nil, err
	}
	for i := 0; i < n; i++ {
		a, err := p.attr(s)
		if err != nil {
			return nil, err
		}
		if i > 0 && a.ID <= prevID {
			return nil, corruptf("attributes not sorted at %d", a.ID)
		}
		prevID = a.ID
		s.attrs[a.ID] = a
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	return s, nil
}

func (p *parser) attr(s *Schema) (*Attribute, error) {
	if err := p.fixedArray(8); err != nil {
		return nil, err
	}
	var a Attribute
	var err error
	if a.ID, err = p.int(); err != nil {
		return nil, err
	}
	vt, err := p.small(int64(TypeTuple))
	if err != nil {
		return nil, err
	}
	card, err := p.small(int64(CardinalityMany))
	if err != nil {
		return nil, err
	}
	uniq, err := p.small(int64(UniqueIdentity))
	if err != nil {
		return nil, err
	}
	flags, err := p.small(flagsAll)
	if err != nil {
		return nil, err
	}
	if a.Doc, err = p.str(); err != nil {
		return nil, err
	}
	a.ValueType, a.Cardinality, a.Unique = ValueType(vt), Cardinality(card), Unique(uniq)
	a.Index, a.IsComponent, a.NoHistory = flags&flagIndex != 0, flags&flagIsComponent != 0, flags&flagNoHistory != 0
	n, err := p.arrayLen()
	if err != nil {
		return nil, err
	}
	if n != 0 && (n < MinTupleLen || n > MaxTupleLen) {
		return nil, corruptf("attribute %d: %d tuple attrs", a.ID, n)
	}
	for j := 0; j < n; j++ {
		id, err := p.int()
		if err != nil {
			return nil, err
		}
		a.TupleAttrs = append(a.TupleAttrs, id)
	}
	if n, err = p.arrayLen(); err != nil {
		return nil, err
	}
	if n != 0 && (n < MinTupleLen || n > MaxTupleLen) {
		return nil, corruptf("attribute %d: %d tuple types", a.ID, n)
	}
	for j := 0; j < n; j++ {
		vt, err := p.small(int64(TypeTuple) - 1)
		if err != nil {
			return nil, err
		}
		if vt == int64(TypeInvalid) {
			return nil, corruptf("attribute %d: invalid tuple type", a.ID)
		}
		a.TupleTypes = append(a.TupleTypes, ValueType(vt))
	}
	kw, ok := s.idents[a.ID]
	if !ok {
		return nil, corruptf("attribute %d has no ident", a.ID)
	}
	a.Ident = kw
	return &a, nil
}

// validate checks the cross-record invariants of a decoded schema.
func (s *Schema) validate() error {
	for _, a := range s.attrs {
		switch {
		case Part(a.ID) == PartTx:
			return corruptf("attribute %s is a transaction", a.Ident)
		case a.ValueType == TypeInvalid && !s.schemaOnRead:
			return corruptf("attribute %s has no value type under schema-on-write", a.Ident)
		case a.IsComponent && a.ValueType != TypeRef && a.ValueType != TypeInvalid:
			return corruptf("attribute %s: component of type %s", a.Ident, a.ValueType)
		case (a.TupleAttrs != nil || a.TupleTypes != nil) && a.ValueType != TypeTuple:
			return corruptf("attribute %s: tuple declaration on type %s", a.Ident, a.ValueType)
		case a.TupleAttrs != nil && a.TupleTypes != nil:
			return corruptf("attribute %s: both tuple attrs and tuple types", a.Ident)
		}
		for _, ref := range a.TupleAttrs {
			t := s.attrs[ref]
			if t == nil || t.ValueType == TypeTuple || t.Cardinality != CardinalityOne {
				return corruptf("attribute %s: bad tuple attr %d", a.Ident, ref)
			}
		}
	}
	boot, _ := Bootstrap(s.schemaOnRead)
	reserved := func(m map[ID]edn.Keyword) []ID {
		var out []ID
		for id := range m {
			if IsReserved(id) {
				out = append(out, id)
			}
		}
		slices.Sort(out)
		return out
	}
	if !slices.Equal(reserved(s.idents), reserved(boot.idents)) {
		return corruptf("built-in idents differ from bootstrap")
	}
	for _, id := range reserved(boot.idents) {
		if s.idents[id] != boot.idents[id] {
			return corruptf("built-in %d is %s, want %s", id, s.idents[id], boot.idents[id])
		}
		a, b := s.attrs[id], boot.attrs[id]
		if (a == nil) != (b == nil) || (a != nil && !attrEqual(a, b)) {
			return corruptf("built-in attribute %s differs from bootstrap", boot.idents[id])
		}
	}
	for kw, id := range s.entids {
		if IsReserved(id) && s.idents[id] != kw {
			return corruptf("alias %s of a built-in", kw)
		}
	}
	return nil
}
