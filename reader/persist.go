package reader

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/pss"
	"github.com/accretedb/accrete/tx"
)

// NewEmpty returns the value of a new database on st: the bootstrap schema
// (transaction 0) and nothing else, not yet committed. The writer persists
// it as the first commit of a branch.
func NewEmpty(ctx context.Context, st *konserve.Store, schemaOnRead bool, width int) (*DB, error) {
	schema, ds := datom.Bootstrap(schemaOnRead)
	var idb [16]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return nil, fmt.Errorf("reader: database id: %w", err)
	}
	db := &DB{st: st, width: width, dbid: hex.EncodeToString(idb[:]), schema: schema,
		basisT: -1, nextUser: 1, nextDB: datom.DBReserved, ov: emptyOverlay(), v: nowView}
	for i := range db.trees {
		s, err := pss.New(treeOptions(st, i, width))
		if err != nil {
			return nil, fmt.Errorf("reader: new index: %w", err)
		}
		db.trees[i] = newLoadedTree(s)
	}
	db.trees[curAEVT].stats = emptyStats()
	res := &tx.Result{TxID: datom.BootstrapTx, Datoms: ds, Schema: schema}
	return db.apply(ctx, res, 0, nil)
}

// PersistOptions say how Persist makes a value durable.
type PersistOptions struct {
	// Branch the commit is for; Parent is its current head (nil for the
	// first commit of a new database).
	Branch string
	Parent *branch.Head
	// TailBytes is the size of the log tail past which Persist merges the
	// tail into the index trees (0: 32 KiB).
	TailBytes int64
	// Merge forces a merge of the tail into the trees.
	Merge bool
	// DeferMerge leaves a tail past TailBytes unmerged: the caller merges
	// it in the background (MergeTail, AdoptMerge). Trees rebuilt in
	// memory (Excise) are still flushed.
	DeferMerge bool
	// Writer names the writer process in the commit, for operators.
	Writer string
	// TxTs are the transactions the commit adds, recorded in it.
	TxTs []int64
}

// DefaultTailBytes is the log tail size past which a commit merges the tail
// into the index trees.
const DefaultTailBytes = 32 << 10

