package reader

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/accretedb/accrete/datom"
)

// Datoms calls fn, in the order of index idx, for every datom of the value
// whose leading components equal components (EAVT takes e, a, v, tx; AEVT
// a, e, v, tx; AVET a, v, e, tx; VAET v, a, e, tx), until fn returns false.
// AVET holds only indexed attributes and VAET only refs. It satisfies
// query.Source and tx.Snapshot.
//
// The datom passed to fn is a copy; its V is shared with the index and must
// not be modified.
func (db *DB) Datoms(ctx context.Context, idx datom.Index, components []any, fn func(datom.Datom) bool) error {
	if idx > datom.VAET {
		if idx == datom.TEAV {
			return db.logDatoms(ctx, components, fn)
		}
		return fmt.Errorf("reader: datoms: unknown index %d", idx)
	}
	if v := db.v; len(components) == 2 && (idx == datom.EAVT || idx == datom.AEVT) && !v.history && v.asOf == math.MaxInt64 && v.since < 0 {
		// An entity's attribute (or an attribute's entity): the usual
		// point lookup, bounded on the two ids without the general
		// component handling.
		x, ok1 := components[0].(int64)
		y, ok2 := components[1].(int64)
		if ok1 && ok2 {
			lo := datom.Datom{E: x, A: y, Tx: math.MinInt64}
			end := rangeEnd{kind: endEA, x: x, y: y, cmp: datom.CompareEAVT}
			if idx == datom.AEVT {
				lo.E, lo.A = y, x
				end.kind, end.cmp = endAE, datom.CompareAEVT
			}
			end.hi = datom.Datom{E: lo.E, A: lo.A, V: maxValue{}, Tx: math.MaxInt64, Added: true}
			end.key = overlayKeys[curTree(idx)]
			return db.scanTreeEnd(ctx, curTree(idx), lo, end, fn)
		}
	}
	components = normalizeComponents(idx, components)
	lo, hi := bounds(idx, components)
	return db.scan(ctx, curTree(idx), lo, hi, fn)
}

// DatomChunks is Datoms a run of datoms at a time: fn gets consecutive
// slices of the datoms Datoms would yield, in order, until it returns
// false. The slices are views of the index's own leaves where possible, so
// they are valid only during the call and must be neither modified nor
// kept. It satisfies query.ChunkSource: a query's scan then loops over
// datoms in place instead of taking a call and a copy per datom.
func (db *DB) DatomChunks(ctx context.Context, idx datom.Index, components []any, fn func([]datom.Datom) bool) error {
	v := db.v
	if idx > datom.VAET || v.history || v.asOf != math.MaxInt64 || v.since >= 0 {
		return gatherChunks(fn, func(emit func(datom.Datom) bool) error {
			return db.Datoms(ctx, idx, components, emit)
		})
	}
	components = normalizeComponents(idx, components)
	lo, hi := bounds(idx, components)
	return db.scanTreeChunks(ctx, curTree(idx), lo, hi, fn)
}

// gatherChunks runs scan, gathering the datoms it yields into chunks for fn.
func gatherChunks(fn func([]datom.Datom) bool, scan func(func(datom.Datom) bool) error) error {
	buf := make([]datom.Datom, 0, chunkSize)
	stopped := false
	err := scan(func(d datom.Datom) bool {
		buf = append(buf, d)
		if len(buf) < cap(buf) {
			return true
		}
		if !fn(buf) {
			stopped = true
			return false
		}
		buf = buf[:0]
		return true
	})
	if err == nil && !stopped && len(buf) > 0 {
		fn(buf)
	}
	return err
}

// SeekDatoms calls fn for the datoms of index idx from the position of
// components onwards, to the end of the index, until fn returns false
// (Datomic's seek-datoms).
func (db *DB) SeekDatoms(ctx context.Context, idx datom.Index, components []any, fn func(datom.Datom) bool) error {
	if idx > datom.VAET {
		return fmt.Errorf("reader: seek datoms: unknown index %d", idx)
	}
	components = normalizeComponents(idx, components)
	lo, _ := bounds(idx, components)
	_, hi := bounds(idx, nil)
	return db.scan(ctx, curTree(idx), lo, hi, fn)
}

// SeekDatomChunks is SeekDatoms a run of datoms at a time, as DatomChunks
// is Datoms: fn gets consecutive slices of what SeekDatoms would yield,
// valid only during the call, until it returns false. Pull and Entity use
// it to read many entities in one ordered pass.
func (db *DB) SeekDatomChunks(ctx context.Context, idx datom.Index, components []any, fn func([]datom.Datom) bool) error {
	v := db.v
	if idx > datom.VAET || v.history || v.asOf != math.MaxInt64 || v.since >= 0 {
		return gatherChunks(fn, func(emit func(datom.Datom) bool) error {
			return db.SeekDatoms(ctx, idx, components, emit)
		})
	}
	components = normalizeComponents(idx, components)
	lo, _ := bounds(idx, components)
	_, hi := bounds(idx, nil)
	return db.scanTreeChunks(ctx, curTree(idx), lo, hi, fn)
}

