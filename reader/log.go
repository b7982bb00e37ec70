package reader

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/accretedb/accrete/datom"
)

// TxInfo is one transaction of the log: its t, entity id and every datom it
// asserted or retracted, in log (TEAV) order.
type TxInfo struct {
	T      int64
	TxID   datom.ID
	Datoms []datom.Datom
}

// TxRange calls fn for each transaction with from <= t < to, in order, until
// fn returns false (Datomic's tx-range). to <= 0 means no upper bound. It
// reads the log, which holds every transaction whatever the value's view.
func (db *DB) TxRange(ctx context.Context, from, to int64, fn func(TxInfo) bool) error {
	from, to = normalizeT(from), normalizeT(to)
	if from < 0 {
		from = 0
	}
	if to <= 0 {
		to = math.MaxInt64 >> 22
	}
	lo, _ := bounds(datom.TEAV, []any{datom.TxID(from)})
	_, hi := bounds(datom.TEAV, []any{datom.TxID(to - 1)})
	var cur TxInfo
	has, stopped := false, false
	err := db.scanLog(ctx, lo, hi, func(d datom.Datom) bool {
		if has && d.Tx != cur.TxID {
			if !fn(cur) {
				stopped = true
				return false
			}
			has = false
		}
		if !has {
			cur = TxInfo{T: datom.TxT(d.Tx), TxID: d.Tx}
			has = true
		}
		cur.Datoms = append(cur.Datoms, d)
		return true
	})
	if err != nil {
		return err
	}
	if has && !stopped {
		fn(cur)
	}
	return nil
}

// Log is a database value's transaction log as a value, Datomic's (d/log
// conn): what a query's log functions, tx-ids and tx-data, read (it is a
// query.Log). Like TxRange it holds every transaction up to the value's
// basis, whatever the value's view.
type Log struct{ db *DB }

// Log returns db's transaction log.
func (db *DB) Log() Log { return Log{db} }

// LogTxs calls fn with the entity id and datoms of each transaction whose t
// is in [from, to), in order, until fn returns false. from and to are time
// points as Datomic's tx-range takes them: a t or a transaction entity id
// (int64), a time.Time (the first transaction whose :db/txInstant is at or
// after it), or nil (the start, or the end, of the log).
func (l Log) LogTxs(ctx context.Context, from, to any, fn func(tx datom.ID, datoms []datom.Datom) bool) error {
	if l.db == nil {
		return errors.New("reader: log of no database (use DB.Log)")
	}
	f, err := l.point(ctx, from, "start")
	if err != nil {
		return err
	}
	t, err := l.point(ctx, to, "end")
	if err != nil {
		return err
	}
	if to != nil && t <= 0 {
		return nil // an end at or before the first transaction: none
	}
	return l.db.TxRange(ctx, f, t, func(tx TxInfo) bool { return fn(tx.TxID, tx.Datoms) })
}

// point turns a time point into a t (0 for nil).
func (l Log) point(ctx context.Context, p any, which string) (int64, error) {
	switch x := p.(type) {
	case nil:
		return 0, nil
	case int64:
		return normalizeT(x), nil
	case int:
		return normalizeT(int64(x)), nil
	case time.Time:
		// The first transaction at or after x follows the last one
		// before it (instants have millisecond precision).
		t, err := l.db.tAt(ctx, datom.NormalizeInstant(x).Add(-time.Millisecond))
		if err != nil {
			return 0, err
		}
		return t + 1, nil
	}
	return 0, fmt.Errorf("reader: log: the %s %v (%T) is not a time point: want a t, a transaction id, a time or nil", which, p, p)
}
