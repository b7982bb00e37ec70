package reader

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/node"
	"github.com/accretedb/accrete/pss"
	"github.com/accretedb/accrete/tx"
)

// Bulk import: one large transaction of new entities, written straight
// into the index trees.
//
// Transact expands forms, resolves tempids and looks every datom up in the
// database (redundancy, cardinality, uniqueness), then inserts it into
// small in-memory overlays that a later merge folds into the trees: right
// for small transactions, about 3 µs a datom for large ones. BulkAssert
// takes datoms that only assert facts about new entities, so none of that
// can apply except what it checks directly (the attribute exists and is
// not a schema attribute, the value has its type, one value per
// cardinality-one attribute, unique values unused), sorts each index's
// datoms once, merges them into each tree in one batched pss update (or
// builds the tree bottom-up when the batch is at least as large as the
// tree), encodes and hashes every new node, and stores them all with
// konserve's PutNodesBulk (on the file backend, packs of many nodes, one
// file and two fsyncs each). The
// caller commits the returned value like any other (the log tail is empty).

// Bulk import errors.
var (
	// ErrBulk is wrapped by every error BulkAssert returns for bad input:
	// the error names the datom (its index in the input) and the reason.
	ErrBulk = errors.New("reader: bulk import")
)

// BulkOptions configure BulkAssert.
type BulkOptions struct {
	// Now is the transaction's :db/txInstant (zero: time.Now()); it is
	// never earlier than the previous transaction's.
	Now time.Time
	// Width is the node width of the trees the import builds or updates
	// (0: DefaultBulkWidth). Later commits keep their own width; a reader
	// reads nodes of any width.
	Width int
}

// DefaultBulkWidth is the node width of trees a bulk import builds: much
// wider than pss.DefaultWidth, since an import writes whole trees, not one
// path per commit, and on a file system the cost of a bulk write is mostly
// per file. Leaves hold about 6,000 datoms (about 100 KiB): a cold lookup
// reads that much per leaf, and the first merge that touches such a leaf
// splits it into leaves of the writer's width. Measured on the 2-core test
// machine, 1M datoms into a file bucket (BenchmarkImport): 2048 wide, 2,097
// files, 1.04M datoms/s; 8192 wide, 532 files, 1.54M datoms/s.
const DefaultBulkWidth = 8192

// BulkResult describes a bulk import: the transaction's t and id, the
// entity ids the tempids became, the datoms asserted (in EAVT order,
// including the transaction's :db/txInstant), and the nodes written.
type BulkResult struct {
	T       int64
	TxID    datom.ID
	TempIDs map[int64]datom.ID
	Datoms  []datom.Datom
	Nodes   int
	Bytes   int64
	Syncs   int
}

