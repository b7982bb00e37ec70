package tx

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Apply returns them wrapped in an *Error; test for them
// with errors.Is.
var (
	// ErrInvalidForm is returned for data that is not a transaction form:
	// a wrong arity, an unknown operation or function, a map key that is not
	// an attribute, a nested map that is neither a component nor
	// identifiable, or a composite tuple asserted by hand.
	ErrInvalidForm = errors.New("tx: invalid form")
	// ErrUnknownAttribute is returned when an attribute is not in the schema
	// (schema-on-write), or a reverse ref names a non-ref attribute.
	ErrUnknownAttribute = errors.New("tx: unknown attribute")
	// ErrWrongType is returned when a value does not fit its attribute's
	// :db/valueType.
	ErrWrongType = errors.New("tx: wrong value type")
	// ErrInvalidEntity is returned for an entity id outside every allocated
	// range, an unknown ident, or a value that cannot name an entity.
	ErrInvalidEntity = errors.New("tx: invalid entity id")
	// ErrUniqueConflict is returned when an assertion would give a
	// :db.unique attribute's value to a second entity, or a tempid upserts to
	// two different entities.
	ErrUniqueConflict = errors.New("tx: unique conflict")
	// ErrCardinalityConflict is returned when one transaction asserts two
	// different values of a cardinality-one attribute of one entity.
	ErrCardinalityConflict = errors.New("tx: cardinality conflict")
	// ErrConflict is returned when one transaction asserts and explicitly
	// retracts the same fact.
	ErrConflict = errors.New("tx: datoms conflict")
	// ErrTempID is returned for a tempid used only as a value, never as an
	// entity, or used as the entity of a retraction.
	ErrTempID = errors.New("tx: unresolvable tempid")
	// ErrLookupRef is returned for a lookup ref whose attribute is not
	// unique or whose value names no entity.
	ErrLookupRef = errors.New("tx: unresolvable lookup ref")
	// ErrCAS is returned when :db/cas finds a value other than the expected
	// one.
	ErrCAS = errors.New("tx: compare-and-swap failed")
	// ErrTxFunc is returned, wrapping the function's own error, when a
	// transaction function fails, or when functions nest deeper than
	// Options.MaxDepth.
	ErrTxFunc = errors.New("tx: transaction function failed")
	// ErrSchema is returned when the transaction's schema changes are
	// rejected by datom.Schema.Apply.
	ErrSchema = errors.New("tx: invalid schema change")
)

// Error names the form of the transaction data that made it fail.
// errors.Is and errors.As see Err through it.
type Error struct {
	// Index is the position in data of the top-level form at fault, or -1
	// when the fault is not tied to one form (e.g. the transaction entity).
	Index int
	// Form is the offending form: the top-level form, or the nested map,
	// the form returned by a transaction function, or the datom
	// ([:db/add e a v] with resolved ids) at fault.
	Form any
	// Err is the reason, a sentinel above, possibly wrapping a cause.
	Err error
}

// Error implements error:
// "tx: form 3 [:db/add "a" :person/age "x"]: wrong value type: …".
func (e *Error) Error() string {
	msg := "<nil>"
	if e.Err != nil {
		msg = strings.TrimPrefix(e.Err.Error(), "tx: ")
	}
	if e.Form == nil {
		return fmt.Sprintf("tx: form %d: %s", e.Index, msg)
	}
	return fmt.Sprintf("tx: form %d %s: %s", e.Index, formText(e.Form), msg)
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }
