package query

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
)

// Pull applies pattern to one entity of src and returns its map, as
// Datomic's pull does. pattern is anything ParsePull accepts (EDN text, an
// EDN value or a *PullPattern); eid is an entity id (datom.ID, or any Go
// integer), an ident keyword (edn.Keyword), a lookup ref
// (edn.Vector{attr, value} on a unique attribute) or an *Entity.
//
// The result is nil, with a nil error, when the entity does not exist (an
// ident or lookup ref that resolves to nothing, an id with no datoms) or has
// none of the pulled attributes; see PullPattern.Pull for the shape of the
// map.
func Pull(ctx context.Context, src Source, pattern any, eid any) (map[edn.Keyword]any, error) {
	p, err := ParsePull(pattern)
	if err != nil {
		return nil, err
	}
	e, ok, err := resolveEntityID(ctx, src, eid)
	if err != nil || !ok {
		return nil, err
	}
	return p.Pull(ctx, src, e)
}

// PullMany is Pull for several entities: result i is the map of eids[i]
// (nil when that entity has none of the pulled attributes). The pattern is
// parsed and bound to the schema once.
func PullMany(ctx context.Context, src Source, pattern any, eids []any) ([]map[edn.Keyword]any, error) {
	p, err := ParsePull(pattern)
	if err != nil {
		return nil, err
	}
	bp, err := p.bind(src)
	if err != nil {
		return nil, err
	}
	out := make([]map[edn.Keyword]any, len(eids))
	pl := newPuller(ctx, src, bp)
	for i, eid := range eids {
		e, ok, err := resolveEntityID(ctx, src, eid)
		if err != nil {
			return nil, fmt.Errorf("query: pull-many: eids[%d]: %w", i, err)
		}
		if !ok {
			continue
		}
		m, err := pl.pullRoot(e)
		if err != nil {
			return nil, err
		}
		out[i] = m
	}
	return out, nil
}

// Pull applies the pattern to entity e of src. It is the fast path the query
// engine calls for (pull ?e pattern) in :find.
//
// The map has, following Datomic:
//   - one entry per pulled attribute the entity has, keyed by the attribute
//     keyword or its :as name; missing attributes are omitted unless they
//     have a :default;
//   - cardinality-one values as the value, cardinality-many values as an
//     edn.Vector in index order, cut at the :limit (DefaultPullLimit unless
//     the pattern says otherwise, nil for none);
//   - ref values as nested maps: the nested pattern's map when the pattern
//     gives one; the entity's full map (as with *) for a component
//     attribute, recursively; otherwise {:db/id e}, plus :db/ident when the
//     target has an ident (an enum value), which is what Datomic returns
//     for references to enumerated values;
//   - reverse references (:ns/_attr) as an edn.Vector of the referring
//     entities, except for component attributes, where the single owner is
//     returned as a map;
//   - :db/id as the entity id;
//   - recursion ({:attr ...} or {:attr n}) re-applying the enclosing pattern
//     to the referenced entities, at most n levels deep (the attribute is
//     omitted at the last level); an entity already on the path from the
//     root is returned as {:db/id e}, so cycles terminate.
//
// A nested map whose pattern finds nothing becomes {:db/id e}, so that the
// reference itself is not lost. The maps and vectors are fresh: the caller
// owns them.
func (p *PullPattern) Pull(ctx context.Context, src Source, e datom.ID) (map[edn.Keyword]any, error) {
	bp, err := p.bind(src)
	if err != nil {
		return nil, err
	}
	return newPuller(ctx, src, bp).pullRoot(e)
}

// resolveEntityID turns an entity identifier into an id. ok is false, with a
// nil error, when a well-formed identifier names no entity.
func resolveEntityID(ctx context.Context, src Source, eid any) (datom.ID, bool, error) {
	switch t := eid.(type) {
	case int64:
		return t, true, nil
	case int:
		return int64(t), true, nil
	case int32:
		return int64(t), true, nil
	case uint64:
		if t > 1<<63-1 {
			return 0, false, fmt.Errorf("query: pull: %w: entity identifier %d is out of range", ErrInput, t)
		}
		return int64(t), true, nil
	case edn.Keyword:
		id, ok := pullSchemaEntid(src.Schema(), t)
		return id, ok, nil
	case *Entity:
		if t == nil {
			return 0, false, fmt.Errorf("query: pull: %w: entity identifier nil *Entity", ErrInput)
		}
		return t.ID(), true, nil
	case edn.Vector, edn.List, []any:
		elems, _ := pullSeq(t)
		return resolveLookupRefID(ctx, src, elems, eid)
	case nil:
		return 0, false, fmt.Errorf("query: pull: %w: entity identifier nil", ErrInput)
	}
	return 0, false, fmt.Errorf("query: pull: %w: entity identifier %s (%T): want an id, an ident keyword or a lookup ref [attr value]", ErrInput, qString(eid), eid)
}

