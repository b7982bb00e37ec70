package konserve

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/zeebo/blake3"
)

// Hash is the BLAKE3-256 address of a node's bytes. The zero Hash names no
// node; HashOf never returns it for real input (a BLAKE3 collision with the
// zero value is not a practical concern).
type Hash [32]byte

// HashOf returns the address of data: its BLAKE3-256 digest.
func HashOf(data []byte) Hash {
	return Hash(blake3.Sum256(data))
}

// String returns the address as 64 lowercase hex digits, the form used in
// keys and logs.
func (h Hash) String() string {
	return hex.EncodeToString(h[:])
}

// IsZero reports whether h is the zero Hash (no node).
func (h Hash) IsZero() bool {
	return h == Hash{}
}

// ParseHash parses the 64-hex-digit form that String produces. Upper-case
// digits are accepted; anything else (wrong length, non-hex) is an error
// wrapping ErrInvalidHash.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 2*len(h) {
		return Hash{}, fmt.Errorf("konserve: parse hash %q: length %d, want %d: %w", s, len(s), 2*len(h), ErrInvalidHash)
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return Hash{}, fmt.Errorf("konserve: parse hash %q: %w", s, ErrInvalidHash)
	}
	return h, nil
}

// nodePrefix is the key prefix of every immutable node. Heads may use any key
// not under it.
const nodePrefix = "nodes/"

// nodeKey returns the bucket key of the node h: nodes/<2 hex>/<64 hex>. The
// two-digit fan-out directory keeps file-system directories small and spreads
// S3 request-rate partitions.
func nodeKey(h Hash) string {
	s := h.String()
	return nodePrefix + s[:2] + "/" + s
}

// parseNodeKey is the inverse of nodeKey. It accepts only keys nodeKey could
// have produced (fan-out directory consistent with the hash, lowercase hex).
func parseNodeKey(key string) (Hash, bool) {
	rest, ok := strings.CutPrefix(key, nodePrefix)
	if !ok || len(rest) != 2+1+64 || rest[2] != '/' || rest[:2] != rest[3:5] {
		return Hash{}, false
	}
	hexPart := rest[3:]
	if strings.ToLower(hexPart) != hexPart {
		return Hash{}, false
	}
	h, err := ParseHash(hexPart)
	if err != nil {
		return Hash{}, false
	}
	return h, true
}

// isNodeKey reports whether key lies in the node key space.
func isNodeKey(key string) bool {
	return strings.HasPrefix(key, nodePrefix)
}
