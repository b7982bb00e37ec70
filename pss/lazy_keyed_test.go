package pss

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestUpdateLazilyKeyedModel is TestAddLazilyModel through sort keys: random
// version graphs of keyed lazy updates (removes and adds, forks of old
// versions, early reads, batches that cross the pending bound), whose
// builds sort the pending keys through the key and merge them with the
// base straight from the batches (keyedChain). Keys are pairs the
// comparator tells apart by k alone, so the model also checks which of
// several equal keys a version keeps (Update's rules: removes first, then
// the first add unless a key is there). The sort keys are exact, coarse
// (many keys per pair: runs ordered by the comparator), or sometimes
// missing (the build falls back to the comparator).
func TestUpdateLazilyKeyedModel(t *testing.T) {
	exact := func(p pair) (uint64, uint64, bool) { return uint64(p.k) ^ 1<<63, 0, true }
	coarse := func(p pair) (uint64, uint64, bool) { return uint64(p.k/16) ^ 1<<63, uint64(p.k % 16 / 8), true }
	partial := func(p pair) (uint64, uint64, bool) { return uint64(p.k) ^ 1<<63, 0, p.k != 777 }
	keys := map[string]SortKey[pair]{"exact": exact, "coarse": coarse, "partial": partial}
	seed := testSeed(t)
	for _, name := range slices.Sorted(maps.Keys(keys)) {
		for _, width := range []int{4, 32} {
			t.Run(fmt.Sprintf("%s/width=%d", name, width), func(t *testing.T) {
				testKeyedModel(t, rand.New(rand.NewPCG(seed, uint64(width))), keys[name], width)
			})
		}
	}
}

func testKeyedModel(t *testing.T, r *rand.Rand, key SortKey[pair], width int) {
	ctx := context.Background()
	const keySpace = 2000
	s0, err := New(pairOpts(width))
	if err != nil {
		t.Fatal(err)
	}
	type version struct {
		s Set[pair]
		m map[int64]int64 // k -> tag
	}
	vs := []version{{s0, map[int64]int64{}}}
	check := func(v version, what string) {
		t.Helper()
		got, err := v.s.Slice(ctx, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]pair, 0, len(v.m))
		for _, k := range slices.Sorted(maps.Keys(v.m)) {
			want = append(want, pair{k, v.m[k]})
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s: %d keys, model %d\n got %v\nwant %v", what, len(got), len(want), got, want)
		}
		if v.s.Len() != len(want) {
			t.Fatalf("%s: Len %d, model %d", what, v.s.Len(), len(want))
		}
	}
	for step := range 1200 {
		pi := len(vs) - 1 - r.IntN(min(len(vs), 3))
		if r.IntN(8) == 0 {
			pi = r.IntN(len(vs))
		}
		p := vs[pi]
		var adds, removes []pair
		n := 1 + r.IntN(12)
		if r.IntN(100) == 0 {
			n = MaxPending/2 + r.IntN(MaxPending) // cross the pending bound
		}
		for range n {
			adds = append(adds, pair{r.Int64N(keySpace), int64(step)*100000 + int64(len(adds))})
		}
		if r.IntN(3) == 0 {
			for range r.IntN(8) {
				removes = append(removes, pair{r.Int64N(keySpace), -1})
			}
			if len(adds) > 0 && r.IntN(2) == 0 {
				removes = append(removes, adds[0])
			}
		}
		var ns Set[pair]
		if len(removes) == 0 && r.IntN(4) == 0 {
			// The same adds as several batches of one link (some empty),
			// in order: the first add of a key still wins.
			var bs [][]pair
			for rest := adds; len(rest) > 0 || r.IntN(3) == 0; {
				k := min(len(rest), r.IntN(6))
				bs = append(bs, rest[:k:k])
				rest = rest[k:]
			}
			ns, err = p.s.AddBatchesLazilyKeyed(ctx, bs, key)
		} else {
			ns, err = p.s.UpdateLazilyKeyed(ctx, adds, removes, key)
		}
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		m := maps.Clone(p.m)
		for _, k := range removes {
			delete(m, k.k)
		}
		for _, k := range adds {
			if _, ok := m[k.k]; !ok {
				m[k.k] = k.tag
			}
		}
		vs = append(vs, version{ns, m})
		if r.IntN(10) == 0 {
			v := vs[r.IntN(len(vs))]
			check(v, fmt.Sprintf("step %d: a version read early", step))
		}
	}
	for _, i := range r.Perm(len(vs)) {
		mustCheck(t, vs[i].s)
		check(vs[i], fmt.Sprintf("version %d", i))
	}
}
