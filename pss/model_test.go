package pss

import (
	"context"
	"fmt"
	"github.com/accretedb/accrete/node"
	"math/rand/v2"
	"slices"
	"testing"
)

// model is the reference: a sorted slice with the same Update semantics.
type model []int64

func (m model) update(adds, removes []int64) model {
	out := slices.Clone(m)
	for _, k := range removes {
		if i, ok := slices.BinarySearch(out, k); ok {
			out = slices.Delete(out, i, i+1)
		}
	}
	for _, k := range adds {
		if i, ok := slices.BinarySearch(out, k); !ok {
			out = slices.Insert(out, i, k)
		}
	}
	return out
}

// rangeOf returns the model keys in [lo, hi) with nil meaning open.
func (m model) rangeOf(lo, hi *int64) []int64 {
	var out []int64
	for _, k := range m {
		if (lo == nil || k >= *lo) && (hi == nil || k < *hi) {
			out = append(out, k)
		}
	}
	return out
}

// compareSet checks s against m thoroughly: length, full scans both ways,
// bounded scans, seeks with steps, Get, Count, First/Last.
func compareSet(t *testing.T, r *rand.Rand, s Set[int64], m model, keySpace int64, what string) {
	t.Helper()
	ctx := context.Background()
	if s.Len() != len(m) {
		t.Fatalf("%s: Len = %d, want %d", what, s.Len(), len(m))
	}
	if got := collect(t, s); !equalKeys(got, m) && !(len(got) == 0 && len(m) == 0) {
		t.Fatalf("%s: forward scan\n got %v\nwant %v", what, got, m)
	}
	// Nth: the key at a rank, and nothing past either end.
	for _, rk := range []int{-1, 0, len(m) / 2, len(m) - 1, len(m), r.IntN(len(m) + 1)} {
		k, ok, err := s.Nth(ctx, rk)
		want := rk >= 0 && rk < len(m)
		if err != nil || ok != want || (ok && k != m[rk]) {
			t.Fatalf("%s: Nth(%d) = %d,%v,%v; want ok=%v (of %d keys)", what, rk, k, ok, err, want, len(m))
		}
	}
	// Backward full scan.
	it := s.NewIter(ctx, nil)
	var back []int64
	for ok := it.Last(); ok; ok = it.Prev() {
		back = append(back, it.Key())
	}
	if err := it.Close(); err != nil {
		t.Fatalf("%s: backward scan: %v", what, err)
	}
	slices.Reverse(back)
	if !equalKeys(back, m) && !(len(back) == 0 && len(m) == 0) {
		t.Fatalf("%s: backward scan\n got %v\nwant %v", what, back, m)
	}
	// First / Last.
	if k, ok, err := s.First(ctx); err != nil || ok != (len(m) > 0) || (ok && k != m[0]) {
		t.Fatalf("%s: First = %d,%v,%v; want first of %d keys", what, k, ok, err, len(m))
	}
	if k, ok, err := s.Last(ctx); err != nil || ok != (len(m) > 0) || (ok && k != m[len(m)-1]) {
		t.Fatalf("%s: Last = %d,%v,%v", what, k, ok, err)
	}
	for range 4 {
		var lo, hi *int64
		if r.IntN(3) > 0 {
			v := r.Int64N(keySpace+2) - 1
			lo = &v
		}
		if r.IntN(3) > 0 {
			v := r.Int64N(keySpace+2) - 1
			hi = &v
		}
		want := m.rangeOf(lo, hi)
		it := s.NewIter(ctx, &IterOptions[int64]{LowerBound: lo, UpperBound: hi})
		var got []int64
		for ok := it.First(); ok; ok = it.Next() {
			got = append(got, it.Key())
		}
		if !equalKeys(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Fatalf("%s: bounded forward [%v,%v)\n got %v\nwant %v", what, ptr(lo), ptr(hi), got, want)
		}
		got = got[:0]
		for ok := it.Last(); ok; ok = it.Prev() {
			got = append(got, it.Key())
		}
		slices.Reverse(got)
		if !equalKeys(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Fatalf("%s: bounded backward [%v,%v)\n got %v\nwant %v", what, ptr(lo), ptr(hi), got, want)
		}
		// Seeks with a few steps in a random direction.
		for range 3 {
			k := r.Int64N(keySpace+2) - 1
			ge := r.IntN(2) == 0
			var ok bool
			var wi int // index in want of the expected key
			if ge {
				ok = it.SeekGE(k)
				wi, _ = slices.BinarySearch(want, k)
			} else {
				ok = it.SeekLT(k)
				wi, _ = slices.BinarySearch(want, k)
				wi--
			}
			for step := 0; step < 6; step++ {
				inRange := wi >= 0 && wi < len(want)
				if ok != inRange || (ok && it.Key() != want[wi]) {
					t.Fatalf("%s: seek(ge=%v,%d) in [%v,%v) step %d: got ok=%v key=%v, want ok=%v idx %d of %v",
						what, ge, k, ptr(lo), ptr(hi), step, ok, keyOr(it), inRange, wi, want)
				}
				if !inRange {
					break
				}
				if r.IntN(2) == 0 {
					ok, wi = it.Next(), wi+1
				} else {
					ok, wi = it.Prev(), wi-1
				}
			}
		}
		if err := it.Close(); err != nil {
			t.Fatalf("%s: iterator: %v", what, err)
		}
		if lo != nil && hi != nil {
			n, err := s.Count(ctx, *lo, *hi)
			if err != nil || n != len(want) {
				t.Fatalf("%s: Count(%d,%d) = %d,%v; want %d", what, *lo, *hi, n, err, len(want))
			}
		}
	}
	// IterOptions.Past: a forward scan of [lo, hi] that lets the fences
	// end it (Next or NextRun) still yields every key of the range, and
	// ends early only where the next leaf's first key is above hi.
	if s.cfg.fence != nil {
		for range 4 {
			lo := r.Int64N(keySpace+2) - 1
			hi := lo + r.Int64N(keySpace/4+1)
			hf := s.cfg.keyFence(hi)
			past := func(f node.Fence) bool { return f.Hi > hf.Hi || (f.Hi == hf.Hi && f.Lo > hf.Lo) }
			want := m.rangeOf(&lo, ptrTo(hi+1))
			byRun := r.IntN(2) == 0
			it := s.NewIter(ctx, &IterOptions[int64]{Past: past})
			var got []int64
			ok := it.SeekGE(lo)
			for ok && it.Key() <= hi {
				if byRun {
					run := it.Run()
					for _, k := range run {
						if k <= hi {
							got = append(got, k)
						}
					}
					if run[len(run)-1] > hi {
						break
					}
					ok = it.NextRun()
				} else {
					got = append(got, it.Key())
					ok = it.Next()
				}
			}
			if err := it.Close(); err != nil {
				t.Fatalf("%s: scan [%d,%d] with Past: %v", what, lo, hi, err)
			}
			if !equalKeys(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Fatalf("%s: scan [%d,%d] with Past (runs %v)\n got %v\nwant %v", what, lo, hi, byRun, got, want)
			}
		}
	}
	// SeekRunFence: the run is m's from k to the end of a leaf, and a
	// known fence is the sort key of the key after the run.
	for range 8 {
		k := r.Int64N(keySpace+2) - 1
		wi, _ := slices.BinarySearch(m, k)
		run, next, err := s.SeekRunFence(ctx, func(ks []int64) int { i, _ := slices.BinarySearch(ks, k); return i })
		if err != nil || len(run) > len(m)-wi || (len(run) == 0) != (wi == len(m)) || !equalKeys(run, m[wi:wi+len(run)]) {
			t.Fatalf("%s: SeekRunFence(%d) = %v, %v; want a prefix of %v", what, k, run, err, m[wi:])
		}
		if after := wi + len(run); next.Known {
			if s.cfg.fence == nil || after == len(m) {
				t.Fatalf("%s: SeekRunFence(%d): fence %+v with no key or sort key after the run", what, k, next)
			}
			if want := s.cfg.keyFence(m[after]); next != want {
				t.Fatalf("%s: SeekRunFence(%d): fence %+v, key after the run %d has %+v", what, k, next, m[after], want)
			}
		}
	}
	for range 8 {
		k := r.Int64N(keySpace)
		_, want := slices.BinarySearch(m, k)
		got, ok, err := s.Get(ctx, k)
		if err != nil || ok != want || (ok && got != k) {
			t.Fatalf("%s: Get(%d) = %d,%v,%v; want present=%v", what, k, got, ok, err, want)
		}
	}
}

