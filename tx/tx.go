package tx

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
)

// TxTempID is the tempid that names the transaction entity itself, for
// transaction metadata: {:db/id "datomic.tx" :audit/user "ann"}.
const TxTempID = "datomic.tx"

// DefaultMaxDepth is how deeply transaction functions may nest (a function
// returning a call of a function …) when Options.MaxDepth is zero.
const DefaultMaxDepth = 16

// Snapshot is what tx needs of a database value: the value before the
// transaction. Its method set is a subset of query.Source, so one database
// type serves both. A Snapshot MUST be immutable for the duration of Apply.
type Snapshot interface {
	// Schema returns the schema of this database value.
	Schema() *datom.Schema

	// Datoms calls fn, in the order of index idx, for every current datom
	// whose leading components equal components (EAVT takes e, a, v, tx;
	// AEVT a, e, v, tx; AVET a, v, e, tx; VAET v, a, e, tx). Iteration stops
	// early, without error, when fn returns false. AVET holds only indexed
	// attributes and VAET only refs. Same contract as query.Source.Datoms.
	// Datoms MUST NOT retain components (the slice) after it returns:
	// Apply reuses it for its next read. fn does not call Datoms.
	Datoms(ctx context.Context, idx datom.Index, components []any, fn func(datom.Datom) bool) error
}

// Func is a transaction function written in Go, registered in Options.Funcs
// and called by the form [:my/fn arg …]. It receives the database value
// before the transaction and the arguments as given, and returns
// transaction data (forms), which Apply expands in turn; the returned forms
// may call functions again, up to Options.MaxDepth. An error fails the
// transaction (wrapped in ErrTxFunc). A Func must not retain db.
type Func func(ctx context.Context, db Snapshot, args ...any) ([]any, error)

// Options configures Apply. A nil *Options and zero fields mean defaults.
type Options struct {
	// Funcs are the transaction functions, by the keyword that calls them.
	// The built-in operations (:db/add, :db/retract, :db/retractEntity,
	// :db.fn/retractEntity, :db/cas, :db.fn/cas) cannot be overridden.
	Funcs map[edn.Keyword]Func
	// MaxDepth bounds the nesting of transaction function calls; zero means
	// DefaultMaxDepth.
	MaxDepth int
}

// noOptions stands for nil *Options (Apply never modifies its options).
var noOptions Options

// Input is what the caller decides for the transaction: its basis t and
// instant, and the id counters before it.
type Input struct {
	// T is the transaction's basis; its entity id is datom.TxID(T).
	T int64
	// TxInstant is asserted as :db/txInstant of the transaction entity,
	// unless the data asserts one itself. Stored with millisecond precision.
	TxInstant time.Time
	// NextUser and NextDB are the next free n of partitions PartUser and
	// PartDB. Entity ids at or past them, or transaction ids past T, are
	// invalid in the data (ErrInvalidEntity). NextDB below
	// datom.DBReserved counts as datom.DBReserved: the built-in ids exist
	// in every database and are never allocated.
	NextUser, NextDB int64
}

// Result is what a transaction means.
type Result struct {
	// TxID is the transaction entity, datom.TxID(Input.T).
	TxID datom.ID
	// Datoms is everything the transaction asserted and retracted, each
	// with Tx == TxID, sorted by E, A, V, retractions first. It includes the
	// :db/txInstant of the transaction entity.
	Datoms []datom.Datom
	// Retracted holds the current datoms that the retractions in Datoms
	// remove, as they are in the snapshot (with their original Tx and
	// Added == true), in the same order.
	Retracted []datom.Datom
	// TempIDs resolves each tempid as given (string tempids as string,
	// negative integer tempids as int64) to the entity it named, and
	// "datomic.tx" to TxID.
	TempIDs TempIDs
	// Schema is the schema after the transaction; the snapshot's own
	// pointer when the transaction changed no schema entity.
	Schema *datom.Schema
	// NextUser and NextDB are the id counters after the transaction.
	NextUser, NextDB int64
}

// Apply expands transaction data against db into the datoms the
// transaction asserts and retracts. data holds the forms as parsed EDN values
// (edn.Vector or edn.List for list forms, edn.Map for map forms; []any is
// accepted as a vector). Apply reads db but never changes it; on error it
// returns nil and an *Error naming the form at fault (see the package doc
// for the semantics and errors).
func Apply(ctx context.Context, db Snapshot, data []any, in Input, opts *Options) (*Result, error) {
	res := new(Result)
	if err := ApplyTo(ctx, db, data, in, opts, res); err != nil {
		return nil, err
	}
	return res, nil
}

