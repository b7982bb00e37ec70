package node

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func sampleBranch() *Node[int64] {
	n := &Node[int64]{Level: 1, Keys: []int64{10, 20, 1 << 40}}
	for i := range n.Keys {
		var a Address
		a[0] = byte(i + 1)
		a[31] = 0xff
		n.Children = append(n.Children, a)
		n.Counts = append(n.Counts, uint64(100*(i+1)))
	}
	return n
}

// fencedBranch is sampleBranch with fences: known for two children, not
// for the middle one.
func fencedBranch() *Node[int64] {
	n := sampleBranch()
	n.Fences = []Fence{{Hi: 1, Lo: 2, Known: true}, {}, {Hi: 1 << 63, Lo: 11, Known: true}}
	return n
}

func TestRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		n    *Node[int64]
	}{
		{"empty leaf", &Node[int64]{}},
		{"leaf", &Node[int64]{Keys: []int64{-1 << 62, -5, 0, 7, 1 << 62}}},
		{"branch", sampleBranch()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data, err := Encode(tc.n, Int64Codec{})
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			got, err := Decode(data, Int64Codec{})
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			want := tc.n
			if len(want.Keys) == 0 {
				want = &Node[int64]{Level: want.Level, Keys: []int64{}}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip: got %+v, want %+v", got, want)
			}
			again, err := Encode(got, Int64Codec{})
			if err != nil {
				t.Fatalf("re-Encode: %v", err)
			}
			if !bytes.Equal(again, data) {
				t.Fatalf("encoding not deterministic:\n got %x\nwant %x", again, data)
			}
		})
	}
}

