package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	out := bufio.NewWriterSize(os.Stdout, 64<<10)
	e := &env{stdin: os.Stdin, stdout: out, stderr: os.Stderr, flush: out.Flush, stderrTTY: isTerminal(os.Stderr)}
	code := run(ctx, e, os.Args[1:])
	if err := out.Flush(); err != nil && code == exitOK {
		fmt.Fprintf(os.Stderr, "accrete: write stdout: %v\n", err)
		code = exitUser
	}
	stop()
	os.Exit(code)
}

// commands lists every subcommand, in the order help shows them.
var commands []*command

func init() {
	commands = []*command{
		createCmd, transactCmd, queryCmd, pullCmd, datomsCmd, logCmd, historyCmd,
		branchCmd, importCmd, exportCmd, statsCmd, watchCmd,
		gcCmd, syncCmd, verifyCmd, diffCmd, purgeCmd,
	}
}

// run executes one command line and returns the exit code. Errors are
// printed here, as exactly one line on stderr.
func run(ctx context.Context, e *env, args []string) int {
	err := dispatch(ctx, e, args)
	if err != nil && exitCode(err) != exitOK {
		fmt.Fprintln(e.stderr, oneLine(err.Error()))
	}
	return exitCode(err)
}

func dispatch(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usagef("accrete: no command given (see accrete help)")
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			c := lookup(args[1])
			if c == nil {
				return usagef("accrete help: unknown command %q", args[1])
			}
			return c.run(ctx, e, c, []string{"--help"})
		}
		printUsage(e.stdout)
		return nil
	}
	c := lookup(name)
	if c == nil {
		return usagef("accrete: unknown command %q (see accrete help)", name)
	}
	return c.run(ctx, e, c, args[1:])
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// printUsage prints the overview of every command.
func printUsage(w io.Writer) {
	fmt.Fprintf(w, `accrete is a serverless Datalog database stored in a blob bucket.

usage: accrete COMMAND [FLAGS] ARGS...   (flags may come before or after arguments)

A database is named by a bucket URL plus a branch (--branch, default main):
  file:///data/people            a local directory
  s3://bucket/prefix?region=R    S3 or S3-compatible (endpoint=, use_path_style=true, ...)
  gs://bucket/prefix, azblob://container/prefix
  mem://name                     lives only inside ONE process: every accrete command is a
                                 new process, so a mem:// database is gone when it exits
The URL may carry branch=, as-of=, since= and history=true; accrete removes them
before opening the bucket.

stdout carries exactly one EDN value (JSON with --json); messages go to stderr.
Exit codes: 0 success, 1 the command failed (one line on stderr), 2 usage error.

commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun accrete help COMMAND (or accrete COMMAND --help) for details.\n")
}
