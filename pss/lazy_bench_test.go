package pss

import (
	"cmp"
	"context"
	"math/rand/v2"
	"testing"
)

// fatKey is shaped like a datom: two ids, a value behind an interface, a
// transaction and a flag (48 bytes, holding a pointer).
type fatKey struct {
	e, a int64
	v    any
	tx   int64
	_    bool // the added flag: for the size and shape only
}

func compareFat(x, y fatKey) int {
	if c := cmp.Compare(x.e, y.e); c != 0 {
		return c
	}
	if c := cmp.Compare(x.a, y.a); c != 0 {
		return c
	}
	return cmp.Compare(x.tx, y.tx)
}

func fatSortKey(k fatKey) (uint64, uint64, bool) {
	return uint64(k.e) ^ 1<<63, uint64(k.a) ^ 1<<63, true
}

// BenchmarkLazyChain is a chain of 100,000 lazy keyed updates of two keys
// each (a one-datom transaction and its transaction datom, as DB.With
// makes them), read once at the end: the builds of a growing chain.
func BenchmarkLazyChain(b *testing.B) {
	const n = 100000
	batches := make([][]fatKey, n)
	for i := range batches {
		batches[i] = []fatKey{
			{e: int64(i/5) * 7919 % (n / 5), a: int64(10 + i%5), v: "x", tx: int64(i)},
			{e: 1<<40 + int64(i), a: 3, v: "t", tx: int64(i)},
		}
	}
	benchChain(b, batches, 2*n)
}

// BenchmarkLazyChainSpread is a chain of 20,000 lazy keyed updates of ten
// keys each, every one on an entity of its own in random order (a run of
// retractEntity transactions, as the deletion and history sets of a
// database see them), read once at the end: the builds of a chain whose
// keys are spread over the whole set, which rebuild it.
func BenchmarkLazyChainSpread(b *testing.B) {
	const n = 20000
	r := rand.New(rand.NewPCG(1, 2))
	perm := r.Perm(n)
	batches := make([][]fatKey, n)
	for i := range batches {
		for a := range 10 {
			batches[i] = append(batches[i], fatKey{e: int64(perm[i]), a: int64(10 + a), v: "x", tx: int64(i)})
		}
	}
	benchChain(b, batches, 10*n)
}

// benchChain times building, from empty, the chain of lazy keyed updates
// that adds batches one after another, and reading it once (its Len, which
// must be want).
func benchChain(b *testing.B, batches [][]fatKey, want int) {
	ctx := context.Background()
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		s, err := New(Options[fatKey]{Compare: compareFat, Width: 32})
		if err != nil {
			b.Fatal(err)
		}
		for _, bt := range batches {
			if s, err = s.UpdateLazilyKeyed(ctx, bt, nil, fatSortKey); err != nil {
				b.Fatal(err)
			}
		}
		if s.Len() != want {
			b.Fatal(s.Len())
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}
