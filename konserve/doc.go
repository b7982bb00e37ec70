// Package konserve stores accrete's bytes in a blob bucket: immutable,
// content-addressed nodes and a few small mutable heads swapped by
// compare-and-swap.
//
// # Two kinds of keys
//
// Nodes live under nodes/<2 hex>/<64 hex>, named by the BLAKE3-256 of their
// bytes (Hash). They are written create-only (PutNode, PutNodes; writing an
// existing node is a no-op success), verified on every read (a mismatch is
// ErrCorrupt, naming the key; an absent node is ErrNodeMissing, distinct from
// a missing head), and decoded nodes are kept in a cache bounded in bytes.
//
// Heads are any other keys ("branches/main/HEAD"). They are read with a
// Version (ReadHead, ReadHeadIfChanged) and replaced only by SwapHead, a
// compare-and-swap: of two swaps from the same version exactly one wins and
// the other gets ErrConflict. A head's bytes must never repeat over its
// history (accrete's heads carry a rising sequence number and their parent):
// versions on S3 are content MD5s and on the file backend content hashes, and
// SwapHead resolves ambiguous answers by comparing bytes.
//
// # Durability and ordering
//
// When PutNode or PutNodes returns nil the nodes are durable and visible to
// every process; a writer therefore swaps a head only after the puts of every
// node it names returned. A crash at any point leaves each head old or new.
//
// PutNodesBulk is the same promise for large batches at a lower price: on
// the file backend it writes the nodes into one pack file (several for
// more than 8 MiB), fsyncs it and links it into place, so a background
// merge's ~250 nodes cost one file creation instead of 250 (file_pack.go,
// F5). A pack is complete or absent: a crash leaves each node absent or
// whole, so HasNode (and a sync that skips nodes already present) can
// trust presence. Node keys do not change: Get, List and the deletes find
// a node in its own file or in a pack, and garbage collection removes
// packed nodes by rewriting their pack without them (DeleteNodesIfOlder,
// one rewrite per pack per batch). Other backends store each node as its
// own object.
//
// # Backends
//
// Open picks a Backend by URL scheme: file:// is this package's own
// implementation (nodes: fsynced temp file, link, fsynced directory, or a
// pack of many; heads:
// flock'd compare, then the new bytes written in place into the next of a
// ring of checksummed slots and fdatasynced; see file.go for its invariants
// F1–F4 and file_head.go for the slots). PutNodesSwapHead on the file
// backend stages the nodes in the head's slot, so that one pwrite and one
// fdatasync make a commit durable, and writes them as files afterwards, in
// the background (file_stage.go; GetNode finds a node in the ring until its
// file exists, and Settle waits for the files); mem://, s3://, gs:// and
// azblob:// go through gocloud.dev. New wraps any Backend, such as the
// fault-injecting one in internal/blobtest.
//
// # What it is not
//
// konserve knows nothing of node formats, trees, commits or branches: it
// stores bytes. It does not collect garbage (DeleteNode is the primitive a
// collector uses), does not retry (the AWS SDK retries inside the S3
// backend), and its cache never holds heads, so every ReadHead is a request.
//
// # Concurrency and lifetimes
//
// A Store is safe for concurrent use by many goroutines; the file backend is
// also safe against other processes on the same host. Slices returned by
// GetNode and ReadHead belong to the caller. Values returned by LoadNode are
// shared with the cache and every other caller and must be treated as
// immutable. Stats are counted atomically; a snapshot is not a consistent
// cut across counters.
package konserve
