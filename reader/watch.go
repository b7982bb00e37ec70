package reader

import (
	"context"
	"fmt"
	"time"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/konserve"
)

// WatchOptions configure Watch.
type WatchOptions struct {
	// Branch to watch; "" means "main".
	Branch string
	// Interval between polls of the head (0: 200ms). A poll of an unchanged
	// head is one conditional read (on S3, a GET answered 304 with no body).
	Interval time.Duration
	// From is the value to start after: its transactions are not reported.
	// nil starts at the branch's current head.
	From *DB
	// Width is passed to the values Watch opens (see Options.Width).
	Width int
}

// Watch follows a branch as its head moves, without a server: it polls the
// head, and for every new head opens the new value and calls fn with it and
// the transactions committed since the previous one, in order, none
// skipped (they come from the log, so several commits between two polls
// are all reported). It returns when ctx is done (with ctx's error) or fn
// returns an error.
func Watch(ctx context.Context, st *konserve.Store, opts *WatchOptions, fn func(db *DB, txs []TxInfo) error) error {
	if opts == nil {
		opts = &WatchOptions{}
	}
	name := opts.Branch
	if name == "" {
		name = branch.Default
	}
	interval := opts.Interval
	if interval <= 0 {
		interval = 200 * time.Millisecond
	}
	prev := opts.From
	var version konserve.Version
	if prev == nil {
		h, err := branch.Read(ctx, st, name)
		if err != nil {
			return fmt.Errorf("reader: watch: %w", err)
		}
		if prev, err = FromHead(ctx, st, h, opts.Width); err != nil {
			return err
		}
		version = h.Version
	} else if prev.head != nil {
		version = prev.head.Version
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		h, err := branch.ReadIfChanged(ctx, st, name, version)
		if err != nil {
			return fmt.Errorf("reader: watch: %w", err)
		}
		if h != nil {
			version = h.Version
			if prev == nil || h.Commit.BasisT > prev.basisT || (prev.head != nil && h.Addr != prev.head.Addr) {
				db, err := FromHead(ctx, st, h, opts.Width)
				if err != nil {
					return err
				}
				var txs []TxInfo
				if db.basisT > prev.basisT {
					err = db.TxRange(ctx, prev.basisT+1, db.basisT+1, func(t TxInfo) bool {
						txs = append(txs, t)
						return true
					})
					if err != nil {
						return fmt.Errorf("reader: watch: read log: %w", err)
					}
				}
				if err := fn(db, txs); err != nil {
					return err
				}
				prev = db
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
	}
}
