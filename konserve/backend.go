package konserve

import (
	"context"
	"time"
)

// Version is an opaque token naming one state of a mutable key (a head). It is
// returned by ReadVersioned and Swap and handed back to Swap as the expected
// state. The empty Version means "the key does not exist".
type Version string

// ObjectInfo describes one stored object, as listed by Backend.List.
type ObjectInfo struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// Backend is what a storage driver implements. Store adds hashing, integrity
// checks, caching and counters on top; users normally never call a Backend.
//
// Keys are slash-separated relative paths ("nodes/ab/abcd…", "branches/main/HEAD").
// Every method MUST be safe for concurrent use by many goroutines, and the two
// write methods MUST be safe against concurrent writers in other processes.
type Backend interface {
	// Get returns the bytes stored under key. It returns an error wrapping
	// ErrNotFound when the key does not exist.
	Get(ctx context.Context, key string) ([]byte, error)

	// PutImmutable stores data under key, create-only. If key already exists
	// it returns nil without changing the bytes, since immutable keys are
	// content addressed and the bytes are the same, but it MUST refresh the
	// object's modification time: garbage collection deletes only
	// unreachable objects older than a grace period, and a node written
	// again is about to become reachable again. If the backend is a
	// ConditionalDeleter, a PutImmutable that returns nil has either
	// freshened the object before any DeleteIfOlder looked at its time, or
	// created it again after one deleted it. When PutImmutable returns nil
	// the object MUST be durable (on the file backend: the file and its directory
	// entry fsynced) and visible to every later Get from any process.
	PutImmutable(ctx context.Context, key string, data []byte) error

	// ReadVersioned returns the bytes under a mutable key and a Version
	// naming that state. It returns an error wrapping ErrNotFound when the key
	// does not exist.
	ReadVersioned(ctx context.Context, key string) ([]byte, Version, error)

	// Swap replaces the bytes under key only if its current state is old (the
	// empty Version: only if the key does not exist), atomically with respect
	// to every other Swap from any process. On success it returns the new
	// Version. If the precondition failed it returns an error wrapping
	// ErrConflict. Any other error leaves the outcome unknown: the swap may or
	// may not have happened (Store resolves that by re-reading the key).
	Swap(ctx context.Context, key string, old Version, data []byte) (Version, error)

	// Delete removes key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error

	// List calls fn for every object whose key starts with prefix, in no
	// particular order, stopping at the first error fn returns.
	List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error

	// Close releases the backend's resources.
	Close() error
}

// ConditionalReader is an optional Backend capability, found by type
// assertion: backends that can answer "unchanged" without sending the bytes
// implement it (S3: GET with If-None-Match on the ETag, where 304 costs no
// transfer). Store.ReadHeadIfChanged uses it for watchers' polls; without
// it the Store reads the key in full and compares versions.
type ConditionalReader interface {
	// ReadVersionedIfChanged reads the mutable key unless its current
	// Version is v. If it is v, it returns changed=false, nil data and
	// nv=v. Otherwise it returns the bytes, their Version and changed=true.
	// A missing key gives an error wrapping ErrNotFound (whatever v is).
	// Like ReadVersioned, it MUST never return bytes and a Version that
	// belong to different states of the key.
	ReadVersionedIfChanged(ctx context.Context, key string, v Version) (data []byte, nv Version, changed bool, err error)
}

// ConditionalDeleter is an optional Backend capability, found by type
// assertion, that makes garbage collection exact. GC lists objects, marks
// what the heads reach and deletes unmarked objects older than its grace;
// a writer may meanwhile store a node whose bytes equal an old unreachable
// object's (content addressing: a tree returning to an earlier state) and
// rely on the object, which PutImmutable freshens. A plain Delete after
// the listing would remove it anyway. DeleteIfOlder looks at the time and
// deletes as one step against PutImmutable, so a freshened object is kept.
// All konserve backends implement it (file: a per-directory flock; mem: the
// bucket's mutex; S3, GCS and Azure: a metadata read just before the delete,
// which leaves the round trip between the two as a window).
type ConditionalDeleter interface {
	// DeleteIfOlder removes key only if it exists and its modification
	// time is before before, and reports whether it did. A missing key is
	// (false, nil).
	DeleteIfOlder(ctx context.Context, key string, before time.Time) (bool, error)
}

// BatchConditionalDeleter is an optional Backend capability, found by type
// assertion: DeleteIfOlder for many keys at once, for backends where that
// is much cheaper than one key at a time (the file backend rewrites each
// pack holding some of the keys once, rather than once per key).
type BatchConditionalDeleter interface {
	// DeleteManyIfOlder is DeleteIfOlder for each of keys, with at most
	// limit deletions in flight, and reports per key whether it deleted
	// it. An error leaves some of the keys deleted and others not.
	DeleteManyIfOlder(ctx context.Context, keys []string, before time.Time, limit int) ([]bool, error)
}

// TempSweeper is an optional Backend capability, found by type assertion:
// backends that write objects through temporary objects of their own (the
// file backend's "."-prefixed temporary files, F1) can remove those a
// crashed writer left behind. Garbage collection calls it with its cutoff.
type TempSweeper interface {
	// SweepTemp removes the backend's temporary objects last modified
	// before before (only counting them if dryRun) and reports how many
	// and their bytes. A temporary object younger than that may belong to
	// a write in progress and is kept.
	SweepTemp(ctx context.Context, before time.Time, dryRun bool) (files int64, bytes int64, err error)
}