func TestRoundTripBytesAndStrings(t *testing.T) {
	bn := &Node[[]byte]{Keys: [][]byte{{}, []byte("a"), bytes.Repeat([]byte{0xff}, 300)}}
	data, err := Encode(bn, BytesCodec{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(data, BytesCodec{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, bn) {
		t.Fatalf("bytes round trip: got %q, want %q", got.Keys, bn.Keys)
	}
	sn := &Node[string]{Keys: []string{"", "é", "zzz"}}
	data, err = Encode(sn, StringCodec{})
	if err != nil {
		t.Fatal(err)
	}
	gs, err := Decode(data, StringCodec{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gs, sn) {
		t.Fatalf("string round trip: got %q, want %q", gs.Keys, sn.Keys)
	}
}

// TestGoldenAddress pins the format: if this fails, the encoding changed and
// every stored database would be unreadable or re-addressed. Bump
// FormatVersion instead of editing the golden values.
func TestGoldenAddress(t *testing.T) {
	leaf := &Node[int64]{Keys: []int64{1, 2, 3, 300, -7}}
	data, err := Encode(leaf, Int64Codec{})
	if err != nil {
		t.Fatal(err)
	}
	const wantLeafHex = "01a9696e7436342f6173630095010203cd012cf9"
	if got := hexOf(data); got != wantLeafHex {
		t.Errorf("leaf bytes: got %s, want %s", got, wantLeafHex)
	}
	const wantLeafAddr = "089e40e1859514e4ebc2bdc32c6021998a3ba765dae3a368e356d0b9871808fb"
	if got := AddressOf(data).String(); got != wantLeafAddr {
		t.Errorf("leaf address: got %s, want %s", got, wantLeafAddr)
	}
	bdata, err := Encode(sampleBranch(), Int64Codec{})
	if err != nil {
		t.Fatal(err)
	}
	const wantBranchAddr = "472f2d6ead54b620fceab9874a639db65e5438c688e8608058d5b5df9546d0a1"
	if got := AddressOf(bdata).String(); got != wantBranchAddr {
		t.Errorf("branch address: got %s, want %s", got, wantBranchAddr)
	}
	// The fences follow the counts: nil, or [hi, lo] in msgpack's
	// smallest form; the rest is the branch's format 1 body.
	fdata, err := Encode(fencedBranch(), Int64Codec{})
	if err != nil {
		t.Fatal(err)
	}
	const wantFences = "920102c092cf8000000000000000" + "0b"
	if got := hexOf(fdata); got[0:2] != "02" || got[2:len(got)-len(wantFences)] != hexOf(bdata)[2:] || got[len(got)-len(wantFences):] != wantFences {
		t.Errorf("fenced branch bytes: got %s, want 02 + %s + %s", got, hexOf(bdata)[2:], wantFences)
	}
}

// TestFencesRoundTrip: a branch's fences, known or not, survive Encode and
// Decode; a branch without fences decodes with none.
func TestFencesRoundTrip(t *testing.T) {
	for _, n := range []*Node[int64]{fencedBranch(), sampleBranch()} {
		data, err := Encode(n, Int64Codec{})
		if err != nil {
			t.Fatal(err)
		}
		m, err := Decode(data, Int64Codec{})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(m.Fences, n.Fences) {
			t.Fatalf("fences: got %+v, want %+v", m.Fences, n.Fences)
		}
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func TestAddress(t *testing.T) {
	var zero Address
	if !zero.IsZero() {
		t.Fatalf("zero address: IsZero() = false, want true")
	}
	a := AddressOf([]byte("x"))
	if a.IsZero() {
		t.Fatalf("AddressOf: IsZero() = true, want false")
	}
	s := a.String()
	if len(s) != 64 {
		t.Fatalf("String length: got %d, want 64", len(s))
	}
	b, err := ParseAddress(s)
	if err != nil || b != a {
		t.Fatalf("ParseAddress(%s) = %v, %v; want %v", s, b, err, a)
	}
	if _, err := ParseAddress("zz"); err == nil {
		t.Fatalf("ParseAddress(zz): got nil error, want one")
	}
}

func TestDecodeErrors(t *testing.T) {
	good, err := Encode(sampleBranch(), Int64Codec{})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := Encode(&Node[int64]{Keys: []int64{1, 2}}, Int64Codec{})
	if err != nil {
		t.Fatal(err)
	}
	fenced, err := Encode(fencedBranch(), Int64Codec{})
	if err != nil {
		t.Fatal(err)
	}
	withVersion := func(v byte) []byte {
		b := bytes.Clone(good)
		b[0] = v
		return b
	}
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrCorrupt},
		{"version only", []byte{FormatVersion}, ErrCorrupt},
		{"unknown version", withVersion(3), ErrVersion},
		{"fences missing", withVersion(FormatFences), ErrCorrupt},
		{"leaf in the fenced format", func() []byte { b := bytes.Clone(leaf); b[0] = FormatFences; return b }(), ErrCorrupt},
		{"truncated fences", fenced[:len(fenced)-1], ErrCorrupt},
		{"fence of three", append(bytes.Clone(fenced[:len(fenced)-3]), 0x93, 0x01, 0x02, 0x03), ErrCorrupt},
		{"fence not an array", append(bytes.Clone(fenced[:len(fenced)-3]), 0xa1, 'x'), ErrCorrupt},
		{"truncated", good[:len(good)-1], ErrCorrupt},
		{"truncated leaf", leaf[:len(leaf)-1], ErrCorrupt},
		{"trailing byte", append(bytes.Clone(leaf), 0), ErrCorrupt},
		// version, fixstr "int64/asc", level 0, array32 with 2^31 entries.
		{"huge count", append(bytes.Clone(leaf[:12]), 0xdd, 0x7f, 0xff, 0xff, 0xff), ErrCorrupt},
		{"nil key array", append(bytes.Clone(leaf[:12]), 0xc0), ErrCorrupt},
		{"level too deep", append(bytes.Clone(leaf[:11]), 0xcc, 200, 0x90), ErrCorrupt},
		{"branch without children", append(bytes.Clone(leaf[:11]), 0x01, 0x90), ErrCorrupt},
		{"codec id not a string", []byte{FormatVersion, 0x01}, ErrCorrupt},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n, err := Decode(tc.data, Int64Codec{})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode: got (%v, %v), want error %v", n, err, tc.want)
			}
		})
	}
	if _, err := Decode(good, otherCodec{}); !errors.Is(err, ErrCodec) {
		t.Fatalf("Decode with other codec: got %v, want ErrCodec", err)
	}
}

type otherCodec struct{ Int64Codec }

func (otherCodec) ID() string { return "int64/desc" }

func TestEncodeInvalid(t *testing.T) {
	cases := []struct {
		name string
		n    *Node[int64]
	}{
		{"leaf with children", &Node[int64]{Keys: []int64{1}, Children: []Address{{}}, Counts: []uint64{1}}},
		{"branch without children", &Node[int64]{Level: 1}},
		{"branch length mismatch", &Node[int64]{Level: 1, Keys: []int64{1, 2}, Children: []Address{{}}, Counts: []uint64{1}}},
		{"zero count", &Node[int64]{Level: 1, Keys: []int64{1}, Children: []Address{{}}, Counts: []uint64{0}}},
		{"negative level", &Node[int64]{Level: -1}},
		{"too deep", &Node[int64]{Level: MaxLevel + 1, Keys: []int64{1}, Children: []Address{{}}, Counts: []uint64{1}}},
		{"leaf with fences", &Node[int64]{Keys: []int64{1}, Fences: []Fence{{Known: true}}}},
		{"fence count mismatch", &Node[int64]{Level: 1, Keys: []int64{1}, Children: []Address{{}}, Counts: []uint64{1}, Fences: []Fence{{}, {}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Encode(tc.n, Int64Codec{}); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Encode: got %v, want ErrInvalid", err)
			}
		})
	}
}
