package query

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
	"weak"

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
// The entities an Entity's references give are read together: when the
// Source can read entities in order (reader.DB's EntityDatoms, or
// SeekDatoms), the first of them to be read reads its siblings too (the
// other targets of the references read with it, up to entityGroupMax of
// them) in one ordered pass over EAVT, where entities made together
// usually sit side by side. Navigating a tree reads it a level at a time,
// not an entity at a time.
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
// The sets Get and Map return may be the Entity's own: they MUST NOT be
// modified (appending is safe, it copies).
//
// An Entity is safe for concurrent use. Its loading holds an internal lock
// across the Source scan.
//
// An entity keeps its datoms as the Source gives them: from reader.DB (an
// entityReader), views of the index leaves, so that reading an entity
// copies nothing and holds its leaf; otherwise a copy. Only the values of
// its references are converted when it is read (their targets are made
// then, to be read together); other values are taken from the datoms when
// asked for.
type Entity struct {
	// grp is the group the entity is read with (a group of its own when
	// it is read alone: made by EntityOf, or its Source cannot seek); it
	// holds what the entities reached from one EntityOf share.
	grp *entityGroup
	// id points to the entity id as an any (an int64): usually the value
	// of the datom of the reference that named it, where the referring
	// entity's datoms are kept, so that making the entity, and Get of
	// :db/id, box nothing.
	id *any

	// ds (n of them) then more() is the entity's datoms in EAVT order
	// (never modified): ds is the start of a slice, whose length is n
	// and capacity n too (an entity is made for each reference target,
	// and every byte of it is paid for in allocation and collection).
	//
	// refs (|nr| of them, nil for an entity that has no references and
	// lies within one leaf: most entities of a tree are its leaves) is,
	// for an entity across two leaves, a *[]datom.Datom, the start of
	// the next leaf (nr is then negative); then, for each reference
	// attribute in turn, its *datom.Attribute and its values, converted
	// (*Entity or edn.Keyword). Held here rather than in an extension
	// the entity points to, they cost no allocation of their own and no
	// load on the way to a value.
	//
	// They are set, and never change again, once the entity's group is
	// loaded.
	ds   *datom.Datom
	refs *any
	n    int32
	nr   int32
}

// datomSlice returns ds as a slice.
func (en *Entity) datomSlice() []datom.Datom { return unsafe.Slice(en.ds, en.n) }

// setDatoms sets ds and n to ds, which is a run of one leaf (shorter than
// node.MaxKeys, so its length fits n).
func (en *Entity) setDatoms(ds []datom.Datom) {
	en.ds, en.n = unsafe.SliceData(ds), int32(len(ds))
}

// more returns the entity's datoms in the next leaf, for an entity
// across two.
func (en *Entity) more() []datom.Datom {
	if en.nr >= 0 {
		return nil
	}
	return *(*en.refs).(*[]datom.Datom)
}

// refVals returns the entity's reference attributes and values (see
// Entity.refs).
func (en *Entity) refVals() []any {
	switch {
	case en.nr > 0:
		return unsafe.Slice(en.refs, en.nr)
	case en.nr < 0:
		return unsafe.Slice(en.refs, -en.nr)[1:]
	}
	return nil
}

// refRun returns the converted values of reference attribute a, and
// whether the entity has it.
func (en *Entity) refRun(a datom.ID) ([]any, bool) {
	refs := en.refVals()
	for i := 0; i < len(refs); {
		h := refs[i].(*datom.Attribute)
		j := i + 1
		for j < len(refs) {
			if _, ok := refs[j].(*datom.Attribute); ok {
				break
			}
			j++
		}
		if h.ID == a {
			return refs[i+1 : j : j], true
		}
		i = j
	}
	return nil, false
}

type entityRev struct {
	ents []*Entity
}

// datoms returns how many datoms the entity has.
func (en *Entity) datoms() int {
	if en.nr >= 0 {
		return int(en.n)
	}
	return int(en.n) + len(en.more())
}

