package reader

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/pss"
	"github.com/accretedb/accrete/tx"
)

// Init: DataScript's init-db, a database value built from datoms.
//
// With expands transaction forms, resolves tempids and looks every datom
// up in the database before inserting it into the log tail's overlay, one
// transaction at a time: the right tool for transactions, and about 1.5 µs
// a datom for a large one. A program that loads facts it already has as
// datoms, with their entity ids (a fixture, a copy from another system,
// DataScript's init-db), needs none of that: the entities are new, so
// nothing can be redundant or upserted. Init checks only what can be wrong
// with such datoms (see Init), sorts each index's datoms once (the EAVT
// order by runs of one entity, AEVT by distributing EAVT by attribute, no
// comparison sort) and builds the index trees bottom-up from the sorted
// runs (pss.BuildOwned: the runs become the leaves), in memory. The value reads like a merged one: no
// overlay, no log tail. A writer that commits it flushes the rebuilt trees
// (as after Excise).

// ErrInit is wrapped by every error Init returns for bad input: the error
// names the datom (its index in the input) and the reason.
var ErrInit = errors.New("reader: init")

// InitOptions configure Init.
type InitOptions struct {
	// Now is the transaction's :db/txInstant (zero: time.Now()); it is
	// never earlier than the previous transaction's.
	Now time.Time
}

// Init returns db with the datoms ds asserted in one new transaction, built
// directly into in-memory index trees (db's log tail, if any, is merged
// into them first): the analogue of DataScript's init-db. The report's
// TxData is every datom asserted, in EAVT order, with the transaction's
// :db/txInstant (it shares memory with the new value's indexes: do not
// modify it); TempIDs is empty. ds itself is not retained.
//
// Each datom asserts a fact about a new entity named by its id: E is a
// user-partition id (datom.MakeID(datom.PartUser, n)) that db has not
// allocated yet (n at or past its counter), and the value's counter moves
// past the largest. A ref value is an id allocated once the batch is in
// (db's, the batch's, or a transaction's), as With requires. Tx and Added are ignored; exact duplicates are asserted once.
// Anything else (an entity id db may have used, an unknown or schema
// attribute, a value of the wrong type, two values of a cardinality-one
// attribute, a unique value used twice or already in the database, an
// attribute that is part of a composite tuple, a dangling ref) fails the
// whole call with an error wrapping ErrInit; db is unchanged.
//
// Under schema-on-read, install undeclared attributes first (transact
// {:db/ident :name :db/cardinality :db.cardinality/one}, as a schema-on-read
// transaction would): Init takes attribute ids.
func (db *DB) Init(ctx context.Context, ds []datom.Datom, opts *InitOptions) (*Report, error) {
	if db.v != nowView {
		return nil, fmt.Errorf("%w: %w", ErrInit, ErrNotCurrent)
	}
	if opts == nil {
		opts = &InitOptions{}
	}
	inst := db.nextInstant(opts.Now)
	t := db.basisT + 1
	txID := datom.TxID(t)
	out, attrs, nextUser, err := db.initDatoms(ds, txID, inst)
	if err != nil {
		return nil, err
	}

	// The datoms of each tree, sorted in its order.
	var per [nTrees][]datom.Datom
	per[curEAVT] = out
	per[logTEAV] = out // one transaction: TEAV order is EAVT order
	per[curAEVT] = attrs.groupByAttr(out)
	for _, d := range per[curAEVT] {
		at := attrs.get(d.A)
		if at.Indexed() {
			per[curAVET] = append(per[curAVET], d)
		}
		if at.IsRef() {
			per[curVAET] = append(per[curVAET], d)
		}
	}
	// AVET and VAET: runs of one attribute each, in E order.
	slices.SortFunc(per[curAVET], datom.CompareAVET)
	slices.SortFunc(per[curVAET], datom.CompareVAET)
	if err := db.checkBulkUnique(ctx, per[curAVET], attrs.m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInit, err)
	}

	next := *db
	for i := range db.trees {
		set, err := db.foldTree(ctx, i, per[i], nil, nil, true)
		if err != nil {
			return nil, fmt.Errorf("reader: init %s: %w", treeNames[i], err)
		}
		next.trees[i] = newLoadedTree(set)
	}
	next.ov = emptyOverlay()
	next.tail, next.tailBytes, next.merged = nil, 0, true
	next.basisT = t
	next.nextUser = nextUser
	next.lastInstant = inst
	return &Report{DBBefore: db, DBAfter: &next, TxID: txID, T: t, TxData: out}, nil
}

