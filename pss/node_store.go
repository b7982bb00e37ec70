package pss

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/accretedb/accrete/node"
)

// Encoded is one node ready to be stored: its canonical bytes, their address,
// and the decoded node they encode (so a store can prime its cache without
// decoding again).
type Encoded[K any] struct {
	Address node.Address
	Data    []byte
	// Node is the decoded form of Data. It is shared with the Set that
	// flushed it: neither the store nor pss may modify it.
	Node *node.Node[K]
}

// NodeStore is where a Set loads and stores its nodes. pss defines it (rather
// than importing konserve) so the tree does not depend on any storage; the
// reader and writer packages adapt konserve plus a cache to it.
//
// Implementations MUST be safe for concurrent use: readers of many Set
// versions and Flush's parallel uploads call them at once.
type NodeStore[K any] interface {
	// Load returns the node stored at addr. The returned node is shared and
	// MUST NOT be modified by anyone. It returns an error (never a nil node
	// with nil error) if the node is missing, cannot be read, or is corrupt;
	// pss wraps that error with the address.
	Load(ctx context.Context, addr node.Address) (*node.Node[K], error)
	// Store durably writes one encoded node. Writing an address that is
	// already stored is a no-op success (same address, same bytes). Flush
	// calls Store for children before their parents and waits for every
	// call before returning the root address.
	Store(ctx context.Context, e Encoded[K]) error
}

// BatchStorer is an optional NodeStore capability: store a whole level of a
// flush at once, so the store can make the batch durable more cheaply than
// node by node (the file backend syncs each directory once per batch).
// Flush calls it once per level, children's level first; the contract of
// Store holds for every node when it returns nil.
type BatchStorer[K any] interface {
	StoreMany(ctx context.Context, es []Encoded[K]) error
}

// BatchLoader is an optional NodeStore capability: load many nodes in
// parallel. Range iteration uses it to fetch the next leaves of a branch in
// one round trip's time instead of one by one (Datahike measured a
// level-at-a-time prefetch 16x faster against a 25 ms store).
type BatchLoader[K any] interface {
	// LoadMany returns the nodes at addrs, in the same order, or the first
	// error. The same ownership rules as NodeStore.Load apply.
	LoadMany(ctx context.Context, addrs []node.Address) ([]*node.Node[K], error)
}

// CacheReader is an optional NodeStore capability: return a node only if
// it is at hand without I/O (in the store's cache). A range scan over a
// warm tree then steps from leaf to leaf through it and prefetches
// siblings (BatchLoader) only once it meets a node that is not cached.
type CacheReader[K any] interface {
	// Cached returns the node at addr and true if the store holds it
	// decoded in memory; it never does I/O. The same ownership rules as
	// NodeStore.Load apply.
	Cached(addr node.Address) (*node.Node[K], bool)
}

// MemStore is an in-memory NodeStore for tests and examples. It checks every
// stored node (address matches bytes, bytes decode under its codec) and
// counts operations so tests can assert how many nodes were read and written.
// It is safe for concurrent use.
type MemStore[K any] struct {
	codec node.KeyCodec[K]

	mu    sync.RWMutex
	nodes map[node.Address]*node.Node[K]
	sizes map[node.Address]int

	loads, batches, stores, bytesStored atomic.Int64
}

var (
	_ NodeStore[int64]   = (*MemStore[int64])(nil)
	_ BatchLoader[int64] = (*MemStore[int64])(nil)
)

// NewMemStore returns an empty MemStore that verifies nodes with codec.
func NewMemStore[K any](codec node.KeyCodec[K]) *MemStore[K] {
	return &MemStore[K]{codec: codec, nodes: map[node.Address]*node.Node[K]{}, sizes: map[node.Address]int{}}
}

// Load implements NodeStore. It returns ErrNotFound for an unknown address.
func (m *MemStore[K]) Load(ctx context.Context, addr node.Address) (*node.Node[K], error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.loads.Add(1)
	m.mu.RLock()
	n, ok := m.nodes[addr]
	m.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("pss: memstore: load %s: %w", addr, ErrNotFound)
	}
	return n, nil
}

// LoadMany implements BatchLoader; each address counts as one load.
func (m *MemStore[K]) LoadMany(ctx context.Context, addrs []node.Address) ([]*node.Node[K], error) {
	m.batches.Add(1)
	out := make([]*node.Node[K], len(addrs))
	for i, a := range addrs {
		n, err := m.Load(ctx, a)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

// Store implements NodeStore. It decodes e.Data (rather than trusting
// e.Node) so that tests exercise the codec, and fails if the address does
// not match the bytes.
func (m *MemStore[K]) Store(ctx context.Context, e Encoded[K]) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if got := node.AddressOf(e.Data); got != e.Address {
		return fmt.Errorf("pss: memstore: store %s: bytes hash to %s", e.Address, got)
	}
	n, err := node.Decode(e.Data, m.codec)
	if err != nil {
		return fmt.Errorf("pss: memstore: store %s: %w", e.Address, err)
	}
	m.stores.Add(1)
	m.bytesStored.Add(int64(len(e.Data)))
	m.mu.Lock()
	m.nodes[e.Address] = n
	m.sizes[e.Address] = len(e.Data)
	m.mu.Unlock()
	return nil
}

// MemStoreStats are cumulative operation counts of a MemStore.
type MemStoreStats struct {
	Loads       int64 // nodes returned by Load, including those of LoadMany
	Batches     int64 // LoadMany calls
	Stores      int64 // Store calls that succeeded (repeats included)
	BytesStored int64 // bytes passed to those Store calls
	Nodes       int   // distinct nodes held
}

// Stats returns the counters so far.
func (m *MemStore[K]) Stats() MemStoreStats {
	m.mu.RLock()
	n := len(m.nodes)
	m.mu.RUnlock()
	return MemStoreStats{Loads: m.loads.Load(), Batches: m.batches.Load(), Stores: m.stores.Load(), BytesStored: m.bytesStored.Load(), Nodes: n}
}
