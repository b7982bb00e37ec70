package pss

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestRadixSortKeys: the radix sort of sort keys orders them exactly as
// compareSortKeys does (equal pairs by position), whatever bits the pairs
// differ in, and declines pairs differing in more than 64 bits.
func TestRadixSortKeys(t *testing.T) {
	r := rand.New(rand.NewPCG(testSeed(t), 2))
	for round := range 400 {
		n := 1 + r.IntN(3000)
		// Random masks of the varying bits, and a random common base.
		mh := r.Uint64() >> r.IntN(65)
		ml := r.Uint64() >> r.IntN(65)
		if round%4 == 0 {
			mh, ml = 0xff, 0 // few distinct pairs: long runs of ties
		}
		bh, bl := r.Uint64(), r.Uint64()
		ks := make([]sortKey, n)
		for i := range ks {
			ks[i] = sortKey{hi: bh ^ r.Uint64()&mh, lo: bl ^ r.Uint64()&ml, i: int32(i)}
		}
		want := slices.Clone(ks)
		slices.SortFunc(want, compareSortKeys)
		got := slices.Clone(ks)
		if !radixSortKeys(got) {
			var dh, dl uint64
			for _, k := range ks {
				dh |= k.hi ^ ks[0].hi
				dl |= k.lo ^ ks[0].lo
			}
			if !slices.Equal(got, ks) {
				t.Fatalf("round %d: declined but changed the keys", round)
			}
			if lh, ll := 64-leadingZeros(dh), 64-leadingZeros(dl); lh+ll <= 64 {
				t.Fatalf("round %d: declined pairs differing in %d+%d bits", round, lh, ll)
			}
			continue
		}
		if !slices.Equal(got, want) {
			t.Fatalf("round %d (n=%d, masks %x %x): radix order differs from compareSortKeys", round, n, mh, ml)
		}
	}
}

func leadingZeros(x uint64) int {
	n := 0
	for i := 63; i >= 0 && x>>i&1 == 0; i-- {
		n++
	}
	return n
}

// BenchmarkSortKeys sorts 100,000 sort keys shaped like an EAVT build's
// (entity ids of one partition, a few attributes), by radix and by
// comparison.
func BenchmarkSortKeys(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	ks := make([]sortKey, 100000)
	for i := range ks {
		ks[i] = sortKey{hi: uint64(4<<42|r.IntN(200000)) ^ 1<<63, lo: uint64(100+r.IntN(8)) ^ 1<<63, i: int32(i)}
	}
	buf := make([]sortKey, len(ks))
	b.Run("radix", func(b *testing.B) {
		for b.Loop() {
			copy(buf, ks)
			radixSortKeys(buf)
		}
	})
	b.Run("pdqsort", func(b *testing.B) {
		for b.Loop() {
			copy(buf, ks)
			slices.SortFunc(buf, compareSortKeys)
		}
	})
}