// BulkAssert returns db with the datoms ds asserted in one new transaction,
// every new index node stored and durable, and an empty log tail; the
// caller commits the value (Prepare, branch.AdvanceWith). db's tail, if
// any, is merged first.
//
// Each datom asserts a fact about a new entity: its E is a tempid, a
// negative number (datoms with the same tempid are one entity; each
// tempid becomes a fresh id in order of first appearance). A ref value may
// be a tempid of the batch or an existing entity id. Tx and Added are
// ignored. Exact duplicates are asserted once. Anything else (an unknown or
// schema attribute, a value of the wrong type, two values of a
// cardinality-one attribute, a unique value used twice or already in the
// database, an attribute that is part of a composite tuple) fails the whole
// import with an error wrapping ErrBulk and writes nothing.
func (db *DB) BulkAssert(ctx context.Context, ds []datom.Datom, opts *BulkOptions) (*DB, *BulkResult, error) {
	if db.st == nil {
		return nil, nil, fmt.Errorf("%w: value has no store", ErrBulk)
	}
	if db.v != nowView {
		return nil, nil, fmt.Errorf("%w: %w", ErrBulk, ErrNotCurrent)
	}
	if opts == nil {
		opts = &BulkOptions{}
	}
	width := opts.Width
	if width == 0 {
		width = DefaultBulkWidth
	}
	if width < pss.MinWidth || width > pss.MaxWidth {
		return nil, nil, fmt.Errorf("%w: width %d outside [%d,%d]", ErrBulk, width, pss.MinWidth, pss.MaxWidth)
	}
	inst := db.nextInstant(opts.Now)
	t := db.basisT + 1
	txID := datom.TxID(t)
	res := &BulkResult{T: t, TxID: txID, TempIDs: map[int64]datom.ID{}}

	// Resolve tempids, check and coerce values.
	schema := db.schema
	inTuple := map[datom.ID]bool{}
	for _, ct := range schema.CompositeTuples() {
		for _, a := range ct.TupleAttrs {
			inTuple[a] = true
		}
	}
	nextUser := db.nextUser
	// An entity's datoms usually come together: the last tempid resolved
	// answers most lookups without the map.
	var lastTmp int64
	var lastID datom.ID
	resolve := func(tmp int64, k int) (datom.ID, error) {
		if tmp == lastTmp && lastID != 0 {
			return lastID, nil
		}
		if id, ok := res.TempIDs[tmp]; ok {
			lastTmp, lastID = tmp, id
			return id, nil
		}
		if nextUser >= 1<<datom.PartShift {
			return 0, fmt.Errorf("%w: datom %d: the user partition is full", ErrBulk, k)
		}
		id := datom.MakeID(datom.PartUser, nextUser)
		nextUser++
		res.TempIDs[tmp] = id
		lastTmp, lastID = tmp, id
		return id, nil
	}
	out := make([]datom.Datom, 0, len(ds)+1)
	attrs := map[datom.ID]*datom.Attribute{}
	for k, d := range ds {
		if d.E >= 0 {
			return nil, nil, fmt.Errorf("%w: %w: datom %d: entity %d is not a tempid (a negative number): bulk import asserts new entities only", ErrBulk, tx.ErrInvalidEntity, k, d.E)
		}
		at, ok := attrs[d.A]
		if !ok {
			at = schema.Attr(d.A)
			switch {
			case at == nil:
				return nil, nil, fmt.Errorf("%w: %w: datom %d: attribute %d", ErrBulk, tx.ErrUnknownAttribute, k, d.A)
			case at.Ident == "db" || strings.HasPrefix(string(at.Ident), "db/") || strings.HasPrefix(string(at.Ident), "db."):
				return nil, nil, fmt.Errorf("%w: %w: datom %d: attribute :%s belongs to the schema: transact schema, do not bulk import it", ErrBulk, tx.ErrSchema, k, at.Ident)
			case inTuple[d.A]:
				return nil, nil, fmt.Errorf("%w: datom %d: attribute :%s is part of a composite tuple: use Transact", ErrBulk, k, at.Ident)
			case at.ValueType == datom.TypeInvalid:
				return nil, nil, fmt.Errorf("%w: datom %d: attribute :%s has no declared value type", ErrBulk, k, at.Ident)
			case len(at.TupleAttrs) > 0:
				return nil, nil, fmt.Errorf("%w: datom %d: attribute :%s is a composite tuple, which the database derives", ErrBulk, k, at.Ident)
			}
			attrs[d.A] = at
		}
		e, err := resolve(d.E, k)
		if err != nil {
			return nil, nil, err
		}
		v := d.V
		if at.IsRef() {
			if n, ok := v.(int64); ok && n < 0 {
				if v, err = resolve(n, k); err != nil {
					return nil, nil, err
				}
			}
		}
		if v, err = at.Coerce(v); err != nil {
			return nil, nil, fmt.Errorf("%w: %w: datom %d: attribute :%s: %w", ErrBulk, tx.ErrWrongType, k, at.Ident, err)
		}
		out = append(out, datom.Datom{E: e, A: d.A, V: v, Tx: txID, Added: true})
	}
	instAttr := schema.Attr(datom.DBTxInstant)
	out = append(out, datom.Datom{E: txID, A: datom.DBTxInstant, V: inst, Tx: txID, Added: true})
	attrs[datom.DBTxInstant] = instAttr

	// EAVT order: dedupe, then one value per cardinality-one attribute.
	slices.SortFunc(out, datom.CompareEAVT)
	out = slices.CompactFunc(out, func(a, b datom.Datom) bool { return datom.CompareEAVT(a, b) == 0 })
	for k := 1; k < len(out); k++ {
		a, b := out[k-1], out[k]
		if a.E == b.E && a.A == b.A && attrs[a.A].Cardinality == datom.CardinalityOne {
			return nil, nil, fmt.Errorf("%w: %w: entity %d: two values for cardinality-one attribute :%s: %v and %v",
				ErrBulk, tx.ErrCardinalityConflict, a.E, attrs[a.A].Ident, a.V, b.V)
		}
	}
	res.Datoms = out

	// The datoms of each tree, sorted in its order (in parallel).
	var per [nTrees][]datom.Datom
	per[curEAVT] = out
	per[logTEAV] = out // one transaction: TEAV order is EAVT order
	per[curAEVT] = groupByAttr(out)
	for _, d := range per[curAEVT] {
		at := attrs[d.A]
		if at.Indexed() {
			per[curAVET] = append(per[curAVET], d)
		}
		if at.IsRef() {
			per[curVAET] = append(per[curVAET], d)
		}
	}
	// AVET and VAET: runs of one attribute each, in E order; values often
	// grow with E, which pdqsort finds sorted in one pass.
	var g errgroup.Group
	for _, i := range []int{curAVET, curVAET} {
		g.Go(func() error {
			slices.SortFunc(per[i], datom.Comparator(treeIndex(i)))
			return nil
		})
	}
	_ = g.Wait()
	if err := db.checkBulkUnique(ctx, per[curAVET], attrs); err != nil {
		return nil, nil, err
	}

	// Merge what the tail holds first, then the batch into every tree it
	// touches, collecting the new nodes instead of storing them one by one.
	cur := db
	if cur.tail.len() > 0 || cur.merged || !cur.ov.empty() {
		var err error
		if cur, err = db.mergeTail(ctx); err != nil {
			return nil, nil, err
		}
	}
	col := &collectStore{}
	next := *cur
	roots := make([]branch.Root, nTrees)
	g2, gctx := errgroup.WithContext(ctx)
	g2.SetLimit(2)
	for i := range cur.trees {
		g2.Go(func() error {
			r, err := cur.bulkTree(gctx, i, per[i], width, col)
			if err != nil {
				return fmt.Errorf("reader: bulk import into %s: %w", treeNames[i], err)
			}
			roots[i] = r
			return nil
		})
	}
	if err := g2.Wait(); err != nil {
		return nil, nil, err
	}
	_, bs, err := db.st.PutNodesBulk(ctx, col.datas, col.hashes)
	if err != nil {
		return nil, nil, fmt.Errorf("reader: bulk import: %w", err)
	}
	res.Nodes, res.Bytes, res.Syncs = len(col.datas), col.bytes, bs.Syncs

	// The new value: trees reopened from their stored roots with the
	// value's own width, so later commits write nodes of that width.
	base := &branch.Commit{}
	if cur.base != nil {
		cp := *cur.base
		base = &cp
	}
	base.Roots = roots
	for i := range next.trees {
		next.trees[i] = &lazyTree{addr: node.Address(roots[i].Addr), opts: treeOptions(db.st, i, db.width)}
	}
	next.trees[curAEVT].stats = cur.stats().updated(per[curAEVT], nil, int(roots[curAEVT].Count))
	next.base = base
	next.ov = emptyOverlay()
	next.tail, next.tailBytes, next.merged = nil, 0, false
	next.basisT = t
	next.nextUser = nextUser
	next.lastInstant = inst
	return &next, res, nil
}

