package pss

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tidwall/btree"

	"github.com/accretedb/accrete/node"
)

// benchKeys returns n distinct random keys in random order and sorted.
func benchKeys(n int) (shuffled, sorted []int64) {
	r := rand.New(rand.NewPCG(7, 7))
	seen := make(map[int64]struct{}, n)
	for len(shuffled) < n {
		k := r.Int64N(1 << 40)
		if _, ok := seen[k]; ok {
			continue
		}
		seen[k] = struct{}{}
		shuffled = append(shuffled, k)
	}
	sorted = slices.Clone(shuffled)
	slices.Sort(sorted)
	return shuffled, sorted
}

func less(a, b int64) bool { return a < b }

func newTidwall() *btree.BTreeG[int64] {
	return btree.NewBTreeGOptions(less, btree.Options{NoLocks: true})
}

// BenchmarkInsert: one key per op into a set growing to 100k keys. pss is
// persistent (each insert makes a new version); tidwall is shown mutable and
// with a Copy per insert (its copy-on-write mode), the fair comparison.
func BenchmarkInsert(b *testing.B) {
	const n = 100_000
	keys, _ := benchKeys(n)
	ctx := context.Background()
	b.Run("pss", func(b *testing.B) {
		b.ReportAllocs()
		s, _ := New(intOpts(DefaultWidth, nil))
		one := make([]int64, 1)
		i := 0
		for b.Loop() {
			if i == n {
				s, _ = New(intOpts(DefaultWidth, nil))
				i = 0
			}
			one[0] = keys[i]
			var err error
			if s, err = s.Update(ctx, one, nil); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("pss-batch1000", func(b *testing.B) {
		b.ReportAllocs()
		s, _ := New(intOpts(DefaultWidth, nil))
		i := 0
		for b.Loop() {
			if i == n {
				s, _ = New(intOpts(DefaultWidth, nil))
				i = 0
			}
			var err error
			if s, err = s.Update(ctx, keys[i:i+1000], nil); err != nil {
				b.Fatal(err)
			}
			i += 1000
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/key")
	})
	b.Run("tidwall", func(b *testing.B) {
		b.ReportAllocs()
		tr := newTidwall()
		i := 0
		for b.Loop() {
			if i == n {
				tr = newTidwall()
				i = 0
			}
			tr.Set(keys[i])
			i++
		}
	})
	b.Run("tidwall-copy", func(b *testing.B) {
		b.ReportAllocs()
		tr := newTidwall()
		i := 0
		for b.Loop() {
			if i == n {
				tr = newTidwall()
				i = 0
			}
			tr = tr.Copy()
			tr.Set(keys[i])
			i++
		}
	})
}

const benchN = 1_000_000

// BenchmarkSeek: a point lookup per op in a 1M-key set.
func BenchmarkSeek(b *testing.B) {
	probes, sorted := benchKeys(benchN)
	ctx := context.Background()
	s, err := Build(ctx, sorted, intOpts(DefaultWidth, nil))
	if err != nil {
		b.Fatal(err)
	}
	tr := newTidwall()
	for _, k := range sorted {
		tr.Load(k)
	}
	b.Run("pss-has", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if ok, _ := s.Has(ctx, probes[i%benchN]); !ok {
				b.Fatal("missing key")
			}
			i++
		}
	})
	b.Run("pss-iter-seekge", func(b *testing.B) {
		it := s.NewIter(ctx, nil)
		i := 0
		for b.Loop() {
			if !it.SeekGE(probes[i%benchN]) {
				b.Fatal("missing key")
			}
			i++
		}
	})
	b.Run("tidwall-get", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, ok := tr.Get(probes[i%benchN]); !ok {
				b.Fatal("missing key")
			}
			i++
		}
	})
}

