// Command accrete is the command line of the accrete database: it creates
// databases in blob buckets, transacts, queries, pulls, reads indices and the
// log, manages branches, imports and exports, prints statistics and watches a
// branch, all without a server.
//
// Usage:
//
//	accrete help [COMMAND]
//	accrete COMMAND [FLAGS] ARGS...
//
// A database is named by a gocloud bucket URL (file:///data/people,
// s3://bucket/prefix?region=…, mem://name) plus a branch (--branch, default
// main). accrete's own URL parameters (branch, as-of, since, history) are
// removed before the bucket is opened. A mem:// bucket lives only inside one
// process: every accrete command is a new process, so mem:// is only useful
// for trying the flags.
//
// Contract (checked by the end-to-end tests in this folder): flags may stand
// before or after positional arguments; stdout carries exactly one EDN value
// (JSON with --json) and nothing else (watch prints one value per line, one
// line per transaction); diagnostics go to stderr; the exit code is 0 on
// success, 1 on a user error (one line on stderr naming what was wrong) and 2
// on a usage error.
//
// What it is not: a server, a REPL or a shell. It keeps nothing between runs.
//
// Concurrency and lifetimes: each run opens the stores it needs and closes
// them before exiting. Several accrete processes may run against one bucket at
// once; writers (transact, import) race through the branch head's
// compare-and-swap and rebase, as package writer documents.
package main
