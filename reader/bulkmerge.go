package reader

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/konserve"
)

// Background merges of the log tail (the writer's group-commit path).
//
// Merging the tail into the index trees is the expensive part of a commit:
// one path copy per touched leaf in every tree, each new node encoded,
// hashed and made durable. A writer that merges in the commit path stalls
// every transaction queued behind that commit. Instead it can take a
// committed value src, merge it with MergeTail in the background while it
// keeps committing (each commit still naming the old roots and a growing
// tail), and when the merge is done, AdoptMerge moves its newest value onto
// the merged trees, keeping in the tail only the transactions committed
// after src. The next commit names the new roots and the trimmed tail: the
// head still moves on every commit, and a crash at any point leaves a head
// whose nodes are all present (the merged nodes are durable before any
// commit names them; until then they are orphans).

// ErrStaleMerge is returned by AdoptMerge when the value does not descend
// from the merged value's source in memory (the writer rebased onto another
// writer's head, or the trees were rewritten since): the merge is of no use
// and is dropped; its nodes are orphans for garbage collection.
var ErrStaleMerge = errors.New("reader: merge does not apply to this value")

// MergeTail returns db with its log tail merged into the index trees, every
// new tree node stored and durable, and an empty tail. db is not changed.
// It is safe to call while other goroutines derive values from db.
func (db *DB) MergeTail(ctx context.Context) (*DB, error) {
	if db.st == nil {
		return nil, fmt.Errorf("reader: merge: value has no store")
	}
	if db.v != nowView {
		return nil, fmt.Errorf("reader: merge: %w", ErrNotCurrent)
	}
	return db.mergeTailBulk(ctx)
}

// mergeTailBulk is mergeTail for a background merge: nothing names the new
// nodes until a later commit, so they are stored with one PutNodesBulk (on
// the file backend: one pack file, fsynced and linked into place) rather
// than a file and two fsyncs each. Each flushed tree is reopened from its root
// with a store that collects the nodes its update writes; once they are
// stored the collector writes through, so the returned trees flush normally
// later.
func (db *DB) mergeTailBulk(ctx context.Context) (*DB, error) {
	return db.mergeTailInto(ctx, &collectStore{})
}

// AdoptMerge returns db moved onto the trees of merged, which MergeTail
// made from src, an earlier value db was derived from by transactions only:
// the returned value holds the same facts as db, with the trees of merged
// and a tail of the transactions db has after src's (replayed from their
// stored encoding, as a reader opening such a commit would). It fails with
// ErrStaleMerge if db is not such a descendant of src.
func (db *DB) AdoptMerge(ctx context.Context, src, merged *DB) (*DB, error) {
	if db.v != nowView || src.v != nowView || merged.v != nowView {
		return nil, fmt.Errorf("%w: not a current value", ErrStaleMerge)
	}
	if db.merged || db.st != src.st || db.dbid != src.dbid {
		return nil, ErrStaleMerge
	}
	for i := range db.trees {
		if db.trees[i] != src.trees[i] {
			return nil, fmt.Errorf("%w: index %s changed", ErrStaleMerge, treeNames[i])
		}
	}
	// The transactions db has after src: the tail list is shared, so src's
	// tail is a node of db's (or both are empty).
	var newer []*tailTx
	l := db.tail
	for l != src.tail {
		if l == nil || l.len() <= src.tail.len() {
			return nil, fmt.Errorf("%w: tail diverged", ErrStaleMerge)
		}
		newer = append(newer, l.tx)
		l = l.prev
	}
	cp := *merged
	next := &cp
	for i := len(newer) - 1; i >= 0; i-- {
		var err error
		if next, err = next.applyTail(ctx, *newer[i]); err != nil {
			return nil, fmt.Errorf("reader: adopt merge, replay t %d: %w", newer[i].t, err)
		}
	}
	// What transactions set beyond their datoms comes from db itself.
	next.head, next.base = db.head, db.base
	next.schema = db.schema
	next.basisT = db.basisT
	next.nextUser, next.nextDB = db.nextUser, db.nextDB
	next.lastInstant = db.lastInstant
	return next, nil
}

// TailTxs returns the number of transactions in the value's log tail.
func (db *DB) TailTxs() int { return db.tail.len() }

// FastForward returns the value of head h, which other writers committed on
// top of db's own commit: when h names the same index roots as db and its
// log tail starts with db's tail, only the transactions after db's are
// decoded into the overlay (db's are shared), instead of reopening the
// whole tail as FromHead does. Otherwise it is FromHead. The result shares
// db's tail list, so a background merge of db still applies to it.
func (db *DB) FastForward(ctx context.Context, h *branch.Head, width int) (*DB, error) {
	if !db.canFastForward(h.Commit) {
		return FromHead(ctx, db.st, h, width)
	}
	c := h.Commit
	data, err := db.st.GetNode(ctx, c.Tail)
	if err != nil {
		return nil, fmt.Errorf("reader: load log tail: %w", err)
	}
	txs, err := decodeTail(data)
	if err != nil {
		return nil, fmt.Errorf("reader: log tail %s: %w", c.Tail, err)
	}
	ours := db.tail.txs()
	if len(txs) < len(ours) {
		return FromHead(ctx, db.st, h, width)
	}
	for k, t := range ours {
		if txs[k].t != t.t || !bytes.Equal(txs[k].enc, t.enc) {
			return FromHead(ctx, db.st, h, width)
		}
	}
	next := db
	for _, t := range txs[len(ours):] {
		if next, err = next.applyTail(ctx, t); err != nil {
			return nil, fmt.Errorf("reader: log tail %s, t %d: %w", c.Tail, t.t, err)
		}
	}
	if next == db {
		cp := *db
		next = &cp
	}
	next.head, next.base = h, c
	next.basisT = c.BasisT
	next.nextUser, next.nextDB = c.NextUser, c.NextDB
	next.tailBytes = int64(len(data))
	if c.TxInstant != 0 {
		if tm := time.UnixMilli(c.TxInstant).UTC(); tm.After(next.lastInstant) {
			next.lastInstant = tm
		}
	}
	return next, nil
}

// canFastForward reports whether commit c names db's index roots and a
// log tail at least as new as db's.
func (db *DB) canFastForward(c *branch.Commit) bool {
	if db.v != nowView || db.merged || c.Tail.IsZero() || c.BasisT < db.basisT || c.DBID != db.dbid {
		return false
	}
	for i, lt := range db.trees {
		r, ok := c.Root(treeNames[i])
		if !ok {
			return false
		}
		lt.mu.Lock()
		addr := lt.addr
		if lt.loaded {
			a, flushed := lt.set.Root()
			if !flushed {
				lt.mu.Unlock()
				return false
			}
			addr = a
		}
		lt.mu.Unlock()
		if konserve.Hash(addr) != r.Addr {
			return false
		}
	}
	return true
}