func resolveLookupRefID(ctx context.Context, src Source, elems []any, eid any) (datom.ID, bool, error) {
	if len(elems) != 2 {
		return 0, false, fmt.Errorf("query: pull: %w: lookup ref %s: want [attr value]", ErrInput, qString(eid))
	}
	var a *datom.Attribute
	switch k := elems[0].(type) {
	case edn.Keyword:
		var ok bool
		if a, ok = pullSchemaAttrByIdent(src.Schema(), k); !ok {
			return 0, false, fmt.Errorf("query: pull: %w: lookup ref %s: unknown attribute %s", ErrInput, qString(eid), k)
		}
	case int64:
		var ok bool
		if a, ok = pullSchemaAttr(src.Schema(), k); !ok {
			return 0, false, fmt.Errorf("query: pull: %w: lookup ref %s: unknown attribute %d", ErrInput, qString(eid), k)
		}
	default:
		return 0, false, fmt.Errorf("query: pull: %w: lookup ref %s: the attribute must be a keyword", ErrInput, qString(eid))
	}
	if a.Unique == datom.UniqueNone {
		return 0, false, fmt.Errorf("query: pull: %w: lookup ref %s: attribute %s is not unique", ErrInput, qString(eid), a.Ident)
	}
	v := elems[1]
	if v == nil {
		return 0, false, fmt.Errorf("query: pull: %w: lookup ref %s: nil value", ErrInput, qString(eid))
	}
	if a.IsRef() {
		// A ref value may itself be given as an ident or a lookup ref.
		id, ok, err := resolveEntityID(ctx, src, v)
		if err != nil || !ok {
			return 0, false, err
		}
		v = id
	} else if n, ok := v.(int); ok {
		v = int64(n)
	}
	var e datom.ID
	found := false
	err := src.Datoms(ctx, datom.AVET, []any{a.ID, v}, func(d datom.Datom) bool {
		e, found = d.E, true
		return false
	})
	if err != nil {
		return 0, false, fmt.Errorf("query: resolve lookup ref %s: %w", qString(eid), err)
	}
	return e, found, nil
}

// pullBound is a PullPattern resolved against one schema.
type pullBound struct {
	wildcard bool
	specs    []pullBoundSpec
	// forward lists the attribute ids of the forward specs, for the
	// wildcard to skip and for the one-scan-per-entity decision.
	forward []datom.ID
	// recursive is set on the root when any pattern in the tree recurses
	// or may expand components: the puller then tracks the path.
	recursive bool
	nRec      int // number of recursion specs in the tree (root only)
}

type pullBoundSpec struct {
	*pullSpec
	reverse bool             // shadows pullSpec.reverse: false for a literal :ns/_x attribute
	a       *datom.Attribute // nil for :db/id
	many    bool             // the result is a vector
	sub     *pullBound
	parent  *pullBound // the pattern a recursion re-applies
	recIdx  int        // index of this recursion spec's depth counter
}

// pullBindCache remembers the binding for the last schema seen, so that the
// query engine's per-row calls do not re-resolve attributes.
type pullBindCache struct {
	last atomic.Pointer[pullBindEntry]
}

type pullBindEntry struct {
	schema *datom.Schema
	bp     *pullBound
}

func (p *PullPattern) bind(src Source) (*pullBound, error) {
	if src.IsHistory() {
		return nil, fmt.Errorf("query: pull: %w: pull is not defined on a history value", ErrInput)
	}
	s := src.Schema()
	if s == nil {
		return nil, errors.New("query: pull: source has no schema")
	}
	if b := p.bound.last.Load(); b != nil && b.schema == s {
		return b.bp, nil
	}
	root := &pullBound{}
	if err := bindPullPattern(p, s, root, root); err != nil {
		return nil, err
	}
	p.bound.last.Store(&pullBindEntry{schema: s, bp: root})
	return root, nil
}