// datom returns the entity's i-th datom.
func (en *Entity) datom(i int) *datom.Datom {
	if i < int(en.n) {
		return (*datom.Datom)(unsafe.Add(unsafe.Pointer(en.ds), uintptr(i)*unsafe.Sizeof(datom.Datom{})))
	}
	return &en.more()[i-int(en.n)]
}

// entityRevKey names the reverse references to one entity through one
// attribute.
type entityRevKey struct{ e, a datom.ID }

// entityEnv is what the entities reached from one EntityOf share: the
// Source, its schema, and the attributes Get was last asked for.
type entityEnv struct {
	src    Source
	schema *datom.Schema
	idents [8]atomic.Pointer[entityIdent]
	next   atomic.Uint32 // the slot the next miss replaces
	// byAddr finds the idents by where their keyword's bytes are, first
	// (see attr).
	byAddr [16]atomic.Pointer[entityIdent]

	// identMax is the largest id that has an ident, once identsKnown
	// (see ident); probes counts the lookups made before.
	identMax     datom.ID
	identsKnown  atomic.Bool
	identClaimed atomic.Bool // identMax is being set
	probes       atomic.Int32
}

type entityIdent struct {
	kw edn.Keyword
	a  *datom.Attribute
}

func newEntityEnv(src Source) *entityEnv {
	return &entityEnv{src: src, schema: src.Schema()}
}

// attr is the schema's AttrByIdent with a small cache in front: walking
// entities asks for the same few keywords over and over. The keywords a
// program asks for are mostly the same strings each time (literals,
// interned keywords), so the cache is first looked up by the address of
// the keyword's bytes, one probe and no comparison of bytes; a keyword
// built afresh each time is then found by value in idents.
func (env *entityEnv) attr(kw edn.Keyword) *datom.Attribute {
	p := unsafe.StringData(string(kw))
	h := &env.byAddr[(uint64(uintptr(unsafe.Pointer(p)))*0x9E3779B97F4A7C15)>>60]
	if c := h.Load(); c != nil && unsafe.StringData(string(c.kw)) == p && len(c.kw) == len(kw) {
		return c.a
	}
	for i := range env.idents {
		if c := env.idents[i].Load(); c != nil && c.kw == kw {
			if unsafe.StringData(string(c.kw)) == p {
				h.Store(c)
			}
			return c.a
		}
	}
	a := env.schema.AttrByIdent(kw)
	if a != nil {
		c := &entityIdent{kw: kw, a: a}
		i := env.next.Add(1) % uint32(len(env.idents))
		env.idents[i].Store(c)
		h.Store(c)
	}
	return a
}

// entityGroupMax bounds a group, and so what reading one entity may read
// on speculation.
const entityGroupMax = 256

// entityGroup is a set of entities read together: the targets of the
// references of the entities read in one go.
type entityGroup struct {
	env *entityEnv
	mu  sync.Mutex // held across the read; guards rev
	// members are the entities of the group themselves: made in the
	// group's own block, so that a group needs no list of them.
	members []Entity
	rev     map[entityRevKey]entityRev // the members' reverse refs, once read

	// loaded is set once the members are read (their datoms and
	// references set, never to change again).
	loaded atomic.Bool
	// read is how many members were read (set before they are
	// published); sets is the block the sets of values Get returns are
	// cut from.
	read int
	sets atomic.Pointer[entitySets]
	hdrs atomic.Pointer[entitySetHdrs]
}

// entitySetHdrs is a block of set headers that Get boxes sets in, used up
// to used (which may run past the end: the block is then full).
type entitySetHdrs struct {
	hdrs []edn.Set
	used atomic.Int64
}

// entitySetHdrsMax bounds a block of set headers.
const entitySetHdrsMax = 256