func ptrTo(v int64) *int64 { return &v }

func ptr(p *int64) any {
	if p == nil {
		return "nil"
	}
	return *p
}

func keyOr(it *Iter[int64]) any {
	if it.Valid() {
		return it.Key()
	}
	return "-"
}

// TestModel runs thousands of random batches per width against a sorted
// slice, flushing and reopening through a MemStore now and then, and
// re-checks old versions after newer ones were made.
func TestModel(t *testing.T) {
	seed := testSeed(t)
	for _, width := range []int{4, 5, 8, 32, 128} {
		for _, fenced := range []bool{false, true} {
			t.Run(fmt.Sprintf("width=%d/fenced=%v", width, fenced), func(t *testing.T) {
				testModel(t, seed, width, fenced)
			})
		}
	}
}

// groupKey is a fence sort key for int64 keys: groups of eight
// consecutive keys, then the key's place in its group.
func groupKey(k int64) (uint64, uint64, bool) {
	return uint64(k>>3) ^ 1<<63, uint64(k & 7), true
}

func testModel(t *testing.T, seed uint64, width int, fenced bool) {
	{
		{
			r := rand.New(rand.NewPCG(seed, uint64(width)))
			ctx := context.Background()
			store := NewMemStore[int64](intOpts(width, nil).Codec)
			opts := intOpts(width, store)
			if fenced {
				opts.Fence = groupKey
			}
			keySpace := int64(4 * width * width)
			if keySpace > 5000 {
				keySpace = 5000
			}
			s, err := New(opts)
			if err != nil {
				t.Fatal(err)
			}
			var m model
			type version struct {
				s Set[int64]
				m model
			}
			var old []version
			const batches = 1200
			for b := range batches {
				var adds, removes []int64
				// Phases: grow, churn, shrink, so trees get deep and then
				// merge back down to a single leaf.
				addN, remN := r.IntN(12), r.IntN(8)
				switch {
				case b%400 < 150:
					addN += r.IntN(20)
				case b%400 >= 300:
					remN += r.IntN(40)
					addN /= 3
				}
				if r.IntN(50) == 0 {
					addN = r.IntN(400) // a big batch: many splits at once
				}
				for range addN {
					adds = append(adds, r.Int64N(keySpace))
				}
				for range remN {
					if len(m) > 0 && r.IntN(4) > 0 {
						removes = append(removes, m[r.IntN(len(m))])
					} else {
						removes = append(removes, r.Int64N(keySpace))
					}
				}
				ns, err := s.Update(ctx, adds, removes)
				if err != nil {
					t.Fatalf("batch %d: Update: %v", b, err)
				}
				m = m.update(adds, removes)
				if err := ns.Check(ctx); err != nil {
					t.Fatalf("batch %d: after Update(%v, %v): %v", b, adds, removes, err)
				}
				switch r.IntN(10) {
				case 0: // flush and keep going on the flushed set
					if _, ns, err = ns.Flush(ctx); err != nil {
						t.Fatalf("batch %d: Flush: %v", b, err)
					}
				case 1: // flush and reopen from the root address alone
					root, _, err := ns.Flush(ctx)
					if err != nil {
						t.Fatalf("batch %d: Flush: %v", b, err)
					}
					if ns, err = Open(ctx, root, opts); err != nil {
						t.Fatalf("batch %d: Open: %v", b, err)
					}
				}
				compareSet(t, r, ns, m, keySpace, fmt.Sprintf("batch %d", b))
				if b%97 == 0 {
					old = append(old, version{ns, slices.Clone(m)})
				}
				s = ns
			}
			// The old versions are unchanged by everything since.
			for i, v := range old {
				mustCheck(t, v.s)
				compareSet(t, r, v.s, v.m, keySpace, fmt.Sprintf("old version %d", i))
			}
			checked(t, s)
		}
	}
}

