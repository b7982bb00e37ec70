package pss

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/accretedb/accrete/node"
)

// copyStore returns a fresh MemStore holding the same nodes, so a reopened
// set shares nothing in memory with the one that was flushed.
func copyStore(m *MemStore[int64]) *MemStore[int64] {
	c := NewMemStore[int64](node.Int64Codec{})
	m.mu.RLock()
	defer m.mu.RUnlock()
	for a, n := range m.nodes {
		c.nodes[a] = n
		c.sizes[a] = m.sizes[a]
	}
	return c
}

func TestFlushReopen(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore[int64](node.Int64Codec{})
	keys := seq(0, 20000)
	s, err := Build(ctx, keys, intOpts(8, store))
	if err != nil {
		t.Fatal(err)
	}
	s, err = s.Update(ctx, []int64{-5, 30000}, []int64{7, 8, 9})
	if err != nil {
		t.Fatal(err)
	}
	want := collect(t, s)
	root, flushed, err := s.Flush(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := flushed.Root(); !ok || r != root {
		t.Fatalf("flushed Root() = %s,%v; want %s,true", r, ok, root)
	}
	if _, ok := s.Root(); ok {
		t.Fatalf("unflushed original reports a root address")
	}
	fresh := copyStore(store)
	reopened, err := Open(ctx, root, intOpts(8, fresh))
	if err != nil {
		t.Fatal(err)
	}
	checked(t, reopened)
	checked(t, flushed)
	for name, set := range map[string]Set[int64]{"flushed": flushed, "reopened": reopened} {
		if got := collect(t, set); !slices.Equal(got, want) {
			t.Fatalf("%s: %d keys differ from the %d written", name, len(got), len(want))
		}
		if set.Len() != len(want) || set.Height() != s.Height() {
			t.Fatalf("%s: Len %d Height %d; want %d, %d", name, set.Len(), set.Height(), len(want), s.Height())
		}
	}
	// Flushing again writes nothing and keeps the address.
	before := store.Stats().Stores
	again, _, err := flushed.Flush(ctx)
	if err != nil || again != root || store.Stats().Stores != before {
		t.Fatalf("second Flush: %s,%v with %d new stores; want %s, 0", again, err, store.Stats().Stores-before, root)
	}
	// The same content flushed from an independent build has the same root
	// address (determinism end to end).
	s2, err := Build(ctx, want, intOpts(8, NewMemStore[int64](node.Int64Codec{})))
	if err != nil {
		t.Fatal(err)
	}
	r2a, _, err := s2.Flush(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s3, _ := Build(ctx, want, intOpts(8, NewMemStore[int64](node.Int64Codec{})))
	r2b, _, err := s3.Flush(ctx)
	if err != nil || r2a != r2b {
		t.Fatalf("two builds of the same keys: roots %s and %s (%v)", r2a, r2b, err)
	}
}

func TestFlushEmpty(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore[int64](node.Int64Codec{})
	s, _ := New(intOpts(4, store))
	root, _, err := s.Flush(ctx)
	if err != nil {
		t.Fatal(err)
	}
	o, err := Open(ctx, root, intOpts(4, store))
	if err != nil {
		t.Fatal(err)
	}
	if o.Len() != 0 || len(collect(t, o)) != 0 {
		t.Fatalf("reopened empty set has %d keys", o.Len())
	}
	o, err = o.Update(ctx, []int64{1}, nil)
	if err != nil || o.Len() != 1 {
		t.Fatalf("Update on reopened empty set: Len %d, %v", o.Len(), err)
	}
	if _, _, err := o.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	mem, _ := New(intOpts(4, nil))
	if _, _, err := mem.Flush(ctx); !errors.Is(err, ErrNoStore) {
		t.Fatalf("Flush without store: got %v, want ErrNoStore", err)
	}
	if _, err := Open(ctx, root, intOpts(4, nil)); !errors.Is(err, ErrNoStore) {
		t.Fatalf("Open without store: got %v, want ErrNoStore", err)
	}
}

// TestSmallChangeWritesOneNodePerLevel: changing one key of a large stored
// tree writes exactly one node per level.
func TestSmallChangeWritesOneNodePerLevel(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore[int64](node.Int64Codec{})
	keys := make([]int64, 100000)
	for i := range keys {
		keys[i] = int64(2 * i) // odd keys are free
	}
	built, err := Build(ctx, keys, intOpts(16, store))
	if err != nil {
		t.Fatal(err)
	}
	root, _, err := built.Flush(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, root, intOpts(16, store))
	if err != nil {
		t.Fatal(err)
	}
	height := s.Height()
	if height < 4 {
		t.Fatalf("height %d: the test wants a deep tree", height)
	}
	cases := []struct {
		name          string
		adds, removes []int64
	}{
		{"add", []int64{77777}, nil},
		{"remove", nil, []int64{50000}},
		{"add at end", []int64{1 << 40}, nil},
		{"add at start", []int64{-1}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ns, err := s.Update(ctx, tc.adds, tc.removes)
			if err != nil {
				t.Fatal(err)
			}
			before := store.Stats()
			_, fs, err := ns.Flush(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got := store.Stats().Stores - before.Stores
			if got != int64(height) {
				t.Fatalf("nodes written: got %d, want %d (one per level)", got, height)
			}
			mustCheck(t, fs)
		})
	}
	// A no-op change writes nothing.
	ns, err := s.Update(ctx, []int64{0}, []int64{1})
	if err != nil {
		t.Fatal(err)
	}
	before := store.Stats().Stores
	if _, _, err := ns.Flush(ctx); err != nil || store.Stats().Stores != before {
		t.Fatalf("no-op change: %d stores, %v; want 0", store.Stats().Stores-before, err)
	}
}

func TestOpenLoadsOnlyRoot(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore[int64](node.Int64Codec{})
	built, err := Build(ctx, seq(0, 200000), intOpts(16, store))
	if err != nil {
		t.Fatal(err)
	}
	root, _, err := built.Flush(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l0 := store.Stats().Loads
	s, err := Open(ctx, root, intOpts(16, store))
	if err != nil {
		t.Fatal(err)
	}
	if got := store.Stats().Loads - l0; got != 1 {
		t.Fatalf("Open loaded %d nodes, want 1", got)
	}
	if s.Len() != 200000 {
		t.Fatalf("Len = %d, want 200000 (from the root's counts)", s.Len())
	}
	if _, _, err := s.Last(ctx); err != nil || store.Stats().Loads-l0 != 1 {
		t.Fatalf("Last loaded %d nodes (%v), want none", store.Stats().Loads-l0-1, err)
	}
	l1 := store.Stats().Loads
	if ok, err := s.Has(ctx, 123456); !ok || err != nil {
		t.Fatalf("Has(123456) = %v, %v", ok, err)
	}
	if got, want := store.Stats().Loads-l1, int64(s.Height()-1); got != want {
		t.Fatalf("Has loaded %d nodes, want %d (one per level below the root)", got, want)
	}
	l2 := store.Stats().Loads
	if n, err := s.Count(ctx, 1000, 150000); n != 149000 || err != nil {
		t.Fatalf("Count = %d, %v; want 149000", n, err)
	}
	if got, max := store.Stats().Loads-l2, int64(2*(s.Height()-1)); got > max {
		t.Fatalf("Count loaded %d nodes, want at most %d", got, max)
	}
}

// TestScanPrefetches: a range scan over a stored set loads the leaves of each
// parent in one LoadMany, and still returns every key in order.
func TestScanPrefetches(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore[int64](node.Int64Codec{})
	built, _ := Build(ctx, seq(0, 50000), intOpts(16, store))
	root, _, err := built.Flush(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, root, intOpts(16, store))
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := int64(1000), int64(40000)
	before := store.Stats()
	got, err := s.Slice(ctx, &lo, &hi)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != int(hi-lo) || got[0] != lo || got[len(got)-1] != hi-1 {
		t.Fatalf("Slice: %d keys from %d; want %d from %d", len(got), got[0], hi-lo, lo)
	}
	after := store.Stats()
	if after.Batches == before.Batches {
		t.Fatalf("scan made no LoadMany calls")
	}
	leaves := int64(hi-lo) / 16 // a leaf holds at most 16 keys
	if loads := after.Loads - before.Loads; loads < leaves || loads > 3*leaves {
		t.Fatalf("scan loaded %d nodes for about %d-%d leaves", loads, leaves, 2*leaves)
	}
	// Backward too.
	it := s.NewIter(ctx, &IterOptions[int64]{LowerBound: &lo, UpperBound: &hi})
	n := 0
	for ok := it.Last(); ok; ok = it.Prev() {
		if want := hi - 1 - int64(n); it.Key() != want {
			t.Fatalf("backward key %d: got %d, want %d", n, it.Key(), want)
		}
		n++
	}
	if err := it.Close(); err != nil || n != int(hi-lo) {
		t.Fatalf("backward scan: %d keys, %v", n, err)
	}
}

// failingStore fails Load for chosen addresses and Store after a budget.
type failingStore struct {
	*MemStore[int64]
	mu        sync.Mutex
	badLoad   map[node.Address]bool
	storeLeft int
}

var errInjected = errors.New("injected failure")

func (f *failingStore) Load(ctx context.Context, a node.Address) (*node.Node[int64], error) {
	f.mu.Lock()
	bad := f.badLoad[a]
	f.mu.Unlock()
	if bad {
		return nil, fmt.Errorf("load: %w", errInjected)
	}
	return f.MemStore.Load(ctx, a)
}

func (f *failingStore) LoadMany(ctx context.Context, addrs []node.Address) ([]*node.Node[int64], error) {
	out := make([]*node.Node[int64], len(addrs))
	for i, a := range addrs {
		n, err := f.Load(ctx, a)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

func (f *failingStore) Store(ctx context.Context, e Encoded[int64]) error {
	f.mu.Lock()
	f.storeLeft--
	left := f.storeLeft
	f.mu.Unlock()
	if left < 0 {
		return fmt.Errorf("store: %w", errInjected)
	}
	return f.MemStore.Store(ctx, e)
}

func TestErrorsSurface(t *testing.T) {
	ctx := context.Background()
	fs := &failingStore{MemStore: NewMemStore[int64](node.Int64Codec{}), badLoad: map[node.Address]bool{}, storeLeft: 1 << 30}
	built, _ := Build(ctx, seq(0, 5000), intOpts(8, fs))
	root, _, err := built.Flush(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, root, intOpts(8, fs))
	if err != nil {
		t.Fatal(err)
	}
	// Break one leaf in the middle: find it through the tree.
	leafAddr := findLeafAddr(t, s, 2500)
	fs.badLoad[leafAddr] = true

	it := s.NewIter(ctx, nil)
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	if err := it.Close(); !errors.Is(err, errInjected) || n > 2500 || n == 0 {
		t.Fatalf("scan over a broken leaf: %d keys then %v; want some keys then the injected error", n, err)
	}
	if _, err := s.Has(ctx, 2500); !errors.Is(err, errInjected) {
		t.Fatalf("Has on broken leaf: got %v, want injected error", err)
	}
	if _, err := s.Update(ctx, []int64{2500}, nil); !errors.Is(err, errInjected) {
		t.Fatalf("Update through broken leaf: got %v, want injected error", err)
	}
	if err := s.Check(ctx); !errors.Is(err, errInjected) {
		t.Fatalf("Check with broken leaf: got %v, want injected error", err)
	}
	if _, err := s.Slice(ctx, nil, nil); !errors.Is(err, errInjected) {
		t.Fatalf("Slice: got %v, want injected error", err)
	}
	// Keys away from the broken leaf still read fine.
	if ok, err := s.Has(ctx, 10); !ok || err != nil {
		t.Fatalf("Has(10) = %v, %v", ok, err)
	}

	// A failed flush leaves the set unflushed and reports the error.
	fs.storeLeft = 2
	ns, err := s.Update(ctx, []int64{-1, 99999}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, after, err := ns.Flush(ctx); !errors.Is(err, errInjected) {
		t.Fatalf("Flush into a failing store: got %v, want injected error", err)
	} else if _, ok := after.Root(); ok {
		t.Fatalf("failed Flush returned a flushed set")
	}
}

// findLeafAddr returns the address of the leaf holding k.
func findLeafAddr(t *testing.T, s Set[int64], k int64) node.Address {
	t.Helper()
	n := s.root
	var addr node.Address
	for !n.leaf() {
		i := search(s.cfg.cmp, n.keys, k, false)
		addr = n.addrs[i]
		c, err := s.child(context.Background(), n, i)
		if err != nil {
			t.Fatal(err)
		}
		n = c
	}
	return addr
}

// TestCorruptChild: a child that does not fit its parent is ErrCorrupt.
func TestCorruptChild(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore[int64](node.Int64Codec{})
	put := func(n *node.Node[int64]) node.Address {
		data, err := node.Encode(n, node.Int64Codec{})
		if err != nil {
			t.Fatal(err)
		}
		a := node.AddressOf(data)
		if err := store.Store(ctx, Encoded[int64]{Address: a, Data: data, Node: n}); err != nil {
			t.Fatal(err)
		}
		return a
	}
	leaf := put(&node.Node[int64]{Keys: []int64{1, 2, 3}})
	leaf2 := put(&node.Node[int64]{Keys: []int64{4, 5, 6}})
	cases := []struct {
		name string
		root *node.Node[int64]
	}{
		{"wrong level", &node.Node[int64]{Level: 2, Keys: []int64{3, 6}, Children: []node.Address{leaf, leaf2}, Counts: []uint64{3, 3}}},
		{"wrong count", &node.Node[int64]{Level: 1, Keys: []int64{3, 6}, Children: []node.Address{leaf, leaf2}, Counts: []uint64{3, 4}}},
		{"wrong separator", &node.Node[int64]{Level: 1, Keys: []int64{2, 6}, Children: []node.Address{leaf, leaf2}, Counts: []uint64{3, 3}}},
		{"unordered", &node.Node[int64]{Level: 1, Keys: []int64{6, 3}, Children: []node.Address{leaf2, leaf}, Counts: []uint64{3, 3}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(ctx, put(tc.root), intOpts(4, store))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Check(ctx); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Check: got %v, want ErrCorrupt", err)
			}
		})
	}
	if _, err := Open(ctx, node.Address{1}, intOpts(4, store)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open of a missing root: got %v, want ErrNotFound", err)
	}
}

// TestConcurrentReaders reads one stored set from many goroutines while a
// writer derives new versions (run with -race).
func TestConcurrentReaders(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore[int64](node.Int64Codec{})
	built, _ := Build(ctx, seq(0, 3000), intOpts(8, store))
	root, _, err := built.Flush(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, root, intOpts(8, store))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				k := int64((g*997 + i*31) % 3000)
				if ok, err := s.Has(ctx, k); !ok || err != nil {
					errs <- fmt.Errorf("Has(%d) = %v, %v", k, ok, err)
					return
				}
			}
			if got := len(collect(t, s)); got != 3000 {
				errs <- fmt.Errorf("scan saw %d keys, want 3000", got)
			}
		})
	}
	w := s
	for i := range 100 {
		if w, err = w.Update(ctx, []int64{int64(5000 + i)}, []int64{int64(i)}); err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 {
			if _, w, err = w.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	checked(t, w)
	if s.Len() != 3000 || w.Len() != 3000 {
		t.Fatalf("Len: old %d new %d; want 3000, 3000", s.Len(), w.Len())
	}
}