func bindPullPattern(p *PullPattern, s *datom.Schema, bp, root *pullBound) error {
	bp.wildcard = p.wildcard
	if p.wildcard {
		root.recursive = true // components expand under the wildcard
	}
	bp.specs = make([]pullBoundSpec, len(p.specs))
	for i, ps := range p.specs {
		bs := &bp.specs[i]
		bs.pullSpec = ps
		if ps.dbID {
			continue
		}
		bs.reverse = ps.reverse
		a, ok := pullSchemaAttrByIdent(s, ps.attr)
		if ps.reverse {
			// An attribute really named :ns/_x is pulled forward.
			if lit, isLit := pullSchemaAttrByIdent(s, ps.name); isLit {
				a, ok, bs.reverse = lit, true, false
			}
		}
		if !ok {
			return pullPatternErr(ps.part, "unknown attribute %s", ps.attr)
		}
		bs.a = a
		if bs.reverse {
			if !a.IsRef() {
				return pullPatternErr(ps.part, "reverse reference %s: attribute %s is not a ref", ps.name, ps.attr)
			}
			bs.many = !a.IsComponent
		} else {
			bs.many = a.Cardinality == datom.CardinalityMany
			bp.forward = append(bp.forward, a.ID)
			if a.IsComponent {
				root.recursive = true
			}
		}
		switch {
		case ps.sub != nil:
			if !a.IsRef() {
				return pullPatternErr(ps.part, "attribute %s is not a ref, so it cannot have a nested pattern", ps.attr)
			}
			bs.sub = &pullBound{}
			if err := bindPullPattern(ps.sub, s, bs.sub, root); err != nil {
				return err
			}
		case ps.recurse:
			if !a.IsRef() {
				return pullPatternErr(ps.part, "attribute %s is not a ref, so it cannot recurse", ps.attr)
			}
			bs.parent = bp
			bs.recIdx = root.nRec
			root.nRec++
			root.recursive = true
		}
	}
	return nil
}

// pullWildcard is [*], used to expand components.
var pullWildcard = &pullBound{wildcard: true}

// puller holds the state of one pull call. It is not safe for concurrent
// use; each call makes its own.
type puller struct {
	ctx    context.Context
	src    Source
	schema *datom.Schema
	root   *pullBound
	buf    []datom.Datom // stack of collected datoms; see collect
	depth  []int         // per recursion spec: how deep we are in it
	path   []datom.ID    // entities from the root to the current one
	onPath map[datom.ID]int
	wild   map[datom.ID]*pullBoundSpec // specs of the attributes * met

	appendFn func(datom.Datom) bool // pl.appendDatom, bound once
	max, n   int                    // collect's limit and count
	comps    [2]any                 // reused scan components
}

func newPuller(ctx context.Context, src Source, root *pullBound) *puller {
	pl := &puller{ctx: ctx, src: src, schema: src.Schema(), root: root, depth: make([]int, root.nRec)}
	pl.appendFn = pl.appendDatom
	return pl
}

func (pl *puller) pullRoot(e datom.ID) (map[edn.Keyword]any, error) {
	pl.path = pl.path[:0]
	pl.onPath = nil
	return pl.pullEntity(pl.root, e)
}

const pullPathMapThreshold = 16

func (pl *puller) push(e datom.ID) {
	pl.path = append(pl.path, e)
	if pl.onPath != nil {
		pl.onPath[e]++
	} else if len(pl.path) > pullPathMapThreshold {
		pl.onPath = make(map[datom.ID]int, 2*len(pl.path))
		for _, x := range pl.path {
			pl.onPath[x]++
		}
	}
}

func (pl *puller) pop() {
	e := pl.path[len(pl.path)-1]
	pl.path = pl.path[:len(pl.path)-1]
	if pl.onPath != nil {
		if pl.onPath[e]--; pl.onPath[e] == 0 {
			delete(pl.onPath, e)
		}
	}
}

func (pl *puller) seen(e datom.ID) bool {
	if pl.onPath != nil {
		return pl.onPath[e] > 0
	}
	for _, x := range pl.path {
		if x == e {
			return true
		}
	}
	return false
}

// collect appends to pl.buf the datoms of index idx with the given leading
// components and returns the index range they occupy. Callers read them as
// pl.buf[lo:hi] (re-slicing after any nested call, which may grow buf) and
// truncate buf back to lo when done. max > 0 stops after max datoms.
func (pl *puller) collect(idx datom.Index, comps []any, max int) (lo, hi int, err error) {
	lo = len(pl.buf)
	pl.max, pl.n = max, 0
	if err := pl.src.Datoms(pl.ctx, idx, comps, pl.appendFn); err != nil {
		pl.buf = pl.buf[:lo]
		return 0, 0, fmt.Errorf("query: pull: scan entity %v: %w", comps[0], err)
	}
	return lo, len(pl.buf), nil
}

