package reader

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/accretedb/accrete/datom"
)

// TestSearchIDs checks searchIDs against sort.Search over
// random sorted runs: small and large, with repeated ids, negative ids and
// the extremes of int64, in both EAVT and AEVT order.
func TestSearchIDs(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	pick := func(span int64) int64 {
		switch r.IntN(20) {
		case 0:
			return math.MinInt64
		case 1:
			return math.MaxInt64
		}
		return r.Int64N(span) - span/2
	}
	for iter := 0; iter < 3000; iter++ {
		n := r.IntN(70)
		if iter%10 == 0 {
			n = r.IntN(2000)
		}
		span := int64(1 + r.IntN(40))
		aevt := r.IntN(2) == 0
		ks := make([]datom.Datom, n)
		for i := range ks {
			ks[i] = datom.Datom{E: pick(span), A: pick(span)}
		}
		lead := func(d datom.Datom) (int64, int64) {
			if aevt {
				return d.A, d.E
			}
			return d.E, d.A
		}
		slices.SortFunc(ks, func(x, y datom.Datom) int {
			x1, x2 := lead(x)
			y1, y2 := lead(y)
			if x1 != y1 {
				if x1 < y1 {
					return -1
				}
				return 1
			}
			if x2 < y2 {
				return -1
			}
			if x2 > y2 {
				return 1
			}
			return 0
		})
		for j := 0; j < 20; j++ {
			p, q := pick(span+2), pick(span+2)
			if n > 0 && j%3 == 0 {
				p, q = lead(ks[r.IntN(n)]) // an id pair present
			}
			want := sort.Search(n, func(i int) bool {
				k1, k2 := lead(ks[i])
				return k1 > p || (k1 == p && k2 >= q)
			})
			if got := searchIDs(ks, aevt, p, q); got != want {
				t.Fatalf("n=%d aevt=%v (%d, %d): searchIDs %d, want %d", n, aevt, p, q, got, want)
			}
		}
	}
}
