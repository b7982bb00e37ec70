package reader

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/google/uuid"
)

// The overlay sort keys must agree with their trees' comparators wherever
// the pairs differ (pss.SortKey): checked on every pair of datoms from a
// pool of values of every type, near the edges of the prefixes (long
// extremes, strings sharing their first seven bytes, instants in one second
// or beyond the clamped range).
func TestOverlayKeysAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	base := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	vals := []any{nil, false, true, maxValue{}, struct{}{},
		int64(math.MinInt64), int64(math.MinInt64 + 1), int64(-256), int64(-255), int64(-1), int64(0), int64(1),
		int64(255), int64(256), int64(math.MaxInt64), int64(math.MaxInt64 - 1),
		big.NewInt(-5), big.NewInt(7), 0.5, -0.0, math.Inf(1), math.NaN(),
		"", "a", "a\x00", "abcdefg", "abcdefgh", "abcdefga", "abcdeff\xff", "\xff\xff\xff\xff\xff\xff\xff\xff", "b",
		edn.Keyword("a/b"), edn.Keyword("b"), edn.Symbol("s"), []byte("xy"), uuid.UUID{1}, uuid.UUID{},
		edn.Vector{int64(1), "a"},
		base, base.Add(1), base.Add(255), base.Add(256), base.Add(time.Second - 1), base.Add(time.Second),
		base.In(time.FixedZone("x", 3600)), time.Unix(-1<<33-5, 0), time.Unix(-1<<33, 0), time.Unix(1<<33-1, 999999999),
		time.Unix(1<<33, 0), time.Unix(1<<40, 3), time.Time{}}
	for range 200 {
		switch r.IntN(3) {
		case 0:
			vals = append(vals, int64(r.Uint64()))
		case 1:
			vals = append(vals, base.Add(time.Duration(r.Int64N(int64(10*time.Second)))))
		default:
			b := make([]byte, r.IntN(10))
			for i := range b {
				b[i] = "ab\x00\xff"[r.IntN(4)]
			}
			vals = append(vals, string(b))
		}
	}
	var ds []datom.Datom
	for _, v := range vals {
		ds = append(ds, datom.Datom{E: r.Int64N(3) + 10, A: r.Int64N(2) + 20, V: v, Tx: r.Int64N(3), Added: r.IntN(2) == 0})
	}
	cmps := map[int]func(a, b datom.Datom) int{
		curEAVT: datom.CompareEAVT, curAEVT: datom.CompareAEVT, curAVET: datom.CompareAVET, curVAET: datom.CompareVAET,
	}
	less := func(ah, al, bh, bl uint64) bool { return ah < bh || ah == bh && al < bl }
	for i, key := range overlayKeys {
		cmp := cmps[i%nCur]
		if key == nil || cmp == nil {
			continue
		}
		for _, a := range ds {
			ah, al, aok := key(a)
			for _, b := range ds {
				bh, bl, bok := key(b)
				if aok && bok && less(ah, al, bh, bl) && cmp(a, b) >= 0 {
					t.Fatalf("tree %d: key(%v) = (%x, %x) < key(%v) = (%x, %x), but the comparator orders them %d",
						i, a, ah, al, b, bh, bl, cmp(a, b))
				}
			}
		}
	}
}
