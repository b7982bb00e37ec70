package node

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"weak"

	"github.com/vmihailenco/msgpack/v5"
)

// FormatVersion is the first byte of every encoded node that has no fences
// (every leaf, and branches whose Fences is nil).
const FormatVersion byte = 1

// FormatFences is the first byte of a branch encoded with its Fences. A
// node that has none keeps FormatVersion and its bytes (so its address)
// from before fences existed. Decode refuses any other first byte with
// ErrVersion.
const FormatFences byte = 2

// KnownFormat reports whether b is the first byte of a node format that
// Decode reads.
func KnownFormat(b byte) bool { return b == FormatVersion || b == FormatFences }

// Limits enforced by Encode and Decode. They bound what hostile bytes can make
// Decode allocate and are far above what pss produces (128 keys, ~6 levels).
const (
	// MaxKeys is the largest number of keys (and children) in one node.
	MaxKeys = 1 << 16
	// MaxLevel is the largest level of a node (leaves are level 0).
	MaxLevel = 64
	// MaxCodecIDLen is the longest KeyCodec ID accepted.
	MaxCodecIDLen = 255
)

// Node is a decoded B+tree node: a leaf (Level 0) holding sorted keys, or a
// branch (Level > 0) holding one entry per child.
//
// Invariants checked by Encode and Decode (named so others can cite them):
//   - N1: a leaf has Children == nil and Counts == nil.
//   - N2: a branch has len(Children) == len(Counts) == len(Keys) >= 1, and
//     every Count is >= 1 (a child subtree is never empty).
//   - N3: len(Keys) <= MaxKeys and Level <= MaxLevel.
//   - N4: Fences is nil, or a branch's, with len(Fences) == len(Keys).
//
// For a branch, Keys[i] is the LARGEST key in the subtree of Children[i]
// (Datahike's convention: the root's last key is the set's maximum, and a
// search descends into the first child whose max key is >= the target), and
// Counts[i] is the number of keys in that subtree. Fences[i], when
// Known, is the sort-key prefix of the SMALLEST key of that subtree (see
// Fence).
//
// Key order is not checked here (node does not know the comparator); pss
// checks it. A Node returned by Decode is owned by the caller, but pss and
// caches share decoded nodes between readers, so treat them as read-only once
// handed out.
type Node[K any] struct {
	Level    int
	Keys     []K
	Children []Address
	Counts   []uint64
	Fences   []Fence

	// kids memoizes decoded children (see Child): nil until a reader
	// records one, then one slot per child.
	kids atomic.Pointer[[]atomic.Pointer[weak.Pointer[Node[K]]]]
}

// Child returns the decoded node at Children[i] if a reader recorded it
// with SetChild and it is still in memory, else nil.
//
// A warm read descends a stored tree through the node cache, and looking
// a node up there (hashing its address, comparing it, counting the hit)
// costs about as much as searching the node. A parent that remembers its
// children makes the descent a pointer load per level. The pointers are
// weak, so that the cache's bound still decides what stays in memory: a
// child the cache evicted and nobody holds is collected, and Child
// returns nil for it. Nodes are immutable and named by their content, so
// a recorded child never goes stale.
func (n *Node[K]) Child(i int) *Node[K] {
	t := n.kids.Load()
	if t == nil || i < 0 || i >= len(*t) {
		return nil
	}
	w := (*t)[i].Load()
	if w == nil {
		return nil
	}
	return w.Value()
}

// SetChild records c, the decoded node stored at Children[i], for Child.
// The caller vouches that c was loaded from that address and checked.
func (n *Node[K]) SetChild(i int, c *Node[K]) {
	if c == nil || i < 0 || i >= len(n.Children) {
		return
	}
	t := n.kids.Load()
	if t == nil {
		nt := make([]atomic.Pointer[weak.Pointer[Node[K]]], len(n.Children))
		if n.kids.CompareAndSwap(nil, &nt) {
			t = &nt
		} else {
			t = n.kids.Load()
		}
	}
	w := weak.Make(c)
	(*t)[i].Store(&w)
}

// Fence is what a branch records of the smallest key of one child's
// subtree: the pair of unsigned integers its tree's sort key gives that
// key (pss.Options.Fence), or nothing (Known false) when the writer did
// not know it. A parent holds only each child's largest key, so a scan
// that reaches the end of one child cannot tell whether the next one
// starts with keys it wants without loading it; with the fence it often
// can (an entity's datoms that end exactly at a leaf's end, say). Fence
// is a lower-bound fence key in the sense of B-link and Foster B-trees,
// truncated to the integers the sort key leads with.
type Fence struct {
	Hi, Lo uint64
	Known  bool
}

// IsLeaf reports whether n is a leaf (Level 0).
func (n *Node[K]) IsLeaf() bool { return n.Level == 0 }

