package branch

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// errLength reports a msgpack length that the input cannot hold.
var errLength = errors.New("declared length exceeds the input")

// checkLengths walks the msgpack value at the front of b and checks that
// every length it declares fits in the bytes that follow: a string, binary
// or extension its payload, an array or map its elements at one byte each
// at least. The msgpack decoder sizes slices by the declared length before
// reading any element (its allocation limit is not applied to slices in
// v5.4.1), so a record of a few bytes that declares four billion parents
// would make it allocate over a hundred gigabytes; the walk refuses it
// first, in one pass and without allocating.
func checkLengths(b []byte) error {
	pending := int64(1) // values still to read
	for pending > 0 {
		if len(b) == 0 {
			return fmt.Errorf("msgpack: %w: %d values missing at the end", errLength, pending)
		}
		c := b[0]
		b = b[1:]
		pending--
		var skip, items int64 // payload bytes; nested values
		var size int          // bytes of the length or payload that follows c
		switch {
		case c <= 0x7f || c >= 0xe0: // fixint
		case c <= 0x8f: // fixmap
			items = 2 * int64(c&0x0f)
		case c <= 0x9f: // fixarray
			items = int64(c & 0x0f)
		case c <= 0xbf: // fixstr
			skip = int64(c & 0x1f)
		default:
			switch c {
			case 0xc0, 0xc2, 0xc3: // nil, false, true
			case 0xc1:
				return fmt.Errorf("msgpack: reserved byte 0xc1")
			case 0xc4, 0xc7, 0xd9: // bin8, ext8, str8
				size = 1
			case 0xc5, 0xc8, 0xda, 0xdc, 0xde: // bin16, ext16, str16, array16, map16
				size = 2
			case 0xc6, 0xc9, 0xdb, 0xdd, 0xdf: // bin32, ext32, str32, array32, map32
				size = 4
			case 0xcc, 0xd0: // uint8, int8
				skip = 1
			case 0xcd, 0xd1, 0xd4: // uint16, int16, fixext1
				skip = 2
			case 0xd5: // fixext2
				skip = 3
			case 0xca, 0xce, 0xd2: // float32, uint32, int32
				skip = 4
			case 0xd6: // fixext4
				skip = 5
			case 0xcb, 0xcf, 0xd3: // float64, uint64, int64
				skip = 8
			case 0xd7: // fixext8
				skip = 9
			case 0xd8: // fixext16
				skip = 17
			}
		}
		if size > 0 {
			if len(b) < size {
				return fmt.Errorf("msgpack: %w: length of type 0x%02x cut short", errLength, c)
			}
			var n int64
			switch size {
			case 1:
				n = int64(b[0])
			case 2:
				n = int64(binary.BigEndian.Uint16(b))
			case 4:
				n = int64(binary.BigEndian.Uint32(b))
			}
			b = b[size:]
			switch c {
			case 0xdc, 0xdd:
				items = n
			case 0xde, 0xdf:
				items = 2 * n
			case 0xc7, 0xc8, 0xc9:
				skip = n + 1 // the extension's type byte, then its data
			default:
				skip = n
			}
		}
		if skip > int64(len(b)) {
			return fmt.Errorf("msgpack: %w: %d bytes of type 0x%02x, %d left", errLength, skip, c, len(b))
		}
		b = b[skip:]
		if pending+items > int64(len(b)) {
			return fmt.Errorf("msgpack: %w: %d elements of type 0x%02x, %d bytes left", errLength, items, c, len(b))
		}
		pending += items
	}
	return nil
}
