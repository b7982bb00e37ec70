package reader

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/tx"
)

// ErrTimeConflict is returned for a transaction that asserts its own
// :db/txInstant earlier than the previous transaction's: instants never go
// back, so AsOfTime stays meaningful.
var ErrTimeConflict = errors.New("reader: time conflict")

// Report is the outcome of a transaction: the database before and after,
// the datoms it asserted and retracted, and how its tempids resolved.
type Report struct {
	DBBefore, DBAfter *DB
	TxID              datom.ID
	T                 int64
	TxData            []datom.Datom
	TempIDs           map[any]datom.ID
}

// TxOptions configure a transaction applied by With or by the writer.
type TxOptions struct {
	// Funcs are the transaction functions callable by name in the data.
	Funcs map[edn.Keyword]tx.Func
	// Now is the wall clock for :db/txInstant; zero means time.Now(). The
	// instant used is never earlier than the previous transaction's, so
	// :db/txInstant stays monotonic when the clock steps back.
	Now time.Time
}

// With applies transaction data to the value in memory only, as Datomic's
// with: the returned report's DBAfter is a new value; nothing is written to
// the bucket. data is EDN text (string or []byte) or parsed transaction data
// ([]any, edn.Vector).
func (db *DB) With(ctx context.Context, data any, opts *TxOptions) (*Report, error) {
	forms, err := TxForms(data)
	if err != nil {
		return nil, err
	}
	return db.Transact(ctx, forms, opts)
}

// TxForms turns transaction data given as EDN text or Go values into the
// list of forms tx.Apply takes.
func TxForms(data any) ([]any, error) {
	switch x := data.(type) {
	case string:
		return TxForms([]byte(x))
	case []byte:
		v, err := edn.Read(x)
		if err != nil {
			return nil, fmt.Errorf("reader: transaction data: %w", err)
		}
		return TxForms(v)
	case edn.Vector:
		return []any(x), nil
	case edn.List:
		return []any(x), nil
	case []any:
		return x, nil
	case []map[string]any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = x[i]
		}
		return out, nil
	case nil:
		return nil, nil
	}
	return nil, fmt.Errorf("reader: transaction data must be a vector of forms, got %T", data)
}