// box returns s as an any, its header stored in the group's block: the
// conversion of a slice to an interface allocates its header alone, and
// a walk asks each member for its sets.
func (g *entityGroup) box(s edn.Set) any {
	for {
		blk := g.hdrs.Load()
		if blk != nil {
			if i := blk.used.Add(1); i <= int64(len(blk.hdrs)) {
				h := &blk.hdrs[i-1]
				*h = s
				return boxSet(h)
			}
		}
		nb := &entitySetHdrs{hdrs: make([]edn.Set, min(max(g.read, 4), entitySetHdrsMax))}
		nb.used.Store(1)
		if g.hdrs.CompareAndSwap(blk, nb) {
			nb.hdrs[0] = s
			return boxSet(&nb.hdrs[0])
		}
	}
}

// entitySets is a block of values that sets are cut from, used up to
// used (which may run past the end: the block is then full).
type entitySets struct {
	vals []any
	used atomic.Int64
}

// entitySetsMax bounds a block of set values (a set Get returned keeps
// its whole block).
const entitySetsMax = 1024

// set returns a fresh set of n values, cut from the group's block: a walk
// asks each member for the same attributes, and one allocation for a
// block of their sets is far cheaper than one each. Sets do not overlap
// and their capacity is their length, so appending to one copies it.
func (g *entityGroup) set(n int) edn.Set {
	for {
		blk := g.sets.Load()
		if blk != nil {
			if end := blk.used.Add(int64(n)); end <= int64(len(blk.vals)) {
				return blk.vals[end-int64(n) : end : end]
			}
		}
		// As many as the members would take if they were alike.
		nb := &entitySets{vals: make([]any, max(n, min(n*g.read, entitySetsMax)))}
		nb.used.Store(int64(n))
		if g.sets.CompareAndSwap(blk, nb) {
			return nb.vals[:n:n]
		}
	}
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
	id := new(any)
	*id = eid
	if _, ok := eid.(int64); !ok {
		*id = e
	}
	g := &entityGroup{env: newEntityEnv(src), members: make([]Entity, 1)}
	en := &g.members[0]
	en.grp, en.id = g, id
	return en, nil
}

// ID returns the entity id.
func (en *Entity) ID() datom.ID { return (*en.id).(datom.ID) }

// String returns "#entity <id>", for debugging.
func (en *Entity) String() string { return fmt.Sprintf("#entity %d", en.ID()) }

// load reads the entity's datoms once (with its group's).
func (en *Entity) load(ctx context.Context) error {
	if en.grp.loaded.Load() {
		return nil
	}
	return en.grp.load(ctx, en)
}

// load reads the members of g, en among them, in one ordered pass. A
// group is complete before any of its members can be reached, so it is
// read whole, once (again only after an error).
func (g *entityGroup) load(ctx context.Context, en *Entity) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.loaded.Load() {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("query: entity %d: %w", en.ID(), err)
	}
	ms := g.members
	b := newEntityBuilder(ctx, g.env, 0)
	defer b.release()
	// The members' ids, each read once (an id is read through a pointer
	// into the referring entity's datoms), in order; ord, when not empty,
	// is the order of the members (usually made in order already).
	mids := b.mids[:0]
	for i := range ms {
		mids = append(mids, ms[i].ID())
	}
	var ord []int32
	if !slices.IsSorted(mids) {
		ord = make([]int32, len(ms))
		for i := range ord {
			ord[i] = int32(i)
		}
		slices.SortStableFunc(ord, func(x, y int32) int { return cmpInt(mids[x], mids[y]) })
		sorted := make([]datom.ID, len(ms))
		for i, j := range ord {
			sorted[i] = mids[j]
		}
		mids = sorted
	}
	ids := b.ids[:0]
	for _, id := range mids {
		if n := len(ids); n == 0 || ids[n-1] != id {
			ids = append(ids, id)
		}
	}
	if ord == nil {
		b.mids = mids
	}
	b.ids, b.n = ids, len(ids)
	at := 0
	err := b.f.fetch(ids, nil, func(k int, ds []datom.Datom, _ bool) error {
		first := at
		for ; at < len(ms) && mids[at] == ids[k]; at++ {
			m := &ms[at]
			if ord != nil {
				m = &ms[ord[at]]
			}
			if at > first { // the same entity twice: share what was read
				f := &ms[first]
				if ord != nil {
					f = &ms[ord[first]]
				}
				m.ds, m.n, m.refs, m.nr = f.ds, f.n, f.refs, f.nr
				continue
			}
			if err := b.finish(m, ds, b.f.more); err != nil {
				return err
			}
		}
		b.done++
		return nil
	})
	if err != nil {
		return fmt.Errorf("query: entity %d: %w", en.ID(), err)
	}
	// Publish only now: the targets' groups are complete (no reader can
	// reach one while it is being filled).
	g.read += len(ms)
	g.loaded.Store(true)
	return nil
}

