package pss

import "errors"

// ErrInvalidOptions is returned (wrapped) by New, Build and Open when Options
// fail Validate: no comparator, or a width out of range.
var ErrInvalidOptions = errors.New("pss: invalid options")

// ErrNoStore is returned (wrapped) by Open and Flush on a Set whose Options
// have no Store or no Codec: a purely in-memory set cannot be written or read
// back.
var ErrNoStore = errors.New("pss: no node store")

// ErrNotSorted is returned (wrapped) by Build when its input is not strictly
// increasing under the comparator (a duplicate counts as unsorted).
var ErrNotSorted = errors.New("pss: keys not strictly sorted")

// ErrCorrupt is returned (wrapped) when the tree breaks one of its invariants
// (T1-T6 in the package doc): by Check, and by any operation that loads a
// stored node which does not fit where its parent points (wrong level, wrong
// key count). It means stored data is damaged or was written under another
// ordering; retrying will not help.
var ErrCorrupt = errors.New("pss: corrupt tree")

// ErrNotFound is returned (wrapped) by MemStore.Load for an address it does
// not hold.
var ErrNotFound = errors.New("pss: node not found")
