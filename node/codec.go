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
	EncodeKey(enc *msgpack.Encoder, k K) error
	// DecodeKey MUST return an error, never panic, on malformed input.
	DecodeKey(dec *msgpack.Decoder) (K, error)
}
