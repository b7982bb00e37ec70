package query

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error the engine returns wraps exactly one of them
// (check with errors.Is) and, when a clause is at fault, is an *Error naming
// that clause.
var (
	// ErrMalformed is returned by Parse (and by Q on unparsed input) when
	// the query, a rule set or a pull pattern does not follow the grammar.
	ErrMalformed = errors.New("malformed query")

	// ErrUnknownFunction is returned when a predicate, function or aggregate
	// names neither a built-in nor a function registered in Funcs.
	ErrUnknownFunction = errors.New("unknown function")

	// ErrUnboundVariable is returned when a predicate or function argument,
	// a :find or :with variable, or a not/or join variable can never be
	// bound before the clause runs.
	ErrUnboundVariable = errors.New("unbound variable")

	// ErrInsufficientBindings is returned when a rule head's required
	// variables ([?a] ?b) are not bound where the rule is called.
	ErrInsufficientBindings = errors.New("insufficient bindings")

	// ErrMissingSource is returned when a clause names a source ($, $x) or
	// rule set (%) that no input binds.
	ErrMissingSource = errors.New("missing source")

	// ErrArity is returned when the number of inputs differs from :in, a
	// rule is called with the wrong number of arguments, a function gets
	// the wrong number of arguments, or a binding form does not fit the
	// value it binds.
	ErrArity = errors.New("arity mismatch")

	// ErrUnknownRule is returned when a clause calls a rule the rule set
	// does not define.
	ErrUnknownRule = errors.New("unknown rule")

	// ErrInput is returned when an input value does not fit its :in
	// binding (a scalar given for a collection, a tuple of the wrong size).
	ErrInput = errors.New("bad input")

	// ErrFunction is returned when a function or aggregate fails on its
	// arguments (wrong types, division by zero, bad regex).
	ErrFunction = errors.New("function failed")

	// ErrLimit is returned when evaluation exceeds a limit of Options
	// (MaxRows) or recurses through negation without end.
	ErrLimit = errors.New("limit exceeded")
)

// Error is a query error tied to the clause (or :find/:in element) that
// caused it. Err wraps one of the sentinels above.
type Error struct {
	Clause string // the offending form, printed as EDN; may be empty
	Err    error
}

// Error returns "query: <clause>: <cause>".
func (e *Error) Error() string {
	if e.Clause == "" {
		return "query: " + e.Err.Error()
	}
	return "query: " + e.Clause + ": " + e.Err.Error()
}

// Unwrap returns the cause, so errors.Is finds the sentinel.
func (e *Error) Unwrap() error { return e.Err }

// errorf builds an *Error about form whose cause wraps sentinel.
func errorf(form any, sentinel error, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	var clause string
	if form != nil {
		clause = qString(form)
	}
	if msg == "" {
		return &Error{Clause: clause, Err: sentinel}
	}
	return &Error{Clause: clause, Err: fmt.Errorf("%w: %s", sentinel, msg)}
}
