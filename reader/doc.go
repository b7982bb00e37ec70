// Package reader opens database values from a bucket: immutable snapshots
// that any process with read access can query, with no server, no lock and
// no write permission.
//
// # Opening
//
// Open reads the branch head, which inlines the commit, then the log tail
// node the commit names: two GETs. Index nodes are fetched lazily, through
// the store's byte-bounded cache, as scans touch them; a cold lookup of one
// entity costs one GET per tree level on top, and no more: leaves are cut
// between entities where node sizes allow, and each stored branch records
// the sort key of its children's first datoms (pss.Options.Fence, a lower
// fence key), so a lookup whose entity ends at its leaf's end sees that
// the next leaf starts another entity without fetching it (without
// fences, about one lookup in twenty paid a GET for the next leaf). The
// same holds for an attribute of an entity, and for an attribute (and an
// attribute of an entity) on AEVT. A scan that spans several leaves (an
// attribute, a range of values through IndexRange or a query's range
// predicate) stops the same way at the last leaf of its range: neither
// the scan nor its prefetch loads a leaf whose fence is past the range's
// bound (pss.IterOptions.Past). Values opened from one
// konserve.Store share its cache; nodes never change, so the cache is never
// stale. The commit also carries the number of datoms of each attribute in
// the stored trees (branch.Stats), kept up to date by every merge, bulk
// import and excision: Count of one attribute on AEVT, a query planner's
// usual estimate, adds the tail's share to it and reads no node.
//
// # What a value holds
//
// Nine persistent B+trees (package pss) of datoms: the current EAVT, AEVT,
// AVET (indexed attributes) and VAET (refs) indices; their four history
// twins, holding every retracted assertion and its retraction, so that
// queries of "now" never wade through the past; and the log (TEAV). In
// front of the trees sits the log tail: the transactions committed since
// the trees were last merged (see package writer). A value rebuilds the
// tail into small in-memory sets when it opens and merges them into every
// scan (additions, plus deletions that hide retracted stored datoms).
//
// Views are values too: AsOf(t) shows what was true after transaction t
// (the current and history trees are scanned together; all operations on
// one fact are adjacent and in transaction order, so a fact's state at t is
// its last operation at or before t); Since(t) shows current datoms added
// after t; History shows every assertion and retraction. With applies a
// transaction to a value in memory only.
//
// # Concurrency and lifetimes
//
// A DB is immutable and safe for concurrent use by any number of
// goroutines; every method that derives a value returns a new DB sharing
// structure with the old. Datoms passed to callbacks are copies, but their
// V may share memory with the index (a []byte, a tuple): do not modify it.
// Persist, Committed and NewEmpty are the writer's tools and are not meant
// for readers.
//
// What it is not: a writer. A reader never writes to the bucket; package
// writer makes values durable.
package reader
