// Package pss is a persistent sorted set: an immutable B+tree of keys of any
// type, ordered by a comparator, whose versions share structure and whose
// nodes can live in a content-addressed store and load lazily.
//
// It is in the spirit of Datahike's persistent-sorted-set and tidwall/btree's
// copy-on-write mode. It is not a map (keys carry their own payload; Get
// returns the stored key equal to a probe, which serves prefix comparators),
// not a storage layer (it loads and stores nodes through NodeStore, which it
// defines so that it never imports konserve), and not a cache (the store's
// cache keeps nodes warm; a Set keeps only its root and its unflushed nodes).
//
// # Shape
//
// Leaves hold keys; a branch holds, per child, the child's LARGEST key, its
// key count and either the child in memory or its node.Address (or both). The
// invariants, checked by Set.Check and named so tests and comments can cite
// them:
//
//   - T1 order: keys strictly increase within a node and across the tree.
//   - T2 separators: a branch's key i equals the largest key under child i.
//   - T3 size: every node holds at most Width entries; every non-root node
//     at least Width/2; a root branch at least 2; an empty set has no root.
//   - T4 levels: a child's level is its parent's minus one; leaves are 0.
//   - T5 counts: a branch's count i equals the keys under child i.
//   - T6 reachability: every child is in memory or has an address.
//   - T7 fences: a fence a branch records for a child (Options.Fence) is
//     the sort key of the first key under that child.
//
// # Versions and memory
//
// Every Set is a value that never changes. Update copies the nodes on the
// paths it touches (one per level per touched leaf) and shares the rest with
// the old version. Unflushed nodes live in memory; Flush writes them
// bottom-up and returns a Set that holds only its root in memory, so a
// long-lived writer does not accumulate the tree. Stored nodes are loaded
// through NodeStore.Load on every touch and are never kept by the Set: the
// store decides what stays cached. Open loads one node, the root.
//
// With Options.Fence, leaves are cut between groups (keys of one hi) where
// sizes allow, and updates keep them so: a key that continues the group a
// child ends with goes into that child rather than the next, and a leaf
// that overflows into two cut inside a group is cut again together with
// a neighbour. The fences of T7 let readers skip loads: SeekRunFence
// and LeafSeeker.NextFence tell a point lookup whether the next leaf starts
// inside its range, and IterOptions.Past ends a forward scan (and its
// prefetch) before a stored leaf that starts past the caller's range.
//
// # Concurrency and lifetimes
//
// A Set may be used by any number of goroutines at once, and all versions
// stay valid while newer ones are made. An Iter, and a LeafSeeker (point
// lookups in ascending order that search the branch of the last leaf
// rather than descend from the root), belong to one goroutine; a Finger
// may be shared.
// Keys handed to Update and Build are copied into the new version as values:
// if K holds references (a []byte, a pointer), what they point to must not
// change afterwards. Keys returned by Get, First, Last, Iter.Key and Slice are shared
// with the Set and any NodeStore cache: do not modify what they point to.
// NodeStore implementations must be safe for concurrent use.
//
// # Errors
//
// Operations that may load nodes take a context and return errors wrapped
// with the address involved; ErrCorrupt marks a tree that breaks T1-T7.
package pss
