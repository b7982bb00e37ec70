package pss

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/accretedb/accrete/node"
)

// runKeys reads it from lo to the end a leaf at a time, through Run and
// NextRun.
func runKeys(it *Iter[int64], lo *int64) []int64 {
	var got []int64
	ok := it.First()
	if lo != nil {
		ok = it.SeekGE(*lo)
	}
	for ; ok; ok = it.NextRun() {
		run := it.Run()
		if len(run) == 0 {
			panic("Run returned no keys on a valid iterator")
		}
		got = append(got, run...)
	}
	return got
}

// TestRunMatchesNext checks leaf-at-a-time iteration against the model
// (the sorted keys within bounds), for in-memory and stored sets, with and
// without bounds and seeks.
func TestRunMatchesNext(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(testSeed(t), 3))
	for trial := 0; trial < 60; trial++ {
		n := rng.IntN(600)
		keys := make([]int64, 0, n)
		for k := int64(0); len(keys) < n; k += 1 + rng.Int64N(3) {
			keys = append(keys, k)
		}
		store := NewMemStore[int64](node.Int64Codec{})
		s, err := Build(ctx, keys, intOpts(4+rng.IntN(8), store))
		if err != nil {
			t.Fatal(err)
		}
		if trial%2 == 1 {
			root, _, err := s.Flush(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if s, err = Open(ctx, root, intOpts(4+rng.IntN(8), store)); err != nil {
				t.Fatal(err)
			}
		}
		var opts IterOptions[int64]
		lo, hi := int64(-1), int64(1<<40)
		if rng.IntN(2) == 0 && n > 0 {
			lo = rng.Int64N(keys[n-1] + 2)
			opts.LowerBound = &lo
		}
		if rng.IntN(2) == 0 && n > 0 {
			hi = rng.Int64N(keys[n-1] + 2)
			opts.UpperBound = &hi
		}
		var seek *int64
		if rng.IntN(3) == 0 && n > 0 {
			x := rng.Int64N(keys[n-1] + 2)
			seek = &x
		}
		var want []int64
		for _, k := range keys {
			if k >= lo && k < hi && (seek == nil || k >= *seek) {
				want = append(want, k)
			}
		}
		it := s.NewIter(ctx, &opts)
		got := runKeys(it, seek)
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("trial %d (n=%d lo=%d hi=%d seek=%v): Run/NextRun read %v, want %v", trial, n, lo, hi, seek, got, want)
		}
	}
}

// TestNextRunUnpositioned checks that NextRun on a fresh iterator acts like
// First and that Run after Next continues mid-leaf.
func TestNextRunUnpositioned(t *testing.T) {
	ctx := context.Background()
	s, err := Build(ctx, seq(0, 100), intOpts(8, nil))
	if err != nil {
		t.Fatal(err)
	}
	it := s.NewIter(ctx, nil)
	if !it.NextRun() || it.Key() != 0 {
		t.Fatalf("NextRun on an unpositioned iterator did not land on the first key")
	}
	it.Next()
	if r := it.Run(); r[0] != 1 {
		t.Fatalf("Run after Next starts at %d, want 1", r[0])
	}
	for it.NextRun() {
	}
	if it.NextRun() || it.Valid() {
		t.Fatalf("NextRun past the end still valid")
	}
}

