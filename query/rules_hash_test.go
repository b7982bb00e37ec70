package query

import (
	"bytes"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/accretedb/accrete/edn"
)

// TestRowHashModel adds random tuples to a tupleStore deduplicated by a
// rowHash and indexes them by their first value, against a map model.
// Hashes are squeezed into a few buckets (h % spread) so that probing and
// the comparison of keys, not the hash, decide.
func TestRowHashModel(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	vals := []any{int64(1), int64(2), int64(1 << 40), "1", edn.Keyword("1"), 1.0, nil, true, edn.Vector{int64(1)}, big.NewInt(1)}
	for _, spread := range []uint32{1, 3, 1 << 31} {
		store := &tupleStore{arity: 2}
		var set rowHash
		model := map[string]int32{}
		var buf []byte
		all := []int{0, 1}
		for i := 0; i < 3000; i++ {
			tuple := []any{vals[r.IntN(len(vals))], vals[r.IntN(len(vals))]}
			if spread > 4 {
				tuple[0] = int64(r.IntN(5000)) // enough keys to grow the table
			}
			h := hashVals(tuple, &buf) % spread
			k := string(appendKey(appendKey(nil, tuple[0]), tuple[1]))
			slot, found := set.find(store, all, h, tuple)
			want, inModel := model[k]
			if found != inModel {
				t.Fatalf("spread %d: %v found=%v, model %v", spread, tuple, found, inModel)
			}
			if found {
				if got := set.row(slot); got != want {
					t.Fatalf("spread %d: %v is row %d, want %d", spread, tuple, got, want)
				}
				continue
			}
			model[k] = int32(store.n)
			set.insert(slot, h, int32(store.n))
			store.add(tuple)
		}
		if set.n != len(model) || store.n != len(model) {
			t.Fatalf("spread %d: %d entries, %d rows, model %d", spread, set.n, store.n, len(model))
		}
		for k, j := range model {
			row := store.row(int(j))
			if got := string(appendKey(appendKey(nil, row[0]), row[1])); got != k {
				t.Fatalf("row %d changed", j)
			}
		}
		// An index by the first value: every chain holds exactly the rows
		// with that value.
		re := &ruleEval{}
		x := &resIndex{pos: []int{0}, next: make([]int32, store.n)}
		re.extend(x, store, 0, store.n)
		for j := 0; j < store.n; j++ {
			v := store.row(j)[0]
			slot, found := x.head.find(store, x.pos, hashVals([]any{v}, &buf), []any{v})
			if !found {
				t.Fatalf("spread %d: %v not indexed", spread, v)
			}
			n := 0
			for c := x.head.row(slot); c >= 0; c = x.next[c] {
				if !valuesEqual(store.row(int(c))[0], v) {
					t.Fatalf("chain of %v holds %v", v, store.row(int(c)))
				}
				n++
			}
			want := 0
			for i := 0; i < store.n; i++ {
				if valuesEqual(store.row(i)[0], v) {
					want++
				}
			}
			if n != want {
				t.Fatalf("chain of %v holds %d rows, want %d", v, n, want)
			}
		}
	}
}

// TestHashValueConsistent checks that valuesEqual is the equality of
// appendKey and that equal values hash alike.
func TestHashValueConsistent(t *testing.T) {
	vals := []any{int64(0), int64(-1), int64(1 << 62), 0.0, 1.0, "", "a", edn.Keyword("a"), edn.Symbol("a"),
		nil, false, true, edn.Vector{"a"}, edn.List{"a"}, []any{"a"}, big.NewInt(5), []byte("a"), edn.Char('a'),
		math.Copysign(0, -1), math.NaN(), math.Float64frombits(0x7FF8000000000001), edn.Vector{math.NaN()}}
	var buf []byte
	for _, a := range vals {
		for _, b := range vals {
			same := bytes.Equal(appendKey(nil, a), appendKey(nil, b))
			if valuesEqual(a, b) != same {
				t.Errorf("valuesEqual(%#v, %#v) = %v, keys equal %v", a, b, !same, same)
			}
			if same && hashValue(a, &buf) != hashValue(b, &buf) {
				t.Errorf("%#v and %#v are equal but hash differently", a, b)
			}
		}
	}
}

// TestTupleStoreReserve interleaves reserve and add and checks that every
// row reads back as added, across the first block's growth and the
// blocks after it.
func TestTupleStoreReserve(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, arity := range []int{0, 1, 3} {
		s := &tupleStore{arity: arity}
		var want [][]any
		for len(want) < 3*storeRows {
			if r.IntN(4) == 0 {
				s.reserve(r.IntN(300))
			}
			row := make([]any, arity)
			for k := range row {
				row[k] = int64(len(want)*10 + k)
			}
			s.add(row)
			want = append(want, row)
		}
		if s.n != len(want) {
			t.Fatalf("arity %d: %d rows, want %d", arity, s.n, len(want))
		}
		for j, w := range want {
			got := s.row(j)
			if len(got) != arity {
				t.Fatalf("arity %d: row %d has %d values", arity, j, len(got))
			}
			for k := range w {
				if got[k] != w[k] {
					t.Fatalf("arity %d: row %d = %v, want %v", arity, j, got, w)
				}
			}
		}
	}
}
