package pss

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/accretedb/accrete/node"
)

// entityKeys returns n groups of per keys each: group g holds g*16 .. g*16+per-1,
// so that entityKey's hi (k>>4) names the group.
func entityKeys(n, per int) []int64 {
	out := make([]int64, 0, n*per)
	for g := range n {
		for j := range per {
			out = append(out, int64(g*16+j))
		}
	}
	return out
}

func entityKey(k int64) (uint64, uint64, bool) { return uint64(k>>4) ^ 1<<63, uint64(k & 15), true }

// leafCuts returns, for each pair of adjacent leaves of s, whether the cut
// falls inside a group (the keys on both sides share entityKey's hi).
func leafCuts(t *testing.T, s Set[int64]) (cuts, inside int) {
	t.Helper()
	ctx := context.Background()
	it := s.NewIter(ctx, nil)
	var prev *int64
	for ok := it.First(); ok; ok = it.NextRun() {
		run := it.Run()
		if prev != nil {
			cuts++
			if *prev>>4 == run[0]>>4 {
				inside++
			}
		}
		last := run[len(run)-1]
		prev = &last
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	return cuts, inside
}

// TestFenceCuts: with a fence sort key, Build and Update cut leaves
// between groups wherever the sizes allow, every stored branch records
// its children's fences, and a lookup at a group's end learns from the
// fence that the next leaf starts another group.
func TestFenceCuts(t *testing.T) {
	ctx := context.Background()
	keys := entityKeys(20000, 5)
	for _, fenced := range []bool{false, true} {
		store := NewMemStore[int64](node.Int64Codec{})
		opts := intOpts(128, store)
		if fenced {
			opts.Fence = entityKey
		}
		s, err := Build(ctx, keys, opts)
		if err != nil {
			t.Fatal(err)
		}
		root, _, err := s.Flush(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if s, err = Open(ctx, root, opts); err != nil {
			t.Fatal(err)
		}
		mustCheck(t, s)
		cuts, inside := leafCuts(t, s)
		t.Logf("fenced=%v: %d of %d leaf cuts inside a group", fenced, inside, cuts)
		if fenced && inside != 0 {
			t.Errorf("fenced build: %d of %d leaf cuts inside a group of 5, want 0", inside, cuts)
		}
		if !fenced && inside == 0 {
			t.Errorf("even build: no cut inside a group of 5 among %d; the test's data does not test the cuts", cuts)
		}
		// Every group's lookup: the run holds the whole group, and the
		// next leaf is known not to continue it.
		var fetches int
		for g := range 20000 {
			k := int64(g * 16)
			run, next, err := s.SeekRunFence(ctx, func(ks []int64) int { return searchInt(ks, k) })
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for n < len(run) && run[n]>>4 == int64(g) {
				n++
			}
			if n == len(run) && !(next.Known && next.Hi != uint64(g)^1<<63) && g != 19999 {
				fetches++ // a reader would need the next leaf
			}
		}
		// LeafSeeker, seeking the groups in order: a known NextFence is
		// the next key's, and with fences every group's end is known.
		ls := s.LeafSeeker()
		var unknown int
		for g := range 20000 {
			k := int64(g * 16)
			run, err := ls.Seek(ctx, func(ks []int64) int { return searchInt(ks, k) })
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for n < len(run) && run[n]>>4 == int64(g) {
				n++
			}
			if n < len(run) {
				continue
			}
			at := g*5 + n // the index in keys of the key after the run
			f := ls.NextFence()
			switch {
			case f.Known && (at == len(keys) || f != s.cfg.keyFence(keys[at])):
				t.Fatalf("group %d: NextFence %+v, want the fence of key index %d of %d", g, f, at, len(keys))
			case !f.Known && at < len(keys):
				unknown++
			}
		}
		if fenced && unknown != 0 {
			t.Errorf("fenced: LeafSeeker.NextFence unknown at %d leaf ends", unknown)
		}
		t.Logf("fenced=%v: %d of 20000 group lookups need the next leaf", fenced, fetches)
		if fenced && fetches != 0 {
			t.Errorf("fenced: %d group lookups need the next leaf, want 0", fetches)
		}
		// Appending groups one at a time, as small commits do, keeps the
		// tree valid; the fences survive flushes.
		for g := 20000; g < 20600; g++ {
			if s, err = s.Update(ctx, entityKeys(g+1, 5)[g*5:], nil); err != nil {
				t.Fatal(err)
			}
			if g%50 == 0 {
				if _, s, err = s.Flush(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}
		if root, _, err = s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if s, err = Open(ctx, root, opts); err != nil {
			t.Fatal(err)
		}
		mustCheck(t, s)
		if fenced {
			rn, err := store.Load(ctx, root)
			if err != nil {
				t.Fatal(err)
			}
			if len(rn.Fences) != len(rn.Keys) {
				t.Fatalf("root: %d fences for %d children", len(rn.Fences), len(rn.Keys))
			}
			for i, f := range rn.Fences {
				if !f.Known {
					t.Fatalf("root: fence %d not known", i)
				}
			}
		}
	}
}

func searchInt(ks []int64, k int64) int {
	l, h := 0, len(ks)
	for l < h {
		m := (l + h) / 2
		if ks[m] < k {
			l = m + 1
		} else {
			h = m
		}
	}
	return l
}

// TestCheckFences: Check (T7) refuses a branch whose recorded fence is not
// its child's first key.
func TestCheckFences(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore[int64](node.Int64Codec{})
	opts := intOpts(8, store)
	opts.Fence = entityKey
	s, err := Build(ctx, entityKeys(200, 5), opts)
	if err != nil {
		t.Fatal(err)
	}
	root, _, err := s.Flush(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rn, err := store.Load(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	if len(rn.Fences) < 2 || !rn.Fences[1].Known {
		t.Fatalf("root fences %+v: want known ones", rn.Fences)
	}
	bad := &node.Node[int64]{Level: rn.Level, Keys: rn.Keys, Children: rn.Children, Counts: rn.Counts, Fences: append([]node.Fence(nil), rn.Fences...)}
	bad.Fences[1].Lo++
	data, err := node.Encode(bad, node.Int64Codec{})
	if err != nil {
		t.Fatal(err)
	}
	addr := node.AddressOf(data)
	if err := store.Store(ctx, Encoded[int64]{Address: addr, Data: data, Node: bad}); err != nil {
		t.Fatal(err)
	}
	bs, err := Open(ctx, addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := bs.Check(ctx); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "fence") {
		t.Fatalf("Check of a wrong fence: %v, want ErrCorrupt naming the fence", err)
	}
	// Opened without the sort key, the set cannot judge fences.
	opts.Fence = nil
	if bs, err = Open(ctx, addr, opts); err != nil {
		t.Fatal(err)
	}
	if err := bs.Check(ctx); err != nil {
		t.Fatalf("Check without a fence sort key: %v", err)
	}
}

// buildGroups builds a width-128 set of n groups of 5 keys (entityKeys),
// cut between groups (entityKey), and returns it with its model.
func buildGroups(t *testing.T, n int) (Set[int64], model) {
	t.Helper()
	opts := intOpts(128, NewMemStore[int64](node.Int64Codec{}))
	opts.Fence = entityKey
	s, err := Build(context.Background(), entityKeys(n, 5), opts)
	if err != nil {
		t.Fatal(err)
	}
	return s, model(entityKeys(n, 5))
}

// TestFenceUpdateKeepsGroups: a key added at the end of a group that ends
// a leaf stays in that leaf (groupEnd) rather than going to the front of
// the next one, where search would route it: updates, in big batches (a
// merge) or one key at a time (small commits), keep every group in one
// leaf.
func TestFenceUpdateKeepsGroups(t *testing.T) {
	ctx := context.Background()
	const groups = 20000
	for _, batch := range []int{1000, 1} {
		s, m := buildGroups(t, groups)
		var err error
		// Groups get a sixth key, batch groups per update, in an order
		// that visits every leaf's last group.
		r := rand.New(rand.NewPCG(3, uint64(batch)))
		order := r.Perm(groups)
		if batch == 1 {
			order = order[:3000]
		}
		var adds []int64
		for n, g := range order {
			adds = append(adds, int64(g*16+5))
			if len(adds) < batch && n < len(order)-1 {
				continue
			}
			if s, err = s.Update(ctx, adds, nil); err != nil {
				t.Fatal(err)
			}
			m = m.update(adds, nil)
			adds = adds[:0]
			if n%200 == 0 || batch > 1 {
				if _, s, err = s.Flush(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}
		mustCheck(t, s)
		if got := collect(t, s); !equalKeys(got, m) {
			t.Fatalf("batch %d: the set's keys are not the model's", batch)
		}
		cuts, inside := leafCuts(t, s)
		t.Logf("batch %d: %d of %d leaf cuts inside a group", batch, inside, cuts)
		if inside != 0 {
			t.Errorf("batch %d: %d of %d leaf cuts inside a group after the updates, want 0", batch, inside, cuts)
		}
	}
}

// TestFenceChurnKeepsGroups: groups grow by random single keys, in
// batches of 50 (a merge of small commits), until leaves overflow and
// split. A leaf that overflows by a little is cut again together with a
// neighbour (the left one, else the right one), and splits prefer fewer,
// fuller leaves to leaves of about min keys, so that a cut can still move
// to a group's end: few groups end up across two leaves (3 of 1,663 cuts
// fall inside a group; 751 of 2,081 with the plain split at min).
func TestFenceChurnKeepsGroups(t *testing.T) {
	ctx := context.Background()
	const groups = 20000
	s, m := buildGroups(t, groups)
	var err error
	r := rand.New(rand.NewPCG(1, 2))
	size := make([]int, groups)
	for i := range size {
		size[i] = 5
	}
	for round := range 6 {
		var adds []int64
		for n := range 10000 {
			if g := r.IntN(groups); size[g] < 15 {
				adds = append(adds, int64(g*16+size[g]))
				size[g]++
			}
			if len(adds) < 50 && n < 9999 {
				continue
			}
			if s, err = s.Update(ctx, adds, nil); err != nil {
				t.Fatal(err)
			}
			m = m.update(adds, nil)
			adds = adds[:0]
		}
		if _, s, err = s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		cuts, inside := leafCuts(t, s)
		t.Logf("round %d: %d of %d leaf cuts inside a group", round, inside, cuts)
		if inside*20 > cuts {
			t.Errorf("round %d: %d of %d leaf cuts inside a group, want under 5%%", round, inside, cuts)
		}
	}
	mustCheck(t, s)
	if got := collect(t, s); !equalKeys(got, m) {
		t.Fatal("the set's keys are not the model's")
	}
}
