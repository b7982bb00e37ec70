package ops

import "errors"

// Sentinel errors. Each error ops returns wraps at most one of them (besides
// the konserve or branch error that caused it), so callers use errors.Is.
var (
	// ErrInvalidOptions is returned for out-of-range options (a negative
	// Grace, KeepLast or Parallelism).
	ErrInvalidOptions = errors.New("ops: invalid options")

	// ErrDiverged is returned by Sync when the destination branch exists and
	// its head is not an ancestor of the source head (or ancestry cannot be
	// proved because the source's history was collected). SyncOptions.Force
	// overrides it.
	ErrDiverged = errors.New("ops: destination branch has diverged")

	// ErrSnapshotExpired is returned by Expired for a missing node met by a
	// database value whose commit is older than the GC grace: the value is
	// too old, reopen the database.
	ErrSnapshotExpired = errors.New("ops: database value too old, reopen")

	// ErrDamaged is returned by Expired for a missing node met by a database
	// value that is still the head or younger than the grace: GC may not
	// have deleted it, so the bucket is damaged. Run Verify.
	ErrDamaged = errors.New("ops: database damaged")

	// ErrUnknownNode is returned when a stored tree node's header cannot be
	// read or names a key codec ops does not know. GC aborts on it rather
	// than guess what the node reaches.
	ErrUnknownNode = errors.New("ops: unknown node")

	// ErrInvalidPurge is returned by Purge and ParsePurge for purge data
	// that cannot be applied: not a vector of purge forms, a form of the
	// wrong shape, an unknown attribute, an entity that cannot be resolved
	// or may not be purged. The message names the form; nothing was
	// written.
	ErrInvalidPurge = errors.New("ops: invalid purge")
)
