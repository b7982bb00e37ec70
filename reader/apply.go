package reader

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/pss"
	"github.com/accretedb/accrete/tx"
)

// ErrTimeConflict is returned for a transaction that asserts its own
// :db/txInstant earlier than the previous transaction's: instants never go
// back, so AsOfTime stays meaningful.
var ErrTimeConflict = errors.New("reader: time conflict")

// Report is the outcome of a transaction: the database before and after,
// the datoms it asserted and retracted, and how its tempids resolved.
// TxData shares memory with DBAfter (its log tail or indexes): read it, do
// not modify it.
type Report struct {
	DBBefore, DBAfter *DB
	TxID              datom.ID
	T                 int64
	TxData            []datom.Datom
	// TempIDs resolves the transaction's tempids, "datomic.tx" included
	// (tx.TempIDs: Lookup, ID, All, Map).
	TempIDs tx.TempIDs
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
//
// A value made by a large transaction (compactDatoms datoms or more, and
// at least a quarter of the value's EAVT tree) has the transaction, and
// the log tail before it, folded into in-memory index trees, as Init
// builds them: it reads as fast as a merged value, where an overlay would
// be merged into every scan. Committing such a value (it is not meant to
// be: the writer uses Transact) flushes the trees.
func (db *DB) With(ctx context.Context, data any, opts *TxOptions) (*Report, error) {
	forms, err := TxForms(data)
	if err != nil {
		return nil, err
	}
	return db.transact(ctx, forms, opts, true)
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
	return db.transact(ctx, forms, opts, false)
}

// noTxOptions and noFuncs stand for absent options without an allocation
// per transaction; neither is ever modified.
var (
	noTxOptions TxOptions
	noFuncs     tx.Options
)

// transact is Transact; fold lets a large transaction fold the tail into
// in-memory trees (see With).
func (db *DB) transact(ctx context.Context, forms []any, opts *TxOptions, fold bool) (*Report, error) {
	if db.v != nowView {
		return nil, fmt.Errorf("reader: cannot transact on an as-of, since or history view")
	}
	if opts == nil {
		opts = &noTxOptions
	}
	inst := db.nextInstant(opts.Now)
	in := tx.Input{T: db.basisT + 1, TxInstant: inst, NextUser: db.nextUser, NextDB: db.nextDB}
	txOpts := &noFuncs
	if opts.Funcs != nil {
		txOpts = &tx.Options{Funcs: opts.Funcs}
	}
	// The report and the transaction's result in one allocation: the
	// result is garbage once the report is made, bar what the report keeps.
	rn := new(reportNode)
	res := &rn.res
	if err := tx.ApplyTo(ctx, db, forms, in, txOpts, res); err != nil {
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
	after, err := db.applyResult(ctx, res, fold && db.foldWorth(ctx, len(res.Datoms)))
	if err != nil {
		return nil, err
	}
	after.lastInstant = inst
	rn.rep = Report{DBBefore: db, DBAfter: after, TxID: res.TxID, T: in.T, TxData: res.Datoms, TempIDs: res.TempIDs}
	return &rn.rep, nil
}

// reportNode allocates a report and the result it is made from together.
type reportNode struct {
	rep Report
	res tx.Result
}

// foldWorth reports whether a transaction of n datoms is worth folding
// into the trees (see With): it is large (compactDatoms), and the trees
// are not much larger, so that rebuilding them costs about as much as
// sorting the transaction anyway. A big transaction on a large stored
// database keeps the overlay, which touches no stored node.
func (db *DB) foldWorth(ctx context.Context, n int) bool {
	if n < compactDatoms {
		return false
	}
	tree, err := db.trees[curEAVT].get(ctx)
	return err == nil && tree.Len() <= 4*n
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

func (db *DB) applyResult(ctx context.Context, res *tx.Result, fold bool) (*DB, error) {
	next, err := db.applyFold(ctx, res, datom.TxT(res.TxID), nil, fold)
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

// attrKind is what apply needs to know of an attribute: which overlay sets
// its datoms go to.
type attrKind uint8

const (
	kindIndexed attrKind = 1 << iota
	kindRef
	kindNoHistory
)

// kindCache memoizes attrKind for the few attributes one transaction
// touches, so that each datom costs a comparison rather than a schema
// lookup.
type kindCache struct {
	schema, old *datom.Schema
	ids         [8]datom.ID
	kinds       [8]attrKind
	n           int
}

func (c *kindCache) kind(a datom.ID) attrKind {
	for i := 0; i < c.n; i++ {
		if c.ids[i] == a {
			return c.kinds[i]
		}
	}
	at := c.schema.Attr(a)
	if at == nil {
		at = c.old.Attr(a)
	}
	var k attrKind
	if at != nil {
		if at.Indexed() {
			k |= kindIndexed
		}
		if at.IsRef() {
			k |= kindRef
		}
		if at.NoHistory {
			k |= kindNoHistory
		}
	}
	if c.n < len(c.ids) {
		c.ids[c.n], c.kinds[c.n] = a, k
		c.n++
	}
	return k
}

// curTreesOf returns the current trees a datom of kind k is in.
func curTreesOf(k attrKind, buf *[nCur]int) []int {
	ts := append(buf[:0], curEAVT, curAEVT)
	if k&kindRef != 0 {
		ts = append(ts, curVAET)
	}
	if k&kindIndexed != 0 {
		ts = append(ts, curAVET)
	}
	return ts
}

// dbNode allocates a derived value and its overlay together: one
// allocation per transaction instead of two.
type dbNode struct {
	db DB
	ov overlay
}

// dbNodeAdds is a dbNode with room for the overlay's current additions,
// for a transaction that changes them at once rather than through the
// queue: their array then costs no allocation of its own. A queued
// transaction (most of a chain of With) takes the smaller dbNode, 288
// bytes rather than 384.
type dbNodeAdds struct {
	dbNode
	adds overlaySets
}

// tailNode allocates a tail list cell and its transaction together.
type tailNode struct {
	l  tailList
	tx tailTx
}

// apply adds one transaction to the overlay and the tail, returning a new
// value. It only touches in-memory sets: for each set the transaction
// changes, one batched pss.Update that copies the paths it touches once.
func (db *DB) apply(ctx context.Context, res *tx.Result, t int64, enc []byte) (*DB, error) {
	return db.applyFold(ctx, res, t, enc, false)
}

// applyFold is apply; fold puts the transaction, and the log tail before
// it, straight into in-memory index trees instead (see fold).
func (db *DB) applyFold(ctx context.Context, res *tx.Result, t int64, enc []byte, fold bool) (*DB, error) {
	oldSchema := db.schema
	schema := res.Schema
	if schema == nil {
		schema = oldSchema
	}
	ov := db.ov
	kinds := kindCache{schema: schema, old: oldSchema}
	// The log tree gets the tail's transactions only when the tail is
	// merged; until then scans of the log read the tail list itself (one
	// less overlay set to copy a path of per transaction).
	logDatoms := res.Datoms
	if !slices.IsSortedFunc(logDatoms, datom.CompareTEAV) {
		logDatoms = slices.Clone(logDatoms)
		slices.SortFunc(logDatoms, datom.CompareTEAV)
	}

	// Size every per-set batch first, then carve them all out of one
	// buffer (full slice expressions keep appends in their own range).
	// AEVT's batches are EAVT's (every datom is in both, and whether a
	// retracted one is in the tail does not depend on the tree): a pss
	// batch is a bag of keys, which the build sorts in the set's own
	// order, so the two sets share one slice rather than a copy each.
	var nAdds [nTrees]int
	var nRm, nDel [nCur]int // retracted datoms per current tree: adds removed, dels
	// A current tree whose additions are one run of res.Datoms (all of an
	// assertion-only transaction's for EAVT, its tx instant alone for
	// AVET) takes the run itself rather than a copy: batches are only
	// read, and res.Datoms is kept by the tail anyway.
	var first, last [nCur]int
	note := func(i, j int) {
		if nAdds[i] == 0 {
			first[i] = j
		}
		last[i] = j
		nAdds[i]++
	}
	for j, d := range res.Datoms {
		if !d.Added {
			continue
		}
		k := kinds.kind(d.A)
		note(curEAVT, j)
		if k&kindIndexed != 0 {
			note(curAVET, j)
		}
		if k&kindRef != 0 {
			note(curVAET, j)
		}
	}
	var shared [nCur]bool
	for _, i := range [...]int{curEAVT, curAVET, curVAET} {
		if nAdds[i] > 0 && last[i]-first[i]+1 == nAdds[i] {
			shared[i] = true
		}
	}
	var tbuf [nCur]int
	// When no retracted datom is in the tail, EAVT's (and AEVT's) deletions
	// are all of them, in order: the transaction's own Retracted, shared
	// rather than copied.
	delsRetracted := true
	for _, r := range res.Retracted {
		if db.tail.inTail(r.Tx) {
			delsRetracted = false
			break
		}
	}
	// When moreover the transaction folds nothing and its retractions are
	// one run of res.Datoms, each the retraction of the stored datom it
	// masks, of an attribute with history, EAVT's (and AEVT's) history
	// additions are that run (see below), shared rather than copied.
	histShared := !fold && delsRetracted && len(res.Retracted) > 0
	hFirst, hN := -1, 0
	for j := 0; histShared && j < len(res.Datoms); j++ {
		if res.Datoms[j].Added {
			continue
		}
		if hFirst < 0 {
			hFirst = j
		}
		hN++
		histShared = j-hFirst+1 == hN
	}
	histShared = histShared && hN == len(res.Retracted)
	for _, r := range res.Retracted {
		k := kinds.kind(r.A)
		in := db.tail.inTail(r.Tx) // see below
		if k&kindNoHistory != 0 {
			histShared = false
		}
		for _, i := range curTreesOf(k, &tbuf) {
			if i == curAEVT {
				continue // shares EAVT's batches
			}
			switch {
			case i == curAVET:
				nRm[i]++
				nDel[i]++
			case in:
				nRm[i]++
			case i != curEAVT || !delsRetracted:
				nDel[i]++
			}
			if k&kindNoHistory == 0 {
				nAdds[i+nCur] += 2
			}
		}
	}
	if histShared {
		nAdds[histEAVT] = 0
	}
	total := 0
	for i, n := range nAdds {
		if i >= nCur || !shared[i] {
			total += n
		}
	}
	for i := range nRm {
		total += nRm[i] + nDel[i]
	}
	buf := make([]datom.Datom, 0, total)
	carve := func(n int) []datom.Datom {
		s := buf[len(buf) : len(buf) : len(buf)+n]
		buf = buf[:len(buf)+n]
		return s
	}
	var adds [nTrees][]datom.Datom
	var dels, removeAdds, xdels [nCur][]datom.Datom
	for i := range adds {
		if i < nCur && shared[i] {
			// A full slice expression: an append (reindex) copies.
			adds[i] = res.Datoms[first[i] : last[i]+1 : last[i]+1]
			continue
		}
		adds[i] = carve(nAdds[i])
	}
	if histShared {
		adds[histEAVT] = res.Datoms[hFirst : hFirst+hN : hFirst+hN]
	}
	for i := range dels {
		dels[i] = carve(nDel[i])
		removeAdds[i] = carve(nRm[i])
	}

	for _, d := range res.Datoms {
		if !d.Added {
			continue
		}
		k := kinds.kind(d.A)
		if !shared[curEAVT] {
			adds[curEAVT] = append(adds[curEAVT], d)
		}
		if k&kindIndexed != 0 && !shared[curAVET] {
			adds[curAVET] = append(adds[curAVET], d)
		}
		if k&kindRef != 0 && !shared[curVAET] {
			adds[curVAET] = append(adds[curVAET], d)
		}
	}
	// Retractions: hide the retracted datom from the current trees (drop it
	// from the overlay if the tail added it, else mask the stored one) and
	// keep both it and its retraction in history: a masked stored datom is
	// history through the mask (see overlay), so only its retraction goes
	// to the history additions, unless the transaction folds, which puts
	// them all in the history trees. The k-th retraction in res.Datoms
	// retracts res.Retracted[k].
	next := 0 // index in res.Datoms of the next retraction
	for _, r := range res.Retracted {
		k := kinds.kind(r.A)
		var masked [nCur]bool // r is masked in tree i rather than dropped
		for _, i := range curTreesOf(k, &tbuf) {
			if i == curAEVT {
				continue // shares EAVT's batches
			}
			// A datom the tail asserted is in the overlay's additions; one
			// from an older transaction is in the stored tree. AVET is the
			// exception: reindex adds stored datoms of a newly indexed
			// attribute to it, so there the set itself answers (which
			// builds it if it is lazy and its pending keys may hold r).
			in := db.tail.inTail(r.Tx)
			if i == curAVET {
				var err error
				if in, err = ov.addSets()[i].Within(r, r).Has(ctx, r); err != nil {
					return nil, err
				}
			}
			masked[i] = !in
			switch {
			case in:
				removeAdds[i] = append(removeAdds[i], r)
			case i != curEAVT || !delsRetracted:
				dels[i] = append(dels[i], r)
			}
			if !in && k&kindNoHistory != 0 {
				xdels[i] = append(xdels[i], r)
			}
		}
		for next < len(res.Datoms) && res.Datoms[next].Added {
			next++
		}
		var rd datom.Datom
		if next < len(res.Datoms) {
			rd = res.Datoms[next]
			next++
		} else {
			rd = datom.Datom{E: r.E, A: r.A, V: r.V, Tx: res.TxID, Added: false}
		}
		if k&kindNoHistory != 0 {
			continue
		}
		for _, i := range curTreesOf(k, &tbuf) {
			switch {
			case i == curAEVT:
			case i == curEAVT && histShared:
			case masked[i] && !fold:
				adds[i+nCur] = append(adds[i+nCur], rd)
			default:
				adds[i+nCur] = append(adds[i+nCur], r, rd)
			}
		}
	}
	if delsRetracted {
		dels[curEAVT] = res.Retracted
	}
	adds[curAEVT], adds[histAEVT] = adds[curEAVT], adds[histEAVT]
	dels[curAEVT], removeAdds[curAEVT] = dels[curEAVT], removeAdds[curEAVT]
	xdels[curAEVT] = xdels[curEAVT]
	// An attribute that became indexed (or stopped being) gains (or
	// loses) its AVET datoms, as Datomic builds the index for it. The
	// datoms it loses are no history (xdels).
	if schema != oldSchema {
		n := len(dels[curAVET])
		if err := db.reindex(ctx, oldSchema, schema, &adds, &dels); err != nil {
			return nil, err
		}
		xdels[curAVET] = append(xdels[curAVET], dels[curAVET][n:]...)
	}
	if fold {
		return db.fold(ctx, res, schema, t, logDatoms, &adds, &removeAdds, &dels)
	}
	// The additions to the current sets are queued (see overlay) when the
	// transaction only adds to them and the chain is not read between
	// transactions; otherwise the queue is applied first, and the sets
	// change as below. A queue applied before this transaction came (the
	// transaction itself read the value, say) marks a chain that is read
	// after each With (upserts, retractEntity), where a queue of one entry
	// a time only adds its own cost: the next directSpan transactions of
	// the chain change the sets at once, and then it tries a queue again.
	// Which way they go is known before the value is allocated, and picks
	// its size.
	eager := schema != oldSchema
	queueAdds := !eager && slices.ContainsFunc(adds[:nCur], func(b []datom.Datom) bool { return len(b) > 0 }) &&
		!slices.ContainsFunc(removeAdds[:], func(b []datom.Datom) bool { return len(b) > 0 })
	direct := ov.direct
	if ov.addq != nil && ov.addq.sets.Load() != nil {
		direct = directSpan
	}
	if direct > 0 {
		queueAdds = false
		direct--
	}
	var dn *dbNode
	var addsRoom *overlaySets // where own puts the current additions' array
	if queueAdds {
		dn = &dbNode{db: *db, ov: *ov}
	} else {
		dna := &dbNodeAdds{dbNode: dbNode{db: *db, ov: *ov}}
		dn, addsRoom = &dna.dbNode, &dna.adds
	}
	nov := &dn.ov
	nov.direct = direct
	var err error
	// The sets change lazily (pss.UpdateLazily): a chain of With calls
	// nobody reads in between builds each overlay set once, in one batched
	// update, when it is first read, and a set a transaction reads (tx.Apply
	// scans EAVT for retractEntity, say) is built then, while the others
	// keep accumulating. A schema change that reindexes AVET goes eagerly.
	if eager && nov.histq != nil {
		// The history sets change at once too, after the queued batches.
		nov.hist, nov.histq = nov.histq.applied(), nil
	}
	if !queueAdds && nov.addq != nil { // the queue first, then the change
		nov.adds, nov.addq = nov.addq.applied(), nil
	}
	update := func(s pss.Set[datom.Datom], i int, adds, rm []datom.Datom) (pss.Set[datom.Datom], error) {
		if eager {
			return s.Update(ctx, adds, rm)
		}
		return s.UpdateLazilyKeyed(ctx, adds, rm, overlayKeys[i])
	}
	// own returns *p, the overlay's array of sets, replaced by a copy the
	// first time the transaction changes one of its sets.
	var owned [4]*overlaySets
	own := func(k int, p **overlaySets) *overlaySets {
		if owned[k] == nil {
			var c *overlaySets
			if k == 0 && addsRoom != nil {
				c = addsRoom
			} else {
				c = new(overlaySets)
			}
			if *p != nil {
				*c = **p
			} else {
				for j := range c {
					c[j] = emptySets[j]
				}
			}
			owned[k], *p = c, c
		}
		return owned[k]
	}
	for i := range adds {
		var rm []datom.Datom
		if i < nCur {
			rm = removeAdds[i]
		}
		if len(adds[i]) == 0 && len(rm) == 0 {
			continue
		}
		var s *pss.Set[datom.Datom]
		switch {
		case i < nCur && queueAdds:
			continue // queued below
		case i < nCur:
			s = &own(0, &nov.adds)[i]
		case i < 2*nCur && !eager:
			continue // queued below
		case i < 2*nCur:
			s = &own(1, &nov.hist)[i-nCur]
		default:
			return nil, fmt.Errorf("reader: apply tx %d: overlay additions to %s", t, treeNames[i])
		}
		if *s, err = update(*s, i, adds[i], rm); err != nil {
			return nil, fmt.Errorf("reader: apply tx %d: %w", t, err)
		}
	}
	for i := range dels {
		if len(dels[i]) > 0 {
			d := own(2, &nov.dels)
			if d[i], err = update(d[i], i, dels[i], nil); err != nil {
				return nil, fmt.Errorf("reader: apply tx %d: %w", t, err)
			}
		}
		if len(xdels[i]) > 0 {
			x := own(3, &nov.xdels)
			if x[i], err = update(x[i], i, xdels[i], nil); err != nil {
				return nil, fmt.Errorf("reader: apply tx %d: %w", t, err)
			}
		}
	}
	queueHist := !eager && slices.ContainsFunc(adds[nCur:2*nCur], func(b []datom.Datom) bool { return len(b) > 0 })
	// The queue entries are allocated apart from the tail node: the tail
	// outlives the values it was made for (every later value holds it),
	// and an entry, once applied, holds the sets made for its value; kept
	// in the tail, they would keep every version of the overlay a chain
	// of reads and Withs made alive until the next merge.
	if queueAdds {
		aq := new(overlayQueue)
		copy(aq.adds[:], adds[:nCur])
		aq.enqueue(&nov.addq, &nov.adds)
	}
	if queueHist {
		hq := &overlayQueue{hist: true}
		copy(hq.adds[:], adds[nCur:2*nCur])
		hq.enqueue(&nov.histq, &nov.hist)
	}
	return db.finishApply(dn, new(tailNode), res, schema, t, logDatoms, enc), nil
}

// directSpan is how many transactions of a chain found to be read after
// each With change the overlay's current sets at once rather than through
// the queue (see applyFold).
const directSpan = 64

// overlayKeys are the sort keys (pss.SortKey) of the overlay sets of each
// tree: the leading integer components of its order, so that building a
// chain of lazy updates sorts pairs of integers instead of comparing datoms.
var overlayKeys = [nTrees]pss.SortKey[datom.Datom]{
	curEAVT: eavtKey, curAEVT: aevtKey, curAVET: avetKey, curVAET: vaetKey,
	histEAVT: eavtKey, histAEVT: aevtKey, histAVET: avetKey, histVAET: vaetKey,
}

// signed maps an int64 to a uint64 of the same order.
func signed(x int64) uint64 { return uint64(x) ^ 1<<63 }

func eavtKey(d datom.Datom) (uint64, uint64, bool) { return signed(d.E), signed(d.A), true }
func aevtKey(d datom.Datom) (uint64, uint64, bool) { return signed(d.A), signed(d.E), true }

// avetKey keys a datom by its attribute and a prefix of its value
// (valuePrefix): with the attribute alone, every datom of one attribute
// would share a pair, and a build would sort them all by the comparator.
func avetKey(d datom.Datom) (uint64, uint64, bool) { return signed(d.A), valuePrefix(d.V), true }

// valuePrefix maps a value to a uint64 that never decreases along
// datom.CompareValues: its type's rank in the top byte (values of
// different types order by it), then, for longs, strings and instants, the
// leading bits of the value within its type; other types have only the
// rank, which leaves their order to the comparator.
func valuePrefix(v any) uint64 {
	switch x := v.(type) {
	case int64:
		return uint64(datom.TypeLong)<<56 | signed(x)>>8
	case string:
		var p uint64
		for i := range 7 {
			p <<= 8
			if i < len(x) {
				p |= uint64(x[i])
			}
		}
		return uint64(datom.TypeString)<<56 | p
	case time.Time:
		// Seconds (offset by 2^33, 34 bits: ±272 years around 1970,
		// clamped outside), then the top 22 bits of the nanoseconds.
		var p uint64
		switch sec := x.Unix() + 1<<33; {
		case sec < 0:
		case sec >= 1<<34:
			p = 1<<56 - 1
		default:
			p = uint64(sec)<<22 | uint64(x.Nanosecond())>>8
		}
		return uint64(datom.TypeInstant)<<56 | p
	case nil:
		return 0
	}
	if t, ok := datom.TypeOf(v); ok {
		return uint64(t) << 56
	}
	return 255 << 56 // the rank of values of no value type: after all others
}

// vaetKey keys a ref datom (an integer V); any other V has no key.
func vaetKey(d datom.Datom) (uint64, uint64, bool) {
	v, ok := d.V.(int64)
	return signed(v), signed(d.A), ok
}

// finishApply completes the value dn that apply derived from db.
func (db *DB) finishApply(dn *dbNode, tn *tailNode, res *tx.Result, schema *datom.Schema, t int64, logDatoms []datom.Datom, enc []byte) *DB {
	nx := &dn.db
	nx.ov = &dn.ov
	nx.schema = schema
	if t > nx.basisT {
		nx.basisT = t
	}
	tn.tx = tailTx{t: t, datoms: logDatoms, retracted: res.Retracted, enc: enc}
	tn.l = tailList{tx: &tn.tx, prev: db.tail, n: db.tail.len() + 1, first: t}
	if db.tail != nil {
		tn.l.first = db.tail.first
	}
	nx.tail = &tn.l
	if enc != nil {
		nx.tailBytes += int64(len(enc))
	} else {
		nx.tailBytes += estimateBytes(res.Datoms) + estimateBytes(res.Retracted)
	}
	return nx
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