// bulkTree merges adds (sorted in tree i's order) into tree i, flushing the
// new nodes into col, and returns the tree's root description.
func (db *DB) bulkTree(ctx context.Context, i int, adds []datom.Datom, width int, col *collectStore) (branch.Root, error) {
	r := branch.Root{Name: treeNames[i]}
	lt := db.trees[i]
	tree, err := lt.get(ctx)
	if err != nil {
		return r, err
	}
	addr := lt.addr
	if a, ok := tree.Root(); ok {
		addr = a
	}
	if len(adds) == 0 {
		r.Addr = konserve.Hash(addr)
		r.Count, r.Depth = int64(tree.Len()), tree.Height()
		return r, nil
	}
	o := treeOptions(nil, i, width)
	o.Store = &bulkNodeStore{nodeStore: newNodeStore(db.st, treeIndex(i)), col: col}
	var set pss.Set[datom.Datom]
	if tree.Len() <= len(adds)/4 {
		// Rebuild: the batch dominates (a new database holds only its
		// schema), so a bottom-up build of the merged run is cheaper than
		// inserting into the old tree; past that, re-reading the old keys
		// costs more than a batched update's path copies.
		//
		// The set is built on adds itself, or on a merged copy, never
		// copied again: it lives only until its nodes are flushed below,
		// and sets never modify their keys.
		old, err := tree.Slice(ctx, nil, nil)
		if err != nil {
			return r, err
		}
		if len(old) <= len(adds)/64 {
			// A few old keys (a new database's schema): insert them into
			// the tree of the batch, a path copy each, rather than copy
			// the whole batch to merge them in (for a million datoms
			// that copy and its fresh 48 MB cost more than the build).
			if set, err = pss.BuildOwned(ctx, adds, o); err != nil {
				return r, err
			}
			if set, err = set.Update(ctx, old, nil); err != nil {
				return r, err
			}
		} else if set, err = pss.BuildOwned(ctx, mergeRuns(old, adds, datom.Comparator(treeIndex(i))), o); err != nil {
			return r, err
		}
	} else {
		// Insert into the stored tree, with nodes of the bulk width.
		if addr.IsZero() {
			set, err = pss.New(o)
		} else {
			set, err = pss.Open(ctx, addr, o)
		}
		if err != nil {
			return r, err
		}
		if set, err = set.Update(ctx, adds, nil); err != nil {
			return r, err
		}
	}
	root, set, err := set.Flush(ctx)
	if err != nil {
		return r, err
	}
	r.Addr = konserve.Hash(root)
	r.Count, r.Depth = int64(set.Len()), set.Height()
	return r, nil
}

