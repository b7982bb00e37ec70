// Package node encodes and addresses the B+tree nodes that pss stores: one
// node, as bytes, named by the BLAKE3-256 hash of those bytes.
//
// It is not a tree (pss is), not storage (konserve is) and not a cache: it
// turns a *Node into bytes and back, deterministically, and nothing else.
// Keys are generic; a KeyCodec writes them, and its ID is written into every
// node so that nodes are never read under another encoding or ordering.
//
// # Byte layout (format versions 1 and 2)
//
//	+------+---------------------------------------------------------------+
//	| 0x01 | msgpack values, back to back (no enclosing array)             |
//	+------+---------------------------------------------------------------+
//	  |      codec-id   str    KeyCodec.ID(), fixstr/str8, <= 255 bytes
//	  |      level      uint   0 = leaf, else branch; <= MaxLevel
//	  |      n          array  header only: the number of keys, <= MaxKeys
//	  |      key × n           each written by KeyCodec.EncodeKey
//	  |      --- branches only (level > 0), n >= 1 ---
//	  |      child × n  bin8   32-byte address of child i
//	  |      count × n  uint   keys in child i's subtree, >= 1
//	  |      --- format 2 (FormatFences) only: branches with fences ---
//	  |      fence × n  nil | [uint, uint]  child i's smallest key's sort
//	  |                        key (Fence), nil when not known
//	  version byte: 1 (FormatVersion), or 2 (FormatFences) for a branch
//	  that records its children's fences
//
// Format 2 adds only the fences, so a bucket written before them reads as
// it did, and a node without fences keeps its format-1 bytes and address.
// A reader that knows only format 1 refuses a fenced branch with
// ErrVersion rather than misreading it.
//
// Why this order: the version byte comes first and outside msgpack so a future
// format can change everything after it; the codec ID comes next so a node of
// the wrong ordering is refused before any key is decoded (pebble persists its
// Comparer name for the same reason); keys are written before addresses and
// counts, as three column runs, so a decoder walks each column in a tight loop
// and a future version could search keys without touching the rest. Integers
// use msgpack's smallest form, so encoding is deterministic and byte-for-byte
// stable; TestGoldenAddress pins it.
//
// For a branch, key i is the LARGEST key of child i's subtree (see Node).
//
// There is no checksum field: a node's address is the BLAKE3 of its bytes and
// the store verifies it on every read, which detects any flipped byte.
//
// # Decoding hostile bytes
//
// Decode validates as it goes (version, then codec ID, then every length and
// count against the bytes that remain, then no trailing bytes) and maps each
// failure to its own sentinel: ErrVersion, ErrCodec, ErrCorrupt. It never
// panics and never allocates more than a small multiple of len(data); a
// KeyCodec must keep the same promise (see KeyCodec.DecodeKey). FuzzDecode
// checks this.
//
// # Concurrency and lifetimes
//
// All functions are safe for concurrent use. Encode returns a fresh slice;
// Decode copies what it needs and never aliases its input. A decoded Node is
// plain data; once it is shared (through a cache or pss) nobody may modify it.
package node
