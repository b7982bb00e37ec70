package ops

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/konserve"
)

// SyncOptions configure Sync. The zero value copies every branch.
type SyncOptions struct {
	// Branches to copy (nil: every branch of the source).
	Branches []string
	// Parallelism bounds concurrent requests to each store
	// (0: DefaultParallelism).
	Parallelism int
	// Force moves a destination head that is not an ancestor of the source
	// head (ErrDiverged otherwise). The commits only the destination had
	// become garbage for GC.
	Force bool
}

// SyncReport says what Sync transferred.
type SyncReport struct {
	Branches int   // branches synced
	Heads    int   // destination heads created or moved
	Commits  int64 // commits copied
	Nodes    int64 // nodes copied, commits included
	Bytes    int64 // bytes of the nodes copied
	// Skipped counts the addresses found already present in the
	// destination: each is a whole subtree (or line of history) not sent.
	Skipped int64
	// HistoryEnds counts parent commits the source no longer has (collected
	// by GC): the copied history ends there, as it does in the source.
	HistoryEnds int64
}

// Sync copies branches from src to dst, sending only the nodes dst lacks
// (S1, S2 in the package doc). For each branch it copies every commit
// reachable from the source head that dst lacks, oldest first, each after
// its trees and tail, children before parents; then it moves the
// destination head to the source head, creating the branch if needed. A
// destination head that is not an ancestor of the source head is refused
// with ErrDiverged unless opts.Force. An error leaves every destination head
// where it was, and a rerun resumes from what was copied.
//
// Memory: Sync holds the bytes of the missing commits of one branch and of
// the missing inner tree nodes of one commit (about one node in Width of
// the tree) until they are written.
func Sync(ctx context.Context, src, dst *konserve.Store, opts SyncOptions) (SyncReport, error) {
	if opts.Parallelism < 0 {
		return SyncReport{}, fmt.Errorf("%w: negative Parallelism", ErrInvalidOptions)
	}
	s := &syncer{src: src, dst: dst, opts: opts, par: orDefault(opts.Parallelism, DefaultParallelism), present: newHashSet()}
	names := opts.Branches
	if names == nil {
		var err error
		if names, err = branch.List(ctx, src); err != nil {
			return s.rep, fmt.Errorf("ops: sync: source: %w", err)
		}
	}
	for _, name := range names {
		if err := s.branch(ctx, name); err != nil {
			return s.rep, err
		}
		s.rep.Branches++
	}
	return s.rep, nil
}

// syncer is the state of one Sync call.
type syncer struct {
	src, dst *konserve.Store
	opts     SyncOptions
	par      int
	present  *hashSet // addresses known to be in dst with their whole subtree
	mu       sync.Mutex
	rep      SyncReport
}

// missingCommit is a commit to copy, with its stored bytes.
type missingCommit struct {
	addr konserve.Hash
	data []byte
	c    *branch.Commit
}

func (s *syncer) branch(ctx context.Context, name string) error {
	sh, err := branch.Read(ctx, s.src, name)
	if err != nil {
		return fmt.Errorf("ops: sync: source: %w", err)
	}
	missing, err := s.missingCommits(ctx, sh.Addr)
	if err != nil {
		return fmt.Errorf("ops: sync branch %q: %w", name, err)
	}
	// Commits go in groups, oldest first: the trees and tails of a group in
	// one walk (fewer, larger write batches), then its commits one by one,
	// each after its parents, so that a commit in dst always has its
	// history (S1 for commits).
	for len(missing) > 0 {
		group := missing[:min(len(missing), syncCommitGroup)]
		missing = missing[len(group):]
		var items []item
		for _, m := range group {
			items = append(items, commitItems(m.c)...)
		}
		if err := s.copyNodes(ctx, items); err != nil {
			return fmt.Errorf("ops: sync branch %q, commits from %s: %w", name, group[0].addr, err)
		}
		for _, m := range group {
			if err := s.putBatch(ctx, [][]byte{m.data}); err != nil {
				return fmt.Errorf("ops: sync branch %q, commit %s: %w", name, m.addr, err)
			}
			s.rep.Commits++
		}
	}
	return s.moveHead(ctx, name, sh)
}