// groupByAttr returns ds (sorted in EAVT order) in AEVT order: a stable
// distribution by attribute keeps E, V and T in order within each
// attribute, so no comparison sort is needed.
func groupByAttr(ds []datom.Datom) []datom.Datom {
	seen := map[datom.ID]struct{}{}
	for _, d := range ds {
		seen[d.A] = struct{}{}
	}
	as := make([]datom.ID, 0, len(seen))
	for a := range seen {
		as = append(as, a)
	}
	slices.Sort(as)
	out, _ := distributeByAttr(ds, as)
	return out
}

// distributeByAttr is groupByAttr given the sorted attributes of ds; ok is
// false (and out nil) if ds holds an attribute that as lacks.
func distributeByAttr(ds []datom.Datom, as []datom.ID) (out []datom.Datom, ok bool) {
	// Datoms of one attribute come in runs: look its rank up once per run.
	ranks := make([]int32, len(ds))
	count := make([]int, len(as)+1)
	last, r := datom.ID(-1), 0
	for k, d := range ds {
		if k == 0 || d.A != last {
			var found bool
			if r, found = slices.BinarySearch(as, d.A); !found {
				return nil, false
			}
			last = d.A
		}
		ranks[k] = int32(r)
		count[r+1]++
	}
	for r := 1; r < len(count); r++ {
		count[r] += count[r-1]
	}
	out = make([]datom.Datom, len(ds))
	for k, d := range ds {
		out[count[ranks[k]]] = d
		count[ranks[k]]++
	}
	return out, true
}

// checkBulkUnique fails if a unique attribute's value appears twice in the
// batch (avet, sorted) or is already asserted in the database.
func (db *DB) checkBulkUnique(ctx context.Context, avet []datom.Datom, attrs map[datom.ID]*datom.Attribute) error {
	for k, d := range avet {
		at := attrs[d.A]
		if at.Unique == datom.UniqueNone {
			continue
		}
		if k > 0 && avet[k-1].A == d.A && datom.CompareValues(avet[k-1].V, d.V) == 0 {
			return fmt.Errorf("%w: %w: :%s %v is asserted for entities %d and %d", ErrBulk, tx.ErrUniqueConflict, at.Ident, d.V, avet[k-1].E, d.E)
		}
		found := datom.ID(-1)
		err := db.Datoms(ctx, datom.AVET, []any{d.A, d.V}, func(x datom.Datom) bool {
			found = x.E
			return false
		})
		if err != nil {
			return err
		}
		if found >= 0 {
			return fmt.Errorf("%w: %w: :%s %v already belongs to entity %d", ErrBulk, tx.ErrUniqueConflict, at.Ident, d.V, found)
		}
	}
	return nil
}

// collectStore gathers the encoded nodes of a bulk import's flushes, so
// that they are stored in one PutNodesBulk.
type collectStore struct {
	mu     sync.Mutex
	datas  [][]byte
	hashes []konserve.Hash // pss hashed each node (node.AddressOf) already
	bytes  int64
	// direct, once the collected nodes are stored, makes later stores
	// (a later flush of a set opened with this store) write through.
	direct atomic.Bool
}

// bulkNodeStore loads through the database's store and collects stores.
type bulkNodeStore struct {
	*nodeStore
	col *collectStore
}

var _ pss.BatchStorer[datom.Datom] = (*bulkNodeStore)(nil)

// Store implements pss.NodeStore: the node is kept for PutNodesBulk.
func (s *bulkNodeStore) Store(ctx context.Context, e pss.Encoded[datom.Datom]) error {
	if s.col.direct.Load() {
		return s.nodeStore.Store(ctx, e)
	}
	s.col.mu.Lock()
	s.col.datas = append(s.col.datas, e.Data)
	s.col.hashes = append(s.col.hashes, konserve.Hash(e.Address))
	s.col.bytes += int64(len(e.Data))
	s.col.mu.Unlock()
	return nil
}

// StoreMany implements pss.BatchStorer.
func (s *bulkNodeStore) StoreMany(ctx context.Context, es []pss.Encoded[datom.Datom]) error {
	if s.col.direct.Load() {
		return s.nodeStore.StoreMany(ctx, es)
	}
	for _, e := range es {
		_ = s.Store(ctx, e)
	}
	return nil
}
