package ops

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/konserve"
)

// DefaultGrace is the grace period of a GCOptions whose Grace is 0: long
// enough for any query or commit to finish, with room for clock skew.
const DefaultGrace = time.Hour

// maxBumpRetries bounds how often GC retries the gc_gen bump of one branch
// whose head keeps moving.
const maxBumpRetries = 16

// topLevel is the sweep level of log tails and anything else that is not a
// tree node: they are deleted before every tree node. Commits, which name
// tails, sweep at topLevel+1, before them.
const topLevel = 1 << 20

// sweepBatch is how many deletions GC sends between two re-reads of the
// heads (G2).
const sweepBatch = 512

// GCOptions configure GC. The zero value collects everything not reachable
// from a branch head or from a commit that was a head within DefaultGrace.
type GCOptions struct {
	// DryRun marks and lists but neither bumps heads nor deletes: the
	// report says what a real run would free now.
	DryRun bool
	// KeepSince retains every commit whose WallTime is at or after it
	// (zero: none on this account).
	KeepSince time.Time
	// KeepLast retains the newest KeepLast commits of each branch, counted
	// along parent links from the head (0: the head only).
	KeepLast int
	// Grace protects readers and writers in flight: commits that were a
	// head within Grace are retained, and only nodes last modified before
	// start−Grace are deleted. 0 means DefaultGrace; negative is invalid.
	Grace time.Duration
	// Now is the clock (nil: time.Now). Tests step it forward to make
	// "older than the grace" true without waiting.
	Now func() time.Time
	// Parallelism bounds concurrent bucket requests (0: DefaultParallelism).
	Parallelism int
	// Progress, if set, is called from GC's goroutine after each step, for
	// a progress line on a terminal.
	Progress func(GCProgress)
}

// Validate reports out-of-range options, wrapping ErrInvalidOptions.
func (o *GCOptions) Validate() error {
	if o == nil {
		return nil
	}
	if o.Grace < 0 || o.KeepLast < 0 || o.Parallelism < 0 {
		return fmt.Errorf("%w: negative Grace, KeepLast or Parallelism", ErrInvalidOptions)
	}
	return nil
}

// GCPhase names a step of GC, for progress reports.
type GCPhase int

// The phases of GC, in order.
const (
	PhaseMark  GCPhase = iota // marking from heads and retained commits
	PhaseBump                 // bumping gc_gen on every head
	PhaseSweep                // listing and deleting unmarked nodes
	PhaseDone                 // finished
)

// String returns the phase's name.
func (p GCPhase) String() string {
	switch p {
	case PhaseMark:
		return "mark"
	case PhaseBump:
		return "bump"
	case PhaseSweep:
		return "sweep"
	case PhaseDone:
		return "done"
	}
	return fmt.Sprintf("GCPhase(%d)", int(p))
}

// GCProgress is a snapshot handed to GCOptions.Progress.
type GCProgress struct {
	Phase  GCPhase
	Marked int64 // nodes marked reachable so far
	Listed int64 // nodes listed so far
	Swept  int64 // nodes deleted (dry run: found deletable) so far
}

// GCReport says what GC did (or, in a dry run, would do).
type GCReport struct {
	DryRun     bool
	Start      time.Time // the GC clock when it started
	Branches   int       // branches marked from
	Commits    int64     // commits retained (marked)
	Marked     int64     // nodes marked reachable: commits, tree nodes, tails
	Fetched    int64     // nodes read while marking (leaves are never read)
	Bumped     int       // heads bumped (G2)
	Listed     int64     // nodes listed in the bucket
	Kept       int64     // unmarked nodes kept because they are younger than the grace
	Refreshed  int64     // listed as old, but stored again (or gone) by the time of their delete: kept
	Swept      int64     // unmarked old nodes deleted (dry run: deletable)
	BytesFreed int64     // their bytes
	TempFiles  int64     // crash-left temporary files older than the grace removed (dry run: removable)
	TempBytes  int64     // their bytes
}