// Transact applies parsed transaction forms to the current value in memory
// and returns the report; the writer then makes DBAfter durable. It is
// With without the parsing.
func (db *DB) Transact(ctx context.Context, forms []any, opts *TxOptions) (*Report, error) {
	if db.v != nowView {
		return nil, fmt.Errorf("reader: cannot transact on an as-of, since or history view")
	}
	if opts == nil {
		opts = &TxOptions{}
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	inst := datom.NormalizeInstant(now)
	if inst.Before(db.lastInstant) {
		inst = db.lastInstant
	}
	in := tx.Input{T: db.basisT + 1, TxInstant: inst, NextUser: db.nextUser, NextDB: db.nextDB}
	res, err := tx.Apply(ctx, db, forms, in, &tx.Options{Funcs: opts.Funcs})
	if err != nil {
		return nil, err
	}
	for _, d := range res.Datoms {
		if d.E == res.TxID && d.A == datom.DBTxInstant && d.Added {
			if t, ok := d.V.(time.Time); ok && t.Before(db.lastInstant) {
				return nil, fmt.Errorf("reader: %w: :db/txInstant %s is before the previous transaction's %s",
					ErrTimeConflict, t.Format(time.RFC3339Nano), db.lastInstant.Format(time.RFC3339Nano))
			}
			if t, ok := d.V.(time.Time); ok && t.After(inst) {
				inst = t
			}
		}
	}
	after, err := db.applyResult(ctx, res)
	if err != nil {
		return nil, err
	}
	after.lastInstant = inst
	return &Report{DBBefore: db, DBAfter: after, TxID: res.TxID, T: in.T, TxData: res.Datoms, TempIDs: res.TempIDs}, nil
}

// applyTail replays one stored tail transaction onto db.
func (db *DB) applyTail(ctx context.Context, t tailTx) (*DB, error) {
	schema := db.schema
	if touchesSchema(t.datoms) {
		var err error
		if schema, err = schema.Apply(t.datoms); err != nil {
			return nil, err
		}
	}
	res := &tx.Result{TxID: datom.TxID(t.t), Datoms: t.datoms, Retracted: t.retracted, Schema: schema}
	next, err := db.apply(ctx, res, t.t, t.enc)
	if err != nil {
		return nil, err
	}
	for _, d := range t.datoms {
		if d.E == res.TxID && d.A == datom.DBTxInstant && d.Added {
			if tm, ok := d.V.(time.Time); ok && tm.After(next.lastInstant) {
				next.lastInstant = tm
			}
		}
	}
	return next, nil
}

// touchesSchema reports whether datoms assert or retract anything on an
// entity in the schema partition (attributes and idents).
func touchesSchema(ds []datom.Datom) bool {
	for _, d := range ds {
		if datom.Part(d.E) == datom.PartDB {
			return true
		}
	}
	return false
}

func (db *DB) applyResult(ctx context.Context, res *tx.Result) (*DB, error) {
	next, err := db.apply(ctx, res, datom.TxT(res.TxID), nil)
	if err != nil {
		return nil, err
	}
	if res.NextUser > next.nextUser {
		next.nextUser = res.NextUser
	}
	if res.NextDB > next.nextDB {
		next.nextDB = res.NextDB
	}
	return next, nil
}

// apply adds one transaction to the overlay and the tail, returning a new
// value. It only touches in-memory sets.
func (db *DB) apply(ctx context.Context, res *tx.Result, t int64, enc []byte) (*DB, error) {
	oldSchema := db.schema
	schema := res.Schema
	if schema == nil {
		schema = oldSchema
	}
	var adds [nTrees][]datom.Datom
	var dels [nCur][]datom.Datom
	ov := db.ov
	attrOf := func(a datom.ID) *datom.Attribute {
		if at := schema.Attr(a); at != nil {
			return at
		}
		return oldSchema.Attr(a)
	}
	// The log tree gets the tail's transactions only when the tail is
	// merged; until then scans of the log read the tail list itself (one
	// less overlay set to copy a path of per transaction).
	logDatoms := res.Datoms
	if !slices.IsSortedFunc(logDatoms, datom.CompareTEAV) {
		logDatoms = slices.Clone(logDatoms)
		slices.SortFunc(logDatoms, datom.CompareTEAV)
	}
	for _, d := range res.Datoms {
		if !d.Added {
			continue
		}
		at := attrOf(d.A)
		adds[curEAVT] = append(adds[curEAVT], d)
		adds[curAEVT] = append(adds[curAEVT], d)
		if at != nil && at.Indexed() {
			adds[curAVET] = append(adds[curAVET], d)
		}
		if at != nil && at.IsRef() {
			adds[curVAET] = append(adds[curVAET], d)
		}
	}
	// Retractions: hide the retracted datom from the current trees (drop it
	// from the overlay if the tail added it, else mask the stored one) and
	// keep both it and its retraction in history.
	var retractions []datom.Datom
	for _, d := range res.Datoms {
		if !d.Added {
			retractions = append(retractions, d)
		}
	}
	var removeAdds [nCur][]datom.Datom
	for k, r := range res.Retracted {
		at := attrOf(r.A)
		trees := []int{curEAVT, curAEVT}
		if at != nil && at.IsRef() {
			trees = append(trees, curVAET)
		}
		if at != nil && at.Indexed() {
			trees = append(trees, curAVET)
		}
		for _, i := range trees {
			in, err := ov.adds[i].Has(ctx, r)
			if err != nil {
				return nil, err
			}
			if in {
				removeAdds[i] = append(removeAdds[i], r)
			} else {
				dels[i] = append(dels[i], r)
			}
		}
		if at != nil && at.NoHistory {
			continue
		}
		var rd datom.Datom
		if k < len(retractions) {
			rd = retractions[k]
		} else {
			rd = datom.Datom{E: r.E, A: r.A, V: r.V, Tx: res.TxID, Added: false}
		}
		for _, i := range []int{histEAVT, histAEVT} {
			adds[i] = append(adds[i], r, rd)
		}
		if at != nil && at.Indexed() {
			adds[histAVET] = append(adds[histAVET], r, rd)
		}
		if at != nil && at.IsRef() {
			adds[histVAET] = append(adds[histVAET], r, rd)
		}
	}
	// An attribute that became indexed (or stopped being) gains (or
	// loses) its AVET datoms, as Datomic builds the index for it.
	if schema != oldSchema {
		if err := db.reindex(ctx, oldSchema, schema, &adds, &dels); err != nil {
			return nil, err
		}
	}
	nov := &overlay{adds: ov.adds, dels: ov.dels}
	var err error
	for i := range adds {
		var rm []datom.Datom
		if i < nCur {
			rm = removeAdds[i]
		}
		if len(adds[i]) == 0 && len(rm) == 0 {
			continue
		}
		if nov.adds[i], err = nov.adds[i].Update(ctx, adds[i], rm); err != nil {
			return nil, fmt.Errorf("reader: apply tx %d: %w", t, err)
		}
	}
	for i := range dels {
		if len(dels[i]) == 0 {
			continue
		}
		if nov.dels[i], err = nov.dels[i].Update(ctx, dels[i], nil); err != nil {
			return nil, fmt.Errorf("reader: apply tx %d: %w", t, err)
		}
	}
	next := *db
	next.ov = nov
	next.schema = schema
	if t > next.basisT {
		next.basisT = t
	}
	next.tail = db.tail.push(&tailTx{t: t, datoms: logDatoms, retracted: res.Retracted, enc: enc})
	if enc != nil {
		next.tailBytes += int64(len(enc))
	} else {
		next.tailBytes += estimateBytes(res.Datoms) + estimateBytes(res.Retracted)
	}
	return &next, nil
}

// estimateBytes approximates the encoded size of datoms before they are
// encoded, to decide when the tail is due for a merge.
func estimateBytes(ds []datom.Datom) int64 {
	n := int64(0)
	for _, d := range ds {
		n += 16
		switch v := d.V.(type) {
		case string:
			n += int64(len(v))
		case []byte:
			n += int64(len(v))
		case edn.Keyword:
			n += int64(len(v))
		default:
			n += 8
		}
	}
	return n
}

// reindex adds to AVET the current datoms of attributes that became
// indexed, and masks those of attributes that stopped being indexed.
func (db *DB) reindex(ctx context.Context, old, cur *datom.Schema, adds *[nTrees][]datom.Datom, dels *[nCur][]datom.Datom) error {
	for _, at := range cur.Attrs() {
		o := old.Attr(at.ID)
		if o == nil || o.Indexed() == at.Indexed() {
			continue
		}
		err := db.scanTree(ctx, curAEVT, lowFor(at.ID), highFor(at.ID), func(d datom.Datom) bool {
			if at.Indexed() {
				adds[curAVET] = append(adds[curAVET], d)
			} else {
				dels[curAVET] = append(dels[curAVET], d)
			}
			return true
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func lowFor(a datom.ID) datom.Datom  { lo, _ := bounds(datom.AEVT, []any{a}); return lo }
func highFor(a datom.ID) datom.Datom { _, hi := bounds(datom.AEVT, []any{a}); return hi }
