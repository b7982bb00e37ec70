package node

import (
	"encoding/hex"
	"fmt"

	"github.com/zeebo/blake3"
)

// AddressSize is the length in bytes of an Address (BLAKE3-256).
const AddressSize = 32

// Address names an encoded node by the BLAKE3-256 hash of its bytes. Equal
// addresses mean equal bytes, so a node stored under an address never
// changes. The zero Address is never the hash of a node and means "none"
// (for example a child that has not been written yet).
type Address [AddressSize]byte

// AddressOf returns the address of encoded node bytes: their BLAKE3-256 hash.
func AddressOf(data []byte) Address {
	return Address(blake3.Sum256(data))
}

// String returns the address as 64 lowercase hex digits, the form used in
// storage keys and logs.
func (a Address) String() string {
	return hex.EncodeToString(a[:])
}

// IsZero reports whether a is the zero Address ("no address").
func (a Address) IsZero() bool {
	return a == Address{}
}

// ParseAddress parses the 64-hex-digit form produced by String.
func ParseAddress(s string) (Address, error) {
	var a Address
	if len(s) != 2*AddressSize {
		return a, fmt.Errorf("node: parse address %q: want %d hex digits, got %d", s, 2*AddressSize, len(s))
	}
	if _, err := hex.Decode(a[:], []byte(s)); err != nil {
		return a, fmt.Errorf("node: parse address %q: %w", s, err)
	}
	return a, nil
}
