package node

import (
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// MaxBytesKeyLen bounds the length of one key decoded by BytesCodec, so that a
// hostile length prefix cannot make it allocate more.
const MaxBytesKeyLen = 1 << 20

// Int64Codec encodes int64 keys as compact msgpack integers, for sets ordered
// by cmp.Compare[int64]. Its zero value is ready to use.
type Int64Codec struct{}

var _ KeyCodec[int64] = Int64Codec{}

// ID implements KeyCodec.
func (Int64Codec) ID() string { return "int64/asc" }

// EncodeKey implements KeyCodec.
func (Int64Codec) EncodeKey(enc *msgpack.Encoder, k int64) error { return enc.EncodeInt(k) }

// DecodeKey implements KeyCodec.
func (Int64Codec) DecodeKey(dec *msgpack.Decoder) (int64, error) {
	k, err := dec.DecodeInt64()
	if err != nil {
		return 0, fmt.Errorf("node: int64 key: %w", err)
	}
	return k, nil
}

// BytesCodec encodes []byte keys as msgpack bin, for sets ordered by
// bytes.Compare. A nil key is written as an empty bin; decoding always yields
// a non-nil, freshly allocated slice. Its zero value is ready to use.
type BytesCodec struct{}

var _ KeyCodec[[]byte] = BytesCodec{}

// ID implements KeyCodec.
func (BytesCodec) ID() string { return "bytes/lex" }

// EncodeKey implements KeyCodec.
func (BytesCodec) EncodeKey(enc *msgpack.Encoder, k []byte) error {
	if k == nil {
		k = []byte{}
	}
	return enc.EncodeBytes(k)
}

// DecodeKey implements KeyCodec.
func (BytesCodec) DecodeKey(dec *msgpack.Decoder) ([]byte, error) {
	n, err := dec.DecodeBytesLen()
	if err != nil {
		return nil, fmt.Errorf("node: bytes key: %w", err)
	}
	if n < 0 || n > MaxBytesKeyLen {
		return nil, fmt.Errorf("node: bytes key: length %d out of range [0,%d]", n, MaxBytesKeyLen)
	}
	b := make([]byte, n)
	if err := dec.ReadFull(b); err != nil {
		return nil, fmt.Errorf("node: bytes key: %w", err)
	}
	return b, nil
}

// StringCodec encodes string keys as msgpack str, for sets ordered by
// strings.Compare. Its zero value is ready to use.
type StringCodec struct{}

var _ KeyCodec[string] = StringCodec{}

// ID implements KeyCodec.
func (StringCodec) ID() string { return "string/lex" }

// EncodeKey implements KeyCodec.
func (StringCodec) EncodeKey(enc *msgpack.Encoder, k string) error { return enc.EncodeString(k) }

// DecodeKey implements KeyCodec.
func (StringCodec) DecodeKey(dec *msgpack.Decoder) (string, error) {
	c, err := dec.PeekCode()
	if err != nil {
		return "", fmt.Errorf("node: string key: %w", err)
	}
	if !(c >= 0xa0 && c <= 0xbf || c == 0xd9 || c == 0xda || c == 0xdb) {
		return "", fmt.Errorf("node: string key: unexpected msgpack code %#x", c)
	}
	s, err := dec.DecodeString()
	if err != nil {
		return "", fmt.Errorf("node: string key: %w", err)
	}
	return s, nil
}