// missingCommits returns the commits reachable from head (through every
// parent) that dst lacks, parents before children. It stops at commits dst
// has (S1) and at parents the source no longer has.
func (s *syncer) missingCommits(ctx context.Context, head konserve.Hash) ([]missingCommit, error) {
	type frame struct {
		addr     konserve.Hash
		expanded bool
		m        *missingCommit
	}
	var order []missingCommit
	visited := map[konserve.Hash]bool{}
	stack := []frame{{addr: head}}
	for len(stack) > 0 {
		top := len(stack) - 1
		if stack[top].expanded {
			if m := stack[top].m; m != nil {
				order = append(order, *m)
			}
			stack = stack[:top]
			continue
		}
		stack[top].expanded = true
		addr := stack[top].addr
		if addr.IsZero() || visited[addr] {
			continue
		}
		visited[addr] = true
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		have, err := s.has(ctx, addr)
		if err != nil {
			return nil, err
		}
		if have {
			continue
		}
		data, err := s.src.GetNode(ctx, addr)
		if errors.Is(err, konserve.ErrNodeMissing) && addr != head {
			s.rep.HistoryEnds++
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("source commit: %w", err)
		}
		c, err := branch.DecodeCommit(data)
		if err != nil {
			return nil, fmt.Errorf("source commit %s: %w", addr, err)
		}
		stack[top].m = &missingCommit{addr: addr, data: data, c: c}
		for i := len(c.Parents) - 1; i >= 0; i-- {
			stack = append(stack, frame{addr: c.Parents[i]})
		}
	}
	return order, nil
}

// has reports whether dst holds h (and so, by S1, its subtree), asking dst
// only for addresses not known already.
func (s *syncer) has(ctx context.Context, h konserve.Hash) (bool, error) {
	if s.present.has(h) {
		return true, nil
	}
	ok, err := s.dst.HasNode(ctx, h)
	if err != nil {
		return false, fmt.Errorf("destination: %w", err)
	}
	if ok {
		s.present.add(h)
		s.mu.Lock()
		s.rep.Skipped++
		s.mu.Unlock()
	}
	return ok, nil
}

// putBatch writes node bytes to dst and counts them, syncChunk nodes at a
// time, each chunk durable before the next is written (S1). It uses
// PutNodesBulk: on a file bucket a chunk is one pack file with one fsync,
// rather than a file and an fsync per node; elsewhere it is PutNodes.
func (s *syncer) putBatch(ctx context.Context, datas [][]byte) error {
	for len(datas) > 0 {
		n := min(len(datas), syncChunk)
		hs, _, err := s.dst.PutNodesBulk(ctx, datas[:n], nil)
		if err != nil {
			return fmt.Errorf("destination: %w", err)
		}
		for i, h := range hs {
			s.present.add(h)
			s.rep.Nodes++
			s.rep.Bytes += int64(len(datas[i]))
		}
		datas = datas[n:]
	}
	return nil
}

// syncCommitGroup is how many missing commits Sync copies the trees of in
// one walk; it bounds the inner tree nodes held until they are written.
const syncCommitGroup = 64

// syncChunk is how many nodes Sync reads before writing them as one batch,
// which bounds the leaf bytes it holds.
const syncChunk = 256