// initAttrs memoizes schema lookups for the handful of attributes a batch
// uses (datoms come in runs of a few attributes), and collects them for
// checkBulkUnique.
type initAttrs struct {
	schema *datom.Schema
	last   datom.ID
	lastAt *datom.Attribute
	m      map[datom.ID]*datom.Attribute
}

func (c *initAttrs) get(a datom.ID) *datom.Attribute {
	if c.lastAt != nil && c.last == a {
		return c.lastAt
	}
	at, ok := c.m[a]
	if !ok {
		at = c.schema.Attr(a)
		if at != nil {
			c.m[a] = at
		}
	}
	c.last, c.lastAt = a, at
	return at
}

// initDatoms checks and coerces ds, returning them as datoms of
// transaction txID (with its :db/txInstant) in EAVT order, duplicates
// dropped, and the user id counter after them.
func (db *DB) initDatoms(ds []datom.Datom, txID datom.ID, inst time.Time) ([]datom.Datom, *initAttrs, int64, error) {
	schema := db.schema
	attrs := &initAttrs{schema: schema, m: map[datom.ID]*datom.Attribute{}}
	checked := map[datom.ID]bool{}
	check := func(k int, a datom.ID) (*datom.Attribute, error) {
		at := attrs.get(a)
		if checked[a] {
			return at, nil
		}
		switch {
		case at == nil:
			return nil, fmt.Errorf("%w: %w: datom %d: attribute %d", ErrInit, tx.ErrUnknownAttribute, k, a)
		case at.Ident == "db" || strings.HasPrefix(string(at.Ident), "db/") || strings.HasPrefix(string(at.Ident), "db."):
			return nil, fmt.Errorf("%w: %w: datom %d: attribute :%s belongs to the schema: transact schema, do not init it", ErrInit, tx.ErrSchema, k, at.Ident)
		case len(at.TupleAttrs) > 0:
			return nil, fmt.Errorf("%w: datom %d: attribute :%s is a composite tuple, which the database derives", ErrInit, k, at.Ident)
		}
		for _, ct := range schema.CompositeTuples() {
			if slices.Contains(ct.TupleAttrs, a) {
				return nil, fmt.Errorf("%w: datom %d: attribute :%s is part of a composite tuple: use With", ErrInit, k, at.Ident)
			}
		}
		checked[a] = true
		return at, nil
	}
	nextUser := db.nextUser
	out := make([]datom.Datom, 0, len(ds)+1)
	for k, d := range ds {
		if datom.Part(d.E) != datom.PartUser || d.E < datom.MakeID(datom.PartUser, db.nextUser) {
			return nil, nil, 0, fmt.Errorf("%w: %w: datom %d: entity %d is not a new user-partition id (at or past %d)",
				ErrInit, tx.ErrInvalidEntity, k, d.E, datom.MakeID(datom.PartUser, db.nextUser))
		}
		if n := d.E - datom.MakeID(datom.PartUser, 0) + 1; n > nextUser {
			nextUser = n
		}
		at := attrs.lastAt
		if at == nil || attrs.last != d.A || !checked[d.A] {
			var err error
			if at, err = check(k, d.A); err != nil {
				return nil, nil, 0, err
			}
		}
		v, err := initValue(at, d.V)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("%w: %w: datom %d: attribute :%s: %w", ErrInit, tx.ErrWrongType, k, at.Ident, err)
		}
		out = append(out, datom.Datom{E: d.E, A: d.A, V: v, Tx: txID, Added: true})
	}
	// Refs: allocated before, or entities of the batch.
	for k, d := range out {
		if at := attrs.get(d.A); at.IsRef() && !allocated(d.V.(int64), db, nextUser, txID) {
			return nil, nil, 0, fmt.Errorf("%w: %w: datom %d: :%s refers to entity %d, which does not exist",
				ErrInit, tx.ErrInvalidEntity, k, at.Ident, d.V)
		}
	}
	out = sortEAVT(out)
	out = slices.CompactFunc(out, func(a, b datom.Datom) bool {
		return a.E == b.E && a.A == b.A && datom.CompareValues(a.V, b.V) == 0
	})
	attrs.get(datom.DBTxInstant)
	txd := datom.Datom{E: txID, A: datom.DBTxInstant, V: inst, Tx: txID, Added: true}
	at, _ := slices.BinarySearchFunc(out, txd, datom.CompareEAVT)
	out = slices.Insert(out, at, txd)
	for k := 1; k < len(out); k++ {
		a, b := out[k-1], out[k]
		if a.E == b.E && a.A == b.A && attrs.get(a.A).Cardinality == datom.CardinalityOne {
			return nil, nil, 0, fmt.Errorf("%w: %w: entity %d: two values for cardinality-one attribute :%s: %v and %v",
				ErrInit, tx.ErrCardinalityConflict, a.E, attrs.get(a.A).Ident, a.V, b.V)
		}
	}
	return out, attrs, nextUser, nil
}