// entityBuilder turns datoms into entities for one read, allocating the
// converted reference values, the entities references name and (from a
// Source whose datoms cannot be kept) the datoms in blocks. The blocks
// are sized on what the entities read so far project for the rest of the
// read (entities read together are usually alike), so that a level of a
// tree takes about one block of each.
type entityBuilder struct {
	env    *entityEnv
	schema *datom.Schema
	f      entityFetcher
	group  bool // the Source can seek: references' targets are grouped

	refs  []any // blocks the entities' refs, ds, targets and mores are cut from
	ds    []datom.Datom
	ents  []Entity
	mores [][]datom.Datom
	boxes []any        // the ids of entities not named by a kept datom
	grp   *entityGroup // the group of the targets made so far

	n, done int // entities to read, and read so far
	// perRefs and perEnts are how many refs and targets the entity being
	// finished has (its ref values and headers; its ref values): with
	// n-done, the projection for the next block.
	perRefs, perEnts int

	attrs attrCache
	ids   []datom.ID // the ids a load reads (kept with the builder)
	mids  []datom.ID // the ids of the members a load reads (likewise)
}

// entityBuilders keeps builders between reads: a builder is large (its
// fetcher, its attribute cache), and reading a lone entity (EntityOf then
// Get) would otherwise make one each time.
var entityBuilders = sync.Pool{New: func() any { return new(entityBuilder) }}

// newEntityBuilder returns a builder for reading n entities; release
// gives it back.
func newEntityBuilder(ctx context.Context, env *entityEnv, n int) *entityBuilder {
	b := entityBuilders.Get().(*entityBuilder)
	if b.schema != env.schema {
		b.attrs = attrCache{}
	}
	b.env, b.schema, b.n = env, env.schema, n
	b.f.init(ctx, env.src)
	b.f.kept = b.f.ents != nil
	b.group = b.f.seek != nil || b.f.ents != nil
	return b
}

// release puts b back in the pool, holding nothing of the read (the
// blocks are the entities' now) but its schema, for its attribute cache.
func (b *entityBuilder) release() {
	b.f.reset()
	*b = entityBuilder{schema: b.schema, f: b.f, attrs: b.attrs, ids: b.ids[:0], mids: b.mids[:0]}
	entityBuilders.Put(b)
}

// blockSize is the size of a new block for what the entities still to
// read need, at per each (the current one included), within [lo, hi].
func (b *entityBuilder) blockSize(per, need, lo, hi int) int {
	return max(need, min(max(per*(b.n-b.done), lo), hi))
}

