package reader

import (
	"context"
	"math"

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
