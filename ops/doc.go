// Package ops holds operations on stored databases: garbage collection (GC),
// sync between buckets (Sync) and verification (Verify).
//
// Every operation works on a konserve.Store and reads the stored structure
// directly: branch heads and commits (package branch), the index trees (node
// bytes, whose header names their key codec and level) and log tail nodes.
// It opens no database value and needs no schema.
//
// # What a commit reaches
//
// A commit names nine index trees (Roots), one log tail node (Tail) and its
// parent commits (Parents). A tree node names its children; a leaf and a
// tail node name nothing. Commits are stored as nodes too. The operations
// walk this graph level by level, fetching each level in parallel
// (Parallelism requests at a time) and skipping any subtree already visited:
// an address names immutable bytes, so a subtree seen once is the same
// everywhere.
//
// # Garbage collection (GC)
//
//   - G1: mark from every branch head and every retained commit (KeepLast per
//     branch, KeepSince, and every commit that was a head within Grace: the
//     parent chain is followed while the child's WallTime is after now−Grace).
//     Commits not retained are swept; the history of a retained commit then
//     ends at a parent that no longer exists (Walk and Verify stop there).
//   - G2: before sweeping, every head is bumped through a compare-and-swap
//     (a new commit with the same roots, tail and counters and GCGen+1), so a
//     writer that prepared its commit on an older head loses its swap and
//     rebases onto what GC has marked. After the bump the new heads are
//     marked again (incrementally), and before each batch of deletions the
//     heads are re-read and anything new is marked.
//   - G3: only unmarked nodes whose ModTime is before start−Grace are
//     deleted, so nodes written by writers in flight are never swept. Grace
//     must cover the longest reader query, the longest commit and clock skew.
//   - G4: GC deletes only unmarked nodes, so a GC killed at any step leaves a
//     database that opens and answers as before; running it again finishes.
//   - G5: GC deletes parents before children (commits and tails first, then
//     tree nodes from the highest level down, waiting between levels), so
//     even an interrupted sweep never leaves a stored node whose subtree is
//     incomplete (which Sync's S1 relies on). This costs one GET per
//     deleted node, to read its level.
//
// Known limit of G2/G3: a writer may, during the sweep, produce a node
// byte-identical to an old unreachable one (a leaf returning to an earlier
// state) and rely on the old object. konserve freshens the ModTime of an
// object that is stored again (as Git does), so such a node is kept if the
// freshening happened before GC listed it; GC also re-reads the heads
// before each delete batch. What remains is the window between GC's
// listing and its delete of that one object.
//
// A reader that meets a missing node should call Expired: it classifies the
// error as ErrSnapshotExpired (value older than the grace, reopen) or
// ErrDamaged (the value is current or recent, so the bucket is damaged).
//
// # Sync
//
// Sync copies branches to another store, sending only nodes the destination
// lacks: every commit reachable from the source head (all parents) that the
// destination lacks, oldest first, and for each its trees and tail. A walk
// stops at any node the destination already has: nodes are written bottom-up
// (children before parents) by writers and by Sync, so a present node's
// subtree is present (S1). The destination head moves last (S2): an
// interrupted sync leaves it on its old head, and a rerun resumes. A head
// that is not an ancestor of the source head is refused with ErrDiverged
// unless Force.
//
// # Verify
//
// Verify re-reads every node reachable from the heads (commits through all
// reachable parents), which re-hashes it (konserve checks BLAKE3 on every
// GetNode), decodes tree nodes and commits, and reports missing and corrupt
// addresses instead of stopping at the first.
//
// # What it is not
//
// ops does not schedule itself, does not lock out writers (GC is safe beside
// them, within the limit above) and does not retry failed requests: every
// operation is idempotent, so the caller reruns it.
//
// # Concurrency and lifetimes
//
// Each function may be called concurrently with others and with writers and
// readers in any process. Reports are plain values owned by the caller.
// Progress callbacks are called from the calling goroutine, never
// concurrently.
package ops
