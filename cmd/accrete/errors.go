package main

import (
	"errors"
	"fmt"
)

// Exit codes of the command.
const (
	exitOK    = 0
	exitUser  = 1 // the command was well formed but could not be done
	exitUsage = 2 // the command line itself was wrong
)

// usageError marks a malformed command line: wrong argument count, an unknown
// flag or command. It exits with exitUsage.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// usagef returns a usageError.
func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// errHelp is returned when the user asked for help; the help text has been
// printed and the command exits 0.
var errHelp = errors.New("accrete: help requested")

// exitCode maps the error of a command to its exit code.
func exitCode(err error) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, errHelp):
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	default:
		return exitUser
	}
}
