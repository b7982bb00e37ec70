package pss

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/accretedb/accrete/node"
)

// TestFinger seeks through one Finger shared by several versions of a set
// (built, stored and reopened, changed in memory), in runs of ascending
// keys and at random, and checks every run against the set's own
// SeekRunFunc: a remembered leaf of another version, or one the sought key
// is not strictly inside, must never answer.
func TestFinger(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(testSeed(t), 11))
	for trial := 0; trial < 30; trial++ {
		var keys []int64
		for k := int64(0); len(keys) < 50+rng.IntN(800); k += int64(rng.IntN(3)) {
			keys = append(keys, k) // repeated steps of 0 are dropped by Build
		}
		keys = slices.Compact(keys)
		store := NewMemStore[int64](node.Int64Codec{})
		s0, err := Build(ctx, keys, intOpts(4+rng.IntN(6), store))
		if err != nil {
			t.Fatal(err)
		}
		root, _, err := s0.Flush(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s1, err := Open(ctx, root, intOpts(4+rng.IntN(6), store))
		if err != nil {
			t.Fatal(err)
		}
		s2, err := s1.Update(ctx, []int64{int64(rng.IntN(len(keys) * 2)), -1}, []int64{keys[rng.IntN(len(keys))]})
		if err != nil {
			t.Fatal(err)
		}
		sets := []Set[int64]{s0, s1, s2}
		var f Finger[int64]
		k := int64(-2)
		for q := 0; q < 600; q++ {
			s := sets[rng.IntN(len(sets))]
			if q%5 == 0 {
				s = sets[0] // runs on one version use the remembered leaf
			}
			if rng.IntN(8) == 0 {
				k = rng.Int64N(int64(len(keys))*2+4) - 2
			} else {
				k += int64(rng.IntN(3))
			}
			find := findKey(k)
			want, err := s.SeekRunFunc(ctx, find)
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.SeekRunFunc(ctx, s, find, func(ks []int64) bool { return ks[0] < k && k <= ks[len(ks)-1] })
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) || (got == nil) != (want == nil) {
				t.Fatalf("trial %d: seek %d: finger %v, want %v", trial, k, got, want)
			}
		}
	}
}

// TestFingerConcurrent seeks through one Finger from several goroutines
// (run with -race): each gets its own answers.
func TestFingerConcurrent(t *testing.T) {
	ctx := context.Background()
	keys := make([]int64, 3000)
	for i := range keys {
		keys[i] = int64(2 * i)
	}
	s, err := Build(ctx, keys, intOpts(8, nil))
	if err != nil {
		t.Fatal(err)
	}
	var f Finger[int64]
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := int64(g); k < 5998; k += 3 {
				run, err := f.SeekRunFunc(ctx, s, func(ks []int64) int {
					i, _ := slices.BinarySearch(ks, k)
					return i
				}, func(ks []int64) bool { return ks[0] < k && k <= ks[len(ks)-1] })
				want := k + k&1
				if err != nil || len(run) == 0 || run[0] != want {
					t.Errorf("seek %d: %v, %v; want a run from %d", k, run, err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}