// copyNodes copies every node reachable from items that dst lacks. It
// discovers them level by level from the roots, stopping at nodes dst has;
// leaves and tails are written as soon as a chunk of them is read, inner
// nodes are held and written after, lowest level first, so that every node
// is written after its children (S1).
func (s *syncer) copyNodes(ctx context.Context, items []item) error {
	queued := newHashSet()
	var frontier []item
	for _, it := range items {
		if !s.present.has(it.h) && queued.add(it.h) {
			frontier = append(frontier, it)
		}
	}
	inner := map[int][][]byte{} // level → nodes to write
	var mu sync.Mutex
	for len(frontier) > 0 {
		var next []item
		for len(frontier) > 0 {
			chunk := frontier[:min(len(frontier), syncChunk)]
			frontier = frontier[len(chunk):]
			var ready [][]byte // leaves and tails: nothing below them
			g, gctx := errgroup.WithContext(ctx)
			g.SetLimit(s.par)
			for _, it := range chunk {
				g.Go(func() error {
					have, err := s.has(gctx, it.h)
					if err != nil || have {
						return err
					}
					data, err := s.src.GetNode(gctx, it.h)
					if err != nil {
						return fmt.Errorf("source: %w", err)
					}
					level, kids := 0, []konserve.Hash(nil)
					if it.k != kindTail {
						if level, kids, err = children(data, false); err != nil {
							return fmt.Errorf("source node %s: %w", it.h, err)
						}
					}
					mu.Lock()
					defer mu.Unlock()
					if level == 0 {
						ready = append(ready, data)
						return nil
					}
					inner[level] = append(inner[level], data)
					for _, c := range kids {
						if !s.present.has(c) && queued.add(c) {
							next = append(next, item{h: c, k: kindTree})
						}
					}
					return nil
				})
			}
			if err := g.Wait(); err != nil {
				return err
			}
			if err := s.putBatch(ctx, ready); err != nil {
				return err
			}
		}
		frontier = next
	}
	levels := make([]int, 0, len(inner))
	for l := range inner {
		levels = append(levels, l)
	}
	slices.Sort(levels)
	for _, l := range levels {
		if err := s.putBatch(ctx, inner[l]); err != nil {
			return err
		}
	}
	return nil
}

// moveHead points dst's branch at the source head's commit, last (S2).
func (s *syncer) moveHead(ctx context.Context, name string, sh *branch.Head) error {
	dh, err := branch.Read(ctx, s.dst, name)
	if errors.Is(err, branch.ErrNoBranch) {
		if _, err := branch.Create(ctx, s.dst, name, sh.Addr); err != nil {
			return fmt.Errorf("ops: sync branch %q: destination: %w", name, err)
		}
		s.rep.Heads++
		return nil
	}
	if err != nil {
		return fmt.Errorf("ops: sync branch %q: destination: %w", name, err)
	}
	if dh.Addr == sh.Addr {
		return nil
	}
	if !s.opts.Force {
		ok, err := s.isAncestor(ctx, dh, sh.Addr)
		if err != nil {
			return fmt.Errorf("ops: sync branch %q: %w", name, err)
		}
		if !ok {
			return fmt.Errorf("ops: sync branch %q: destination head %s is not an ancestor of source head %s: %w",
				name, dh.Addr, sh.Addr, ErrDiverged)
		}
	}
	nh, err := branch.Advance(ctx, s.dst, name, dh, sh.Commit)
	if err != nil {
		return fmt.Errorf("ops: sync branch %q: destination: %w", name, err)
	}
	if nh.Addr != sh.Addr {
		// Advance re-encodes the commit; the encoding is deterministic, so
		// this means a bug, and the destination now names an equal commit
		// under another address.
		return fmt.Errorf("ops: sync branch %q: commit re-encoded as %s, want %s", name, nh.Addr, sh.Addr)
	}
	s.rep.Heads++
	return nil
}

// isAncestor reports whether the destination head dh is an ancestor of
// commit addr, through any parents (merge commits have two). Every commit
// reachable from addr is in dst by now (or ends the history), so the walk
// reads dst. It stops when it finds dh; proving divergence reads the whole
// reachable history (Seq cannot prune it: a merge's second parent comes
// from another branch's numbering).
func (s *syncer) isAncestor(ctx context.Context, dh *branch.Head, addr konserve.Hash) (bool, error) {
	seen := map[konserve.Hash]bool{}
	queue := []konserve.Hash{addr}
	for len(queue) > 0 {
		a := queue[0]
		queue = queue[1:]
		if a == dh.Addr {
			return true, nil
		}
		if a.IsZero() || seen[a] {
			continue
		}
		seen[a] = true
		c, err := branch.LoadCommit(ctx, s.dst, a)
		if errors.Is(err, konserve.ErrNodeMissing) {
			continue
		}
		if err != nil {
			return false, err
		}
		queue = append(queue, c.Parents...)
	}
	return false, nil
}