// IndexRange calls fn, in AVET order, for the datoms of the indexed
// attribute a whose value v satisfies start <= v < end (a nil bound is
// open), until fn returns false.
func (db *DB) IndexRange(ctx context.Context, a datom.ID, start, end any, fn func(datom.Datom) bool) error {
	lo, hi, endV := indexRangeBounds(a, start, end)
	return db.scan(ctx, curAVET, lo, hi, func(d datom.Datom) bool {
		if endV != nil && datom.CompareValues(d.V, endV) >= 0 {
			return false
		}
		return fn(d)
	})
}

// IndexRangeChunks is IndexRange handing fn runs of consecutive datoms (a
// leaf at a time, as DatomChunks does) rather than one datom per call; fn
// must not keep a run past its return. The end is checked once per run
// where the attribute's values all have its declared type, so that the
// index's order is CompareValues' order; otherwise, and for history,
// as-of and since values, the runs are gathered from IndexRange.
func (db *DB) IndexRangeChunks(ctx context.Context, a datom.ID, start, end any, fn func([]datom.Datom) bool) error {
	v := db.v
	at := db.Schema().Attr(a)
	if v.history || v.asOf != math.MaxInt64 || v.since >= 0 || at == nil || at.ValueType == datom.TypeInvalid {
		return gatherChunks(fn, func(emit func(datom.Datom) bool) error {
			return db.IndexRange(ctx, a, start, end, emit)
		})
	}
	lo, hi, endV := indexRangeBounds(a, start, end)
	return db.scanTreeChunks(ctx, curAVET, lo, hi, func(ds []datom.Datom) bool {
		if endV != nil && datom.CompareValues(ds[len(ds)-1].V, endV) >= 0 {
			// The run reaches the end: cut it where IndexRange stops.
			for j := range ds {
				if datom.CompareValues(ds[j].V, endV) >= 0 {
					if j > 0 {
						fn(ds[:j])
					}
					return false
				}
			}
		}
		return fn(ds)
	})
}

// indexRangeBounds is the AVET scan of IndexRange(a, start, end): its
// first and last datoms, and the end value normalized (nil if open).
func indexRangeBounds(a datom.ID, start, end any) (lo, hi datom.Datom, endV any) {
	lo, hi = bounds(datom.AVET, []any{a})
	if start != nil {
		lo.V = normalizeComponents(datom.AVET, []any{a, start})[1]
	}
	if end != nil {
		endV = normalizeComponents(datom.AVET, []any{a, end})[1]
		// The scan's inclusive bound: a bound this tight, rather than the
		// attribute's end, keeps the prefetch and the fences
		// (pss.IterOptions.Past) from loading the leaf after the range.
		hi = indexRangeHi(hi.A, endV)
	}
	return lo, hi, endV
}

// indexRangeHi is the inclusive upper bound in AVET of the datoms of
// attribute a whose value is below end. For a long or an instant it is
// the last datom of the value just below end, whose fence key (avetKey)
// is then that value's: a leaf starting at end is known to be past it
// whenever end begins a new value prefix. For other values it is below
// every datom of value end (no entity id is MinInt64) and above every
// datom of a smaller value.
func indexRangeHi(a datom.ID, end any) datom.Datom {
	last := datom.Datom{E: math.MaxInt64, A: a, Tx: math.MaxInt64, Added: true}
	switch v := end.(type) {
	case int64:
		if v > math.MinInt64 {
			last.V = v - 1
			return last
		}
	case time.Time:
		last.V = v.Add(-time.Nanosecond)
		return last
	}
	return datom.Datom{E: math.MinInt64, A: a, V: end, Tx: math.MinInt64, Added: false}
}

// scan applies the value's view to current tree i (and its history tree).
func (db *DB) scan(ctx context.Context, i int, lo, hi datom.Datom, fn func(datom.Datom) bool) error {
	v := db.v
	switch {
	case !v.history && v.asOf == math.MaxInt64:
		if v.since < 0 {
			return db.scanTree(ctx, i, lo, hi, fn)
		}
		return db.scanTree(ctx, i, lo, hi, func(d datom.Datom) bool {
			if datom.TxT(d.Tx) <= v.since {
				return true
			}
			return fn(d)
		})
	case v.history:
		return db.scanUnion(ctx, i, lo, hi, func(d datom.Datom) bool {
			t := datom.TxT(d.Tx)
			if t > v.asOf || t <= v.since {
				return true
			}
			return fn(d)
		})
	default:
		return db.scanAsOf(ctx, i, lo, hi, fn)
	}
}