// BenchmarkScan: full ordered scan of a 1M-key set; ns/key is the figure.
func BenchmarkScan(b *testing.B) {
	_, sorted := benchKeys(benchN)
	ctx := context.Background()
	s, err := Build(ctx, sorted, intOpts(DefaultWidth, nil))
	if err != nil {
		b.Fatal(err)
	}
	tr := newTidwall()
	for _, k := range sorted {
		tr.Load(k)
	}
	b.Run("pss", func(b *testing.B) {
		var sum int64
		for b.Loop() {
			it := s.NewIter(ctx, nil)
			n := 0
			for ok := it.First(); ok; ok = it.Next() {
				sum += it.Key()
				n++
			}
			if n != benchN || it.Close() != nil {
				b.Fatalf("scanned %d keys", n)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchN), "ns/key")
	})
	b.Run("tidwall", func(b *testing.B) {
		var sum int64
		for b.Loop() {
			it := tr.Iter()
			n := 0
			for ok := it.First(); ok; ok = it.Next() {
				sum += it.Item()
				n++
			}
			it.Release()
			if n != benchN {
				b.Fatalf("scanned %d keys", n)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchN), "ns/key")
	})
}

// BenchmarkBuild: bulk build of 1M sorted keys; keys/s is the figure.
func BenchmarkBuild(b *testing.B) {
	_, sorted := benchKeys(benchN)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build(ctx, sorted, intOpts(DefaultWidth, nil)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*benchN)/b.Elapsed().Seconds(), "keys/s")
}

// BenchmarkFlushSmallChange: a 10-key change to a stored 1M-key set, then
// Flush. Reports nodes and bytes written per flush, and bytes per key of the
// leaves as Build lays them out.
func BenchmarkFlushSmallChange(b *testing.B) {
	_, sorted := benchKeys(benchN)
	ctx := context.Background()
	store := NewMemStore[int64](node.Int64Codec{})
	root := storedRoot(b, sorted, DefaultWidth, store)
	st := store.Stats()
	base, err := Open(ctx, root, intOpts(DefaultWidth, store))
	if err != nil {
		b.Fatal(err)
	}
	// Leaf bytes/key: sum over leaves from the store.
	var leafBytes, leafKeys int
	store.mu.RLock()
	for a, n := range store.nodes {
		if n.Level == 0 {
			leafBytes += store.sizes[a]
			leafKeys += len(n.Keys)
		}
	}
	store.mu.RUnlock()
	r := rand.New(rand.NewPCG(3, 4))
	adds := make([]int64, 10)
	var nodes, bytes int64
	b.ResetTimer()
	for b.Loop() {
		for i := range adds {
			adds[i] = r.Int64N(1 << 40) // almost surely absent; a present key is a no-op
		}
		ns, err := base.Update(ctx, adds, nil)
		if err != nil {
			b.Fatal(err)
		}
		before := store.Stats()
		if _, _, err := ns.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		after := store.Stats()
		nodes += after.Stores - before.Stores
		bytes += after.BytesStored - before.BytesStored
	}
	b.ReportMetric(float64(nodes)/float64(b.N), "nodes/flush")
	b.ReportMetric(float64(bytes)/float64(b.N), "bytes/flush")
	b.ReportMetric(float64(leafBytes)/float64(leafKeys), "leafbytes/key")
	b.ReportMetric(float64(base.Height()), "height")
	b.ReportMetric(float64(st.Nodes), "nodes/1Mset")
}

// BenchmarkScanStored: full scan of a stored 1M-key set, every node loaded
// through MemStore (with LoadMany prefetch).
func BenchmarkScanStored(b *testing.B) {
	_, sorted := benchKeys(benchN)
	ctx := context.Background()
	store := NewMemStore[int64](node.Int64Codec{})
	root := storedRoot(b, sorted, DefaultWidth, store)
	s, err := Open(ctx, root, intOpts(DefaultWidth, store))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		it := s.NewIter(ctx, nil)
		n := 0
		for ok := it.First(); ok; ok = it.Next() {
			n++
		}
		if n != benchN || it.Close() != nil {
			b.Fatalf("scanned %d keys", n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchN), "ns/key")
}
