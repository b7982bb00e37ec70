// Package edn reads and prints EDN (https://github.com/edn-format/edn), the
// data notation accrete speaks everywhere text meets data: transaction data,
// Datalog queries, pull patterns, command-line output, and the export/import
// format of whole databases.
//
// # What it is
//
// A reader (Read, ReadString, ReadAll, and the streaming Decoder) that turns
// EDN text into the Go values listed in value.go, a printer (Marshal, Write,
// String) that turns those values (and common Go values) back into EDN text,
// Equal for EDN equality, and ToJSON for JSON output. The printer and the
// reader are inverses: for every value v that Marshal accepts,
// Read(Marshal(v)) is Equal to v. That is what makes `accrete export` →
// `accrete import` lossless: #inst keeps its full precision (printed with
// 0, 3, 6 or 9 fractional digits, in UTC), big integers print with N,
// decimals with M, floats always with a '.' or exponent (or as ##Inf,
// ##-Inf, ##NaN).
//
// # What it is not
//
// Not a Clojure reader: no ratios, no syntax-quote, no metadata (^), no
// namespaced maps (#:ns{}), no auto-resolved keywords (::k), no octal or hex
// integers; each is a SyntaxError naming the construct. It does not bind
// EDN to Go structs; callers walk the generic values. It does not keep
// source positions of values (only errors carry positions).
//
// # Syntax decisions
//
//   - Whitespace is space, tab, newline, return, form feed, vertical tab
//     and comma; ';' starts a comment to the end of the line; #_ discards the
//     next form (also at the end of a collection or the input).
//   - Symbols follow the spec's rules (see validSymbol); keywords follow the
//     same rules, except that, as in Clojure, their name may begin with a
//     digit (:1). Letters and digits may be any Unicode letter or digit.
//   - Integers that overflow int64 become *big.Int; 42N is always a *big.Int.
//     Floats that overflow become ±Inf.
//   - #inst takes RFC 3339 and the shorter forms "2024", "2024-01",
//     "2024-01-02", "2024-01-02T10:00" (read as UTC). #uuid takes the
//     canonical 36-character form. #bytes takes standard base64 with padding.
//   - #"…" is a regular expression in Go's RE2 syntax. As in Clojure its text
//     is raw ("\d" is the regex \d), except that \" stands for a quote.
//   - Maps with an odd number of forms, maps with duplicate keys and sets
//     with duplicate elements (under Equal) are errors.
//   - Nesting deeper than 10000 (collections, tags and discards together) is
//     an error, not a stack overflow.
//
// # Errors
//
// Every reading error is a *SyntaxError carrying the line, column (in
// characters) and byte offset of the offending input: at the opening
// delimiter of an unterminated collection or string, at the key of a
// duplicate, at the token that is malformed. Printing errors wrap
// ErrUnsupported.
//
// # Concurrency and lifetimes
//
// Read, Marshal, Equal and the other functions are safe for concurrent use;
// the package has no mutable global state. A Decoder is for one goroutine;
// it holds the unread part of its stream (one value plus at most one read
// chunk, 32 KiB or the size of the value, whichever is larger) and re-parses
// a value that straddles a refill, doubling its buffer each time so that the
// work stays linear in the value's size.
// Returned values never alias the input: strings and byte slices are copies,
// so the caller may reuse the input buffer. Values are plain data; callers
// must not mutate a value (a Map, *big.Int, *apd.Decimal) while another
// goroutine reads or prints it.
package edn