// finish sets en's datoms to ds then more (in EAVT order; copied unless
// the Source lets them be kept) and converts the values of its
// references; the caller marks it loaded once the whole read is done.
func (b *entityBuilder) finish(en *Entity, ds, more []datom.Datom) error {
	if !b.f.kept && len(ds) > 0 {
		if len(b.ds)+len(ds) > cap(b.ds) {
			b.ds = make([]datom.Datom, 0, b.blockSize(len(ds), len(ds), 16, 4096))
		}
		i := len(b.ds)
		b.ds = append(b.ds, ds...)
		ds = b.ds[i:len(b.ds):len(b.ds)]
	}
	if len(ds) > math.MaxInt32 {
		return fmt.Errorf("entity %d has %d datoms in one run, more than an entity holds (2^31-1)", en.ID(), len(ds))
	}
	en.setDatoms(ds)
	v0 := len(b.refs)
	if len(more) > 0 {
		// Rare (an entity across two leaves): small blocks, not sized
		// as if every entity to read were one.
		if len(b.mores) == cap(b.mores) {
			b.mores = make([][]datom.Datom, 0, min(max(2*cap(b.mores), 4), 64))
		}
		b.mores = append(b.mores, more)
		b.reserveRefs(&v0, 1, 0)
		b.refs = append(b.refs, &b.mores[len(b.mores)-1])
	}
	first := true // no reference run of en yet
	var cur *datom.Attribute
	for i, nd := 0, len(ds)+len(more); i < nd; i++ {
		d := datomAt(ds, more, i)
		if cur == nil || d.A != cur.ID {
			if cur = b.attrs.get(b.schema, d.A); cur == nil {
				return fmt.Errorf("entity %d has a datom of attribute %d, which the schema does not know", en.ID(), d.A)
			}
			if !cur.IsRef() {
				continue
			}
			// A run of references: its header, then its values.
			r := 1
			for i+r < nd && datomAt(ds, more, i+r).A == d.A {
				r++
			}
			if first {
				b.perRefs, b.perEnts, first = 0, 0, false
			}
			b.perRefs, b.perEnts = b.perRefs+r+1, b.perEnts+r
			b.reserveRefs(&v0, r+1, b.perRefs)
			b.refs = append(b.refs, cur)
		} else if !cur.IsRef() {
			continue
		}
		b.refs = append(b.refs, b.convert(cur, &d.V))
	}
	if n := len(b.refs) - v0; n > 0 {
		if n > math.MaxInt32 {
			return fmt.Errorf("entity %d has %d references, more than an entity holds (2^31-1)", en.ID(), n)
		}
		en.refs, en.nr = &b.refs[v0], int32(n)
		if len(more) > 0 {
			en.nr = -en.nr
		}
	}
	return nil
}

// reserveRefs makes room in b.refs for k more of the current entity's
// refs, which start at *v0: a new block when the current one is full
// (the entity's refs so far move with it), sized for per each of the
// entities still to read.
func (b *entityBuilder) reserveRefs(v0 *int, k, per int) {
	if len(b.refs)+k <= cap(b.refs) {
		return
	}
	need := len(b.refs) - *v0 + k
	vs := make([]any, len(b.refs)-*v0, b.blockSize(per, need, 8, 4096))
	copy(vs, b.refs[*v0:])
	b.refs, *v0 = vs, 0
}

// datomAt returns the i-th datom of ds then more.
func datomAt(ds, more []datom.Datom, i int) *datom.Datom {
	if i < len(ds) {
		return &ds[i]
	}
	return &more[i-len(ds)]
}

// convert turns a stored value, *v (in a datom the entity keeps), into
// its entity-API form.
func (b *entityBuilder) convert(a *datom.Attribute, v *any) any {
	if !a.IsRef() {
		return *v
	}
	id, ok := (*v).(int64)
	if !ok {
		return *v
	}
	if kw, ok := b.env.ident(id); ok {
		return kw
	}
	return b.entity(id, v)
}

// identProbes is how many references an entityEnv converts with a schema
// lookup each before it finds the largest ident id, which then answers
// for every id above it without a lookup (the entities a walk reaches
// were mostly made after the schema's idents). A single Get does not pay
// for gathering the idents.
const identProbes = 64

// identMaxLast is the largest ident id of the schema it was last found
// for (schemas are immutable): the walks that follow, each from its own
// EntityOf, then know it from their first reference instead of sorting
// the schema's idents again after identProbes lookups. The schema is held
// weakly.
var identMaxLast atomic.Pointer[identMaxOf]

type identMaxOf struct {
	schema weak.Pointer[datom.Schema]
	max    datom.ID
}

