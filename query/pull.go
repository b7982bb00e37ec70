package query

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
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
	p, e, ok, err := pullArgs(ctx, src, pattern, eid)
	if err != nil || !ok {
		return nil, err
	}
	return p.Pull(ctx, src, e)
}

// pullArgs parses the pattern and resolves the entity of a pull; ok is
// false, with a nil error, when eid names no entity.
func pullArgs(ctx context.Context, src Source, pattern any, eid any) (*PullPattern, datom.ID, bool, error) {
	p, err := ParsePull(pattern)
	if err != nil {
		return nil, 0, false, err
	}
	e, ok, err := resolveEntityID(ctx, src, eid)
	return p, e, ok, err
}

// PullMany is Pull for several entities: result i is the map of eids[i]
// (nil when that entity has none of the pulled attributes). The pattern is
// parsed and bound to the schema once, and the entities are pulled
// together, a level at a time, so that a Source that can seek reads each
// level in one ordered pass (see pullSeeker).
func PullMany(ctx context.Context, src Source, pattern any, eids []any) ([]map[edn.Keyword]any, error) {
	p, err := ParsePull(pattern)
	if err != nil {
		return nil, err
	}
	bp, err := p.bind(src)
	if err != nil {
		return nil, err
	}
	ids := make([]datom.ID, 0, len(eids))
	at := make([]int, 0, len(eids)) // at[k]: the index in eids of ids[k]
	for i, eid := range eids {
		e, ok, err := resolveEntityID(ctx, src, eid)
		if err != nil {
			return nil, fmt.Errorf("query: pull-many: eids[%d]: %w", i, err)
		}
		if ok {
			ids, at = append(ids, e), append(at, i)
		}
	}
	out := make([]map[edn.Keyword]any, len(eids))
	if len(ids) == 0 {
		return out, nil
	}
	ms, err := newPuller(ctx, src, bp).pullRoots(ids)
	if err != nil {
		return nil, err
	}
	for k, m := range ms {
		out[at[k]] = m
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

// PullOrdered is Pull with each entity's result as an edn.Map, the form
// the EDN reader makes and the printer prints: its entries in the order the
// pattern names them (a key two specs name, where the first puts it), then,
// under the wildcard, :db/id and the entity's other attributes in index
// order. Nested results are edn.Maps too; vectors and values are as Pull
// gives them. It is nil, with a nil error, where Pull's map would be nil.
//
// An edn.Map of a few entries costs a fraction of a Go map (a small Go map
// is a hash group of eight slots, about 336 bytes in two allocations, where
// a pull result usually has two to ten keys): pulling a large tree takes
// about half the time Pull does, and much less memory. Look a key up with
// edn.Map.Get, or range over the entries.
func PullOrdered(ctx context.Context, src Source, pattern any, eid any) (edn.Map, error) {
	p, e, ok, err := pullArgs(ctx, src, pattern, eid)
	if err != nil || !ok {
		return nil, err
	}
	return p.PullOrdered(ctx, src, e)
}

// PullOrdered applies the pattern to entity e of src, as Pull does, with
// each entity's result as an edn.Map in pattern order (see the package
// function PullOrdered).
func (p *PullPattern) PullOrdered(ctx context.Context, src Source, e datom.ID) (edn.Map, error) {
	bp, err := p.bind(src)
	if err != nil {
		return nil, err
	}
	pl := newPuller(ctx, src, bp)
	pl.ordered = true
	if err := pl.run([]datom.ID{e}); err != nil {
		return nil, err
	}
	return pl.outE[0], nil
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
	// limited is set on the root when a recursion spec has a depth
	// limit: only then are depths counted.
	limited bool
	// idx is the pattern's index in the root's bounds, which lists every
	// pattern of the tree (pullWildcard first) so that pull's items name
	// theirs by number: an item then holds no pointer.
	idx    int32
	bounds []*pullBound // root only
	// wantsID is set when the pattern stores the entity id (:db/id or
	// the wildcard): its items then keep the id already boxed.
	wantsID bool
}

type pullBoundSpec struct {
	*pullSpec
	reverse bool             // shadows pullSpec.reverse: false for a literal :ns/_x attribute
	a       *datom.Attribute // nil for :db/id
	many    bool             // the result is a vector
	sub     *pullBound
	parent  *pullBound // the pattern a recursion re-applies
	recIdx  int        // index of this recursion spec's depth counter
	// marked is set when another spec of the same pattern (or its
	// wildcard) may store under this spec's key after it: a nested
	// result of this spec then goes in only if the key still holds its
	// placeholder, as it would in a depth-first walk.
	marked bool
	bkey   any // key as an any, boxed once: an ordered result's entry key
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
	root := &pullBound{idx: 1}
	root.bounds = []*pullBound{pullWildcard, root}
	if err := bindPullPattern(p, s, root, root); err != nil {
		return nil, err
	}
	p.bound.last.Store(&pullBindEntry{schema: s, bp: root})
	return root, nil
}

func bindPullPattern(p *PullPattern, s *datom.Schema, bp, root *pullBound) error {
	bp.wildcard = p.wildcard
	bp.wantsID = p.wildcard
	if p.wildcard {
		root.recursive = true // components expand under the wildcard
	}
	bp.specs = make([]pullBoundSpec, len(p.specs))
	for i, ps := range p.specs {
		bs := &bp.specs[i]
		bs.pullSpec = ps
		bs.bkey = ps.key
		if ps.dbID {
			bp.wantsID = true
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
			bs.sub = &pullBound{idx: int32(len(root.bounds))}
			root.bounds = append(root.bounds, bs.sub)
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
			root.limited = root.limited || ps.maxDepth > 0
			root.recursive = true
		}
	}
	for i := range bp.specs {
		bs := &bp.specs[i]
		if bs.dbID || bs.many {
			continue
		}
		for j := i + 1; j < len(bp.specs) && !bs.marked; j++ {
			bs.marked = bp.specs[j].key == bs.key
		}
		if bp.wildcard && (bs.reverse || bs.key != bs.a.Ident) {
			bs.marked = true
		}
	}
	return nil
}

// pullWildcard is [*], used to expand components. It is bounds[0] of
// every root.
var pullWildcard = &pullBound{wildcard: true, wantsID: true}

// puller holds the state of one pull call. It is not safe for concurrent
// use; each call makes its own.
//
// It walks the pattern breadth-first: all the entities one level of the
// pull reaches (the roots, then the entities their nested, recursive and
// component references name, and so on) are read together, in EAVT order,
// by an entityFetcher, and a nested result is written into its parent's
// map or vector once its own entity is read. The result is the one a
// depth-first walk gives: each item carries what the walk would know at
// that point, the path from the root (for cycles) and how deep it is in
// each recursion.
type puller struct {
	ctx    context.Context
	src    Source
	schema *datom.Schema
	root   *pullBound
	f      entityFetcher

	*pullScratch
	visited map[datom.ID]struct{}
	nVis    int // levels added to visited
	wild    map[datom.ID]*pullBoundSpec
	attrs   attrCache
	comps   [2]any // reused scan components

	level []pullRef // the level being read, sorted by entity
	at    int       // its next item
	cur   int32     // the item being pulled

	rmax, rn int                    // collectReverse's and fetchAttr's limit and count
	revFn    func(datom.Datom) bool // pl.reverseDatom, bound once
	attrFn   func(datom.Datom) bool // pl.attrDatom
	eachFn   func(int, []datom.Datom, bool) error
	out      []map[edn.Keyword]any // root results
	// ordered makes each entity's result an edn.Map (PullOrdered), the
	// roots' in outE; see pullRes.
	ordered bool
	outE    []edn.Map

	// vals is what is left of the block the result vectors are cut from
	// (part of the result, so never pooled): the block is vecs[vblk],
	// and vals starts at its voff-th element.
	vals       []any
	vblk, voff int32
	// hdrs is a block the result vectors' headers are boxed in (see
	// boxVector).
	hdrs []edn.Vector
	// lvlVals and lvlVecs are the vector elements and vectors the items
	// of the current level have taken so far: their mean per item, times
	// the items left, is the size of a new block (the items of a level
	// are usually alike).
	lvlVals, lvlVecs int
	runs             [][2]int32 // the current entity's run of each spec: ds[lo:hi]

	// An ordered pull's entries and map headers are cut from blocks
	// likewise (ents, mhdrs), sized on the level's items so far
	// (lvlEnts, lvlMaps).
	ents             []edn.MapEntry
	mhdrs            []edn.Map
	lvlEnts, lvlMaps int
}

// pullItem is one entity to pull with one pattern, and where its result
// goes. It holds no pointer (what it refers to, it names by index in the
// puller's tables), so that the arena of items is never scanned by the
// collector, takes no write barrier, and goes back to its pool without
// being cleared.
type pullItem struct {
	e      datom.ID
	bp     int32 // the pattern: root.bounds[bp]
	parent int32 // the parent's index in the arena, -1 for a root
	// dep locates in pullScratch.depth how deep the item is in each
	// recursion spec (root.nRec counters, shared until one changes).
	dep   int32
	level int32
	// path has bit pathBit(x) set for the entity x of the item and of
	// each of its ancestors: an entity whose bit is clear is not on the
	// path, which onPath then tells without walking it.
	path uint64
	box  int32 // e as an any (saves boxing it again): boxes[box-1], when not 0

	// The result goes to (to):
	//   - pullToRoot: out[at];
	//   - pullToVec: vecs[at][at2], an element of the parent's vector;
	//   - pullToMap: maps[at][mkeys[at]] (in an ordered pull, the entry
	//     slots[at]), unless mark is not 0 and the key no longer holds
	//     marks[mark-1] (see pullBoundSpec.marked).
	to      int32
	at, at2 int32
	mark    int32
}

const (
	pullToRoot = iota
	pullToVec
	pullToMap
)

// pullChunk is the number of items per chunk of the arena (a power of
// two: an item's index splits into chunk and offset with a shift).
const (
	pullChunkShift = 8
	pullChunk      = 1 << pullChunkShift
)

// pullScratch is the memory a pull works in, kept between pulls in
// pullScratchPool.
type pullScratch struct {
	items  [][]pullItem  // arena of items: chunks of pullChunk that never move
	n      int32         // items handed out
	levels [][]pullRef   // the levels done, kept for the visited set
	next   []pullRef     // the level being built
	free   [][]pullRef   // level slices to reuse
	depth  []int32       // arena of the items' depth counters
	ids    []datom.ID    // the distinct entities of a level
	keep   []datom.ID    // the attributes a level needs
	rbuf   []datom.Datom // reverse-reference scan buffer
	fbuf   []datom.Datom // the fetcher's entity buffer

	// What items refer to by index (cleared on release: they hold
	// results and values).
	boxes []any
	vecs  [][]any
	maps  []map[edn.Keyword]any
	mkeys []edn.Keyword
	slots []*edn.MapEntry
	marks []*pullMark
}

var pullScratchPool = sync.Pool{New: func() any { return new(pullScratch) }}

// item returns item i of the arena.
func (sc *pullScratch) item(i int32) *pullItem {
	return &sc.items[i>>pullChunkShift][i&(pullChunk-1)]
}

// newItem returns the index of a new item, zero.
func (sc *pullScratch) newItem() (int32, *pullItem) {
	i := sc.n
	if int(i>>pullChunkShift) == len(sc.items) {
		sc.items = append(sc.items, make([]pullItem, pullChunk))
	}
	sc.n++
	it := sc.item(i)
	*it = pullItem{}
	return i, it
}

// pullRef is an item of a level: its index in the arena, with its entity
// and pattern, which a level reads from its items in turn (without
// touching the items).
type pullRef struct {
	e     datom.ID
	k, bp int32
}

// newLevel returns an empty level slice.
func (sc *pullScratch) newLevel() []pullRef {
	if n := len(sc.free); n > 0 {
		l := sc.free[n-1]
		sc.free = sc.free[:n-1]
		return l[:0]
	}
	return nil
}

// release clears what the scratch refers to (results, values) and puts it
// back in the pool. The items and levels hold no pointer: they are left
// as they are.
func (sc *pullScratch) release() {
	sc.n = 0
	for _, l := range sc.levels {
		sc.free = append(sc.free, l)
	}
	clear(sc.levels)
	sc.levels = sc.levels[:0]
	if sc.next != nil {
		sc.free = append(sc.free, sc.next)
		sc.next = nil
	}
	sc.depth = sc.depth[:0]
	clear(sc.rbuf[:cap(sc.rbuf)])
	sc.rbuf = sc.rbuf[:0]
	clear(sc.fbuf[:cap(sc.fbuf)])
	sc.fbuf = sc.fbuf[:0]
	clear(sc.boxes)
	sc.boxes = sc.boxes[:0]
	clear(sc.vecs)
	sc.vecs = sc.vecs[:0]
	clear(sc.maps)
	sc.maps = sc.maps[:0]
	clear(sc.mkeys)
	sc.mkeys = sc.mkeys[:0]
	clear(sc.slots)
	sc.slots = sc.slots[:0]
	clear(sc.marks)
	sc.marks = sc.marks[:0]
	pullScratchPool.Put(sc)
}

// pullMark is the placeholder a marked spec leaves in its parent's map.
type pullMark struct{ _ byte }

func newPuller(ctx context.Context, src Source, root *pullBound) *puller {
	pl := &puller{ctx: ctx, src: src, schema: src.Schema(), root: root}
	pl.f.init(ctx, src)
	pl.revFn, pl.attrFn, pl.eachFn = pl.reverseDatom, pl.attrDatom, pl.eachEntity
	return pl
}

// pullRoot pulls the root pattern from e.
func (pl *puller) pullRoot(e datom.ID) (map[edn.Keyword]any, error) {
	out, err := pl.pullRoots([]datom.ID{e})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// pullRoots pulls the root pattern from each of es, together.
func (pl *puller) pullRoots(es []datom.ID) ([]map[edn.Keyword]any, error) {
	if err := pl.run(es); err != nil {
		return nil, err
	}
	return pl.out, nil
}

// run pulls the root pattern from each of es, together, into pl.out (or
// pl.outE). A puller pulls once.
func (pl *puller) run(es []datom.ID) error {
	pl.pullScratch = pullScratchPool.Get().(*pullScratch)
	defer func() {
		pl.f.buf, pl.fbuf = nil, pl.f.buf
		pl.pullScratch.release()
		pl.pullScratch = nil
	}()
	pl.f.buf = pl.fbuf
	if pl.ordered {
		pl.outE = make([]edn.Map, len(es))
	} else {
		pl.out = make([]map[edn.Keyword]any, len(es))
	}
	pl.depth = append(pl.depth, make([]int32, pl.root.nRec)...)
	level := pl.newLevel()
	for i, e := range es {
		k, it := pl.newItem()
		it.e, it.bp, it.parent, it.to, it.at = e, pl.root.idx, -1, pullToRoot, int32(i)
		it.path = pathBit(e)
		level = append(level, pullRef{e, k, it.bp})
	}
	for len(level) > 0 {
		if err := pl.ctx.Err(); err != nil {
			return fmt.Errorf("query: pull: %w", err)
		}
		pl.levels = append(pl.levels, level)
		pl.next = pl.newLevel()
		if err := pl.pullLevel(level); err != nil {
			return err
		}
		level, pl.next = pl.next, nil
	}
	return nil
}

// pullLevel reads the entities of one level and pulls each item, queueing
// the next level in pl.next.
func (pl *puller) pullLevel(level []pullRef) error {
	if len(level) > 1 && !slices.IsSortedFunc(level, cmpPullRef) {
		slices.SortStableFunc(level, cmpPullRef)
	}
	pl.lvlVals, pl.lvlVecs, pl.lvlEnts, pl.lvlMaps = 0, 0, 0, 0
	if pl.item(level[0].k).level >= pullPathMapThreshold {
		pl.addVisited()
	}
	pl.ids = pl.ids[:0]
	for i := range level {
		if e, n := level[i].e, len(pl.ids); n == 0 || pl.ids[n-1] != e {
			pl.ids = append(pl.ids, e)
		}
	}
	// A lone entity whose pattern names at most one attribute reads just
	// that attribute; otherwise each entity is read whole, keeping only
	// the attributes the level's patterns name unless one has *.
	if it := pl.item(level[0].k); len(level) == 1 && !pl.bound(it).wildcard && len(pl.bound(it).forward) <= 1 {
		ds, err := pl.fetchAttr(it)
		if err != nil {
			return err
		}
		pl.level, pl.at = level, 0
		return pl.pullItem(level[0].k, ds, -1)
	}
	pl.level, pl.at = level, 0
	return pl.f.fetch(pl.ids, pl.levelAttrs(level), pl.eachFn)
}

// bound returns it's pattern.
func (pl *puller) bound(it *pullItem) *pullBound { return pl.root.bounds[it.bp] }

func cmpPullRef(a, b pullRef) int { return cmpInt(a.e, b.e) }

// eachEntity pulls the items of the current level on the k-th entity of
// the level, whose datoms are ds.
func (pl *puller) eachEntity(k int, ds []datom.Datom, exists bool) error {
	e := pl.ids[k]
	ex := 0
	if exists {
		ex = 1
	}
	for ; pl.at < len(pl.level) && pl.level[pl.at].e == e; pl.at++ {
		if pl.at&255 == 255 {
			if err := pl.ctx.Err(); err != nil {
				return fmt.Errorf("query: pull: %w", err)
			}
		}
		if err := pl.pullItem(pl.level[pl.at].k, ds, ex); err != nil {
			return err
		}
	}
	return nil
}

// fetchAttr reads the one forward attribute of a lone item's pattern (or
// nothing, when it has none).
func (pl *puller) fetchAttr(it *pullItem) ([]datom.Datom, error) {
	var s *pullBoundSpec
	bp := pl.bound(it)
	for i := range bp.specs {
		if x := &bp.specs[i]; !x.dbID && !x.reverse {
			s = x
		}
	}
	if s == nil {
		return nil, nil
	}
	max := 0
	if s.many {
		max = pullLimit(s.pullSpec)
	}
	pl.comps[0], pl.comps[1] = it.e, s.a.ID
	pl.rmax, pl.rn = max, 0
	clear(pl.f.buf)
	pl.f.buf = pl.f.buf[:0]
	err := pl.src.Datoms(pl.ctx, datom.EAVT, pl.comps[:2], pl.attrFn)
	if err != nil {
		return nil, fmt.Errorf("query: pull: scan entity %d: %w", it.e, err)
	}
	return pl.f.buf, nil
}

func (pl *puller) attrDatom(d datom.Datom) bool {
	pl.f.buf = append(pl.f.buf, d)
	pl.rn++
	return pl.rmax <= 0 || pl.rn < pl.rmax
}

// levelAttrs returns the forward attributes the patterns of level name,
// or nil (keep all) when one of them has the wildcard.
func (pl *puller) levelAttrs(level []pullRef) []datom.ID {
	pl.keep = pl.keep[:0]
	var last *pullBound
	for i := range level {
		bp := pl.root.bounds[level[i].bp]
		if bp == last {
			continue
		}
		last = bp
		if bp.wildcard {
			return nil
		}
		for _, a := range bp.forward {
			if !containsID(pl.keep, a) {
				pl.keep = append(pl.keep, a)
			}
		}
	}
	return pl.keep
}

// addVisited adds the entities of the levels done to pl.visited, which
// tells quickly that an entity is not on a long path.
func (pl *puller) addVisited() {
	if pl.visited == nil {
		pl.visited = make(map[datom.ID]struct{})
	}
	for ; pl.nVis < len(pl.levels); pl.nVis++ {
		for _, r := range pl.levels[pl.nVis] {
			pl.visited[r.e] = struct{}{}
		}
	}
}

const pullPathMapThreshold = 16

// pathBit is entity e's bit in pullItem.path.
func pathBit(e datom.ID) uint64 { return 1 << (uint64(e) * 0x9E3779B97F4A7C15 >> 58) }

// onPath reports whether e is it's entity or one of its ancestors'.
func (pl *puller) onPath(it *pullItem, e datom.ID) bool {
	if it.path&pathBit(e) == 0 {
		return false
	}
	if it.level >= pullPathMapThreshold {
		if _, ok := pl.visited[e]; !ok {
			return false
		}
	}
	for p := it; ; p = pl.item(p.parent) {
		if p.e == e {
			return true
		}
		if p.parent < 0 {
			return false
		}
	}
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

// pullItem applies item k's pattern to its entity, whose datoms (of the
// attributes the pattern names, all when it has *) are ds, and stores the
// result where it goes. exists says whether the entity has any datom: 1
// yes, 0 no, -1 unknown (ds was read for one attribute only).
func (pl *puller) pullItem(k int32, ds []datom.Datom, exists int) error {
	it := pl.item(k)
	pl.cur = k
	res, ok, err := pl.pullEntity(it, ds, exists)
	if err != nil {
		return err
	}
	if it.to == pullToRoot {
		switch {
		case !ok: // nothing to pull: the root's result stays nil
		case pl.ordered:
			pl.outE[it.at] = res.e
		default:
			pl.out[it.at] = res.m
		}
		return nil
	}
	var v any
	switch {
	case !ok:
		v = pl.refMap(it.e) // a nested pattern found nothing: keep the ref
	case pl.ordered:
		v = pl.boxMap(res.e)
	default:
		v = res.m
	}
	switch it.to {
	case pullToVec:
		pl.vecs[it.at][it.at2] = v
	case pullToMap:
		if pl.ordered {
			slot := pl.slots[it.at]
			if it.mark != 0 {
				if cur, ok := slot.Val.(*pullMark); !ok || cur != pl.marks[it.mark-1] {
					return nil // a later spec stored under the key
				}
			}
			slot.Val = v
			return nil
		}
		res, key := pl.maps[it.at], pl.mkeys[it.at]
		if it.mark != 0 {
			if cur, ok := res[key].(*pullMark); !ok || cur != pl.marks[it.mark-1] {
				return nil // a later spec stored under the key
			}
		}
		res[key] = v
	}
	return nil
}

// pullRes is the result of one entity as it is built: a Go map, or in an
// ordered pull an edn.Map whose entries are cut from a block with room for
// every key pullMapSize counts (an upper bound), so that they never move
// and a nested result, read a level later, is written straight into its
// entry (pl.slots).
type pullRes struct {
	m map[edn.Keyword]any
	e edn.Map
	// cmp is how many leading entries a new key is compared with: all of
	// them while the pattern's specs put theirs, then only those (the
	// wildcard's attributes are distinct from one another).
	cmp  int
	wild bool
	last *edn.MapEntry // the entry put last
}

// newRes returns an empty result for up to n keys.
func (pl *puller) newRes(n int) pullRes {
	if !pl.ordered {
		return pullRes{m: make(map[edn.Keyword]any, n)}
	}
	pl.lvlEnts += n
	if len(pl.ents) < n {
		pl.ents = make([]edn.MapEntry, max(n, min(max(pl.project(pl.lvlEnts), 8), pullVecBlockMax)))
	}
	e := edn.Map(pl.ents[:0:n])
	pl.ents = pl.ents[n:]
	return pullRes{e: e}
}

// has reports whether r holds key k.
func (r *pullRes) has(k edn.Keyword) bool {
	if r.m != nil {
		_, ok := r.m[k]
		return ok
	}
	for i := range r.e {
		if r.e[i].Key.(edn.Keyword) == k {
			return true
		}
	}
	return false
}

// put stores v under key k (bk is k as an any) and, in an ordered result,
// leaves r.last at its entry: an existing key keeps its place.
func (r *pullRes) put(k edn.Keyword, bk, v any) error {
	if r.m != nil {
		r.m[k] = v
		return nil
	}
	for i := range r.e[:r.cmp] {
		if r.e[i].Key.(edn.Keyword) == k {
			r.e[i].Val = v
			r.last = &r.e[i]
			return nil
		}
	}
	if len(r.e) == cap(r.e) {
		// Growing would move the entries nested results are bound for.
		return fmt.Errorf("query: pull: internal error: an entity's result has more keys than the %d counted for it", cap(r.e))
	}
	r.e = append(r.e, edn.MapEntry{Key: bk, Val: v})
	r.last = &r.e[len(r.e)-1]
	if !r.wild {
		r.cmp = len(r.e)
	}
	return nil
}

// pullEntity builds the map of one item. It is nil when the entity has
// none of the pattern's attributes (and no default applies).
func (pl *puller) pullEntity(it *pullItem, ds []datom.Datom, exists int) (res pullRes, ok bool, err error) {
	bp, e := pl.bound(it), it.e
	pl.runs = pl.runs[:0]
	res = pl.newRes(pullMapSize(bp, ds, &pl.runs))
	runs := pl.runs
	found := false // some attribute value or default is in res
	hasID := false

	for i := range bp.specs {
		s := &bp.specs[i]
		if s.dbID {
			if err := res.put(s.key, s.bkey, pl.id(it)); err != nil {
				return res, false, err
			}
			hasID = true
			continue
		}
		var vals []datom.Datom
		if s.reverse {
			if vals, err = pl.collectReverse(e, s); err != nil {
				return res, false, err
			}
		} else {
			vals = ds[runs[i][0]:runs[i][1]]
		}
		if len(vals) == 0 {
			if s.hasDef {
				if err := res.put(s.key, s.bkey, s.def); err != nil {
					return res, false, err
				}
				found = true
			}
			continue
		}
		ok, err := pl.putValues(it, &res, s, vals)
		if err != nil {
			return res, false, err
		}
		found = found || ok
	}

	if bp.wildcard {
		if !res.has("db/id") {
			if err := res.put("db/id", kwDBID, pl.id(it)); err != nil {
				return res, false, err
			}
			hasID = true
		}
		res.wild = true
		for lo := 0; lo < len(ds); {
			a := ds[lo].A
			hi := lo + 1
			for hi < len(ds) && ds[hi].A == a {
				hi++
			}
			if !containsID(bp.forward, a) {
				attr := pl.attrs.get(pl.schema, a)
				if attr == nil {
					return res, false, fmt.Errorf("query: pull: entity %d has a datom of attribute %d, which the schema does not know", e, a)
				}
				if _, err := pl.putValues(it, &res, pl.wildcardSpec(attr), ds[lo:hi]); err != nil {
					return res, false, err
				}
				found = true
			}
			lo = hi
		}
	}

	if !found {
		if !hasID {
			return res, false, nil
		}
		// Only :db/id: keep it if the entity exists at all.
		if exists < 0 {
			pl.comps[0] = e
			pl.rmax, pl.rn = 1, 0
			n := len(pl.rbuf)
			if err := pl.src.Datoms(pl.ctx, datom.EAVT, pl.comps[:1], pl.revFn); err != nil {
				return res, false, fmt.Errorf("query: pull: scan entity %d: %w", e, err)
			}
			exists = 0
			if len(pl.rbuf) > n {
				exists = 1
			}
			pl.rbuf = pl.rbuf[:n]
		}
		if exists == 0 {
			return res, false, nil
		}
	}
	return res, true, nil
}

// collectReverse reads the entities that refer to e through the reverse
// spec s, into pl.rbuf (valid until the next call).
func (pl *puller) collectReverse(e datom.ID, s *pullBoundSpec) ([]datom.Datom, error) {
	max := 1
	if s.many {
		max = pullLimit(s.pullSpec)
	}
	clear(pl.rbuf)
	pl.rbuf = pl.rbuf[:0]
	pl.comps[0], pl.comps[1] = e, s.a.ID
	pl.rmax, pl.rn = max, 0
	if err := pl.src.Datoms(pl.ctx, datom.VAET, pl.comps[:2], pl.revFn); err != nil {
		return nil, fmt.Errorf("query: pull: scan references to %d: %w", e, err)
	}
	return pl.rbuf, nil
}

// reverseDatom is the callback of collectReverse and of the existence
// check, made once per puller so that scans allocate no closure.
func (pl *puller) reverseDatom(d datom.Datom) bool {
	pl.rbuf = append(pl.rbuf, d)
	pl.rn++
	return pl.rmax <= 0 || pl.rn < pl.rmax
}

// id returns the item's entity id as an any.
func (pl *puller) id(it *pullItem) any {
	if it.box == 0 {
		pl.boxes = append(pl.boxes, it.e)
		it.box = int32(len(pl.boxes))
	}
	return pl.boxes[it.box-1]
}

// pullMapSize is how many keys the map of bp on an entity with datoms ds
// will have, near enough: a map of up to 8 is much cheaper to make than
// one of 9, so a hint should not overshoot. It appends to runs, for each
// spec of bp, the bounds in ds of the run of its attribute (empty for
// :db/id and reverse specs), which pullEntity then uses.
func pullMapSize(bp *pullBound, ds []datom.Datom, runs *[][2]int32) int {
	n := 0
	hasID := false
	for i := range bp.specs {
		s := &bp.specs[i]
		var lo, hi int
		switch {
		case s.dbID:
			hasID = s.key == "db/id" || hasID
			n++
		case s.reverse:
			n++
		default:
			lo, hi = pullAttrBounds(ds, s.a.ID)
			if hi > lo || s.hasDef {
				n++
			}
		}
		*runs = append(*runs, [2]int32{int32(lo), int32(hi)})
	}
	if bp.wildcard {
		if !hasID {
			n++
		}
		for i := range ds {
			if (i == 0 || ds[i].A != ds[i-1].A) && !containsID(bp.forward, ds[i].A) {
				n++
			}
		}
	}
	return n
}

// attrCache remembers attributes looked up by id, direct-mapped on the
// id's low bits: the entities of a pull or an entity walk mostly have the
// same dozen or so, whose ids (allocated together when the schema was
// transacted) rarely share low bits, and a hit costs no search.
type attrCache struct {
	ids [32]datom.ID
	as  [32]*datom.Attribute
}

func (c *attrCache) get(s *datom.Schema, id datom.ID) *datom.Attribute {
	k := int(id) & (len(c.ids) - 1)
	if a := c.as[k]; a != nil && c.ids[k] == id {
		return a
	}
	a := s.Attr(id)
	if a != nil {
		c.ids[k], c.as[k] = id, a
	}
	return a
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
	s := &pullBoundSpec{pullSpec: &pullSpec{name: a.Ident, attr: a.Ident, key: a.Ident}, a: a, many: a.Cardinality == datom.CardinalityMany, bkey: a.Ident}
	pl.wild[a.ID] = s
	return s
}

// pullAttrBounds returns the bounds of the run of datoms of attribute a
// in ds, which is in EAVT order for one entity.
func pullAttrBounds(ds []datom.Datom, a datom.ID) (lo, hi int) {
	for lo < len(ds) && ds[lo].A != a {
		lo++
	}
	hi = lo
	for hi < len(ds) && ds[hi].A == a {
		hi++
	}
	return lo, hi
}

// putValues stores the values of spec s, vals, into res. It reports false
// when nothing was stored (a depth limit reached).
func (pl *puller) putValues(it *pullItem, res *pullRes, s *pullBoundSpec, vals []datom.Datom) (bool, error) {
	if s.recurse && s.maxDepth > 0 && int(pl.depth[int(it.dep)+s.recIdx]) >= s.maxDepth {
		return false, nil // depth exhausted: the attribute is omitted
	}
	if !s.many {
		if pl.ordered {
			// The entry first, in its place: a nested result value
			// queues goes into it (res.last).
			if err := res.put(s.key, s.bkey, nil); err != nil {
				return false, err
			}
		}
		v, err := pl.value(it, s, &vals[0], -1, res)
		if err != nil {
			return false, err
		}
		if v != nil {
			if pl.ordered {
				res.last.Val = v
			} else {
				res.m[s.key] = v
			}
		}
		return true, nil
	}
	if max := pullLimit(s.pullSpec); max > 0 && len(vals) > max {
		vals = vals[:max]
	}
	vec, off := pl.vector(len(vals))
	for i := range vals {
		v, err := pl.value(it, s, &vals[i], off+int32(i), res)
		if err != nil {
			return false, err
		}
		vec[i] = v
	}
	if err := res.put(s.key, s.bkey, pl.boxVector(vec)); err != nil {
		return false, err
	}
	return true, nil
}

// value converts one datom of spec s to its result form. A reference to
// pull further is queued for the next level, with the slot its result
// goes to (element vi of the current vector block when vi >= 0, else
// res's entry for s.key: res.last in an ordered result), and value returns
// nil.
func (pl *puller) value(it *pullItem, s *pullBoundSpec, d *datom.Datom, vi int32, res *pullRes) (any, error) {
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
	var bp *pullBound
	dep := it.dep
	switch {
	case s.sub != nil:
		bp = s.sub
	case s.recurse:
		if pl.onPath(it, target) {
			return pl.idMap(target), nil
		}
		bp = s.parent
		if pl.root.limited {
			n := len(pl.depth)
			pl.depth = append(pl.depth, pl.depth[dep:int(dep)+pl.root.nRec]...)
			pl.depth[n+s.recIdx]++
			dep = int32(n)
		}
	case s.a.IsComponent && !s.reverse:
		if pl.onPath(it, target) {
			return pl.idMap(target), nil
		}
		bp = pullWildcard
	default:
		return pl.refMap(target), nil
	}
	k, child := pl.newItem()
	child.e, child.bp, child.parent, child.dep, child.level = target, bp.idx, pl.cur, dep, it.level+1
	child.path = it.path | pathBit(target)
	if !s.reverse && bp.wantsID {
		pl.boxes = append(pl.boxes, d.V) // the id, already boxed
		child.box = int32(len(pl.boxes))
	}
	pl.next = append(pl.next, pullRef{target, k, bp.idx})
	if vi >= 0 {
		child.to, child.at, child.at2 = pullToVec, pl.vblk, vi
		return nil, nil
	}
	if pl.ordered {
		child.to, child.at = pullToMap, int32(len(pl.slots))
		pl.slots = append(pl.slots, res.last)
	} else {
		child.to, child.at = pullToMap, int32(len(pl.maps))
		pl.maps, pl.mkeys = append(pl.maps, res.m), append(pl.mkeys, s.key)
	}
	if s.marked {
		m := &pullMark{}
		pl.marks = append(pl.marks, m)
		child.mark = int32(len(pl.marks))
		return m, nil
	}
	return nil, nil
}

// vector returns a fresh vector of n elements for a result, cut from a
// block, and where it starts in the block (vecs[vblk]): results have many
// small vectors, and one allocation for a block of them is far cheaper
// than one each. A block is sized for the rest of the level, projected
// from its items so far, so that a level of a tree takes about one block
// and leaves little of it unused (doubling blocks left a third unused). Vectors do not overlap and their
// capacity is their length, so appending to one copies it.
func (pl *puller) vector(n int) (edn.Vector, int32) {
	pl.lvlVals += n
	if len(pl.vals) < n {
		pl.vals = make([]any, max(n, min(max(pl.project(pl.lvlVals), 8), pullVecBlockMax)))
		pl.vecs = append(pl.vecs, pl.vals)
		pl.vblk, pl.voff = int32(len(pl.vecs)-1), 0
	}
	v, off := pl.vals[:n:n], pl.voff
	pl.vals, pl.voff = pl.vals[n:], off+int32(n)
	return edn.Vector(v), off
}

// project returns what the items of the current level still to pull
// (the current one included) would take, if each took what the level's
// items have taken so far on average: used, counting the current item.
func (pl *puller) project(used int) int {
	begun := pl.at + 1
	left := max(len(pl.level)-pl.at, 1)
	return (used + begun - 1) / begun * left
}

// pullVecBlockMax bounds a block of vector elements: what a projection
// from the first items of a level may overshoot by.
const pullVecBlockMax = 1024

// boxVector returns v as an any, its header stored in a block: the
// conversion of a slice to an interface allocates its header alone, and
// results have many vectors.
func (pl *puller) boxVector(v edn.Vector) any {
	return boxVector(headerSlot(pl, &pl.hdrs, &pl.lvlVecs, v))
}

// headerSlot stores a result's header h in the next slot of the block
// *blk, a new block when it is used up (sized, like the level's others,
// from the *used headers the level's items took so far), and returns the
// slot.
func headerSlot[S any](pl *puller, blk *[]S, used *int, h S) *S {
	*used++
	if len(*blk) == 0 {
		*blk = make([]S, min(max(pl.project(*used), 8), 256))
	}
	slot := &(*blk)[0]
	*blk = (*blk)[1:]
	*slot = h
	return slot
}

// refMap is a reference without a nested pattern: {:db/id e}, with the
// target's :db/ident when it has one (an enum value).
func (pl *puller) refMap(e datom.ID) any {
	pkw, ok := pullSchemaIdent(pl.schema, e)
	switch {
	case !pl.ordered && ok:
		return map[edn.Keyword]any{"db/id": e, "db/ident": pkw}
	case !pl.ordered:
		return map[edn.Keyword]any{"db/id": e}
	case ok:
		return pl.boxMap(edn.Map{{Key: kwDBID, Val: e}, {Key: kwDBIdent, Val: pkw}})
	}
	return pl.idMap(e)
}

// idMap is {:db/id e}: a reference to an entity already on the path.
func (pl *puller) idMap(e datom.ID) any {
	if !pl.ordered {
		return map[edn.Keyword]any{"db/id": e}
	}
	r := pl.newRes(1)
	r.e = append(r.e, edn.MapEntry{Key: kwDBID, Val: e})
	return pl.boxMap(r.e)
}

// kwDBID and kwDBIdent are :db/id and :db/ident as an any, boxed once.
var kwDBID, kwDBIdent any = edn.Keyword("db/id"), edn.Keyword("db/ident")

// boxMap returns m as an any, its header stored in a block (as
// boxVector's).
func (pl *puller) boxMap(m edn.Map) any {
	return boxMap(headerSlot(pl, &pl.mhdrs, &pl.lvlMaps, m))
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
