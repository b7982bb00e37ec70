package datom

import (
	"errors"
	"fmt"
)

// ErrValueType is matched (errors.Is) by every *TypeError: a value does not
// have, and cannot be coerced to, the value type an attribute requires.
var ErrValueType = errors.New("datom: wrong value type")

// ErrCorrupt is returned by every decoder in this package (datoms, datom
// lists, schemas) when its input is not a valid encoding: truncated, trailing
// bytes, unknown version or tag, out-of-range or non-canonical fields.
var ErrCorrupt = errors.New("datom: corrupt encoding")

// ErrUnencodable is returned by the encoders when a datom holds a value that
// has no encoding: a Go type that is not one of the value types, an instant
// with sub-millisecond precision, a non-finite bigdec, a nested tuple.
var ErrUnencodable = errors.New("datom: value cannot be encoded")

// ErrSchema is matched (errors.Is) by every error Schema.Apply returns: the
// transaction would install or change schema in a way that is not allowed.
var ErrSchema = errors.New("datom: invalid schema change")

// TypeError reports a value that does not fit a value type. It names the
// expected type and the Go type given, so the transaction layer can point at
// the offending datom.
type TypeError struct {
	Want   ValueType // the attribute's type
	Value  any       // the value given
	Reason string    // optional detail ("not finite", "tuple length 9 > 8")
}

// Error implements error.
func (e *TypeError) Error() string {
	msg := fmt.Sprintf("datom: want %s, got %T %s", e.Want, e.Value, shortValue(e.Value))
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

// Unwrap makes errors.Is(err, ErrValueType) true.
func (e *TypeError) Unwrap() error { return ErrValueType }

func shortValue(v any) string {
	s := fmt.Sprintf("%v", v)
	if len(s) > 64 {
		s = s[:61] + "..."
	}
	return s
}

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

func schemaErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrSchema}, args...)...)
}