// ident returns the ident of entity id, if it has one.
func (env *entityEnv) ident(id datom.ID) (edn.Keyword, bool) {
	if !env.identsKnown.Load() {
		if n := env.probes.Add(1); n == 1 || n == identProbes {
			env.learnIdentMax(n == identProbes)
		}
	}
	if env.identsKnown.Load() && id > env.identMax {
		return "", false
	}
	return env.schema.Ident(id)
}

// learnIdentMax sets identMax from identMaxLast when it is this schema's,
// or, with compute, from the schema; only the first caller to find it
// sets it, and publishes it by the store of identsKnown.
func (env *entityEnv) learnIdentMax(compute bool) {
	var max datom.ID
	if c := identMaxLast.Load(); c != nil && c.schema.Value() == env.schema {
		max = c.max
	} else if compute {
		max = math.MinInt64
		if ids := env.schema.Idents(); len(ids) > 0 {
			max = ids[len(ids)-1]
		}
		identMaxLast.Store(&identMaxOf{schema: weak.Make(env.schema), max: max})
	} else {
		return
	}
	if env.identClaimed.CompareAndSwap(false, true) {
		env.identMax = max
		env.identsKnown.Store(true)
	}
}

// entity makes the entity id (boxed: where id is held as an any, which
// must never change, or nil to box it), a target of a reference, in the
// current group.
func (b *entityBuilder) entity(id datom.ID, boxed *any) *Entity {
	if boxed == nil {
		boxed = b.box(id)
	}
	if !b.group {
		// Read alone: a group of its own, the entity cut from a block.
		if len(b.ents) == cap(b.ents) {
			b.ents = make([]Entity, 0, b.blockSize(b.perEnts, 1, 16, 1024))
		}
		b.ents = b.ents[:len(b.ents)+1]
		n := len(b.ents)
		e := &b.ents[n-1]
		e.id = boxed
		e.grp = &entityGroup{env: b.env, members: b.ents[n-1 : n : n]}
		return e
	}
	if b.grp == nil || len(b.grp.members) == cap(b.grp.members) {
		b.grp = &entityGroup{env: b.env, members: make([]Entity, 0, b.blockSize(b.perEnts, 1, 4, entityGroupMax))}
	}
	g := b.grp
	g.members = g.members[:len(g.members)+1]
	e := &g.members[len(g.members)-1]
	e.id, e.grp = boxed, g
	return e
}

// box returns id as an any, in a block.
func (b *entityBuilder) box(id datom.ID) *any {
	if len(b.boxes) == cap(b.boxes) {
		b.boxes = make([]any, 0, b.blockSize(1, 1, 4, 256))
	}
	b.boxes = append(b.boxes, id)
	return &b.boxes[len(b.boxes)-1]
}

// Get returns the value of attribute kw (see Entity for the forms), or nil
// when the entity has none. :db/id gives the id without reading anything.
// A keyword that names no attribute gives an error wrapping ErrInput.
func (en *Entity) Get(ctx context.Context, kw edn.Keyword) (any, error) {
	if kw == "db/id" {
		return *en.id, nil
	}
	if a := en.grp.env.attr(kw); a != nil {
		if err := en.load(ctx); err != nil {
			return nil, err
		}
		return en.value(a), nil
	}
	if fwd, ok := reverseAttr(kw); ok {
		if a := en.grp.env.schema.AttrByIdent(fwd); a != nil {
			return en.reverse(ctx, a)
		}
	}
	return nil, fmt.Errorf("query: entity %d: %w: unknown attribute %s", en.ID(), ErrInput, kw)
}

