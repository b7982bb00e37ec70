package datom

import (
	"encoding/binary"
	"errors"
	"math"

	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// Hand-written msgpack over byte slices: the codec's hot path. The bytes
// are exactly what msgpack.Encoder writes for the same calls (smallest
// integer, string, binary and array forms), except that an empty []byte is
// always bin8 (the Encoder writes nil for a nil slice).

func appendUint(b []byte, n uint64) []byte {
	switch {
	case n <= math.MaxInt8:
		return append(b, byte(n))
	case n <= math.MaxUint8:
		return append(b, msgpcode.Uint8, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, msgpcode.Uint16), uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, msgpcode.Uint32), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, msgpcode.Uint64), n)
}

func appendInt(b []byte, n int64) []byte {
	switch {
	case n >= 0:
		return appendUint(b, uint64(n))
	case n >= -32:
		return append(b, byte(n))
	case n >= math.MinInt8:
		return append(b, msgpcode.Int8, byte(n))
	case n >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(b, msgpcode.Int16), uint16(n))
	case n >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(b, msgpcode.Int32), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, msgpcode.Int64), uint64(n))
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, msgpcode.True)
	}
	return append(b, msgpcode.False)
}

func appendFloat64(b []byte, f float64) []byte {
	return binary.BigEndian.AppendUint64(append(b, msgpcode.Double), math.Float64bits(f))
}

func appendStr[S ~string | ~[]byte](b []byte, s S) []byte {
	l := len(s)
	switch {
	case l < 32:
		b = append(b, msgpcode.FixedStrLow|byte(l))
	case l < 256:
		b = append(b, msgpcode.Str8, byte(l))
	case l <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, msgpcode.Str16), uint16(l))
	default:
		b = binary.BigEndian.AppendUint32(append(b, msgpcode.Str32), uint32(l))
	}
	return append(b, s...)
}

func appendBin(b []byte, s []byte) []byte {
	l := len(s)
	switch {
	case l < 256:
		b = append(b, msgpcode.Bin8, byte(l))
	case l <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, msgpcode.Bin16), uint16(l))
	default:
		b = binary.BigEndian.AppendUint32(append(b, msgpcode.Bin32), uint32(l))
	}
	return append(b, s...)
}

func appendArrayLen(b []byte, l int) []byte {
	switch {
	case l < 16:
		return append(b, msgpcode.FixedArrayLow|byte(l))
	case l <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, msgpcode.Array16), uint16(l))
	}
	return binary.BigEndian.AppendUint32(append(b, msgpcode.Array32), uint32(l))
}

// parser reads msgpack from a byte slice, strictly: each method accepts
// only the msgpack types it names (no nil for zero, no float for int) and
// fails with ErrCorrupt, never panics, on short or malformed input. Values
// it returns never alias b.
type parser struct {
	b   []byte
	off int
}

func (p *parser) remaining() int { return len(p.b) - p.off }

// errTruncated marks a parse that ran out of bytes (wrapped with
// ErrCorrupt): decodeFromReader then parses again from a larger window.
var errTruncated = errors.New("truncated")

func (p *parser) take(n int) ([]byte, error) {
	if n < 0 {
		return nil, corruptf("negative length %d at offset %d", n, p.off)
	}
	if n > len(p.b)-p.off {
		return nil, corruptf("%w: need %d bytes at offset %d, have %d", errTruncated, n, p.off, len(p.b)-p.off)
	}
	s := p.b[p.off : p.off+n]
	p.off += n
	return s, nil
}

func (p *parser) code() (byte, error) {
	if p.off >= len(p.b) {
		return 0, corruptf("%w at offset %d", errTruncated, p.off)
	}
	c := p.b[p.off]
	p.off++
	return c, nil
}

// length reads the big-endian length of size n (1, 2 or 4 bytes).
func (p *parser) length(n int) (int, error) {
	s, err := p.take(n)
	if err != nil {
		return 0, err
	}
	switch n {
	case 1:
		return int(s[0]), nil
	case 2:
		return int(binary.BigEndian.Uint16(s)), nil
	}
	return int(binary.BigEndian.Uint32(s)), nil
}

