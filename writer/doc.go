// Package writer is the transactor: it turns transactions into datoms,
// makes them durable in the bucket and moves the branch head.
//
// # Write path: a log tail in front of the index trees
//
// Rewriting the path from leaf to root in each of the nine index trees on
// every commit is what makes small transactions slow in Datahike (each
// commit writes depth+1 nodes per tree). accrete instead keeps recent
// novelty in a log tail:
//
//   - Every commit writes exactly three objects: one tail node (the
//     transactions since the last merge, cumulative, content-addressed),
//     one commit record (roots, tail address, schema, counters, parent) and
//     the branch head (which inlines the commit). The index trees are not
//     touched, yet the head moves on every commit, so every reader sees the
//     transaction at once.
//   - When a commit leaves the tail past Options.TailBytes (default 32
//     KiB encoded; a commit of a group raises it by one TailBytes per 8
//     transactions, up to 4 × TailBytes, since each merge rewrites about
//     as many leaves whatever its size), the writer merges that committed tail into the trees
//     in the background, in one sorted batch (one path copy per touched
//     leaf, amortized over all the commits of the tail), and flushes the
//     new tree nodes. Commits go on meanwhile, naming the old roots and a
//     growing tail. The first commit after the merge is done names the
//     new roots and a tail trimmed to the transactions committed since the
//     merge's snapshot (reader.AdoptMerge replays them onto the merged
//     trees, as a reader opening that commit does). A merge that no longer
//     applies (another writer moved the head, or a GC bumped gc_gen since
//     its source) is dropped; its nodes are orphans for garbage
//     collection. If the tail reaches 4 × that threshold while a merge is in
//     flight, before or after the group's transactions are applied, the
//     commit waits for it (and applies them again on the merged trees); with
//     none in flight (one failed) it merges in the commit path, so the tail
//     stays bounded. Before the commit also waited when only its own group
//     took the tail past the bound, a group of 200 transactions merged in
//     its commit path every few merges and left the merge in flight stale:
//     256 submitters committed 8,700 transactions a second, now 11,900–14,800
//     (BenchmarkGroupCommit). With
//     Options.MergeInCommit the commit that finds the tail due merges it
//     itself, as accrete did before.
//   - Beside a garbage collector: a merge may rebuild a leaf identical to
//     an old unreachable one, which konserve then freshens rather than
//     writes. GC deletes only with konserve's conditional delete (ops, G6),
//     so such a node is kept once freshened, or written again if GC got
//     there first; the nodes a commit names are durable as long as the
//     merge and the commit finish within GC's grace.
//   - Readers rebuild the tail's small in-memory overlay when they open a
//     commit and merge it into every index scan (see package reader), so a
//     cold reader pays one GET for the head, one for the tail and one per
//     tree level it descends (no more for an entity: see package reader
//     on fences).
//
// A small transaction therefore costs three PUTs and, on average, about
// half the tail threshold in bytes, plus its share of the next merge; the
// merge's CPU and fsyncs are off the commit path, so a group commit does
// not stall behind one.
//
// # Commit protocol
//
// Writes are ordered so that a crash at any point leaves the head naming
// the old or the new commit, and every node the head names present:
// tree nodes (written by a background merge, durable before any commit
// names them), then the tail node and the commit record (in parallel, all
// durable), then the head by compare-and-swap (package branch; on the file
// backend a locked compare and one in-place write of the head file's next
// slot with an fdatasync, no rename or directory sync, see konserve's
// file_head.go: the median small commit went from 1.63–1.70 ms to
// 1.32–1.36 ms here, BenchmarkCommitLatency). On the file backend the
// tail node and the commit record are staged in that same slot (the record
// as a range of the head, which inlines it; the tail as the previous tail
// plus its new bytes) and written as files in the background, so a commit
// is one pwrite and one fdatasync: konserve's file_stage.go. Alternated
// with the previous protocol, 2,000 commits each, on a machine whose load
// varied: medians of 1,662 and 2,330 µs before, 1,188 and 675 µs after
// (CPU per commit 1,811 and 2,330 µs before, 1,534 and 913 µs after). A
// swap that loses to another writer re-reads the head, re-applies the
// transaction data (not the datoms) to the new database value, so that
// :db/cas and transaction functions see the truth, and tries again, up to
// Options.MaxRetries times. A swap lost to a garbage collector's gc_gen
// bump (same roots, tail and counters, our parent as its only parent) is
// not a rebase: the same commit, pointed at the bumped head, is swapped
// again (nothing it names can have been swept, see ops G6), so a GC that
// runs often costs commits a round trip, not their merge. Nodes uploaded by a lost attempt are orphans
// that garbage collection removes; nothing is ever deleted on a failure.
//
// A commit whose storage calls fail while the head stays where it was (a
// transient error) is retried on the same base. A swap lost to another
// writer rebases with reader.FastForward: when the other writer only
// appended to the same log tail, just its new transactions are replayed.
//
// # Bulk import
//
// Import takes the datoms of new entities (tempids as negative numbers) as
// one transaction and bypasses the log tail: reader.BulkAssert checks them
// against the schema (declared, non-schema attributes; value types; one
// value per cardinality-one attribute; unique values unused), sorts each
// index's datoms once (AEVT by a stable distribution of the EAVT order),
// builds each tree bottom-up when the batch outweighs it (a new database)
// or merges the batch in one pss update otherwise, with nodes
// reader.DefaultBulkWidth wide (fewer, larger objects), and stores every
// new node with konserve's PutNodesBulk: on the file backend, packs of at
// most 8 MiB, each one file fsynced and linked into place, instead of two
// fsyncs and a file per node.
// The head moves last, as for any commit, so a crash leaves the old head
// and orphans. accrete import uses it for batches of plain entity maps.
//
// # Group commit
//
// Transactions submitted concurrently are committed together: the
// committer goroutine takes every queued transaction, applies them one
// after another to the in-memory database value (each gets its own t,
// datoms and report; a failing one fails alone), and makes them durable
// with one tail write and one head swap.
//
// Commits are pipelined: while one batch's tail, commit record and head
// are being written, the next batch is collected and applied in memory on
// top of the value being written. If that commit lands cleanly, the next
// one uses the work as is; if not (a conflict, an error, a background
// merge adopted in between), the batch is applied again on the right
// value, so no transaction ever sees a state that was not committed. The
// CPU of one batch thus overlaps the storage round trips of the previous.
// Before a group is closed, the committer yields to the requesters the last
// commit released (if there were several) while they keep submitting, and
// tops the group up with them: a pool of clients that each keep one
// transaction in flight then commits as one group per storage round trip,
// not as two halves taking turns.
// A batch whose transactions all fail re-reads the head: if another writer
// moved it, they are applied again there (a :db/cas may have failed only
// against an old value).
//
// What bounded it on the file backend was creating files. A background
// merge stores about 250 nodes; as files of their own, each file creation
// cost 75–950 µs of system CPU on this project's machines (against 5 µs
// to append 4 KiB to an open file), and those creations were 38% of the
// writer process's CPU with 64 submitters. konserve now writes a bulk
// store's nodes as one pack file (konserve's file_pack.go): one creation
// per merge. Alternated in one run, 20,000 transactions each
// (BenchmarkGroupCommit/file): with 64 submitters 7,504 transactions a
// second before and 13,996 after (CPU per transaction 191 and 100 µs; in
// an earlier pair 7,587 and 15,740), with 256 submitters 10,100 and
// 19,316. System calls fell from 49% of the process's CPU to 13%; the
// merge itself (sorting and applying the tail, encoding and hashing the
// nodes) is now the largest share, about 30%. The commit's own
// objects, its tail node and commit record, are staged in the head file's
// slot and written as files in the background (two creations per commit
// of a group).
//
// Concurrency: a Writer is safe for concurrent use. Database values it
// returns are immutable.
package writer
