// Package branch keeps the branch heads of a database and the commits they
// point at.
//
// A commit is an immutable, content-addressed record (stored through
// konserve like any node) that names everything a database value needs:
// the roots of its index trees, the address of its log tail, its schema,
// basis transaction, id counters and its parent commit(s). A branch is one
// small mutable key, branches/<name>/HEAD, holding the address of its
// commit and, inlined, the commit itself, so that opening a database costs
// one GET.
//
// # Contract
//
//   - H1: a head is replaced only through konserve's compare-and-swap
//     (Store.SwapHead). Of two swaps from the same head exactly one wins.
//   - H2: a head names a commit only after the commit and every node it
//     reaches are durable. This package writes the commit before the head;
//     the caller MUST have written the nodes before calling Commit.
//   - H3: two heads never have the same bytes: each carries a sequence
//     number one above its parent's and its parent's address, so a stale
//     swap can never succeed against a recycled version (S3 ETags are the
//     MD5 of the bytes).
//   - H4: a reader observes either the old or the new head, never a mix:
//     the head is one object written atomically.
//
// What it is not: this package gives the commit record no meaning beyond
// its fields; the writer decides what roots and tails mean, and the reader
// opens them.
//
// Concurrency: all functions are safe for concurrent use; Commit values are
// immutable once built.
package branch
