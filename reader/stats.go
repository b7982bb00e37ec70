package reader

import (
	"context"
	"fmt"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/node"
)

// Stats describes the stored form of a database value: the commit it was
// opened from, its log tail and every index tree, for operators (the
// command line's stats).
type Stats struct {
	BasisT     int64  // t of the newest transaction
	Seq        uint64 // sequence number of the commit (commits on the branch's first-parent chain, minus one)
	TailDatoms int64  // datoms in the log tail, not yet merged into the trees
	TailBytes  int64  // encoded size of the log tail
	Indexes    []IndexStats
}

// IndexStats describes one stored index tree.
type IndexStats struct {
	Name   string // "eavt" … "vaet", "history-eavt" … "history-vaet", "log"
	Datoms int64  // datoms stored in the tree (the tail excluded)
	Depth  int    // levels from root to leaves; 0 for an empty tree
	Nodes  int64  // stored nodes
	Bytes  int64  // encoded bytes of those nodes
}

// statsParallelism bounds the concurrent node reads of Stats.
const statsParallelism = 16

// Stats walks every stored index tree of the commit db was opened from and
// counts its nodes, bytes, depth and datoms. It reads every node once
// (bypassing the decoded-node cache, whose entries carry no byte sizes), so
// its cost is the size of the database: meant for operators, not for hot
// paths. A value that was never committed (NewEmpty, With) reports only
// what its commit holds, which is nothing.
func (db *DB) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	s.BasisT = db.basisT
	c := db.base
	if c == nil {
		return s, nil
	}
	s.Seq = c.Seq
	s.TailDatoms, s.TailBytes = c.TailDatoms, c.TailBytes
	for i, name := range treeNames {
		is := IndexStats{Name: name}
		if r, ok := c.Root(name); ok && r.Addr != (konserve.Hash{}) {
			if err := db.walkTree(ctx, treeIndex(i), r.Addr, &is); err != nil {
				return s, fmt.Errorf("reader: stats of %s: %w", name, err)
			}
		}
		s.Indexes = append(s.Indexes, is)
	}
	return s, nil
}

// walkTree visits the tree at root level by level, reading each level's
// nodes in parallel.
func (db *DB) walkTree(ctx context.Context, idx datom.Index, root konserve.Hash, is *IndexStats) error {
	codec := datom.Codec(idx)
	level := []konserve.Hash{root}
	for len(level) > 0 {
		is.Depth++
		nexts := make([][]konserve.Hash, len(level))
		var bytes, datoms atomic.Int64
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(statsParallelism)
		for j, h := range level {
			g.Go(func() error {
				data, err := db.st.GetNode(gctx, h)
				if err != nil {
					return err
				}
				n, err := node.Decode(data, codec)
				if err != nil {
					return fmt.Errorf("decode node %s: %w", h, err)
				}
				bytes.Add(int64(len(data)))
				if n.IsLeaf() {
					datoms.Add(int64(len(n.Keys)))
					return nil
				}
				kids := make([]konserve.Hash, len(n.Children))
				for k, a := range n.Children {
					kids[k] = konserve.Hash(a)
				}
				nexts[j] = kids
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		is.Nodes += int64(len(level))
		is.Bytes += bytes.Load()
		is.Datoms += datoms.Load()
		level = level[:0:0]
		for _, k := range nexts {
			level = append(level, k...)
		}
	}
	return nil
}