// TestSeekRun checks SeekRun against the model on in-memory, stored and
// partly stored sets: the run starts at the first key >= k and is a suffix
// of one leaf (what an iterator's Run returns there); SeekRunFunc with a
// search of its own returns the same, and RankFunc the keys below k.
func TestSeekRun(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(testSeed(t), 5))
	for trial := 0; trial < 40; trial++ {
		n := rng.IntN(500)
		keys := make([]int64, 0, n)
		for k := int64(0); len(keys) < n; k += 1 + rng.Int64N(3) {
			keys = append(keys, k)
		}
		store := NewMemStore[int64](node.Int64Codec{})
		s, err := Build(ctx, keys, intOpts(4+rng.IntN(6), store))
		if err != nil {
			t.Fatal(err)
		}
		switch trial % 3 {
		case 1: // stored
			root, _, err := s.Flush(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if s, err = Open(ctx, root, intOpts(4+rng.IntN(6), store)); err != nil {
				t.Fatal(err)
			}
		case 2: // stored, then changed in memory
			_, f, err := s.Flush(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if s, err = f.Update(ctx, []int64{int64(rng.IntN(600))}, nil); err != nil {
				t.Fatal(err)
			}
		}
		all := collect(t, s)
		for q := 0; q < 30; q++ {
			k := rng.Int64N(int64(len(all))*3+3) - 1
			run, err := s.SeekRun(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			// SeekRunFunc with a search of its own finds the same run.
			run2, err := s.SeekRunFunc(ctx, func(ks []int64) int {
				i, _ := slices.BinarySearch(ks, k)
				return i
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(run, run2) || (run == nil) != (run2 == nil) {
				t.Fatalf("SeekRunFunc(%d) = %v, SeekRun %v", k, run2, run)
			}
			i, _ := slices.BinarySearch(all, k)
			// RankFunc counts the keys below k.
			if r, err := s.RankFunc(ctx, func(ks []int64) int {
				j, _ := slices.BinarySearch(ks, k)
				return j
			}); err != nil || r != i {
				t.Fatalf("RankFunc(%d) = %d, %v; want %d", k, r, err, i)
			}
			if i == len(all) {
				if run != nil {
					t.Fatalf("SeekRun(%d) = %v past the last key", k, run)
				}
				continue
			}
			it := s.NewIter(ctx, nil)
			if !it.SeekGE(k) {
				t.Fatalf("SeekGE(%d) found nothing, model has %d", k, all[i])
			}
			if want := it.Run(); !slices.Equal(run, want) {
				t.Fatalf("SeekRun(%d) = %v, iterator's Run %v", k, run, want)
			}
			it.Close()
		}
	}
}

// TestPrefetchLimit: a scan that reads up to a limit prefetches no leaf
// past it, and reads the same keys as without one.
func TestPrefetchLimit(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore[int64](node.Int64Codec{})
	built, _ := Build(ctx, seq(0, 20000), intOpts(16, store))
	root, _, err := built.Flush(ctx)
	if err != nil {
		t.Fatal(err)
	}
	scan := func(limit *int64) (n int, loads int64) {
		s, err := Open(ctx, root, intOpts(16, store))
		if err != nil {
			t.Fatal(err)
		}
		before := store.Stats()
		it := s.NewIter(ctx, &IterOptions[int64]{PrefetchLimit: limit})
		for ok := it.SeekGE(100); ok && it.Key() <= 1000; ok = it.Next() {
			n++
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
		return n, store.Stats().Loads - before.Loads
	}
	lim := int64(1000)
	n1, all := scan(nil)
	n2, limited := scan(&lim)
	if n1 != 901 || n2 != 901 {
		t.Fatalf("read %d and %d keys, want 901", n1, n2)
	}
	// 901 keys span about 60-120 leaves of 8-16 keys; without a limit the
	// prefetch reads the rest of the last parent's children too.
	if limited >= all || limited > 130 {
		t.Fatalf("with a limit the scan loaded %d nodes, without %d", limited, all)
	}
}

// partCache is a MemStore that is also a CacheReader: it claims to hold
// the nodes whose address starts with an even byte, and for a third of the
// others it returns a wrong node (which the iterator must refuse and load
// instead).
type partCache struct {
	*MemStore[int64]
	hits, bogus int
}

func (p *partCache) Cached(addr node.Address) (*node.Node[int64], bool) {
	switch {
	case addr[0]%2 == 0:
		n, err := p.Load(context.Background(), addr)
		if err != nil {
			return nil, false
		}
		p.hits++
		return n, true
	case addr[0]%3 == 0:
		p.bogus++
		return &node.Node[int64]{Keys: []int64{-1}}, true
	}
	return nil, false
}

// TestCacheReaderScan checks forward and backward scans of stored sets
// whose store serves part of the nodes through CacheReader (some of them
// wrong) against the model.
func TestCacheReaderScan(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(testSeed(t), 5))
	var hits, bogus int
	for trial := 0; trial < 40; trial++ {
		n := 1 + rng.IntN(2000)
		keys := seq(0, int64(n))
		store := &partCache{MemStore: NewMemStore[int64](node.Int64Codec{})}
		built, err := Build(ctx, keys, intOpts(4+rng.IntN(8), store))
		if err != nil {
			t.Fatal(err)
		}
		root, _, err := built.Flush(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s, err := Open(ctx, root, intOpts(4+rng.IntN(8), store))
		if err != nil {
			t.Fatal(err)
		}
		from := rng.Int64N(int64(n))
		it := s.NewIter(ctx, nil)
		got := runKeys(it, &from)
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, keys[from:]) {
			t.Fatalf("trial %d: forward scan from %d read %d keys, want %d", trial, from, len(got), n-int(from))
		}
		it = s.NewIter(ctx, nil)
		var back []int64
		for ok := it.Last(); ok; ok = it.Prev() {
			back = append(back, it.Key())
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
		slices.Reverse(back)
		if !slices.Equal(back, keys) {
			t.Fatalf("trial %d: backward scan read %d keys, want %d", trial, len(back), n)
		}
		hits += store.hits
		bogus += store.bogus
	}
	if hits == 0 || bogus == 0 {
		t.Fatalf("the cache served %d nodes and %d wrong ones: the test does not reach both paths", hits, bogus)
	}
}
