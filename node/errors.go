package node

import "errors"

// ErrCorrupt is returned (wrapped) by Decode when the bytes are not a
// well-formed node: truncated input, a wrong msgpack type, an impossible
// count or level, trailing bytes, or a key the KeyCodec refuses. It means
// the stored object is damaged or was never a node; retrying will not help.
var ErrCorrupt = errors.New("node: corrupt node")

// ErrVersion is returned (wrapped) by Decode when the first byte names a
// format version this build does not know. The bytes may be fine; they were
// written by another (newer) version of accrete.
var ErrVersion = errors.New("node: unknown format version")

// ErrCodec is returned (wrapped) by Decode when the node was written under a
// KeyCodec whose ID differs from the one supplied: reading it would apply the
// wrong encoding or ordering, so it is refused (as pebble refuses a table
// written under another Comparer).
var ErrCodec = errors.New("node: key codec mismatch")

// ErrInvalid is returned (wrapped) by Encode when the Node violates the
// structural rules listed on Node (mismatched slice lengths, a leaf with
// children, too many keys, level out of range). It is a caller bug.
var ErrInvalid = errors.New("node: invalid node")
