package tx

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
)

// TestFactIndexModel checks factIndex against a map keyed by the printed
// fact, through its linear phase and its hashed one, with real hashes and
// with hashes masked to two bits (every lookup walks a chain of
// collisions), and across release.
func TestFactIndexModel(t *testing.T) {
	values := []any{int64(0), int64(1), int64(300), "a", "b", edn.Keyword("k"), 1.5, true, datom.ID(1) << 42}
	for _, mask := range []uint64{^uint64(0), 3} {
		factHashMask = mask
		seed := rand.Uint64()
		rng := rand.New(rand.NewPCG(seed, 7))
		var buf [4]factEntry
		var x factIndex
		for round := range 3 {
			x.small = buf[:0]
			model := map[string]int32{}
			n := rng.IntN(6 * smallIndex)
			for k := range 4 * n {
				e, a, v := datom.ID(rng.IntN(4)), datom.ID(rng.IntN(3)), values[rng.IntN(len(values))]
				key := fmt.Sprintf("%d %d %T %v", e, a, v, v)
				want, inModel := model[key]
				got, ok := x.get(e, a, v)
				if ok != inModel || ok && got != want {
					t.Fatalf("seed %d mask %x round %d step %d: get(%d %d %v) = %d, %v; want %d, %v", seed, mask, round, k, e, a, v, got, ok, want, inModel)
				}
				if !ok && len(model) < n {
					x.put(e, a, v, int32(k))
					model[key] = int32(k)
				}
			}
			x.release()
			clear(buf[:])
			if x.small != nil || x.m != nil {
				t.Fatalf("seed %d: release left entries", seed)
			}
			checkScratch(t, "release", "spare", reflect.ValueOf(x.spare))
		}
	}
	factHashMask = ^uint64(0)
}