// value returns the value of attribute a of a loaded entity, nil when it
// has none.
func (en *Entity) value(a *datom.Attribute) any {
	if a.IsRef() {
		vs, ok := en.refRun(a.ID)
		switch {
		case !ok:
			return nil
		case a.Cardinality == datom.CardinalityMany:
			return en.grp.box(vs)
		}
		return vs[0]
	}
	if en.nr >= 0 {
		// Within one leaf (nearly always): straight on the slice.
		ds := en.datomSlice()
		lo := 0
		for lo < len(ds) && ds[lo].A < a.ID {
			lo++
		}
		switch {
		case lo == len(ds) || ds[lo].A != a.ID:
			return nil
		case a.Cardinality != datom.CardinalityMany:
			return ds[lo].V
		}
		hi := lo + 1
		for hi < len(ds) && ds[hi].A == a.ID {
			hi++
		}
		vs := en.grp.set(hi - lo)
		for i := range vs {
			vs[i] = ds[lo+i].V
		}
		return en.grp.box(vs)
	}
	nd := en.datoms()
	lo := 0
	for lo < nd && en.datom(lo).A < a.ID {
		lo++
	}
	switch {
	case lo == nd || en.datom(lo).A != a.ID:
		return nil
	case a.Cardinality != datom.CardinalityMany:
		return en.datom(lo).V
	}
	hi := lo + 1
	for hi < nd && en.datom(hi).A == a.ID {
		hi++
	}
	vs := en.grp.set(hi - lo)
	for i := range vs {
		vs[i] = en.datom(lo + i).V
	}
	return en.grp.box(vs)
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
		return nil, fmt.Errorf("query: entity %d: %w: reverse reference to %s, which is not a ref", en.ID(), ErrInput, a.Ident)
	}
	g := en.grp
	g.mu.Lock()
	defer g.mu.Unlock()
	r, ok := g.rev[entityRevKey{en.ID(), a.ID}]
	if !ok {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("query: entity %d: %w", en.ID(), err)
		}
		b := newEntityBuilder(ctx, g.env, 1)
		defer b.release()
		err := g.env.src.Datoms(ctx, datom.VAET, []any{en.ID(), a.ID}, func(d datom.Datom) bool {
			r.ents = append(r.ents, b.entity(d.E, nil))
			return true
		})
		if err != nil {
			return nil, fmt.Errorf("query: entity %d: reverse %s: %w", en.ID(), a.Ident, err)
		}
		if g.rev == nil {
			g.rev = make(map[entityRevKey]entityRev)
		}
		g.rev[entityRevKey{en.ID(), a.ID}] = r
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
	var out []edn.Keyword
	err := en.eachAttr(ctx, func(a *datom.Attribute) { out = append(out, a.Ident) })
	return out, err
}

// eachAttr calls fn with each attribute the entity has, once, in attribute
// id order, reading the datoms if needed.
func (en *Entity) eachAttr(ctx context.Context, fn func(*datom.Attribute)) error {
	if err := en.load(ctx); err != nil {
		return err
	}
	for i, nd := 0, en.datoms(); i < nd; i++ {
		d := en.datom(i)
		if i > 0 && d.A == en.datom(i-1).A {
			continue
		}
		a := en.grp.env.schema.Attr(d.A)
		if a == nil {
			return fmt.Errorf("query: entity %d has a datom of attribute %d, which the schema does not know", en.ID(), d.A)
		}
		fn(a)
	}
	return nil
}

// Touch reads the entity's datoms now, and those of its components,
// recursively, as Datomic's d/touch does. Later Gets then do no I/O for
// forward attributes.
func (en *Entity) Touch(ctx context.Context) error {
	return en.touch(ctx, map[datom.ID]bool{})
}

func (en *Entity) touch(ctx context.Context, seen map[datom.ID]bool) error {
	if seen[en.ID()] {
		return nil
	}
	seen[en.ID()] = true
	if err := en.load(ctx); err != nil {
		return err
	}
	var comps []*Entity
	component := false
	for _, v := range en.refVals() {
		switch x := v.(type) {
		case *datom.Attribute:
			component = x.IsComponent
		case *Entity:
			if component {
				comps = append(comps, x)
			}
		}
	}
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
	out := make(map[edn.Keyword]any)
	if err := en.eachAttr(ctx, func(a *datom.Attribute) { out[a.Ident] = en.value(a) }); err != nil {
		return nil, err
	}
	return out, nil
}
