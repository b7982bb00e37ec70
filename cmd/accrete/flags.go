package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// env is what a command may touch of the process: its streams. Commands
// never use os.Stdout and friends directly, so that output discipline (one
// value on stdout, diagnostics on stderr) is visible in one place.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// flush pushes buffered stdout to the process's stdout (watch calls
	// it after each line).
	flush func() error
	// stderrTTY reports whether stderr is a terminal (import draws a
	// progress bar then, and prints plain lines otherwise).
	stderrTTY bool
}

// command is one subcommand.
type command struct {
	name     string
	synopsis string // arguments after the command name, for usage lines
	summary  string // one line, for `accrete help`
	help     string // paragraphs for `accrete help NAME`
	run      func(ctx context.Context, e *env, c *command, args []string) error
}

// newFlags returns a flag set for c that reports errors to no one: parse
// turns them into usage errors.
func (c *command) newFlags() *flag.FlagSet {
	fs := flag.NewFlagSet("accrete "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parse parses args with flags allowed anywhere among the positional
// arguments (Go's flag package alone stops at the first positional), and
// checks that there are between min and max positionals (max < 0: no limit).
// A lone "-" and negative numbers are positionals. -h, -help and --help print
// the command's help on stdout and return errHelp.
func (c *command) parse(e *env, fs *flag.FlagSet, args []string, min, max int) ([]string, error) {
	var pos, tail []string
	rest := args
	// Everything after a "--" is positional.
	for i, a := range args {
		if a == "--" {
			rest, tail = args[:i], args[i+1:]
			break
		}
	}
	for len(rest) > 0 {
		if looksPositional(rest[0]) {
			pos = append(pos, rest[0])
			rest = rest[1:]
			continue
		}
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				c.printHelp(e.stdout, fs)
				return nil, errHelp
			}
			return nil, usagef("accrete %s: %v (see accrete %s --help)", c.name, err, c.name)
		}
		rest = fs.Args()
		if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
			pos = append(pos, rest[0])
			rest = rest[1:]
		}
	}
	pos = append(pos, tail...)
	if len(pos) < min || (max >= 0 && len(pos) > max) {
		return nil, usagef("accrete %s: expected %s, got %d argument(s) (see accrete %s --help)",
			c.name, c.synopsis, len(pos), c.name)
	}
	return pos, nil
}

// looksPositional reports whether a command-line word that starts with a
// dash is nevertheless a positional argument: "-" (stdin) or a negative
// number (a tempid or an EDN input).
func looksPositional(s string) bool {
	if !strings.HasPrefix(s, "-") {
		return true
	}
	return s == "-" || (len(s) > 1 && s[1] >= '0' && s[1] <= '9')
}

// printHelp prints the full help of c.
func (c *command) printHelp(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: accrete %s %s\n\n%s\n", c.name, c.synopsis, c.summary)
	if c.help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.help))
	}
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintf(w, "\nflags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
