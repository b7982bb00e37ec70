package datom

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/accretedb/accrete/edn"
	"github.com/vmihailenco/msgpack/v5"
)

// benchDatoms returns n datoms of a typical shape: user entities, a few
// attributes, long, ref, string and keyword values, sorted by idx.
func benchDatoms(n int, idx Index) []Datom {
	r := rand.New(rand.NewPCG(7, 7))
	ds := make([]Datom, n)
	for i := range ds {
		d := Datom{E: MakeID(PartUser, int64(r.IntN(n/4+1))), A: MakeID(PartDB, 100+int64(r.IntN(8))), Tx: TxID(int64(1 + r.IntN(1000))), Added: true}
		switch r.IntN(4) {
		case 0:
			d.V = int64(r.IntN(1000))
		case 1:
			d.V = MakeID(PartUser, int64(r.IntN(n)))
		case 2:
			d.V = fmt.Sprintf("name-%d", r.IntN(1000))
		default:
			d.V = edn.Keyword(fmt.Sprintf("status/s%d", r.IntN(10)))
		}
		ds[i] = d
	}
	slices.SortFunc(ds, Comparator(idx))
	return ds
}

// BenchmarkCompare measures one comparison as a B-tree search does it: a
// probe against neighbours in sorted order, so most comparisons reach V.
func BenchmarkCompare(b *testing.B) {
	for _, idx := range []Index{EAVT, AEVT, AVET, VAET, TEAV} {
		b.Run(idx.String(), func(b *testing.B) {
			ds := benchDatoms(4096, idx)
			cmp := Comparator(idx)
			b.ReportAllocs()
			sink := 0
			for i := 0; b.Loop(); i++ {
				j := i & 4095
				sink += cmp(ds[j], ds[(j+1)&4095])
			}
			_ = sink
		})
	}
}

// BenchmarkCompareValues measures CompareValues by value type.
func BenchmarkCompareValues(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, vt := range []ValueType{TypeLong, TypeString, TypeKeyword, TypeInstant, TypeBigDec, TypeTuple} {
		b.Run(vt.String(), func(b *testing.B) {
			vals := make([]any, 1024)
			for i := range vals {
				vals[i] = randScalar(r, vt)
			}
			b.ReportAllocs()
			sink := 0
			for i := 0; b.Loop(); i++ {
				sink += CompareValues(vals[i&1023], vals[(i+1)&1023])
			}
			_ = sink
		})
	}
}

// BenchmarkCodec measures encoding and decoding per datom and the encoded
// size.
func BenchmarkCodec(b *testing.B) {
	ds := benchDatoms(1024, EAVT)
	c := Codec(EAVT)
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	for _, d := range ds {
		if err := c.EncodeKey(enc, d); err != nil {
			b.Fatal(err)
		}
	}
	encoded := slices.Clone(buf.Bytes())
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			for _, d := range ds {
				if err := c.EncodeKey(enc, d); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ds)), "ns/datom")
		b.ReportMetric(float64(len(encoded))/float64(len(ds)), "bytes/datom")
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		r := bytes.NewReader(encoded)
		dec := msgpack.NewDecoder(r)
		for b.Loop() {
			r.Reset(encoded)
			dec.Reset(r)
			for range ds {
				if _, err := c.DecodeKey(dec); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ds)), "ns/datom")
	})
}

// BenchmarkAppendValueKey measures building the hash-map key of a value.
func BenchmarkAppendValueKey(b *testing.B) {
	vals := []any{int64(42), "a string value", edn.Keyword("person/name")}
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		buf = AppendValueKey(buf[:0], vals[i%3])
	}
}
