package node

import (
	"bytes"
	"reflect"
	"testing"
)

// fuzzSeeds returns valid encodings plus a few broken ones for the corpus.
func fuzzSeeds[K any](t interface{ Fatal(...any) }, codec KeyCodec[K], nodes ...*Node[K]) [][]byte {
	var out [][]byte
	for _, n := range nodes {
		b, err := Encode(n, codec)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b, b[:len(b)/2], append(bytes.Clone(b), 0xc0))
	}
	return append(out, nil, []byte{FormatVersion}, []byte{0xff, 0xff})
}

// FuzzDecode: arbitrary bytes never panic Decode; whatever decodes re-encodes
// and decodes to an equal node.
func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds(f, Int64Codec{}, &Node[int64]{}, &Node[int64]{Keys: []int64{-3, 0, 1 << 50}}, sampleBranch(), fencedBranch()) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := Decode(data, Int64Codec{})
		if err != nil {
			return
		}
		again, err := Encode(n, Int64Codec{})
		if err != nil {
			t.Fatalf("decoded node does not re-encode: %v (%+v)", err, n)
		}
		m, err := Decode(again, Int64Codec{})
		if err != nil {
			t.Fatalf("re-encoded node does not decode: %v", err)
		}
		if !reflect.DeepEqual(m, n) {
			t.Fatalf("round trip changed the node: got %+v, want %+v", m, n)
		}
		if third, _ := Encode(m, Int64Codec{}); !bytes.Equal(third, again) {
			t.Fatalf("canonical encoding is not stable: %x vs %x", third, again)
		}
	})
}

// FuzzDecodeBytes is FuzzDecode with variable-length []byte keys.
func FuzzDecodeBytes(f *testing.F) {
	leaf := &Node[[]byte]{Keys: [][]byte{{}, []byte("abc"), bytes.Repeat([]byte("z"), 40)}}
	branch := &Node[[]byte]{Level: 2, Keys: [][]byte{[]byte("m")}, Children: []Address{{1}}, Counts: []uint64{9}}
	for _, s := range fuzzSeeds(f, BytesCodec{}, leaf, branch) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := Decode(data, BytesCodec{})
		if err != nil {
			return
		}
		again, err := Encode(n, BytesCodec{})
		if err != nil {
			t.Fatalf("decoded node does not re-encode: %v", err)
		}
		m, err := Decode(again, BytesCodec{})
		if err != nil {
			t.Fatalf("re-encoded node does not decode: %v", err)
		}
		if !reflect.DeepEqual(m, n) {
			t.Fatalf("round trip changed the node: got %+v, want %+v", m, n)
		}
	})
}
