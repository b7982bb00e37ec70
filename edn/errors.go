package edn

import (
	"errors"
	"fmt"
)

// SyntaxError is the error every reading function returns for input that is
// not valid EDN (or that this reader does not support, such as ratios).
// Callers reach it with errors.As; its Error text names the position:
//
//	edn: line 3, col 7: unterminated string
type SyntaxError struct {
	// Line is the 1-based line of the offending input.
	Line int
	// Col is the 1-based column on that line, counted in characters (runes).
	Col int
	// Offset is the 0-based byte offset from the start of the input (for a
	// Decoder, from the start of the stream).
	Offset int
	// Msg says what is wrong, without position.
	Msg string
}

// Error returns "edn: line L, col C: msg".
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("edn: line %d, col %d: %s", e.Line, e.Col, e.Msg)
}

// ErrUnsupported is returned (wrapped) by Marshal and Write when a value has
// no EDN form: an unsupported Go type (struct, channel, func), or a value of a
// supported type that cannot be printed so that it reads back equal (a string
// with invalid UTF-8, a symbol with characters symbols may not hold, a
// non-finite decimal, a time outside years 0000-9999, a map with duplicate
// keys).
var ErrUnsupported = errors.New("edn: value cannot be printed as EDN")
