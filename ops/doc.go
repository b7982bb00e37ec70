// Package ops holds operations on stored databases: garbage collection (GC),
// sync between buckets (Sync), verification (Verify), diff and merge of
// branches (Diff, Merge) and purge for legal erasure (Purge).
//
// GC, Sync and Verify work on a konserve.Store and read the stored structure
// directly: branch heads and commits (package branch), the index trees (node
// bytes, whose header names their key codec and level) and log tail nodes.
// They open no database value and need no schema. Merge and Purge open
// database values (package reader) and commit like a writer.
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
//
//   - G2: before sweeping, every head is bumped through a compare-and-swap
//     (a new commit with the same roots, tail and counters and GCGen+1), so a
//     writer that prepared its commit on an older head loses its swap and
//     rebases onto what GC has marked. After the bump the new heads are
//     marked again (incrementally), and before each batch of deletions the
//     heads are re-read and anything new is marked.
//
//   - G3: only unmarked nodes whose ModTime is before start−Grace are
//     deleted, so nodes written by writers in flight are never swept. Grace
//     must cover the longest reader query, the longest commit and clock skew.
//
//   - G4: GC deletes only unmarked nodes, so a GC killed at any step leaves a
//     database that opens and answers as before; running it again finishes.
//
//   - G5: GC deletes parents before children (commits and tails first, then
//     tree nodes from the highest level down, waiting between levels), so
//     even an interrupted sweep never leaves a stored node whose subtree is
//     incomplete (which Sync's S1 relies on). This costs one GET per
//     deleted node, to read its level.
//
//   - G6: a writer may, while GC runs, store a node byte-identical to an
//     old unreachable one (a leaf returning to an earlier state, a
//     background merge rebuilding a leaf) and rely on the old object in its
//     next head. konserve freshens the ModTime of an object stored again
//     (as Git does), and GC deletes each candidate with
//     konserve.Store.DeleteNodesIfOlder (a batch at a time): the age check
//     and the delete are one step against that freshening (file: the
//     directory's flock, shared by writers and exclusive for GC, and for
//     nodes in packs the pack directory's, under which GC rewrites a pack
//     without its garbage; mem: the bucket's lock). So a node
//     stored again after GC listed it is kept (GCReport.Refreshed), and a
//     node GC deleted first is created again by the writer's put. Checking
//     the time once more before the delete, or re-reading the heads, would
//     not do: the writer's head swap can come after GC's last look.
//     On S3, GCS and Azure the age is read one round trip before the
//     delete, which leaves that round trip as a window (their conditional
//     deletes are not reachable through gocloud's portable API).
//
//   - G7: on a backend that writes through temporary objects (the file
//     backend's "."-prefixed temporary files), GC also removes those last
//     modified before start−Grace: only a crashed writer leaves them, and a
//     write in progress keeps its own younger than that
//     (GCReport.TempFiles).
//
// With G6, a writer's commit is safe beside GC whatever it relies on:
// nodes it stored or freshened are younger than any cutoff, and the rest
// is what its parent head names, which GC marks. That is why a writer
// whose swap loses to a bump (a commit with the same roots, tail and
// counters and a higher GCGen, whose only parent is the writer's parent)
// simply points the same commit at the bumped head and swaps again,
// without redoing its work (package writer). Grace must still exceed the
// longest commit, background merges included: a node older than the
// cutoff when GC looks may go.
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
// # Purge
//
// Purge implements Datahike's excision forms. [:db/purge e a v] removes
// every assertion and retraction of the fact; [:db.purge/attribute e a]
// every datom of a on e; [:db.purge/entity e] every datom of e, every ref
// datom pointing at e (as Datahike's code does, although its docs speak of
// e's own datoms only) and, recursively, e's component entities;
// [:db.history.purge/before inst] every datom that is no longer current and
// whose transaction's instant is before inst (a retracted assertion made
// before inst goes even if its retraction came later; the retraction then
// stays, as in Datahike). Datoms leave all nine trees: the current indices,
// their history twins and the log, including the log entries of
// :db/noHistory attributes, which history never held.
//
//   - P1: a purge is one commit on one branch: Purge reads the head, merges
//     the log tail into the trees (so no tail repeats the datoms), deletes
//     the datoms (reader.DB.Excise), adds a purge transaction and swaps the
//     head by compare-and-swap, starting over if a writer moved it. A writer
//     that loses its swap to Purge rebases onto the purged value, so no
//     transaction is lost.
//   - P2: the purge transaction records :accrete.purge/op (each operation
//     with entity ids and attribute idents, never values or lookup refs),
//     :accrete.purge/count, :accrete.purge/by and :db/txInstant. The three
//     attributes are installed by a transaction of their own in the same
//     commit the first time a database is purged.
//   - P3: the bytes stay in the bucket until GC deletes the nodes of the
//     older commits that hold them, which it does once those commits are
//     not retained and their nodes are older than the grace. A writer's
//     background merge of the log tail that was in flight during the purge
//     may still write nodes built from the pre-purge value; no commit will
//     name them (the writer's AdoptMerge refuses a value whose trees
//     changed), so they are orphans that a GC run once they are older than
//     the grace deletes. Other branches
//     and copies made by Sync keep the datoms until they are purged too; a
//     Sync of the purged branch to a copy moves the copy's head but cannot
//     delete what the copy already holds (run GC there as well).
//
// # What it is not
//
// ops does not schedule itself, does not lock out writers (GC is safe beside
// them, see G6) and does not retry failed requests: every
// operation is idempotent, so the caller reruns it.
//
// # Concurrency and lifetimes
//
// Each function may be called concurrently with others and with writers and
// readers in any process. Reports are plain values owned by the caller.
// Progress callbacks are called from the calling goroutine, never
// concurrently.
package ops