func (p *parser) int() (int64, error) {
	c, err := p.code()
	if err != nil {
		return 0, err
	}
	if msgpcode.IsFixedNum(c) {
		return int64(int8(c)), nil
	}
	var size int
	switch c {
	case msgpcode.Uint8, msgpcode.Int8:
		size = 1
	case msgpcode.Uint16, msgpcode.Int16:
		size = 2
	case msgpcode.Uint32, msgpcode.Int32:
		size = 4
	case msgpcode.Uint64, msgpcode.Int64:
		size = 8
	default:
		return 0, corruptf("want an integer at offset %d, got code %#x", p.off-1, c)
	}
	s, err := p.take(size)
	if err != nil {
		return 0, err
	}
	switch c {
	case msgpcode.Uint8:
		return int64(s[0]), nil
	case msgpcode.Int8:
		return int64(int8(s[0])), nil
	case msgpcode.Uint16:
		return int64(binary.BigEndian.Uint16(s)), nil
	case msgpcode.Int16:
		return int64(int16(binary.BigEndian.Uint16(s))), nil
	case msgpcode.Uint32:
		return int64(binary.BigEndian.Uint32(s)), nil
	case msgpcode.Int32:
		return int64(int32(binary.BigEndian.Uint32(s))), nil
	case msgpcode.Uint64:
		u := binary.BigEndian.Uint64(s)
		if u > math.MaxInt64 {
			return 0, corruptf("integer %d out of range", u)
		}
		return int64(u), nil
	}
	return int64(binary.BigEndian.Uint64(s)), nil
}

// small reads an integer in 0..max.
func (p *parser) small(max int64) (int64, error) {
	n, err := p.int()
	if err != nil {
		return 0, err
	}
	if n < 0 || n > max {
		return 0, corruptf("value %d outside 0..%d", n, max)
	}
	return n, nil
}

func (p *parser) bool() (bool, error) {
	c, err := p.code()
	if err != nil {
		return false, err
	}
	switch c {
	case msgpcode.True:
		return true, nil
	case msgpcode.False:
		return false, nil
	}
	return false, corruptf("want a bool at offset %d, got code %#x", p.off-1, c)
}

func (p *parser) float64() (float64, error) {
	c, err := p.code()
	if err != nil {
		return 0, err
	}
	if c != msgpcode.Double {
		return 0, corruptf("want a float64 at offset %d, got code %#x", p.off-1, c)
	}
	s, err := p.take(8)
	if err != nil {
		return 0, err
	}
	return math.Float64frombits(binary.BigEndian.Uint64(s)), nil
}

// strBytes returns the bytes of a string, aliasing p.b.
func (p *parser) strBytes() ([]byte, error) {
	c, err := p.code()
	if err != nil {
		return nil, err
	}
	var n int
	switch {
	case msgpcode.IsFixedString(c):
		n = int(c & msgpcode.FixedStrMask)
	case c == msgpcode.Str8:
		n, err = p.length(1)
	case c == msgpcode.Str16:
		n, err = p.length(2)
	case c == msgpcode.Str32:
		n, err = p.length(4)
	default:
		return nil, corruptf("want a string at offset %d, got code %#x", p.off-1, c)
	}
	if err != nil {
		return nil, err
	}
	return p.take(n)
}

func (p *parser) str() (string, error) {
	s, err := p.strBytes()
	return string(s), err
}

// bin returns a copy of a binary value.
func (p *parser) bin() ([]byte, error) {
	c, err := p.code()
	if err != nil {
		return nil, err
	}
	var n int
	switch c {
	case msgpcode.Bin8:
		n, err = p.length(1)
	case msgpcode.Bin16:
		n, err = p.length(2)
	case msgpcode.Bin32:
		n, err = p.length(4)
	default:
		return nil, corruptf("want bytes at offset %d, got code %#x", p.off-1, c)
	}
	if err != nil {
		return nil, err
	}
	s, err := p.take(n)
	if err != nil {
		return nil, err
	}
	return append(make([]byte, 0, n), s...), nil
}

func (p *parser) arrayLen() (int, error) {
	c, err := p.code()
	if err != nil {
		return 0, err
	}
	switch {
	case msgpcode.IsFixedArray(c):
		return int(c & msgpcode.FixedArrayMask), nil
	case c == msgpcode.Array16:
		return p.length(2)
	case c == msgpcode.Array32:
		return p.length(4)
	}
	return 0, corruptf("want an array at offset %d, got code %#x", p.off-1, c)
}

// fixedArray reads an array header that must have want elements.
func (p *parser) fixedArray(want int) error {
	n, err := p.arrayLen()
	if err != nil {
		return err
	}
	if n != want {
		return corruptf("array of %d, want %d", n, want)
	}
	return nil
}

// listLen reads an array header whose elements take at least min bytes
// each, rejecting lengths the remaining input cannot hold (so that a
// corrupt length cannot force a huge allocation).
func (p *parser) listLen(min int) (int, error) {
	n, err := p.arrayLen()
	if err != nil {
		return 0, err
	}
	if n > p.remaining()/min {
		return 0, corruptf("list of %d in %d bytes", n, p.remaining())
	}
	return n, nil
}
