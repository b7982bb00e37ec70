package query

import (
	"context"

	"github.com/accretedb/accrete/datom"
)

// Source is a database value as the query engine and pull see it. The
// engine never imports a storage package: reader.DB satisfies Source with
// its indices, and tests satisfy it with a sorted slice.
//
// A Source is an immutable value: every call on it sees the same datoms, and
// it MUST be safe for concurrent use.
type Source interface {
	// Schema returns the schema of this database value (attributes, idents).
	Schema() *datom.Schema

	// Datoms calls fn, in the order of index idx, for every datom whose
	// leading components equal components (given in that index's order:
	// EAVT takes e, a, v, tx; AEVT a, e, v, tx; AVET a, v, e, tx; VAET v, a,
	// e, tx). Entity, attribute and ref components are datom.IDs (int64).
	// Iteration stops early, without error, when fn returns false. AVET
	// holds only indexed attributes (Attribute.Indexed) and VAET only refs.
	//
	// For a history value (IsHistory() == true) it yields assertions and
	// retractions alike, each with its Added flag; otherwise only the
	// datoms true in this value, with Added == true.
	Datoms(ctx context.Context, idx datom.Index, components []any, fn func(datom.Datom) bool) error

	// IndexRange calls fn, in AVET order, for the datoms of the indexed
	// attribute a whose value v satisfies start <= v < end under
	// datom.CompareValues; a nil bound is open. It serves range predicates
	// pushed down from the query.
	IndexRange(ctx context.Context, a datom.ID, start, end any, fn func(datom.Datom) bool) error

	// History reports whether this is a history value, whose patterns may
	// bind the fifth position (added).
	IsHistory() bool
}

// RangeChunkSource is an optional interface of a Source: IndexRange handing
// fn runs of consecutive datoms (fn must not keep a run past its return),
// so that a range pushed into AVET is filtered and emitted a run at a
// time, as other scans are. reader.DB implements it.
type RangeChunkSource interface {
	IndexRangeChunks(ctx context.Context, a datom.ID, start, end any, fn func([]datom.Datom) bool) error
}

// SplitChunkSource is an optional interface of a ChunkSource: a scan cut
// into consecutive parts that can run at once, each on its own core. A
// scan that reads many datoms to keep few (a constant value outside AVET,
// say) then filters them in parallel. reader.DB implements it.
type SplitChunkSource interface {
	// SplitDatomChunks returns at most n parts, each a scan calling fn as
	// DatomChunks does: the runs of part 0, then those of part 1, and so
	// on, are what DatomChunks would hand out for the same arguments. The
	// parts MUST be safe to run concurrently. One part (the whole scan)
	// means the source found nothing worth splitting.
	SplitDatomChunks(ctx context.Context, idx datom.Index, components []any, n int) ([]func(fn func([]datom.Datom) bool) error, error)
}

// Counter is an optional interface of a Source: a cheap estimate of how many
// datoms Datoms would yield for the same arguments, used by the planner to
// order clauses. Sources without it are estimated from the schema alone.
type Counter interface {
	Count(ctx context.Context, idx datom.Index, components []any) (int, error)
}

// ChunkSource is an optional interface of a Source: Datoms a run of datoms
// at a time. The engine's scans then loop over each run in place, testing
// constants and fused comparisons before doing anything per datom, instead
// of taking a callback and a datom copy per datom. reader.DB hands out its
// index leaves as runs.
type ChunkSource interface {
	// DatomChunks calls fn with consecutive runs of the datoms Datoms would
	// yield for the same arguments, in the same order, until fn returns
	// false. A run is never empty. It is only valid during the call: fn
	// MUST NOT modify it or keep it (or pointers into it) after returning.
	DatomChunks(ctx context.Context, idx datom.Index, components []any, fn func([]datom.Datom) bool) error
}
