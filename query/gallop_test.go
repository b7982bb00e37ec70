package query

import (
	"math/rand/v2"
	"testing"

	"github.com/accretedb/accrete/datom"
)

// TestGallopE checks gallopE against a linear search on random sorted runs
// with repeated entities.
func TestGallopE(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for round := 0; round < 2000; round++ {
		n := 2 + r.IntN(300)
		ds := make([]datom.Datom, n)
		e := int64(r.IntN(5))
		for i := range ds {
			e += int64(r.IntN(3)) // 0: the same entity again
			ds[i].E = e
		}
		j := r.IntN(n - 1)
		// A target x with ds[j].E < x <= ds[n-1].E, as the caller ensures.
		if ds[j].E == ds[n-1].E {
			continue
		}
		x := ds[j].E + 1 + r.Int64N(ds[n-1].E-ds[j].E)
		want := j
		for ds[want].E < x {
			want++
		}
		if got := gallopE(ds, j, x); got != want {
			t.Fatalf("round %d: gallopE(j=%d, x=%d) = %d, want %d", round, j, x, got, want)
		}
	}
}

// BenchmarkGallopE walks a run of 8,192 datoms, one per entity, to targets
// 1 to 16 entities apart (a merge join with an eighth of the entities).
func BenchmarkGallopE(b *testing.B) {
	ds := make([]datom.Datom, 8192)
	for i := range ds {
		ds[i].E = int64(1000 + i)
	}
	r := rand.New(rand.NewPCG(1, 2))
	var xs []int64
	for x := ds[0].E + 1; x <= ds[len(ds)-1].E; x += 1 + r.Int64N(16) {
		xs = append(xs, x)
	}
	b.ResetTimer()
	for b.Loop() {
		j := 0
		for _, x := range xs {
			j = gallopE(ds, j, x)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(xs)), "ns/seek")
}
