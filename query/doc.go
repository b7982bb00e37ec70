// Package query is accrete's Datalog engine: Datomic's query language (and,
// in pull.go, its pull API) evaluated in the reader's process over any
// number of database values and plain Go collections.
//
// A query goes through three stages, each handing a typed result to the
// next, split by file rather than by package so the syntax tree stays
// unexported:
//
//   - parse.go, rules.go: EDN (text or values) → a validated *Query whose
//     variables are numbered slots. Parse errors wrap ErrMalformed.
//   - plan.go: clauses + the variables bound so far → ordered steps. The
//     planner is greedy and cost-based: predicates, functions and negation
//     run as soon as their inputs are bound (predicates are fused into the
//     scan that binds their last variable); otherwise it takes the cheapest
//     connected pattern, or or rule call, estimated with Counter when the
//     Source offers it (a reader.DB answers the most common estimate, an
//     attribute's size, from statistics its commit carries, so a cold
//     reader plans without fetching index nodes). Each pattern picks its index from its bound
//     positions (EAVT for a known entity, AVET/VAET for a known value of an
//     indexed/ref attribute, AEVT for a known attribute), and comparisons of
//     an indexed attribute's value with a constant become an IndexRange.
//     An inclusive upper bound is passed as the value just above it (long,
//     instant, string, keyword, double: rangeEnd), so that the source's
//     scan ends at the range's last leaf rather than at the attribute's
//     end; a RangeChunkSource (reader.DB) hands the range over a leaf at
//     a time. On a long or instant attribute the range is exact (a strict
//     bound becomes the next value), so its comparisons are not run again
//     as filters: DataScript's qpred1 with :salary typed and indexed went
//     from 2.2 to 0.9 ms. A constant value that the index does not pin is tested inside
//     the scan's loop (vfilter); a scan that so filters 65,536 datoms or
//     more runs in parts on every core when its source can cut it
//     (SplitChunkSource, parscan.go).
//     Explain shows the plan.
//   - eval.go, rules_eval.go, find.go: steps over relations of slot-indexed
//     rows (no per-row maps): index nested-loop lookups when the bound
//     positions lead an index — or, when an entity-bound lookup has so
//     many input rows that one scan of the attribute is cheaper (more than
//     count/16), a merge join of the rows sorted by entity against that
//     scan (against the value's AVET datoms instead, when the pattern's
//     value is a constant in AVET held by fewer datoms: sorted by entity
//     as well, and nothing to test per datom) — hash joins otherwise
//     (keys of one or two entity ids are the numbers, other tuples their
//     byte encoding: tkey). A scan of one input row that binds only the
//     entity, value and transaction makes its rows a run of datoms at a
//     time (directEmit): DataScript's q1 with :name in AVET went from 0.114
//     to 0.060 ms, qpred1 from 0.70 to 0.55 ms (fastest tenth of batches).
//     Rules are evaluated semi-naively, magic-seeded, and terminate on
//     cycles. When a variable is no longer needed by later steps or by
//     :find/:with, rows are deduplicated on the live variables (early
//     projection), so value joins do not multiply rows that differ only in
//     dead variables. find.go shapes the result (aggregates, :with, pull,
//     :keys).
//
// The engine never imports a storage package: it reads through Source
// (source.go), which reader/ implements over its indices and MemSource
// implements over a slice.
//
// It is not a server and not a query cache; it does not write, and it
// keeps nothing between calls but emptied row buffers, which the next
// evaluation fills instead of allocating (rowpool.go). Full-text search is
// not supported.
//
// # Semantics
//
// Results follow Datomic and DataScript: relations are sets (Relation, in
// an unspecified but deterministic order), values are typed as stored
// (entity ids int64, idents edn.Keyword), an attribute variable binds the
// attribute's ident keyword (as in Datahike; a bound attribute variable may
// also hold an attribute id), entity positions and values of ref
// attributes accept idents and lookup refs, and = compares type and
// value (1 and 1.0 differ; use == for numeric equality). Joins and
// patterns tell doubles apart as the indices sort them (Java's
// Double.compare: -0.0 and 0.0 are two values, all NaNs one), while the =
// predicate is Clojure's (0.0 equals -0.0, NaN equals nothing). The order
// predicates (<, <=, >, >=, ==), compare, min, max and sorting compare
// numbers by value across types (-0.0 equals 0.0), and keywords and
// symbols by namespace, then name, as Clojure's compare; compare, min, max
// and sorting put NaN above every number, and the order predicates are
// false of it, as in Clojure. These are the orders of the indices, so that
// a range pushed down into AVET finds exactly what its predicates accept.
// A variable named twice in one :in binding unifies. Aggregates run over
// the distinct tuples of the :find and :with variables.
//
// The built-in functions and predicates are DataScript's list (funcs.go),
// which holds Datomic's, less complement (it takes a function, and a
// clause cannot pass one), meta and type (the JVM's metadata and classes
// have no counterpart here); range is materialized, at most 2^24 elements.
// Datomic's nested query is there too: [(q query inputs…) binding] runs
// query over the inputs (sources as the outer query bound them) with the
// outer query's user functions; and so are its log functions, tx-ids and
// tx-data, over a Log given as an input (reader.DB.Log).
//
// # Concurrency and lifetimes
//
// A *Query, *Rules and a Funcs that is no longer being registered into are
// immutable and safe for concurrent use. Each Q call has its own state and
// may run concurrently with others over the same sources. Results are
// freshly allocated and belong to the caller; values inside them may be
// shared with the Source (strings, big numbers) and MUST NOT be modified.
// Q checks its context between steps, inside scans and once per fixpoint
// iteration.
package query
