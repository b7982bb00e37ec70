package branch

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// TestCheckLengthsAcceptsEncodings: random nestings of every msgpack type
// (ints and floats of each width, str and bin up to their 32-bit forms,
// fixext and ext8/16/32, arrays and maps up to their 16- and 32-bit
// forms) pass the walk, and cutting a value anywhere fails it.
func TestCheckLengthsAcceptsEncodings(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var gen func(depth int) any
	gen = func(depth int) any {
		switch k := rng.IntN(12); {
		case k == 0:
			return nil
		case k == 1:
			return rng.IntN(2) == 0
		case k == 2:
			return rng.Int64() >> rng.IntN(64)
		case k == 3:
			return -rng.Int64N(1 << rng.IntN(63))
		case k == 4:
			return rng.Float64()
		case k == 5:
			return float32(rng.Float64())
		case k == 6:
			return string(make([]byte, rng.IntN(1<<uint(rng.IntN(18)))))
		case k == 7:
			return make([]byte, rng.IntN(1<<uint(rng.IntN(18))))
		case k == 8:
			return []msgpack.RawMessage{
				{0xd6, 0xff, 1, 2, 3, 4}, // fixext4 (a timestamp)
				{0xc7, 3, 5, 1, 2, 3},    // ext8
				{0xc8, 0, 2, 5, 1, 2},    // ext16
				{0xc9, 0, 0, 0, 1, 5, 1}, // ext32
				{0xd8, 5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, // fixext16
			}[rng.IntN(5)]
		case k == 9 && depth < 3:
			m := map[string]any{}
			for i := range rng.IntN(20) {
				m[string(rune('a'+i))] = gen(depth + 1)
			}
			return m
		case depth < 3:
			if depth == 0 && rng.IntN(50) == 0 {
				return make([]any, 1<<16+rng.IntN(10)) // an array32 of nils
			}
			xs := make([]any, rng.IntN(1<<uint(rng.IntN(8))))
			for i := range xs {
				xs[i] = gen(depth + 1)
			}
			return xs
		}
		return uint64(rng.Uint32())
	}
	for i := range 300 {
		b, err := msgpack.Marshal(gen(0))
		if err != nil {
			t.Fatal(err)
		}
		if err := checkLengths(b); err != nil {
			t.Fatalf("value %d (%d bytes): %v", i, len(b), err)
		}
		if cut := rng.IntN(len(b)); checkLengths(b[:cut]) == nil {
			t.Fatalf("value %d cut to %d of %d bytes passes", i, cut, len(b))
		}
	}
}

// TestCheckLengthsRefusesHugeLengths: lengths the input cannot hold are
// refused before anything is allocated for them.
func TestCheckLengthsRefusesHugeLengths(t *testing.T) {
	for _, b := range [][]byte{
		{0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 1, 2, 3}, // array32 of 3.7e9 elements
		{0xdf, 0x7f, 0xff, 0xff, 0xff, 1, 2},    // map32
		{0xdc, 0x00, 0x03, 1, 2},                // array16 of 3, two present
		{0xdb, 0xff, 0xff, 0xff, 0xff, 'a'},     // str32
		{0xc6, 0x00, 0x00, 0x01, 0x00},          // bin32 of 256, none present
		{0xc9, 0x00, 0x00, 0x00, 0x02, 1, 2},    // ext32: type byte and 2 bytes of data
		{0x81, 0xa1, 'k'},                       // fixmap entry without a value
	} {
		err := checkLengths(b)
		if !errors.Is(err, errLength) {
			t.Errorf("% x: got %v, want errLength", b, err)
		}
	}
	if _, err := DecodeCommit(append([]byte("ACC1"), 0x81, 0xa7, 'p', 'a', 'r', 'e', 'n', 't', 's', 0xdd, 0xdd, 0xdd, 0xdd, 0xdd)); !errors.Is(err, ErrFormat) {
		t.Errorf("commit with 3.7e9 parents: got %v, want ErrFormat", err)
	}
}