// GC collects the nodes of st that no branch head and no retained commit
// reaches (rules G1–G4 in the package doc). On error nothing reachable has
// been deleted, and running GC again finishes the job; the report then
// counts what was done before the error (not the batch of deletions that
// failed, some of which may be done).
func GC(ctx context.Context, st *konserve.Store, opts GCOptions) (GCReport, error) {
	if err := opts.Validate(); err != nil {
		return GCReport{}, err
	}
	g := &collector{st: st, opts: opts, marked: newHashSet(), heads: map[string]konserve.Hash{}}
	if g.opts.Grace == 0 {
		g.opts.Grace = DefaultGrace
	}
	if g.opts.Now == nil {
		g.opts.Now = time.Now
	}
	g.par = orDefault(opts.Parallelism, DefaultParallelism)
	start := g.opts.Now()
	g.rep = GCReport{DryRun: opts.DryRun, Start: start}
	g.retainAfterMs = start.Add(-g.opts.Grace).UnixMilli()
	sweepBefore := start.Add(-g.opts.Grace)

	if err := g.markHeads(ctx); err != nil {
		return g.rep, err
	}
	g.progress(PhaseMark, 0, 0)
	if !opts.DryRun {
		if err := g.bumpAll(ctx); err != nil {
			return g.rep, err
		}
		g.progress(PhaseBump, 0, 0)
		// Objects staged in head files (konserve, file backend) become
		// objects of their own, and older slots are cleared, so that no
		// slot names an object the sweep deletes.
		if err := st.Settle(ctx); err != nil {
			return g.rep, fmt.Errorf("ops: gc: %w", err)
		}
		// Heads that moved or appeared while marking and bumping.
		if err := g.markHeads(ctx); err != nil {
			return g.rep, err
		}
	}
	err := g.sweep(ctx, sweepBefore)
	if err == nil {
		// G7: temporary files a crashed writer left (file backend).
		g.rep.TempFiles, g.rep.TempBytes, err = st.SweepTemp(ctx, sweepBefore, opts.DryRun)
		if err != nil {
			err = fmt.Errorf("ops: gc: %w", err)
		}
	}
	g.rep.Branches = len(g.heads)
	g.progress(PhaseDone, g.rep.Listed, g.rep.Swept)
	return g.rep, err
}

// collector is the state of one GC run. Only its goroutine touches it,
// except marked, which walks share.
type collector struct {
	st            *konserve.Store
	opts          GCOptions
	par           int
	marked        *hashSet
	heads         map[string]konserve.Hash // head commit each branch was last marked at
	retainAfterMs int64
	rep           GCReport
}

func (g *collector) progress(p GCPhase, listed, swept int64) {
	if g.opts.Progress != nil {
		g.opts.Progress(GCProgress{Phase: p, Marked: g.rep.Marked, Listed: listed, Swept: swept})
	}
}

// markHeads marks from the current head of every branch whose head moved
// since it was last marked (all of them, the first time).
func (g *collector) markHeads(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ops: gc: %w", err)
	}
	names, err := branch.List(ctx, g.st)
	if err != nil {
		return fmt.Errorf("ops: gc: %w", err)
	}
	for _, name := range names {
		h, err := branch.Read(ctx, g.st, name)
		if errors.Is(err, branch.ErrNoBranch) {
			continue // deleted meanwhile: its nodes are garbage or reached from elsewhere
		}
		if err != nil {
			return fmt.Errorf("ops: gc: %w", err)
		}
		if err := g.markBranch(ctx, h); err != nil {
			return err
		}
	}
	return nil
}

