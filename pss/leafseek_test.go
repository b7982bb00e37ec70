package pss

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/accretedb/accrete/node"
)

// leafModel returns the leaves of s in order, each whole, by walking an
// iterator's runs: what LeafSeeker.Next must step through.
func leafModel(t *testing.T, s Set[int64]) [][]int64 {
	t.Helper()
	var leaves [][]int64
	it := s.NewIter(context.Background(), nil)
	defer it.Close()
	for ok := it.First(); ok; ok = it.NextRun() {
		leaves = append(leaves, slices.Clone(it.Run()))
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return leaves
}

// TestLeafSeekerModel drives LeafSeekers over sets in memory, stored and
// reopened (each touch a load), stored then changed in memory, and built
// lazily, with random runs of ascending seeks and steps to the next leaf,
// and checks each answer against the model: SeekRunFunc's run for a seek,
// and the leaf after the current one for a step.
func TestLeafSeekerModel(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(testSeed(t), 17))
	for trial := range 60 {
		n := rng.IntN(900)
		keys := make([]int64, 0, n)
		for k := int64(0); len(keys) < n; k += 1 + rng.Int64N(3) {
			keys = append(keys, k)
		}
		store := NewMemStore[int64](node.Int64Codec{})
		width := 4 + rng.IntN(6)
		s, err := Build(ctx, keys, intOpts(width, store))
		if err != nil {
			t.Fatal(err)
		}
		kind := trial % 4
		switch kind {
		case 1: // stored and reopened: every node below the root is loaded
			root, _, err := s.Flush(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if s, err = Open(ctx, root, intOpts(width, store)); err != nil {
				t.Fatal(err)
			}
		case 2: // stored, then changed in memory: a mix of both
			_, f, err := s.Flush(ctx)
			if err != nil {
				t.Fatal(err)
			}
			add := make([]int64, rng.IntN(40))
			for i := range add {
				add[i] = rng.Int64N(int64(n)*3 + 3)
			}
			slices.Sort(add)
			if s, err = f.Update(ctx, slices.Compact(add), nil); err != nil {
				t.Fatal(err)
			}
		case 3: // a lazy set, built on first use
			add := make([]int64, 1+rng.IntN(40))
			for i := range add {
				add[i] = rng.Int64N(int64(n)*3+3) + 1
			}
			slices.Sort(add)
			if s, err = s.AddLazily(ctx, slices.Compact(add)); err != nil {
				t.Fatal(err)
			}
		}
		leaves := leafModel(t, s)
		for run := 0; run < 8; run++ {
			ls := s.LeafSeeker()
			cur := -1 // index in leaves of the leaf last returned
			k := rng.Int64N(int64(n)+2) - 1
			for q := 0; q < 40; q++ {
				if rng.IntN(3) == 0 {
					// Next: the leaf after cur (only once a leaf was found).
					if cur < 0 {
						continue
					}
					last := leaves[cur][len(leaves[cur])-1]
					got, err := ls.Next(ctx, findKey(last+1))
					if err != nil {
						t.Fatalf("trial %d (kind %d): next after %d: %v", trial, kind, last, err)
					}
					var want []int64
					if cur+1 < len(leaves) {
						want = leaves[cur+1]
					}
					if !slices.Equal(got, want) || (got == nil) != (want == nil) {
						t.Fatalf("trial %d (kind %d): next after leaf %d = %v, want %v", trial, kind, cur, got, want)
					}
					if got == nil {
						break
					}
					cur++
					k = max(k, got[0])
					continue
				}
				k += rng.Int64N(12)
				find := findKey(k)
				want, err := s.SeekRunFunc(ctx, find)
				if err != nil {
					t.Fatal(err)
				}
				got, err := ls.Seek(ctx, find)
				if err != nil {
					t.Fatalf("trial %d (kind %d): seek %d: %v", trial, kind, k, err)
				}
				if !slices.Equal(got, want) || (got == nil) != (want == nil) {
					t.Fatalf("trial %d (kind %d): seek %d = %v, want %v", trial, kind, k, got, want)
				}
				if got == nil {
					break
				}
				// Which leaf the run is the end of.
				cur = slices.IndexFunc(leaves, func(l []int64) bool { return l[len(l)-1] == got[len(got)-1] })
				if cur < 0 {
					t.Fatalf("trial %d: seek %d: run %v ends no leaf", trial, k, got)
				}
			}
		}
	}
}

// TestLeafSeekerEmpty: an empty set has no leaf to seek or step to.
func TestLeafSeekerEmpty(t *testing.T) {
	ctx := context.Background()
	s, err := New(intOpts(4, nil))
	if err != nil {
		t.Fatal(err)
	}
	ls := s.LeafSeeker()
	find := func(ks []int64) int { return 0 }
	if got, err := ls.Seek(ctx, find); got != nil || err != nil {
		t.Fatalf("Seek on an empty set = %v, %v", got, err)
	}
	if got, err := ls.Next(ctx, find); got != nil || err != nil {
		t.Fatalf("Next on an empty set = %v, %v", got, err)
	}
}

// TestLeafSeekerCorrupt: a stored leaf that does not hold what its
// parent counts is reported as ErrCorrupt, by a seek under the remembered
// branch and by a step to it, not returned.
func TestLeafSeekerCorrupt(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore[int64](node.Int64Codec{})
	root := storedRoot(t, seq(0, 200), 4, store)
	// Find a level-1 branch and swap its second leaf for its first.
	var branch *node.Node[int64]
	for a := root; ; {
		n, err := store.Load(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if n.Level == 1 {
			branch = n
			break
		}
		a = n.Children[0]
	}
	first, err := store.Load(ctx, branch.Children[0])
	if err != nil {
		t.Fatal(err)
	}
	bad := &node.Node[int64]{Keys: first.Keys[:1]} // one key where the parent counts more
	store.nodes[branch.Children[1]] = bad
	for _, step := range []bool{false, true} {
		s, err := Open(ctx, root, intOpts(4, store))
		if err != nil {
			t.Fatal(err)
		}
		ls := s.LeafSeeker()
		if _, err := ls.Seek(ctx, findKey(first.Keys[0])); err != nil {
			t.Fatal(err)
		}
		find := findKey(first.Keys[len(first.Keys)-1] + 1)
		if step {
			_, err = ls.Next(ctx, find)
		} else {
			_, err = ls.Seek(ctx, find)
		}
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("step %v into a leaf shorter than its count: %v, want ErrCorrupt", step, err)
		}
	}
}

// TestLeafSeekerSkipsRoot: ascending seeks over a stored tree search the
// root once per level-1 branch they enter, not once per seek, and steps
// to the next leaf under the same branch search no node at all.
func TestLeafSeekerSkipsRoot(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore[int64](node.Int64Codec{})
	root := storedRoot(t, seq(0, 600), 4, store)
	s, err := Open(ctx, root, intOpts(4, store))
	if err != nil {
		t.Fatal(err)
	}
	if s.Height() < 3 {
		t.Fatalf("height %d: want a root above the level-1 branches", s.Height())
	}
	rootKeys := s.root.keys
	var rootSearches, searches int
	ls := s.LeafSeeker()
	for k := int64(0); k < 600; k++ {
		if _, err := ls.Seek(ctx, func(ks []int64) int {
			searches++
			if &ks[0] == &rootKeys[0] {
				rootSearches++
			}
			i, _ := slices.BinarySearch(ks, k)
			return i
		}); err != nil {
			t.Fatal(err)
		}
	}
	// One descent, so one root search, per level-1 branch.
	branches := 0
	var walk func(a node.Address)
	walk = func(a node.Address) {
		n, err := store.Load(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if n.Level == 1 {
			branches++
			return
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(root)
	if rootSearches != branches || searches >= 3*600 {
		t.Fatalf("600 ascending seeks searched the root %d times (%d searches in all), want once per level-1 branch (%d)", rootSearches, searches, branches)
	}
	ls = s.LeafSeeker()
	if _, err := ls.Seek(ctx, func(ks []int64) int { return 0 }); err != nil {
		t.Fatal(err)
	}
	searches = 0
	leaf, err := ls.Next(ctx, func(ks []int64) int { searches++; return 0 })
	if err != nil || len(leaf) == 0 || searches != 0 {
		t.Fatalf("Next under the same branch: %v, %v, %d searches; want the second leaf and none", leaf, err, searches)
	}
}

// TestLeafSeekerLazyFirst: a seeker over a set made by AddLazily, used
// before anything else built the set, builds it and finds its keys.
func TestLeafSeekerLazyFirst(t *testing.T) {
	ctx := context.Background()
	s, err := Build(ctx, seq(0, 100), intOpts(4, nil))
	if err != nil {
		t.Fatal(err)
	}
	if s, err = s.AddLazily(ctx, []int64{150, 151}); err != nil {
		t.Fatal(err)
	}
	ls := s.LeafSeeker()
	run, err := ls.Seek(ctx, findKey(120))
	if err != nil || len(run) == 0 || run[0] != 150 {
		t.Fatalf("seek 120 in a lazy set = %v, %v; want a run from 150", run, err)
	}
}
