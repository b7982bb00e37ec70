package ops

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/konserve"
)

// Expired classifies an error met by a reader of the database value opened
// from head h (as reader.DB.Head returns it). If err does not wrap
// konserve.ErrNodeMissing it is returned unchanged. Otherwise Expired
// re-reads the branch head: if h is no longer the head and its commit's
// WallTime is older than grace (0: DefaultGrace) at now, GC may have
// collected the node and the result wraps ErrSnapshotExpired ("database
// value too old, reopen"); else no GC could have deleted it and the result
// wraps ErrDamaged. Both also wrap err.
func Expired(ctx context.Context, st *konserve.Store, h *branch.Head, err error, grace time.Duration, now time.Time) error {
	if err == nil || !errors.Is(err, konserve.ErrNodeMissing) || h == nil || h.Commit == nil {
		return err
	}
	if grace == 0 {
		grace = DefaultGrace
	}
	isHead := false
	if h.Branch != "" { // a value opened from a commit (reader.FromCommit) names no branch
		cur, rerr := branch.Read(ctx, st, h.Branch)
		if rerr != nil && !errors.Is(rerr, branch.ErrNoBranch) {
			return fmt.Errorf("ops: classify missing node (re-read head: %v): %w", rerr, err)
		}
		isHead = rerr == nil && cur.Addr == h.Addr
	}
	old := time.UnixMilli(h.Commit.WallTime).Before(now.Add(-grace))
	if !isHead && old {
		return fmt.Errorf("%w (commit %s of %s): %w", ErrSnapshotExpired, h.Addr, time.UnixMilli(h.Commit.WallTime).UTC().Format(time.RFC3339), err)
	}
	return fmt.Errorf("%w: node missing under a current value (commit %s): %w", ErrDamaged, h.Addr, err)
}
