package ops

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/node"
)

// VerifyOptions configure Verify. The zero value verifies every branch.
type VerifyOptions struct {
	// Branches to verify (nil: all).
	Branches []string
	// Parallelism bounds concurrent bucket requests (0: DefaultParallelism).
	Parallelism int
}

// VerifyReport lists what Verify found. Missing and Corrupt are sorted.
type VerifyReport struct {
	Branches int   // heads verified
	Commits  int64 // commits read
	Nodes    int64 // nodes read and re-hashed, commits included
	Bytes    int64 // their bytes
	// HistoryEnds counts parent commits that do not exist. GC removes the
	// commits it does not retain, so history legitimately ends there; they
	// are not counted as Missing.
	HistoryEnds int64
	Missing     []konserve.Hash // named by a reachable node or commit, not stored
	Corrupt     []konserve.Hash // stored bytes that do not hash to their address, or do not decode
}

// OK reports whether Verify found nothing missing or corrupt.
func (r VerifyReport) OK() bool { return len(r.Missing) == 0 && len(r.Corrupt) == 0 }

// Verify re-reads every node reachable from the heads of st: each head's
// commit and every commit reachable through parents, and every tree node
// and tail those commits name. Reading re-hashes each node; tree nodes and
// commits are also decoded. Damage is reported in the report, not as an
// error; the error is for failures that stop the check (a bucket that
// cannot be listed, a cancelled ctx).
func Verify(ctx context.Context, st *konserve.Store, opts VerifyOptions) (VerifyReport, error) {
	if opts.Parallelism < 0 {
		return VerifyReport{}, fmt.Errorf("%w: negative Parallelism", ErrInvalidOptions)
	}
	par := orDefault(opts.Parallelism, DefaultParallelism)
	var rep VerifyReport
	names := opts.Branches
	if names == nil {
		var err error
		if names, err = branch.List(ctx, st); err != nil {
			return rep, fmt.Errorf("ops: verify: %w", err)
		}
	}
	var mu sync.Mutex
	damaged := func(h konserve.Hash, err error) error {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case errors.Is(err, konserve.ErrNodeMissing):
			rep.Missing = append(rep.Missing, h)
		case errors.Is(err, konserve.ErrCorrupt), errors.Is(err, ErrUnknownNode), errors.Is(err, branch.ErrFormat),
			errors.Is(err, node.ErrCorrupt), errors.Is(err, node.ErrCodec), errors.Is(err, node.ErrVersion):
			rep.Corrupt = append(rep.Corrupt, h)
		default:
			return err
		}
		return nil
	}
	seen := newHashSet()
	for _, name := range names {
		h, err := branch.Read(ctx, st, name)
		if err != nil {
			return rep, fmt.Errorf("ops: verify: %w", err)
		}
		rep.Branches++
		var items []item
		queue := []konserve.Hash{h.Addr}
		for len(queue) > 0 {
			addr := queue[0]
			queue = queue[1:]
			if addr.IsZero() || !seen.add(addr) {
				continue
			}
			c, err := branch.LoadCommit(ctx, st, addr)
			if errors.Is(err, konserve.ErrNodeMissing) && addr != h.Addr {
				rep.HistoryEnds++
				continue
			}
			if err != nil {
				if err := damaged(addr, err); err != nil {
					return rep, fmt.Errorf("ops: verify: %w", err)
				}
				continue
			}
			rep.Commits++
			rep.Nodes++
			items = append(items, commitItems(c)...)
			queue = append(queue, c.Parents...)
		}
		ws, err := walk(ctx, st, par, seen, items, true, true, nil, func(it item, err error) error {
			return damaged(it.h, err)
		})
		rep.Nodes += ws.fetched
		rep.Bytes += ws.bytes
		if err != nil {
			return rep, fmt.Errorf("ops: verify branch %q: %w", name, err)
		}
	}
	sortHashes(rep.Missing)
	sortHashes(rep.Corrupt)
	return rep, nil
}

func sortHashes(hs []konserve.Hash) {
	sort.Slice(hs, func(i, j int) bool { return string(hs[i][:]) < string(hs[j][:]) })
}