func TestUpdateSemantics(t *testing.T) {
	ctx := context.Background()
	type kv struct{ k, v int64 }
	opts := Options[kv]{Compare: func(a, b kv) int { return int(a.k - b.k) }, Width: 4}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	s, err = s.Update(ctx, []kv{{1, 10}, {2, 20}, {1, 11}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok, _ := s.Get(ctx, kv{1, 0}); !ok || got.v != 10 {
		t.Fatalf("first add wins: Get(1) = %v,%v; want {1 10}", got, ok)
	}
	s2, err := s.Update(ctx, []kv{{1, 12}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s2.Get(ctx, kv{1, 0}); got.v != 10 {
		t.Fatalf("adding a present key is a no-op: Get(1) = %v; want {1 10}", got)
	}
	if s2.root != s.root {
		t.Fatalf("no-op Update made a new root")
	}
	s3, err := s.Update(ctx, []kv{{1, 13}}, []kv{{1, 0}, {7, 0}})
	if err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s3.Get(ctx, kv{1, 0}); got.v != 13 || s3.Len() != 2 {
		t.Fatalf("remove then add replaces: Get(1) = %v, Len %d; want {1 13}, 2", got, s3.Len())
	}
	if got, _, _ := s.Get(ctx, kv{1, 0}); got.v != 10 {
		t.Fatalf("old version changed: Get(1) = %v; want {1 10}", got)
	}
	checked(t, s3)
}

func TestBuild(t *testing.T) {
	ctx := context.Background()
	for _, width := range []int{4, 5, 7, 128} {
		for _, n := range []int{0, 1, 2, 3, 4, 5, 9, 97, 100, 1000, 12345} {
			s, err := Build(ctx, seq(0, int64(n)), intOpts(width, nil))
			if err != nil {
				t.Fatalf("Build(width %d, n %d): %v", width, n, err)
			}
			mustCheck(t, s)
			if got := collect(t, s); s.Len() != n || len(got) != n || (n > 0 && got[n-1] != int64(n-1)) {
				t.Fatalf("Build(width %d, n %d): Len %d, scan %d keys", width, n, s.Len(), len(got))
			}
		}
	}
	if _, err := Build(ctx, []int64{1, 3, 3}, intOpts(4, nil)); !errorsIs(err, ErrNotSorted) {
		t.Fatalf("Build of a duplicate: got %v, want ErrNotSorted", err)
	}
	if _, err := Build(ctx, []int64{2, 1}, intOpts(4, nil)); !errorsIs(err, ErrNotSorted) {
		t.Fatalf("Build unsorted: got %v, want ErrNotSorted", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	cases := []struct {
		name string
		o    Options[int64]
	}{
		{"no compare", Options[int64]{Width: 8}},
		{"width too small", intOpts(3, nil)},
		{"width too large", intOpts(MaxWidth+1, nil)},
		{"negative parallelism", Options[int64]{Compare: intOpts(0, nil).Compare, FlushParallelism: -1}},
	}
	for _, tc := range cases {
		if _, err := New(tc.o); !errorsIs(err, ErrInvalidOptions) {
			t.Errorf("%s: New: got %v, want ErrInvalidOptions", tc.name, err)
		}
	}
	if _, err := New(intOpts(0, nil)); err != nil {
		t.Errorf("defaults: New: %v", err)
	}
}