// validate checks N1-N3.
func (n *Node[K]) validate() error {
	if n.Level < 0 || n.Level > MaxLevel {
		return fmt.Errorf("level %d out of range [0,%d]", n.Level, MaxLevel)
	}
	if len(n.Keys) > MaxKeys {
		return fmt.Errorf("%d keys, more than %d", len(n.Keys), MaxKeys)
	}
	if n.Level == 0 {
		if n.Children != nil || n.Counts != nil || n.Fences != nil {
			return fmt.Errorf("leaf with children")
		}
		return nil
	}
	if n.Fences != nil && len(n.Fences) != len(n.Keys) {
		return fmt.Errorf("branch with %d keys, %d fences", len(n.Keys), len(n.Fences))
	}
	if len(n.Keys) == 0 {
		return fmt.Errorf("branch with no children")
	}
	if len(n.Children) != len(n.Keys) || len(n.Counts) != len(n.Keys) {
		return fmt.Errorf("branch with %d keys, %d children, %d counts", len(n.Keys), len(n.Children), len(n.Counts))
	}
	for i, c := range n.Counts {
		if c == 0 {
			return fmt.Errorf("child %d has count 0", i)
		}
	}
	return nil
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Encode returns the canonical bytes of n under codec (layout in the package
// doc). Encoding is deterministic: the same node and codec always give the
// same bytes, hence the same Address. It fails with ErrInvalid if n breaks
// N1-N3, or with the codec's error if a key cannot be encoded. The returned
// slice is freshly allocated and owned by the caller.
func Encode[K any](n *Node[K], codec KeyCodec[K]) ([]byte, error) {
	if err := n.validate(); err != nil {
		return nil, fmt.Errorf("node: encode: %w: %s", ErrInvalid, err)
	}
	id := codec.ID()
	if len(id) > MaxCodecIDLen {
		return nil, fmt.Errorf("node: encode: %w: codec id of %d bytes", ErrInvalid, len(id))
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	enc := msgpack.GetEncoder()
	defer msgpack.PutEncoder(enc)
	enc.Reset(buf)

	if n.Fences != nil {
		buf.WriteByte(FormatFences)
	} else {
		buf.WriteByte(FormatVersion)
	}
	if err := encodeBody(enc, n, codec, id); err != nil {
		return nil, err
	}
	out := make([]byte, buf.Len())
	copy(out, buf.Bytes())
	return out, nil
}

func encodeBody[K any](enc *msgpack.Encoder, n *Node[K], codec KeyCodec[K], id string) error {
	if err := enc.EncodeString(id); err != nil {
		return fmt.Errorf("node: encode codec id: %w", err)
	}
	if err := enc.EncodeUint(uint64(n.Level)); err != nil {
		return fmt.Errorf("node: encode level: %w", err)
	}
	if err := enc.EncodeArrayLen(len(n.Keys)); err != nil {
		return fmt.Errorf("node: encode key count: %w", err)
	}
	for i, k := range n.Keys {
		if err := codec.EncodeKey(enc, k); err != nil {
			return fmt.Errorf("node: encode key %d: %w", i, err)
		}
	}
	if n.Level == 0 {
		return nil
	}
	for i := range n.Children {
		if err := enc.EncodeBytes(n.Children[i][:]); err != nil {
			return fmt.Errorf("node: encode child %d: %w", i, err)
		}
	}
	for i, c := range n.Counts {
		if err := enc.EncodeUint(c); err != nil {
			return fmt.Errorf("node: encode count %d: %w", i, err)
		}
	}
	for i, f := range n.Fences {
		if err := encodeFence(enc, f); err != nil {
			return fmt.Errorf("node: encode fence %d: %w", i, err)
		}
	}
	return nil
}

// encodeFence writes f as nil (not known) or as the array [Hi, Lo].
func encodeFence(enc *msgpack.Encoder, f Fence) error {
	if !f.Known {
		return enc.EncodeNil()
	}
	if err := enc.EncodeArrayLen(2); err != nil {
		return err
	}
	if err := enc.EncodeUint(f.Hi); err != nil {
		return err
	}
	return enc.EncodeUint(f.Lo)
}

// decodeFence reads what encodeFence wrote.
func decodeFence(dec *msgpack.Decoder) (Fence, error) {
	n, err := dec.DecodeArrayLen()
	switch {
	case err != nil:
		return Fence{}, err
	case n == -1:
		return Fence{}, nil // nil: not known
	case n != 2:
		return Fence{}, fmt.Errorf("array of %d, want 2", n)
	}
	hi, err := dec.DecodeUint64()
	if err != nil {
		return Fence{}, err
	}
	lo, err := dec.DecodeUint64()
	if err != nil {
		return Fence{}, err
	}
	return Fence{Hi: hi, Lo: lo, Known: true}, nil
}

// decoderState is pooled so that Decode allocates only the node itself.
type decoderState struct {
	r   bytes.Reader
	dec *msgpack.Decoder
}

var decPool = sync.Pool{New: func() any {
	s := new(decoderState)
	s.dec = msgpack.NewDecoder(&s.r)
	return s
}}

// Decode parses bytes produced by Encode. It never panics: malformed,
// truncated or hostile input gives an error wrapping ErrCorrupt; an unknown
// first byte gives ErrVersion; a node written under another codec ID gives
// ErrCodec. Lengths and counts are checked against the remaining input before
// anything is allocated. The returned node does not alias data.
func Decode[K any](data []byte, codec KeyCodec[K]) (*Node[K], error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("node: decode: %w: empty input", ErrCorrupt)
	}
	if !KnownFormat(data[0]) {
		return nil, fmt.Errorf("node: decode: %w: got %d, want %d or %d", ErrVersion, data[0], FormatVersion, FormatFences)
	}
	st := decPool.Get().(*decoderState)
	st.r.Reset(data[1:])
	st.dec.Reset(&st.r)
	n, err := decodeBody(st, codec, data[0] == FormatFences)
	st.r.Reset(nil)
	if err != nil {
		// Not pooled again: a decoder that met malformed input may keep
		// a buffer sized by what the input declared.
		return nil, err
	}
	decPool.Put(st)
	return n, nil
}

func corruptf(format string, args ...any) error {
	return fmt.Errorf("node: decode: %w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

func decodeBody[K any](st *decoderState, codec KeyCodec[K], fences bool) (*Node[K], error) {
	dec := st.dec
	if code, err := dec.PeekCode(); err != nil {
		return nil, corruptf("codec id: %v", err)
	} else if code < 0xa0 || code > 0xbf && code != 0xd9 {
		// fixstr or str8 only: a codec ID is at most MaxCodecIDLen bytes.
		return nil, corruptf("codec id: unexpected msgpack code %#x", code)
	}
	id, err := dec.DecodeString()
	if err != nil {
		return nil, corruptf("codec id: %v", err)
	}
	if want := codec.ID(); id != want {
		return nil, fmt.Errorf("node: decode: %w: node written with %q, reading with %q", ErrCodec, id, want)
	}
	level, err := dec.DecodeUint64()
	if err != nil {
		return nil, corruptf("level: %v", err)
	}
	if level > MaxLevel {
		return nil, corruptf("level %d above %d", level, MaxLevel)
	}
	if fences && level == 0 {
		return nil, corruptf("a leaf in the branch format with fences")
	}
	nkeys, err := dec.DecodeArrayLen()
	if err != nil {
		return nil, corruptf("key count: %v", err)
	}
	// Every key takes at least one byte; a branch entry also needs an
	// address (34 bytes) and a count (1 byte).
	perKey := 1
	if level > 0 {
		perKey = 1 + 2 + AddressSize + 1
	}
	if fences {
		perKey++ // a fence takes at least one byte (nil)
	}
	if nkeys < 0 || nkeys > MaxKeys || nkeys*perKey > st.r.Len() {
		return nil, corruptf("key count %d does not fit in %d remaining bytes", nkeys, st.r.Len())
	}
	n := &Node[K]{Level: int(level), Keys: make([]K, nkeys)}
	for i := range n.Keys {
		k, err := codec.DecodeKey(dec)
		if err != nil {
			return nil, fmt.Errorf("node: decode: key %d: %w: %w", i, ErrCorrupt, err)
		}
		n.Keys[i] = k
	}
	if level > 0 {
		if nkeys == 0 {
			return nil, corruptf("branch with no children")
		}
		if nkeys*(2+AddressSize+1) > st.r.Len() {
			return nil, corruptf("%d children do not fit in %d remaining bytes", nkeys, st.r.Len())
		}
		n.Children = make([]Address, nkeys)
		for i := range n.Children {
			l, err := dec.DecodeBytesLen()
			if err != nil {
				return nil, corruptf("child %d: %v", i, err)
			}
			if l != AddressSize {
				return nil, corruptf("child %d: address of %d bytes", i, l)
			}
			if err := dec.ReadFull(n.Children[i][:]); err != nil {
				return nil, corruptf("child %d: %v", i, err)
			}
		}
		n.Counts = make([]uint64, nkeys)
		for i := range n.Counts {
			c, err := dec.DecodeUint64()
			if err != nil {
				return nil, corruptf("count %d: %v", i, err)
			}
			if c == 0 {
				return nil, corruptf("child %d has count 0", i)
			}
			n.Counts[i] = c
		}
		if fences {
			if nkeys > st.r.Len() {
				return nil, corruptf("%d fences do not fit in %d remaining bytes", nkeys, st.r.Len())
			}
			n.Fences = make([]Fence, nkeys)
			for i := range n.Fences {
				f, err := decodeFence(dec)
				if err != nil {
					return nil, corruptf("fence %d: %v", i, err)
				}
				n.Fences[i] = f
			}
		}
	}
	if st.r.Len() != 0 {
		return nil, corruptf("%d trailing bytes", st.r.Len())
	}
	return n, nil
}