// appendDatom is the scan callback of collect, made once per puller so
// that scans do not allocate a closure each.
func (pl *puller) appendDatom(d datom.Datom) bool {
	pl.buf = append(pl.buf, d)
	pl.n++
	return pl.max <= 0 || pl.n < pl.max
}

// comps1 and comps2 fill the puller's reusable component slice.
func (pl *puller) comps1(e datom.ID) []any {
	pl.comps[0] = e
	return pl.comps[:1]
}

func (pl *puller) comps2(e, a datom.ID) []any {
	pl.comps[0], pl.comps[1] = e, a
	return pl.comps[:2]
}

func pullLimit(s *pullSpec) int {
	switch {
	case s.limit < 0:
		return 0
	case s.limit == 0:
		return DefaultPullLimit
	}
	return s.limit
}

// pullEntity applies bp to entity e. The result is nil when the entity has
// none of the pattern's attributes (and no default applies).
func (pl *puller) pullEntity(bp *pullBound, e datom.ID) (map[edn.Keyword]any, error) {
	if err := pl.ctx.Err(); err != nil {
		return nil, fmt.Errorf("query: pull: %w", err)
	}
	if pl.root.recursive {
		pl.push(e)
		defer pl.pop()
	}
	res := make(map[edn.Keyword]any, len(bp.specs)+1)
	found := false // some attribute value or default is in res
	hasID := false

	// Forward datoms: one scan of the entity when the pattern needs more
	// than one attribute, else one scan per attribute.
	wholeEntity := bp.wildcard || len(bp.forward) > 1
	base := len(pl.buf)
	defer func() { pl.buf = pl.buf[:base] }()
	var elo, ehi int
	if wholeEntity {
		var err error
		if elo, ehi, err = pl.collect(datom.EAVT, pl.comps1(e), 0); err != nil {
			return nil, err
		}
	}

	for i := range bp.specs {
		s := &bp.specs[i]
		if s.dbID {
			res[s.key] = e
			hasID = true
			continue
		}
		var lo, hi int
		switch {
		case s.reverse:
			var err error
			max := 0
			if !s.many {
				max = 1
			} else {
				max = pullLimit(s.pullSpec)
			}
			if lo, hi, err = pl.collect(datom.VAET, pl.comps2(e, s.a.ID), max); err != nil {
				return nil, err
			}
		case wholeEntity:
			lo, hi = pullAttrRange(pl.buf, elo, ehi, s.a.ID)
		default:
			var err error
			max := 0
			if s.many {
				max = pullLimit(s.pullSpec)
			}
			if lo, hi, err = pl.collect(datom.EAVT, pl.comps2(e, s.a.ID), max); err != nil {
				return nil, err
			}
		}
		if lo == hi {
			if s.hasDef {
				res[s.key] = s.def
				found = true
			}
			continue
		}
		ok, err := pl.putValues(res, s, lo, hi)
		if err != nil {
			return nil, err
		}
		found = found || ok
	}

	if bp.wildcard {
		if _, ok := res["db/id"]; !ok {
			res["db/id"] = e
			hasID = true
		}
		for lo := elo; lo < ehi; {
			a := pl.buf[lo].A
			hi := lo + 1
			for hi < ehi && pl.buf[hi].A == a {
				hi++
			}
			if !pullContainsID(bp.forward, a) {
				attr, ok := pullSchemaAttr(pl.schema, a)
				if !ok {
					return nil, fmt.Errorf("query: pull: entity %d has a datom of attribute %d, which the schema does not know", e, a)
				}
				if _, err := pl.putValues(res, pl.wildcardSpec(attr), lo, hi); err != nil {
					return nil, err
				}
				found = true
			}
			lo = hi
		}
	}

	if !found {
		if !hasID {
			return nil, nil
		}
		// Only :db/id: keep it if the entity exists at all.
		exists := ehi > elo
		if !wholeEntity {
			lo, hi, err := pl.collect(datom.EAVT, pl.comps1(e), 1)
			if err != nil {
				return nil, err
			}
			exists = hi > lo
		}
		if !exists {
			return nil, nil
		}
	}
	return res, nil
}

