package reader

import (
	"context"
	"fmt"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/node"
)

// This file holds the small accessors that structural operations on stored
// values (ops.Diff) need: the stored root of a current index, the overlay
// the log tail lays over it, and node loads that share the store's cache.
// A value's datoms in a current index are exactly
//
//	(stored tree − overlay deletions) ∪ overlay additions
//
// which is what every scan of the value merges on the fly.

// StoredRoot returns the address of the stored tree of the current index
// idx (EAVT, AEVT, AVET or VAET) of db, the zero hash for an empty tree.
// It fails if the tree has changes that are not flushed (a value in the
// middle of Persist), which no committed or With-derived value has.
func (db *DB) StoredRoot(idx datom.Index) (konserve.Hash, error) {
	i := curTree(idx)
	if idx > datom.VAET || i < 0 || i >= nCur {
		return konserve.Hash{}, fmt.Errorf("reader: stored root: %v is not a current index", idx)
	}
	lt := db.trees[i]
	lt.mu.Lock()
	defer lt.mu.Unlock()
	if !lt.loaded {
		return konserve.Hash(lt.addr), nil
	}
	if lt.set.Len() == 0 {
		return konserve.Hash{}, nil
	}
	addr, ok := lt.set.Root()
	if !ok {
		return konserve.Hash{}, fmt.Errorf("reader: stored root: index %s is not flushed", treeNames[i])
	}
	return konserve.Hash(addr), nil
}

// Overlay returns, in the order of current index idx, the datoms the log
// tail adds to the stored tree of idx and the stored datoms it hides. Both
// are small (bounded by the tail size) and owned by the caller.
func (db *DB) Overlay(ctx context.Context, idx datom.Index) (adds, dels []datom.Datom, err error) {
	i := curTree(idx)
	if idx > datom.VAET || i < 0 || i >= nCur {
		return nil, nil, fmt.Errorf("reader: overlay: %v is not a current index", idx)
	}
	if adds, err = db.ov.addSets()[i].Slice(ctx, nil, nil); err != nil {
		return nil, nil, fmt.Errorf("reader: overlay: %w", err)
	}
	if dels, err = db.ov.dels[i].Slice(ctx, nil, nil); err != nil {
		return nil, nil, fmt.Errorf("reader: overlay: %w", err)
	}
	return adds, dels, nil
}

// LoadIndexNode loads stored node addr of index idx through the value's
// store and its shared cache, decoded exactly as scans decode it (the cache
// is keyed by address alone, so every loader must agree). The node is
// shared and immutable: callers must not modify it.
func (db *DB) LoadIndexNode(ctx context.Context, idx datom.Index, addr konserve.Hash) (*node.Node[datom.Datom], error) {
	if db.st == nil {
		return nil, fmt.Errorf("reader: load node %s: value has no store", addr)
	}
	return newNodeStore(db.st, idx).Load(ctx, node.Address(addr))
}