// markBranch marks the commits head h retains and everything they reach.
func (g *collector) markBranch(ctx context.Context, h *branch.Head) error {
	if prev, ok := g.heads[h.Branch]; ok && prev == h.Addr {
		return nil
	}
	g.heads[h.Branch] = h.Addr
	var items []item
	err := retained(ctx, g.st, h, g.opts, g.retainAfterMs, func(addr konserve.Hash, c *branch.Commit) {
		if g.marked.add(addr) {
			g.rep.Commits++
			g.rep.Marked++
		}
		items = append(items, commitItems(c)...)
	})
	if err != nil {
		return err
	}
	ws, err := walk(ctx, g.st, g.par, g.marked, items, false, false, nil, func(it item, err error) error {
		return fmt.Errorf("ops: gc: mark from branch %q: %w", h.Branch, err)
	})
	g.rep.Marked += ws.visited
	g.rep.Fetched += ws.fetched
	return err
}

// retained calls fn for each commit that head h retains under opts (G1),
// newest first. It follows every parent; a parent that no longer exists
// (collected by an earlier GC) ends that line of history.
func retained(ctx context.Context, st *konserve.Store, h *branch.Head, opts GCOptions, retainAfterMs int64,
	fn func(addr konserve.Hash, c *branch.Commit)) error {
	type entry struct {
		addr        konserve.Hash
		n           int   // commits between the head and this one
		childWallMs int64 // WallTime of the child we came from
	}
	seen := map[konserve.Hash]bool{h.Addr: true}
	fn(h.Addr, h.Commit)
	var queue []entry
	for _, p := range h.Commit.Parents {
		queue = append(queue, entry{addr: p, n: 1, childWallMs: h.Commit.WallTime})
	}
	keepSince := int64(-1 << 63)
	if !opts.KeepSince.IsZero() {
		keepSince = opts.KeepSince.UnixMilli()
	}
	for len(queue) > 0 {
		e := queue[0]
		queue = queue[1:]
		if seen[e.addr] || e.addr.IsZero() {
			continue
		}
		seen[e.addr] = true
		// A commit that was a head within the grace, or within KeepLast, is
		// retained whatever its contents; KeepSince needs its WallTime.
		keep := e.n < opts.KeepLast || e.childWallMs > retainAfterMs
		if !keep && opts.KeepSince.IsZero() {
			continue
		}
		c, err := branch.LoadCommit(ctx, st, e.addr)
		if errors.Is(err, konserve.ErrNodeMissing) {
			continue
		}
		if err != nil {
			return fmt.Errorf("ops: gc: %w", err)
		}
		if !keep && c.WallTime < keepSince {
			continue
		}
		fn(e.addr, c)
		for _, p := range c.Parents {
			queue = append(queue, entry{addr: p, n: e.n + 1, childWallMs: c.WallTime})
		}
	}
	return nil
}

// bumpAll moves every branch head to a commit with the same contents and
// GCGen+1 (G2), so a writer holding an older head loses its swap and
// rebases onto a marked head.
func (g *collector) bumpAll(ctx context.Context) error {
	names, err := branch.List(ctx, g.st)
	if err != nil {
		return fmt.Errorf("ops: gc: %w", err)
	}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("ops: gc: %w", err)
		}
		if err := g.bump(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

func (g *collector) bump(ctx context.Context, name string) error {
	for attempt := range maxBumpRetries {
		h, err := branch.Read(ctx, g.st, name)
		if errors.Is(err, branch.ErrNoBranch) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("ops: gc: bump %q: %w", name, err)
		}
		// Swap straight after the read, marking only afterwards (the new
		// head names what h names, and nothing is deleted before the
		// sweep): marking between the read and the swap widened the
		// window in which a busy writer moves the head, and a GC beside
		// a writer committing every millisecond lost all its retries.
		c := *h.Commit
		c.Seq = h.Commit.Seq + 1
		c.Parents = []konserve.Hash{h.Addr}
		c.GCGen = h.Commit.GCGen + 1
		c.TxTs = nil
		c.WallTime = g.opts.Now().UnixMilli()
		nh, err := branch.Advance(ctx, g.st, name, h, &c)
		if errors.Is(err, konserve.ErrConflict) {
			// Let a busy writer's commit land before reading again.
			time.Sleep(time.Duration(attempt+1) * time.Millisecond)
			continue
		}
		if err != nil {
			return fmt.Errorf("ops: gc: bump %q: %w", name, err)
		}
		g.rep.Bumped++
		return g.markBranch(ctx, nh)
	}
	return fmt.Errorf("ops: gc: bump %q: head kept moving: %w", name, konserve.ErrConflict)
}