// scanAsOf yields the datoms true at v.asOf: the union of current and
// history is sorted so that all operations on one fact (e, a, v) are
// adjacent and in transaction order, so the fact's state at asOf is its
// last operation at or before asOf.
func (db *DB) scanAsOf(ctx context.Context, i int, lo, hi datom.Datom, fn func(datom.Datom) bool) error {
	v := db.v
	var pending datom.Datom
	has := false
	stopped := false
	flush := func() bool {
		if has && pending.Added && datom.TxT(pending.Tx) > v.since {
			has = false
			return fn(pending)
		}
		has = false
		return true
	}
	err := db.scanUnion(ctx, i, lo, hi, func(d datom.Datom) bool {
		if datom.TxT(d.Tx) > v.asOf {
			return true
		}
		if has && !sameFact(pending, d) {
			if !flush() {
				stopped = true
				return false
			}
		}
		pending, has = d, true
		return true
	})
	if err != nil {
		return err
	}
	if !stopped {
		flush()
	}
	return nil
}

func sameFact(a, b datom.Datom) bool {
	return a.E == b.E && a.A == b.A && datom.EqualValues(a.V, b.V)
}

// Count estimates how many datoms Datoms would yield for the same
// arguments, from subtree counts, without reading the datoms (exact for the
// current value; an upper bound for history, as-of and since views). It
// satisfies query.Counter.
func (db *DB) Count(ctx context.Context, idx datom.Index, components []any) (int, error) {
	if idx > datom.VAET {
		return 0, fmt.Errorf("reader: count: unknown index %d", idx)
	}
	components = normalizeComponents(idx, components)
	lo, hi := bounds(idx, components)
	i := curTree(idx)
	now := !db.v.history && db.v.asOf == math.MaxInt64
	n, err := db.countTree(ctx, i, lo, hi, !now)
	if err != nil || now {
		return n, err
	}
	h, err := db.countTree(ctx, i+nCur, lo, hi, false)
	return n + h, err
}

// countTree counts tree i with its overlay in [lo, hi]; hist counts current
// tree i as history scans read it (see overlay).
func (db *DB) countTree(ctx context.Context, i int, lo, hi datom.Datom, hist bool) (int, error) {
	n, ok := db.countFromStats(i, lo, hi)
	if !ok {
		tree, err := db.trees[i].get(ctx)
		if err != nil {
			return 0, err
		}
		n, ok, err = countPrefix(ctx, tree, i, lo, hi)
		if !ok {
			n, err = tree.Count(ctx, lo, hi)
		}
		if err != nil {
			return 0, err
		}
	}
	a, _ := db.ov.add(i).Count(ctx, lo, hi)
	n += a
	if i < nCur {
		dels := db.ov.dels[i]
		if hist {
			dels = db.ov.xdel(i)
		}
		d, _ := dels.Count(ctx, lo, hi)
		n -= d
	}
	if n < 0 {
		n = 0
	}
	return n, nil
}

// countFromStats is the count of stored tree i in [lo, hi] when lo and hi
// bound one attribute of AEVT and the value has statistics for its AEVT
// tree (see attrStats): no node is read. ok is false otherwise.
func (db *DB) countFromStats(i int, lo, hi datom.Datom) (int, bool) {
	if i != curAEVT || lo.A != hi.A || lo.A == math.MinInt64 || !prefixLo(lo) || lo.E != math.MinInt64 || hi.E != math.MaxInt64 || hi.Tx != math.MaxInt64 || !hi.Added {
		return 0, false
	}
	if _, isMax := hi.V.(maxValue); !isMax {
		return 0, false
	}
	s := db.stats()
	if s == nil {
		return 0, false
	}
	return int(s.counts[lo.A]), true
}

// logDatoms scans the transaction log (TEAV): every datom ever
// transacted, in transaction order, whatever the view.
func (db *DB) logDatoms(ctx context.Context, components []any, fn func(datom.Datom) bool) error {
	components = normalizeComponents(datom.TEAV, components)
	lo, hi := bounds(datom.TEAV, components)
	return db.scanLog(ctx, lo, hi, fn)
}

// scanLog walks the log in [lo, hi]: the merged log tree, then the
// transactions of the tail (all newer than anything merged).
func (db *DB) scanLog(ctx context.Context, lo, hi datom.Datom, fn func(datom.Datom) bool) error {
	stopped := false
	err := db.scanTree(ctx, logTEAV, lo, hi, func(d datom.Datom) bool {
		if !fn(d) {
			stopped = true
			return false
		}
		return true
	})
	if err != nil || stopped {
		return err
	}
	for _, t := range db.tail.txs() {
		tx := datom.TxID(t.t)
		if tx < lo.Tx || tx > hi.Tx {
			continue
		}
		for _, d := range t.datoms {
			if datom.CompareTEAV(d, lo) < 0 || datom.CompareTEAV(d, hi) > 0 {
				continue
			}
			if !fn(d) {
				return nil
			}
		}
	}
	return nil
}
