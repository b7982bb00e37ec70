package node

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func benchLeaf(n int) *Node[int64] {
	r := rand.New(rand.NewPCG(1, 2))
	keys := make([]int64, n)
	for i := range keys {
		keys[i] = r.Int64N(1 << 40)
	}
	slices.Sort(keys)
	return &Node[int64]{Keys: keys}
}

// BenchmarkEncodeLeaf reports bytes/key of a 128-key int64 leaf.
func BenchmarkEncodeLeaf(b *testing.B) {
	n := benchLeaf(128)
	b.ReportAllocs()
	var size int
	for b.Loop() {
		data, err := Encode(n, Int64Codec{})
		if err != nil {
			b.Fatal(err)
		}
		size = len(data)
	}
	b.ReportMetric(float64(size)/float64(len(n.Keys)), "bytes/key")
	b.ReportMetric(float64(size), "bytes/node")
}

func BenchmarkDecodeLeaf(b *testing.B) {
	data, err := Encode(benchLeaf(128), Int64Codec{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Decode(data, Int64Codec{}); err != nil {
			b.Fatal(err)
		}
	}
}
