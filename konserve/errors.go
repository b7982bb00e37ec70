package konserve

import "errors"

// Sentinel errors. Every error konserve returns wraps at most one of them
// together with the operation and the key, so callers test with errors.Is
// and never read messages.
var (
	// ErrNotFound is wrapped by Backend methods when a key does not exist,
	// and by Store.ReadHead when a head does not exist.
	ErrNotFound = errors.New("konserve: not found")

	// ErrNodeMissing is returned by Store when an immutable node that some
	// caller named by address is not in the bucket: the database value that
	// named it is older than garbage collection allows, or the bucket is
	// damaged. It is distinct from a missing head.
	ErrNodeMissing = errors.New("konserve: node missing")

	// ErrCorrupt is returned when the bytes stored under a node's address do
	// not hash to that address.
	ErrCorrupt = errors.New("konserve: corrupt node")

	// ErrConflict is returned by a head swap whose expected version was no
	// longer current: another writer swapped first.
	ErrConflict = errors.New("konserve: head conflict")

	// ErrUnsupportedURL is returned by Open for a URL whose scheme or form
	// konserve cannot open.
	ErrUnsupportedURL = errors.New("konserve: unsupported url")
)