// ApplyTo is Apply writing the result to *res, which a caller may allocate
// with what it keeps of the result (a database's report, say): one
// allocation per transaction less. On error *res is left as it was.
func ApplyTo(ctx context.Context, db Snapshot, data []any, in Input, opts *Options, res *Result) error {
	if opts == nil {
		opts = &noOptions
	}
	t, err := newTxn(ctx, db, in, opts)
	if err != nil {
		return err
	}
	defer t.release()
	return t.run(data, res)
}

// run expands data, resolves its tempids and builds the Result in *res.
func (t *txn) run(data []any, res *Result) error {
	n := 0
	for _, f := range data {
		if m, ok := f.(edn.Map); ok {
			for _, en := range m {
				switch c := en.Val.(type) {
				case edn.Vector:
					n += len(c)
				case edn.Set:
					n += len(c)
				default:
					n++
				}
			}
		} else {
			n++
		}
	}
	if cap(t.ops) < n {
		t.ops = make([]op, 0, n)
	}
	for i, f := range data {
		t.cur = i
		if err := t.expand(f, 0); err != nil {
			return err
		}
	}
	t.cur = -1
	if err := t.resolve(); err != nil {
		return err
	}
	if err := t.build(); err != nil {
		return err
	}
	return t.result(res)
}

// txn is the state of one Apply call.
type txn struct {
	ctx      context.Context
	db       Snapshot
	schema   *datom.Schema
	opts     *Options
	in       Input
	maxDepth int
	txID     datom.ID
	nextUser int64
	nextDB   int64
	cur      int // index in data of the form being expanded

	txInstant *datom.Attribute // the schema's :db/txInstant

	one     [1]any // scratch for split
	ops     []op
	temps   []tempInfo
	tempIdx map[any]int32
	auto    map[edn.Keyword]*datom.Attribute // schema-on-read attributes installed here
	autoDs  []datom.Datom

	// build state
	addIdxBuf, retIdxBuf [4]factEntry        // inline room for small transactions
	cardOneBuf           [smallIndex]eaEntry // pointer-free: all of its linear phase
	adds                 []fact
	addIdx               factIndex
	cardOne              eaIndex
	retracts             []fact
	retIdx               factIndex
	out                  []datom.Datom
	outRet               []datom.Datom
	// scanBuf is scratch for the datoms a retraction reads before it
	// retracts them (see collect), collectFn the callback that collects.
	scanBuf   []datom.Datom
	collectFn func(datom.Datom) bool
	firstFn   func(datom.Datom) bool
	compsBuf  [3]any
	seen      idSet     // entities a :db/retractEntity reached
	avIdx     factIndex // scratch: unique values seen (resolve, checkUnique)
	deferred  []int32   // scratch for build: the ops of the second pass
}

// txnPool recycles the state of finished transactions: a txn is about a
// kilobyte with its inline buffers, and a chain of small With calls would
// otherwise allocate (and the garbage collector scan) one per call. Only
// the struct and its scratch slices are reused; the Result a transaction
// returns (its datoms, tempids) is always freshly allocated.
var txnPool = sync.Pool{New: func() any { return new(txn) }}

// release returns t to txnPool once Apply is done with it (see reset).
func (t *txn) release() {
	t.reset()
	txnPool.Put(t)
}

// reset drops every reference t holds into the caller's data (forms,
// values, the snapshot, the Result), so that the pool retains nothing of
// it, and keeps the scratch slices, emptied and cleared, for the next
// transaction. Fields newTxn sets on every call are left as they are.
//
// It writes only the pointers a transaction set, field by field: while
// the garbage collector marks, every pointer word written costs a write
// barrier, and assigning the whole kilobyte-sized struct (as a literal)
// paid one for each of its pointer words.
func (t *txn) reset() {
	clear(t.ops)
	clear(t.temps)
	clear(t.adds)
	clear(t.retracts)
	// The first facts of each index live in its inline buffer: one entry
	// per fact (cardOneBuf holds no pointers).
	clear(t.addIdxBuf[:min(len(t.adds), len(t.addIdxBuf))])
	clear(t.retIdxBuf[:min(len(t.retracts), len(t.retIdxBuf))])
	t.ops, t.temps, t.adds, t.retracts = t.ops[:0], t.temps[:0], t.adds[:0], t.retracts[:0]
	// scanBuf is all zero already: dropCollected clears what it drops.
	t.dropCollected(0)
	clear(t.compsBuf[:])
	t.seen.reset()
	if cap(t.ops) > 1<<12 || cap(t.adds) > 1<<12 || cap(t.retracts) > 1<<12 || cap(t.scanBuf) > 1<<12 {
		// Do not keep a big transaction's buffers alive in the pool.
		t.ops, t.temps, t.adds, t.retracts, t.scanBuf = nil, nil, nil, nil, nil
	}
	t.addIdx.release()
	t.retIdx.release()
	t.avIdx.release()
	t.cardOne.small = nil
	if t.cardOne.m != nil {
		t.cardOne.m = nil
	}
	t.ctx, t.db, t.schema, t.opts, t.txInstant = nil, nil, nil, nil, nil
	t.in.TxInstant = time.Time{}
	t.one[0] = nil
	if t.tempIdx != nil {
		t.tempIdx = nil
	}
	if t.auto != nil || t.autoDs != nil {
		t.auto, t.autoDs = nil, nil
	}
	if t.out != nil || t.outRet != nil {
		t.out, t.outRet = nil, nil
	}
}

