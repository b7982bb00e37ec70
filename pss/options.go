package pss

import (
	"fmt"

	"github.com/accretedb/accrete/node"
)

// Width limits.
const (
	// DefaultWidth is the node width used when Options.Width is 0: with ~50-byte
	// datom keys a leaf encodes to about 4-8 KiB, a good object size for
	// buckets, and a billion keys fit in five levels.
	DefaultWidth = 128
	// MinWidth is the smallest accepted width; tests use it to force depth.
	MinWidth = 4
	// MaxWidth is the largest accepted width (node.MaxKeys).
	MaxWidth = node.MaxKeys
	// DefaultFlushParallelism bounds concurrent NodeStore.Store calls in Flush.
	DefaultFlushParallelism = 16
)

// Options configure a Set. They are fixed when the Set is made (New, Build,
// Open) and shared by every Set derived from it.
type Options[K any] struct {
	// Compare orders keys: negative if a < b, zero if equal, positive if a > b.
	// Required. It must be a strict weak order consistent with Codec.ID().
	Compare func(a, b K) int
	// Width is the maximum number of keys in a leaf and of children in a
	// branch. Non-root nodes hold at least Width/2. 0 means DefaultWidth.
	Width int
	// Codec encodes keys into nodes. Required for Flush and Open.
	Codec node.KeyCodec[K]
	// Store loads and stores nodes. nil makes a purely in-memory set.
	Store NodeStore[K]
	// FlushParallelism bounds concurrent Store calls during Flush. 0 means
	// DefaultFlushParallelism.
	FlushParallelism int
	// Fence, if set, is a sort key of the set's keys (see SortKey: it
	// never decreases along Compare) whose hi groups keys that are read
	// together, such as one entity's datoms. It does two things. Leaves
	// are cut, where the node sizes allow, between keys of different hi,
	// so that a group seldom straddles two leaves. And a stored branch
	// records the sort key of each child's first key (node.Fence), so
	// that a reader at the end of a leaf learns whether the next leaf
	// starts inside its range without loading it (SeekRunFence). A
	// group that ends a leaf then costs no extra fetch. nil: even cuts,
	// no fences, the nodes of format 1.
	Fence SortKey[K]
}

// Validate reports whether the options can make a Set.
func (o Options[K]) Validate() error {
	if o.Compare == nil {
		return fmt.Errorf("%w: Compare is nil", ErrInvalidOptions)
	}
	if o.Width != 0 && (o.Width < MinWidth || o.Width > MaxWidth) {
		return fmt.Errorf("%w: Width %d outside [%d,%d]", ErrInvalidOptions, o.Width, MinWidth, MaxWidth)
	}
	if o.FlushParallelism < 0 {
		return fmt.Errorf("%w: FlushParallelism %d is negative", ErrInvalidOptions, o.FlushParallelism)
	}
	return nil
}

// config is the validated, defaulted form of Options shared by all versions
// of a set.
type config[K any] struct {
	cmp      func(a, b K) int
	width    int
	min      int // Width/2: the least a non-root node holds (T3)
	fill     int // keys per node that Build aims for
	codec    node.KeyCodec[K]
	store    NodeStore[K]
	batch    BatchLoader[K] // store, if it implements BatchLoader
	parallel int
	fence    SortKey[K]
}

func newConfig[K any](o Options[K]) (*config[K], error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	c := &config[K]{cmp: o.Compare, width: o.Width, codec: o.Codec, store: o.Store, parallel: o.FlushParallelism, fence: o.Fence}
	if c.width == 0 {
		c.width = DefaultWidth
	}
	if c.parallel == 0 {
		c.parallel = DefaultFlushParallelism
	}
	c.min = c.width / 2
	// Build leaves a quarter of each node free so that the first random
	// inserts after a bulk load do not split every node they touch.
	c.fill = c.width - c.width/4
	if b, ok := o.Store.(BatchLoader[K]); ok {
		c.batch = b
	}
	return c, nil
}