// initValue is at.Coerce(v), without boxing v again when it already has
// its canonical representation (Coerce returns strings and longs as they
// are): a batch of strings and numbers then allocates nothing per value.
func initValue(at *datom.Attribute, v any) (any, error) {
	switch v.(type) {
	case string:
		if at.ValueType == datom.TypeString || at.ValueType == datom.TypeInvalid {
			return v, nil
		}
	case int64:
		if at.ValueType == datom.TypeLong || at.ValueType == datom.TypeRef || at.ValueType == datom.TypeInvalid {
			return v, nil
		}
	}
	return at.Coerce(v)
}

// allocated reports whether id names an entity once the batch is in:
// one db allocated, one of the batch (user ids below nextUser), or a
// transaction up to txID.
func allocated(id datom.ID, db *DB, nextUser int64, txID datom.ID) bool {
	switch datom.Part(id) {
	case datom.PartUser:
		return id >= datom.MakeID(datom.PartUser, 0) && id < datom.MakeID(datom.PartUser, nextUser)
	case datom.PartDB:
		return id >= datom.MakeID(datom.PartDB, 0) && id < datom.MakeID(datom.PartDB, db.nextDB)
	case datom.PartTx:
		return id >= datom.TxID(0) && id <= txID
	}
	return false
}

// sortEAVT returns ds sorted in EAVT order (in place, or in a new slice).
// Entity ids of a batch are usually dense (a fixture numbered 1..n):
// then a counting sort by entity, which keeps the input order of each
// entity's facts, leaves only each entity's few facts to sort by
// comparison, where a comparison sort of the whole batch would compare
// values across entities.
func sortEAVT(ds []datom.Datom) []datom.Datom {
	if len(ds) < 2 {
		return ds
	}
	lo, hi, sorted := ds[0].E, ds[0].E, true
	for k := 1; k < len(ds); k++ {
		e := ds[k].E
		sorted = sorted && e >= ds[k-1].E
		lo, hi = min(lo, e), max(hi, e)
	}
	switch {
	case sorted:
	case uint64(hi-lo) < uint64(4*len(ds)+1024):
		count := make([]int32, hi-lo+2)
		for _, d := range ds {
			count[d.E-lo+1]++
		}
		for k := 1; k < len(count); k++ {
			count[k] += count[k-1]
		}
		// One slot to spare: Init inserts its transaction's datom.
		out := make([]datom.Datom, len(ds), len(ds)+1)
		for _, d := range ds {
			out[count[d.E-lo]] = d
			count[d.E-lo]++
		}
		ds = out
	default:
		slices.SortFunc(ds, datom.CompareEAVT)
		return ds
	}
	for lo := 0; lo < len(ds); {
		hi := lo + 1
		for hi < len(ds) && ds[hi].E == ds[lo].E {
			hi++
		}
		if hi-lo > 1 {
			slices.SortFunc(ds[lo:hi], datom.CompareEAVT)
		}
		lo = hi
	}
	return ds
}

// foldTree returns tree i of db with its log tail's novelty applied, then
// a transaction's changes: adds (new to the tree and the tail, in any
// order), rmAdds (datoms of the tail to take out again) and dels (stored
// datoms to take out), in memory: built bottom-up when the additions
// dominate the tree, else one batched update. The tree may keep adds as
// its storage: the caller must not modify it afterwards.
func (db *DB) foldTree(ctx context.Context, i int, adds, rmAdds, dels []datom.Datom, sorted bool) (pss.Set[datom.Datom], error) {
	tree, err := db.trees[i].get(ctx)
	if err != nil {
		return tree, err
	}
	nAdds, nDels, err := db.novelty(ctx, i)
	if err != nil {
		return tree, err
	}
	cmp := datom.Comparator(treeIndex(i))
	sortIn := func(ds []datom.Datom) []datom.Datom {
		if !slices.IsSortedFunc(ds, cmp) {
			ds = pss.SortKeyed(slices.Clone(ds), cmp, overlayKeys[i])
		}
		return ds
	}
	if i == logTEAV {
		nAdds = sortIn(nAdds) // the tail's datoms, transaction by transaction
	}
	if !sorted {
		adds = sortIn(adds)
	}
	if len(rmAdds) > 0 {
		nAdds = minusSorted(nAdds, sortIn(rmAdds), cmp)
	}
	if len(dels) > 0 {
		dels = mergeRuns(nDels, sortIn(dels), cmp)
	} else {
		dels = nDels
	}
	n := len(nAdds) + len(adds)
	if n == 0 && len(dels) == 0 {
		return tree, nil
	}
	if tree.Len() > n/4 {
		return tree.Update(ctx, mergeRuns(nAdds, adds, cmp), dels)
	}
	old, err := tree.Slice(ctx, nil, nil)
	if err != nil {
		return tree, err
	}
	// The tree and the tail, smaller than the batch here, are merged
	// first, so that the batch is copied at most once. The merged run
	// becomes the leaves' storage: it is made here, or it is the caller's
	// adds, which the caller hands over (and which the report's TxData may
	// share: see Report).
	small := mergeRuns(minusSorted(old, dels, cmp), nAdds, cmp)
	opts := treeOptions(db.st, i, db.width)
	width := db.width
	if width == 0 {
		width = pss.DefaultWidth
	}
	if len(small) > 0 && len(small)*width < len(adds) {
		// A few datoms (the schema's, Init's on a fresh database): the
		// batch alone becomes the leaves, with no copy, and the few go in
		// by an update, which copies only the leaves they land in (at
		// worst one each) rather than the whole batch.
		set, err := pss.BuildOwned(ctx, adds, opts)
		if err != nil {
			return set, err
		}
		return set.Update(ctx, small, nil)
	}
	return pss.BuildOwned(ctx, mergeRuns(small, adds, cmp), opts)
}

