package datom

import (
	"math"
	"math/big"
	"math/rand/v2"
	"net/url"
	"time"

	"github.com/accretedb/accrete/edn"
	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"
)

// randScalar returns a random canonical value of type vt, drawn from small
// domains so that equal values and shared prefixes are frequent.
func randScalar(r *rand.Rand, vt ValueType) any {
	switch vt {
	case TypeBoolean:
		return r.IntN(2) == 1
	case TypeLong:
		switch r.IntN(4) {
		case 0:
			return int64(r.IntN(7) - 3)
		case 1:
			return []int64{math.MinInt64, math.MaxInt64, -1 << 42, 1 << 42}[r.IntN(4)]
		}
		return r.Int64() - r.Int64()
	case TypeRef:
		return MakeID(int64(r.IntN(3)), int64(r.IntN(300)))
	case TypeBigInt:
		b := new(big.Int).Lsh(big.NewInt(int64(r.IntN(1000)-500)), uint(r.IntN(100)))
		return b.Add(b, big.NewInt(int64(r.IntN(3)-1)))
	case TypeDouble:
		switch r.IntN(6) {
		case 0:
			return []float64{math.Inf(1), math.Inf(-1), math.NaN(), math.Copysign(0, -1), 0, math.Float64frombits(0x7FF8000000000123)}[r.IntN(6)]
		case 1:
			return float64(r.IntN(5) - 2)
		}
		return (r.Float64() - 0.5) * math.Pow(10, float64(r.IntN(40)-20))
	case TypeBigDec:
		d := apd.New(int64(r.IntN(2001)-1000), int32(r.IntN(11)-5))
		if r.IntN(10) == 0 {
			d.Coeff.Mul(&d.Coeff, apd.NewBigInt(1_000_000_000_000_000_000))
		}
		return d
	case TypeInstant:
		return time.UnixMilli(r.Int64N(4e12) - 2e12).UTC()
	case TypeUUID:
		var u uuid.UUID
		u[r.IntN(16)] = byte(r.IntN(3))
		if r.IntN(2) == 0 {
			u = uuid.UUID(randBytes(r, 16))
		}
		return u
	case TypeString:
		return string(randBytes(r, r.IntN(5)))
	case TypeKeyword:
		if r.IntN(3) == 0 {
			return edn.Keyword(randName(r))
		}
		return edn.Keyword(randName(r) + "/" + randName(r))
	case TypeSymbol:
		if r.IntN(3) == 0 {
			return edn.Symbol(randName(r))
		}
		return edn.Symbol(randName(r) + "/" + randName(r))
	case TypeURI:
		return &url.URL{Scheme: "https", Host: randName(r) + ".org", Path: "/" + randName(r)}
	case TypeBytes:
		return randBytes(r, r.IntN(5))
	case TypeTuple:
		n := MinTupleLen + r.IntN(3)
		t := make(edn.Vector, n)
		for i := range t {
			if r.IntN(6) == 0 {
				continue // nil element
			}
			t[i] = randScalar(r, scalarTypes[r.IntN(len(scalarTypes))])
		}
		return t
	}
	panic("randScalar: bad type " + vt.String())
}

var scalarTypes = []ValueType{TypeBoolean, TypeLong, TypeRef, TypeBigInt, TypeDouble, TypeBigDec,
	TypeInstant, TypeUUID, TypeString, TypeKeyword, TypeSymbol, TypeURI, TypeBytes}

var allTypes = append(append([]ValueType{}, scalarTypes...), TypeTuple)

func randValue(r *rand.Rand) any { return randScalar(r, allTypes[r.IntN(len(allTypes))]) }

func randBytes(r *rand.Rand, n int) []byte {
	alphabet := []byte{0, 1, 'a', 'b', 0x7f, 0xc3, 0xa9, 0xff}
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return b
}

func randName(r *rand.Rand) string {
	const letters = "ab-z"
	n := 1 + r.IntN(3)
	b := make([]byte, n)
	for i := range b {
		b[i] = letters[r.IntN(len(letters))]
	}
	return string(b)
}

func randDatom(r *rand.Rand) Datom {
	return Datom{
		E:     MakeID(int64(r.IntN(3)), int64(r.IntN(20))),
		A:     MakeID(PartDB, int64(r.IntN(5))),
		V:     randValue(r),
		Tx:    TxID(int64(r.IntN(5))),
		Added: r.IntN(2) == 0,
	}
}