func newTxn(ctx context.Context, db Snapshot, in Input, opts *Options) (*txn, error) {
	const maxN = 1<<datom.PartShift - 1
	if in.T < 0 || in.T > maxN || in.NextUser < 0 || in.NextUser > maxN || in.NextDB < 0 || in.NextDB > maxN {
		return nil, fmt.Errorf("tx: input t=%d nextUser=%d nextDB=%d out of range", in.T, in.NextUser, in.NextDB)
	}
	s := db.Schema()
	if s == nil {
		return nil, errors.New("tx: snapshot has no schema")
	}
	// The built-ins tx relies on have fixed ids (datom.DBIdent, …) that no
	// transaction can change, so they need no lookup by ident. A schema
	// datom.Bootstrap started has all of them (decoded schemas are checked
	// against it); one that lacks :db/txInstant was not started so.
	txInstant := s.Attr(datom.DBTxInstant)
	if txInstant == nil {
		return nil, errors.New("tx: schema lacks the built-in attributes")
	}
	// A pooled txn is all zero but for the scratch release kept (and a
	// new one is all zero): set only what differs, rather than clearing
	// a kilobyte of inline buffers a second time.
	t := txnPool.Get().(*txn)
	t.ctx, t.db, t.schema, t.opts, t.in = ctx, db, s, opts, in
	t.txInstant = txInstant
	t.maxDepth = opts.MaxDepth
	if t.maxDepth <= 0 {
		t.maxDepth = DefaultMaxDepth
	}
	t.txID = datom.TxID(in.T)
	t.nextUser, t.nextDB = in.NextUser, in.NextDB
	t.cur = -1
	t.addIdx.small, t.retIdx.small, t.cardOne.small = t.addIdxBuf[:0], t.retIdxBuf[:0], t.cardOneBuf[:0]
	if t.in.NextDB < datom.DBReserved {
		t.in.NextDB, t.nextDB = datom.DBReserved, datom.DBReserved
	}
	return t, nil
}

// errAt wraps err in an *Error naming form, unless it already is one.
func (t *txn) errAt(form any, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Index: t.cur, Form: form, Err: err}
}

// scan reads the snapshot.
func (t *txn) scan(idx datom.Index, comps []any, fn func(datom.Datom) bool) error {
	if err := t.db.Datoms(t.ctx, idx, comps, fn); err != nil {
		return fmt.Errorf("tx: read snapshot: %w", err)
	}
	return nil
}

// collect appends the datoms of a scan to t.scanBuf and returns where they
// are, t.scanBuf[start:end]. Collections nest as a stack: a collection made
// while the datoms of an earlier one are in use goes after them, and each
// is dropped (dropCollected) before the one under it. A collection may
// move t.scanBuf: index it afresh rather than keep a slice of it.
func (t *txn) collect(idx datom.Index, comps []any) (start, end int, err error) {
	if t.collectFn == nil {
		// Made once per pooled txn: a closure made per scan escapes
		// into the Snapshot and is allocated every time.
		t.collectFn = func(d datom.Datom) bool {
			t.scanBuf = append(t.scanBuf, d)
			return true
		}
	}
	start = len(t.scanBuf)
	err = t.scan(idx, comps, t.collectFn)
	return start, len(t.scanBuf), err
}

// dropCollected drops the collections from start on, clearing them so
// that t.scanBuf holds no value past its length.
func (t *txn) dropCollected(start int) {
	if start < len(t.scanBuf) {
		clear(t.scanBuf[start:])
		t.scanBuf = t.scanBuf[:start]
	}
}

// first returns the first datom of a scan, if any.
func (t *txn) first(idx datom.Index, comps []any) (d datom.Datom, found bool, err error) {
	if t.firstFn == nil {
		t.firstFn = func(d datom.Datom) bool { // made once, as collectFn
			t.scanBuf = append(t.scanBuf, d)
			return false
		}
	}
	start := len(t.scanBuf)
	err = t.scan(idx, comps, t.firstFn)
	if len(t.scanBuf) > start {
		d, found = t.scanBuf[start], true
		t.dropCollected(start)
	}
	return d, found, err
}