// sweep deletes the unmarked nodes last modified before the cutoff,
// re-reading the heads before each batch (G2, G3).
func (g *collector) sweep(ctx context.Context, before time.Time) error {
	type cand struct {
		h    konserve.Hash
		size int64
	}
	var cands []cand
	err := g.st.ListNodes(ctx, func(h konserve.Hash, info konserve.ObjectInfo) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		g.rep.Listed++
		switch {
		case g.marked.has(h):
		case !info.ModTime.Before(before):
			g.rep.Kept++
		default:
			cands = append(cands, cand{h, info.Size})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ops: gc: list nodes: %w", err)
	}
	g.progress(PhaseSweep, g.rep.Listed, 0)
	if g.opts.DryRun {
		for _, c := range cands {
			g.rep.Swept++
			g.rep.BytesFreed += c.size
		}
		return nil
	}
	// Delete parents before children (G5): read each candidate's level
	// (commits and tails count as above every tree), then delete level by
	// level from the top, so that an interrupted sweep never leaves a node
	// whose children are gone. Sync relies on that (S1).
	levels := make([]int, len(cands))
	lg, lctx := errgroup.WithContext(ctx)
	lg.SetLimit(g.par)
	for i, c := range cands {
		lg.Go(func() error {
			data, err := g.st.GetNode(lctx, c.h)
			switch {
			case errors.Is(err, konserve.ErrNodeMissing):
				levels[i] = -1 // gone already
				return nil
			case errors.Is(err, konserve.ErrCorrupt):
				levels[i] = topLevel
				return nil
			case err != nil:
				return fmt.Errorf("ops: gc: %w", err)
			}
			levels[i] = topLevel
			if _, level, err := header(data); err == nil {
				levels[i] = level
			} else if _, err := branch.DecodeCommit(data); err == nil {
				// A commit names its log tail, which is also above every
				// tree node: the commit goes first.
				levels[i] = topLevel + 1
			}
			return nil
		})
	}
	if err := lg.Wait(); err != nil {
		return err
	}
	order := make([]int, len(cands))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return levels[order[a]] > levels[order[b]] })
	sorted := make([]cand, 0, len(cands))
	var sortedLevels []int
	for _, i := range order {
		if levels[i] >= 0 {
			sorted = append(sorted, cands[i])
			sortedLevels = append(sortedLevels, levels[i])
		}
	}
	cands = sorted
	for len(cands) > 0 {
		n := 1
		for n < min(sweepBatch, len(cands)) && sortedLevels[n] == sortedLevels[0] {
			n++
		}
		batch := cands[:n]
		cands, sortedLevels = cands[n:], sortedLevels[n:]
		if err := g.markHeads(ctx); err != nil {
			return err
		}
		// Conditional (G6): a writer may have stored a node again since
		// the listing (freshening it) and be about to name it in a head;
		// then it is no longer older than the cutoff and stays. One call
		// per batch: the file backend rewrites each pack holding some of
		// the batch once.
		var hs []konserve.Hash
		var idx []int
		for i, c := range batch {
			if g.marked.has(c.h) {
				continue // reached by a head that moved since the listing
			}
			hs = append(hs, c.h)
			idx = append(idx, i)
		}
		deleted, err := g.st.DeleteNodesIfOlder(ctx, hs, before, g.par)
		if err != nil {
			return fmt.Errorf("ops: gc: %w", err)
		}
		for k, ok := range deleted {
			if ok {
				g.rep.Swept++
				g.rep.BytesFreed += batch[idx[k]].size
			} else {
				g.rep.Refreshed++
			}
		}
		g.progress(PhaseSweep, g.rep.Listed, g.rep.Swept)
	}
	return nil
}
