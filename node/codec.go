package node

import "github.com/vmihailenco/msgpack/v5"

// KeyCodec encodes and decodes the keys of type K stored in nodes. The
// database supplies one for datoms; tests use simple ones for integers.
//
// ID names both the encoding and the key ordering it goes with. It is
// written into every encoded node and checked on decode, so nodes written
// under one ordering are never read under another (as pebble persists its
// Comparer's name).
type KeyCodec[K any] interface {
	ID() string
	// EncodeKey writes k as one or more msgpack values. It MUST be
	// deterministic (equal keys give equal bytes, since node addresses are
	// hashes of the bytes) and write at least one byte.
	EncodeKey(enc *msgpack.Encoder, k K) error
	// DecodeKey MUST return an error, never panic, on malformed input, and
	// must not allocate far more than the bytes it consumes justify (bound
	// declared lengths, as BytesCodec does): Decode runs on untrusted bytes.
	DecodeKey(dec *msgpack.Decoder) (K, error)
}
