// Package examples holds no code of its own: each folder below it is a
// runnable main package that a newcomer can read top to bottom and copy from,
// started from the repository root with go run:
//
//   - quickstart: create a database in a local bucket, transact a schema and
//     data, query, pull, travel in time (as-of, history) and reopen the
//     database from a second OS process. The README's first command.
//   - crossjoin: two teams' databases in two buckets on different backends,
//     joined with an as-of value of one of them in a single query.
//   - s3reader: a writer process and reader processes sharing only a bucket;
//     the readers follow the branch with reader.Watch and query each value.
//   - analytics: a read-only aggregate job with a bounded node cache that
//     prints what it fetched from the bucket.
//
// Every example defaults to file:// buckets under a temporary directory and
// takes bucket URLs (s3://, gs://, azblob://) as flags.
//
// What they are not: benchmarks (their timings are printed for a feel only;
// the packages' benchmarks measure speed) nor a stable API.
//
// Tests: examples_test.go builds every example once and runs it as real OS
// processes against local buckets, and against the S3 emulator that
// scripts/test.sh starts, asserting on the rows and numbers each prints.
// Examples hold no shared state; the test's processes use their own
// temporary directories and key prefixes, so test binaries may run in
// parallel.
package examples
