package pss

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestWithinModel runs random version graphs of lazy keyed updates (chains,
// forks, removes, reads that build some versions) and checks that Within
// of any version over a random range holds exactly the version's keys in
// that range, and that it builds nothing when it answers from the floor.
func TestWithinModel(t *testing.T) {
	seed := testSeed(t)
	// Keys map to (k/8, k%8): coarse enough that ranges often end inside a
	// run of one pair. Keys that are multiples of 97 have no sort key.
	key := func(k int64) (uint64, uint64, bool) {
		return uint64(k/8) ^ 1<<63, uint64(k % 8), k%97 != 0
	}
	for _, width := range []int{4, 32} {
		t.Run(fmt.Sprintf("width=%d", width), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, uint64(width)))
			ctx := context.Background()
			const keySpace = 2000
			s0, err := New(intOpts(width, nil))
			if err != nil {
				t.Fatal(err)
			}
			type version struct {
				s Set[int64]
				m model
			}
			vs := []version{{s0, nil}}
			misses := 0
			for step := range 3000 {
				pi := len(vs) - 1 - r.IntN(min(len(vs), 3))
				if r.IntN(10) == 0 {
					pi = r.IntN(len(vs))
				}
				p := vs[pi]
				// Batches are clustered, as a transaction's datoms are:
				// around one random key.
				c := r.Int64N(keySpace)
				var adds, removes []int64
				for range 1 + r.IntN(6) {
					adds = append(adds, min(keySpace-1, max(0, c+r.Int64N(9)-4)))
				}
				if r.IntN(4) == 0 {
					for range r.IntN(4) {
						removes = append(removes, min(keySpace-1, max(0, c+r.Int64N(9)-4)))
					}
				}
				ns, err := p.s.UpdateLazilyKeyed(ctx, adds, removes, key)
				if err != nil {
					t.Fatalf("step %d: %v", step, err)
				}
				v := version{ns, p.m.update(adds, removes)}
				vs = append(vs, v)
				// Read a range of a recent version through Within.
				w := vs[len(vs)-1-r.IntN(min(len(vs), 4))]
				lo := r.Int64N(keySpace)
				hi := lo + r.Int64N(20)
				if r.IntN(3) == 0 {
					// Within one hi of the sort key (an entity's datoms),
					// which a long chain's filter answers.
					hi = lo + r.Int64N(8-lo%8)
				}
				if r.IntN(20) == 0 {
					hi = lo - 1 // an empty range
				}
				lazyBefore := w.s.root != nil && w.s.root.lazy != nil && !w.s.root.lazy.done.Load()
				sub := w.s.Within(lo, hi)
				floor := sub.root != w.s.root
				end := hi + 1 // Slice's upper bound is exclusive
				got, err := sub.Slice(ctx, &lo, &end)
				if err != nil {
					t.Fatal(err)
				}
				var want []int64
				for _, k := range w.m {
					if k >= lo && k <= hi {
						want = append(want, k)
					}
				}
				if !slices.Equal(got, want) {
					t.Fatalf("step %d: Within(%d, %d) holds %v, want %v (from the floor: %v)", step, lo, hi, got, want, floor)
				}
				if floor {
					misses++
					if !lazyBefore || w.s.root.lazy.done.Load() {
						t.Fatalf("step %d: Within answered from the floor of a set that is not lazy, or built it", step)
					}
				}
				// Sometimes build a version, which ends its chain.
				if r.IntN(15) == 0 {
					vs[r.IntN(len(vs))].s.Len()
				}
			}
			if misses == 0 {
				t.Fatal("Within never answered from a chain's floor")
			}
			for i, v := range vs {
				compareSet(t, r, v.s, v.m, keySpace, fmt.Sprintf("version %d", i))
			}
		})
	}
}