// Persist writes what the commit of db needs: the merged index trees when
// the tail is due (or opts.Merge), and the log tail node. It returns the
// value as committed (trees merged, tail reset if it merged) and the commit
// record, which the caller stores and publishes with branch.Advance. Every
// node the commit names is durable when Persist returns.
//
// Persist is for the writer; it must not be called on the same value from
// several goroutines at once.
func (db *DB) Persist(ctx context.Context, opts PersistOptions) (*DB, *branch.Commit, error) {
	cur, c, pending, err := db.Prepare(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	if _, err := db.st.PutNodes(ctx, pending); err != nil {
		return nil, nil, fmt.Errorf("reader: persist log tail: %w", err)
	}
	return cur, c, nil
}

// Prepare is Persist without writing the log tail node: it returns the
// node bytes the commit names but that are not yet stored (the tail), so
// the writer can upload them together with the commit record in one
// parallel round (branch.AdvanceWith) before swapping the head. Merged
// tree nodes are stored before Prepare returns.
func (db *DB) Prepare(ctx context.Context, opts PersistOptions) (*DB, *branch.Commit, [][]byte, error) {
	if db.st == nil {
		return nil, nil, nil, fmt.Errorf("reader: persist: value has no store")
	}
	limit := opts.TailBytes
	if limit <= 0 {
		limit = DefaultTailBytes
	}
	// cur is a copy: db is an immutable value other goroutines may hold.
	cp := *db
	cur := &cp
	if opts.Merge || db.merged || (db.tailBytes > limit && !opts.DeferMerge) {
		var err error
		if cur, err = db.mergeTail(ctx); err != nil {
			return nil, nil, nil, err
		}
	}
	c := &branch.Commit{Format: branch.FormatVersion, DBID: cur.dbid, Branch: opts.Branch,
		BasisT: cur.basisT, NextUser: cur.nextUser, NextDB: cur.nextDB, TxTs: opts.TxTs,
		Writer: opts.Writer, WallTime: time.Now().UnixMilli(), SchemaOnRead: cur.schema.SchemaOnRead()}
	if !cur.lastInstant.IsZero() {
		c.TxInstant = cur.lastInstant.UnixMilli()
	}
	if opts.Parent != nil {
		c.Seq = opts.Parent.Commit.Seq + 1
		c.Parents = []konserve.Hash{opts.Parent.Addr}
		c.GCGen = opts.Parent.Commit.GCGen
	}
	var err error
	if c.Schema, err = datom.MarshalSchema(cur.schema); err != nil {
		return nil, nil, nil, fmt.Errorf("reader: persist: %w", err)
	}
	for i, lt := range cur.trees {
		r, err := cur.root(i, lt)
		if err != nil {
			return nil, nil, nil, err
		}
		c.Roots = append(c.Roots, r)
	}
	var pending [][]byte
	if cur.tail.len() > 0 {
		txs := cur.tail.txs()
		data, err := encodeTail(txs)
		if err != nil {
			return nil, nil, nil, err
		}
		pending = append(pending, data)
		c.Tail = konserve.HashOf(data)
		c.TailBytes = int64(len(data))
		for _, t := range txs {
			c.TailDatoms += int64(len(t.datoms))
		}
		cur.tailBytes = int64(len(data))
	}
	c.Stats = cur.commitStats()
	cur.base = c
	return cur, c, pending, nil
}

// root describes tree i for a commit: its stored address, size and depth.
func (db *DB) root(i int, lt *lazyTree) (branch.Root, error) {
	r := branch.Root{Name: treeNames[i]}
	lt.mu.Lock()
	defer lt.mu.Unlock()
	if !lt.loaded {
		r.Addr = konserve.Hash(lt.addr)
		if db.base != nil {
			if br, ok := db.base.Root(treeNames[i]); ok && br.Addr == r.Addr {
				r.Count, r.Depth = br.Count, br.Depth
			}
		}
		return r, nil
	}
	addr, ok := lt.set.Root()
	if !ok {
		return r, fmt.Errorf("reader: persist: index %s is not flushed", treeNames[i])
	}
	r.Addr = konserve.Hash(addr)
	r.Count = int64(lt.set.Len())
	r.Depth = lt.set.Height()
	return r, nil
}

// novelty returns what the log tail changes in tree i: the datoms to add
// (for the log tree, every datom of the tail's transactions) and, for the
// current trees, the stored datoms to delete. Merging, bulk merging and
// excision all start from it.
func (db *DB) novelty(ctx context.Context, i int) (adds, dels []datom.Datom, err error) {
	if adds, err = db.ov.add(i).Slice(ctx, nil, nil); err != nil {
		return nil, nil, err
	}
	if i == logTEAV {
		for _, t := range db.tail.txs() {
			adds = append(adds, t.datoms...)
		}
	}
	if i < nCur {
		if dels, err = db.ov.dels[i].Slice(ctx, nil, nil); err != nil {
			return nil, nil, err
		}
	}
	if i >= nCur && i < 2*nCur {
		if adds, err = db.ov.withRetracted(ctx, i, adds); err != nil {
			return nil, nil, err
		}
	}
	return adds, dels, nil
}

// mergeTail applies the overlay to the stored trees in one sorted batch per
// tree and flushes them (all trees in parallel), returning a value with an
// empty tail.
func (db *DB) mergeTail(ctx context.Context) (*DB, error) {
	return db.mergeTailInto(ctx, nil)
}

// mergeTailInto is mergeTail; with col it is mergeTailBulk's: each changed
// tree is reopened on a store that collects the nodes its flush writes
// (unchanged stored trees stay as they are), and the collected nodes are
// stored with one PutNodesBulk before the value is returned.
func (db *DB) mergeTailInto(ctx context.Context, col *collectStore) (*DB, error) {
	next := *db
	var aevtAdds, aevtDels []datom.Datom // what the merge does to AEVT, for its statistics
	g, gctx := errgroup.WithContext(ctx)
	for i := range db.trees {
		g.Go(func() error {
			tree, err := db.trees[i].get(gctx)
			if err != nil {
				return err
			}
			adds, dels, err := db.novelty(gctx, i)
			if err != nil {
				return err
			}
			if i == curAEVT {
				aevtAdds, aevtDels = adds, dels
			}
			changed := len(adds) > 0 || len(dels) > 0
			if col != nil {
				root, stored := tree.Root()
				if stored && !changed {
					return nil // unchanged and stored: keep the lazy tree
				}
				if stored {
					o := treeOptions(nil, i, db.width)
					o.Store = &bulkNodeStore{nodeStore: newNodeStore(db.st, treeIndex(i)), col: col}
					if tree, err = pss.Open(gctx, root, o); err != nil {
						return err
					}
				}
			}
			if changed {
				if tree, err = tree.Update(gctx, adds, dels); err != nil {
					return fmt.Errorf("reader: merge %s: %w", treeNames[i], err)
				}
			}
			if _, tree, err = tree.Flush(gctx); err != nil {
				return fmt.Errorf("reader: flush %s: %w", treeNames[i], err)
			}
			next.trees[i] = newLoadedTree(tree)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if lt := next.trees[curAEVT]; lt != db.trees[curAEVT] {
		lt.stats = db.stats().updated(aevtAdds, aevtDels, lt.set.Len())
	}
	if col != nil {
		if _, _, err := db.st.PutNodesBulk(ctx, col.datas, col.hashes); err != nil {
			return nil, fmt.Errorf("reader: merge: %w", err)
		}
		col.direct.Store(true)
	}
	next.ov = emptyOverlay()
	next.tail = nil
	next.tailBytes = 0
	next.merged = false
	return &next, nil
}

// Committed returns db as published by head h: the same value, now knowing
// the head it is reachable from.
func (db *DB) Committed(h *branch.Head) *DB {
	c := *db
	c.head = h
	c.base = h.Commit
	return &c
}

// TailBytes returns the encoded size of the value's log tail (estimated
// for transactions not yet persisted).
func (db *DB) TailBytes() int64 { return db.tailBytes }