// wildcardSpec returns the spec the wildcard uses for attribute a, made
// once per pull call.
func (pl *puller) wildcardSpec(a *datom.Attribute) *pullBoundSpec {
	if s, ok := pl.wild[a.ID]; ok {
		return s
	}
	if pl.wild == nil {
		pl.wild = make(map[datom.ID]*pullBoundSpec)
	}
	s := &pullBoundSpec{pullSpec: &pullSpec{name: a.Ident, attr: a.Ident, key: a.Ident}, a: a, many: a.Cardinality == datom.CardinalityMany}
	pl.wild[a.ID] = s
	return s
}

func pullContainsID(ids []datom.ID, id datom.ID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// pullAttrRange finds the run of datoms of attribute a in buf[lo:hi], which is
// in EAVT order for one entity.
func pullAttrRange(buf []datom.Datom, lo, hi int, a datom.ID) (int, int) {
	for lo < hi && buf[lo].A != a {
		lo++
	}
	end := lo
	for end < hi && buf[end].A == a {
		end++
	}
	return lo, end
}

// putValues stores the values of spec s found in pl.buf[lo:hi] into res. It
// reports false when nothing was stored (a depth limit reached).
func (pl *puller) putValues(res map[edn.Keyword]any, s *pullBoundSpec, lo, hi int) (bool, error) {
	if s.recurse && s.maxDepth > 0 && pl.depth[s.recIdx] >= s.maxDepth {
		return false, nil // depth exhausted: the attribute is omitted
	}
	if !s.many {
		v, err := pl.value(s, pl.buf[lo])
		if err != nil {
			return false, err
		}
		res[s.key] = v
		return true, nil
	}
	if max := pullLimit(s.pullSpec); max > 0 && hi-lo > max {
		hi = lo + max
	}
	vec := make(edn.Vector, 0, hi-lo)
	for i := lo; i < hi; i++ {
		v, err := pl.value(s, pl.buf[i])
		if err != nil {
			return false, err
		}
		vec = append(vec, v)
	}
	res[s.key] = vec
	return true, nil
}

// value converts one datom of spec s to its result form.
func (pl *puller) value(s *pullBoundSpec, d datom.Datom) (any, error) {
	if !s.a.IsRef() {
		return d.V, nil
	}
	var target datom.ID
	if s.reverse {
		target = d.E
	} else {
		id, ok := d.V.(int64)
		if !ok {
			return nil, fmt.Errorf("query: pull: ref attribute %s of entity %d holds %T, not an entity id", s.a.Ident, d.E, d.V)
		}
		target = id
	}
	switch {
	case s.sub != nil:
		return pl.nested(s.sub, target)
	case s.recurse:
		if pl.seen(target) {
			return map[edn.Keyword]any{"db/id": target}, nil
		}
		pl.depth[s.recIdx]++
		m, err := pl.nested(s.parent, target)
		pl.depth[s.recIdx]--
		return m, err
	case s.a.IsComponent && !s.reverse:
		if pl.seen(target) {
			return map[edn.Keyword]any{"db/id": target}, nil
		}
		return pl.nested(pullWildcard, target)
	}
	return pl.refMap(target), nil
}

// nested pulls bp on target; an empty result becomes the reference itself.
func (pl *puller) nested(bp *pullBound, target datom.ID) (any, error) {
	m, err := pl.pullEntity(bp, target)
	if err != nil {
		return nil, err
	}
	if m == nil {
		return pl.refMap(target), nil
	}
	return m, nil
}

// refMap is a reference without a nested pattern: {:db/id e}, with the
// target's :db/ident when it has one (an enum value).
func (pl *puller) refMap(e datom.ID) map[edn.Keyword]any {
	if pkw, ok := pullSchemaIdent(pl.schema, e); ok {
		return map[edn.Keyword]any{"db/id": e, "db/ident": pkw}
	}
	return map[edn.Keyword]any{"db/id": e}
}

// The schema accessors are gathered here so that the one place to adapt,
// should datom.Schema change shape, is this.

func pullSchemaAttr(s *datom.Schema, id datom.ID) (*datom.Attribute, bool) {
	a := s.Attr(id)
	return a, a != nil
}

func pullSchemaAttrByIdent(s *datom.Schema, pkw edn.Keyword) (*datom.Attribute, bool) {
	a := s.AttrByIdent(pkw)
	return a, a != nil
}

func pullSchemaEntid(s *datom.Schema, pkw edn.Keyword) (datom.ID, bool) { return s.Entid(pkw) }

func pullSchemaIdent(s *datom.Schema, id datom.ID) (edn.Keyword, bool) { return s.Ident(id) }