// mergeRuns merges two sorted runs with no key in common, copying the
// stretches of the longer run between keys of the shorter one in blocks,
// found by binary search: merging a few tail (or schema) datoms into a
// large batch costs a copy, not a comparison per datom. It returns b itself
// when a is empty (and a when b is), a new slice otherwise.
func mergeRuns(a, b []datom.Datom, cmp func(x, y datom.Datom) int) []datom.Datom {
	switch {
	case len(a) == 0:
		return b
	case len(b) == 0:
		return a
	}
	if len(a) > len(b) {
		a, b = b, a
	}
	out := make([]datom.Datom, 0, len(a)+len(b))
	for _, d := range a {
		k, _ := slices.BinarySearchFunc(b, d, cmp)
		out = append(out, b[:k]...)
		out = append(out, d)
		b = b[k:]
	}
	return append(out, b...)
}

// groupByAttr is the package's groupByAttr with the attributes the batch
// checked, so it needs no map of them.
func (c *initAttrs) groupByAttr(ds []datom.Datom) []datom.Datom {
	as := make([]datom.ID, 0, len(c.m))
	for a := range c.m {
		as = append(as, a)
	}
	slices.Sort(as)
	if out, ok := distributeByAttr(ds, as); ok {
		return out
	}
	return groupByAttr(ds) // an attribute the batch did not check
}

// minusSorted returns a (sorted) without the datoms of b (sorted), in a new
// slice unless b is empty.
func minusSorted(a, b []datom.Datom, cmp func(x, y datom.Datom) int) []datom.Datom {
	if len(b) == 0 {
		return a
	}
	out := make([]datom.Datom, 0, len(a))
	k := 0
	for _, d := range a {
		for k < len(b) && cmp(b[k], d) < 0 {
			k++
		}
		if k < len(b) && cmp(b[k], d) == 0 {
			continue
		}
		out = append(out, d)
	}
	return out
}

// compactDatoms is the size of a With transaction (datoms) from which the
// value it makes has the transaction and its log tail folded into
// in-memory trees (as Init builds them): a value read right after one big
// transaction then reads like a merged one, with no overlay to merge into
// every scan, and the transaction's datoms are sorted once per tree rather
// than inserted into overlay sets first.
const compactDatoms = 4096

// fold returns the value after transaction res (whose per-tree changes
// apply has sorted out) with db's overlay, its log tail and the
// transaction folded into in-memory index trees, which a commit flushes.
func (db *DB) fold(ctx context.Context, res *tx.Result, schema *datom.Schema, t int64, logDatoms []datom.Datom,
	adds *[nTrees][]datom.Datom, rmAdds, dels *[nCur][]datom.Datom) (*DB, error) {
	next := *db
	for i := range db.trees {
		a := adds[i]
		var rm, dl []datom.Datom
		if i < nCur {
			rm, dl = rmAdds[i], dels[i]
		}
		if i == logTEAV {
			a = logDatoms
		}
		set, err := db.foldTree(ctx, i, a, rm, dl, false)
		if err != nil {
			return nil, fmt.Errorf("reader: apply tx %d: fold %s: %w", t, treeNames[i], err)
		}
		next.trees[i] = newLoadedTree(set)
	}
	next.ov = emptyOverlay()
	next.schema = schema
	if t > next.basisT {
		next.basisT = t
	}
	next.tail, next.tailBytes, next.merged = nil, 0, true
	return &next, nil
}