// comps returns xs as the components of a scan, in scratch room reused by
// the next call (a Snapshot does not retain components past Datoms).
func (t *txn) comps(xs ...any) []any {
	n := copy(t.compsBuf[:], xs)
	return t.compsBuf[:n]
}

// isNew reports whether id is allocated by this transaction, so that the
// snapshot holds no datom about it.
func (t *txn) isNew(id datom.ID) bool {
	n := id & (1<<datom.PartShift - 1)
	switch datom.Part(id) {
	case datom.PartUser:
		return n >= t.in.NextUser
	case datom.PartDB:
		return n >= t.in.NextDB
	}
	return id == t.txID
}

// validID reports whether id names an entity that may exist: allocated
// before this transaction, or this transaction itself.
func (t *txn) validID(id datom.ID) bool {
	n := id & (1<<datom.PartShift - 1)
	switch datom.Part(id) {
	case datom.PartUser:
		return n < t.in.NextUser
	case datom.PartDB:
		return n < t.in.NextDB
	case datom.PartTx:
		return n <= t.in.T
	}
	return false
}

func (t *txn) result(res *Result) error {
	r := Result{
		TxID:      t.txID,
		Datoms:    t.out,
		Retracted: t.outRet,
		Schema:    t.schema,
		NextUser:  t.nextUser,
		NextDB:    t.nextDB,
	}
	n := 0
	for i := range t.temps {
		if t.temps[i].key != nil {
			n++
		}
	}
	var ents []TempID
	if n > 0 {
		ents = make([]TempID, 0, n)
		for i := range t.temps {
			if k := t.temps[i].key; k != nil {
				ents = append(ents, TempID{Key: k, ID: t.temps[t.find(int32(i))].id})
			}
		}
	}
	r.TempIDs = NewTempIDs(ents, t.txID)
	schemaChanged := false
	for _, d := range t.out {
		if d.A >= datom.DBIdent && d.A <= datom.DBTupleTypes {
			schemaChanged = true
			break
		}
	}
	if schemaChanged {
		s, err := t.schema.Apply(t.out)
		if err != nil {
			return &Error{Index: -1, Err: fmt.Errorf("%w: %w", ErrSchema, err)}
		}
		if err := t.checkConstraints(s); err != nil {
			return err
		}
		r.Schema = s
	}
	*res = r
	return nil
}

// checkConstraints verifies the data of the attributes whose constraints
// the transaction tightens (cardinality many to one, :db/unique added), as
// datom.Schema.ChangedConstraints asks: the values after the transaction
// must satisfy the new schema, else the change fails with ErrSchema.
func (t *txn) checkConstraints(ns *datom.Schema) error {
	for _, id := range ns.ChangedConstraints(t.schema) {
		a := ns.Attr(id)
		if a == nil {
			continue
		}
		perE := make(map[datom.ID]any)
		perV := make(map[string]datom.ID)
		var bad error
		check := func(e datom.ID, v any) bool {
			if a.Cardinality == datom.CardinalityOne {
				if prev, ok := perE[e]; ok {
					bad = &Error{Index: -1, Form: datomForm("db/add", e, a, v), Err: fmt.Errorf("%w: %w: %s of %d has values %s and %s, cannot become cardinality one",
						ErrSchema, ErrCardinalityConflict, a.Ident, e, formText(prev), formText(v))}
					return false
				}
				perE[e] = v
			}
			if a.Unique != datom.UniqueNone {
				k := string(datom.AppendValueKey(nil, v))
				if prev, ok := perV[k]; ok && prev != e {
					bad = &Error{Index: -1, Form: datomForm("db/add", e, a, v), Err: fmt.Errorf("%w: %w: %s %s is held by %d and %d, cannot become unique",
						ErrSchema, ErrUniqueConflict, a.Ident, formText(v), prev, e)}
					return false
				}
				perV[k] = e
			}
			return true
		}
		if err := t.scan(datom.AEVT, []any{id}, func(d datom.Datom) bool {
			if t.hasRet(d.E, d.A, d.V) {
				return true
			}
			return check(d.E, d.V)
		}); err != nil {
			return &Error{Index: -1, Err: err}
		}
		for i := range t.adds {
			f := &t.adds[i]
			if bad == nil && f.a == id && !f.elided {
				check(f.e, f.v)
			}
		}
		if bad != nil {
			return bad
		}
	}
	return nil
}
