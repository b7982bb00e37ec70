package reader

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/node"
	"github.com/accretedb/accrete/pss"
)

// Options configure Open. The zero value (or nil) means defaults.
type Options struct {
	// Branch to open; "" means branch.Default ("main").
	Branch string
	// CacheBytes bounds the decoded-node cache of a store Open creates
	// (0: konserve's default, 256 MiB).
	CacheBytes int64
	// Width is the node width of index trees this database value builds
	// when its tail is merged (0: pss.DefaultWidth). It does not affect
	// reading trees built with another width.
	Width int
}

// Validate reports whether the options are usable.
func (o *Options) Validate() error {
	if o == nil {
		return nil
	}
	if o.Branch != "" && !branch.ValidName(o.Branch) {
		return fmt.Errorf("reader: %w: %q", branch.ErrBadName, o.Branch)
	}
	if o.CacheBytes < 0 {
		return fmt.Errorf("reader: CacheBytes %d is negative", o.CacheBytes)
	}
	if o.Width != 0 && (o.Width < pss.MinWidth || o.Width > pss.MaxWidth) {
		return fmt.Errorf("reader: Width %d outside [%d,%d]", o.Width, pss.MinWidth, pss.MaxWidth)
	}
	return nil
}

func (o *Options) branchName() string {
	if o == nil || o.Branch == "" {
		return branch.Default
	}
	return o.Branch
}

func (o *Options) width() int {
	if o == nil {
		return 0
	}
	return o.Width
}

// ErrNoDatabase is returned by Open when the bucket holds no database on
// the branch.
var ErrNoDatabase = errors.New("reader: no database")

// view restricts what a database value shows: a point in time, novelty
// since a point, or the whole history.
type view struct {
	asOf    int64 // show only what was true at this t; math.MaxInt64: now
	since   int64 // show only datoms added after this t; -1: all
	history bool  // show assertions and retractions alike
}

var nowView = view{asOf: math.MaxInt64, since: -1}

// overlay is the log tail's novelty, kept in small in-memory sets merged
// into every scan: additions per tree, and deletions of stored current
// datoms. Sets are values, so sharing an overlay between database values is
// safe.
//
// The sets change lazily (pss.UpdateLazily, see apply): a set a value has
// not read yet holds its pending batches and is built, once, by the first
// pss.Set method that reads it (Len, Has, Count, Slice, NewIter, …), so
// code here reads the sets only through those methods, as any pss user
// does. Invariant (retractions rely on it, TestOverlayModel checks it): in
// EAVT, AEVT and VAET the additions hold exactly datoms asserted by tail
// transactions (tailList.inTail) and the deletions only older ones.
//
// The history a value shows of tree i is its stored history tree, the
// additions of history tree i+nCur, and the deletions of i that are not in
// xdels: a stored datom that the tail retracted is in the history through
// dels alone (only its retraction is in the history additions), so that a
// retraction adds one datom per history set instead of two. xdels (a
// subset of dels, usually empty) holds the deletions that are no history:
// retractions of attributes without history, and the AVET datoms of an
// attribute that stopped being indexed. History scans (scanUnion) read the
// current tree masked by xdels only; novelty gives the merge the history
// additions in full.
//
// Every transaction copies the overlay, so it holds its sets by pointer, in
// arrays a transaction replaces only when it changes one of their sets
// (assertions change adds or addq, retractions dels and histq): adds and
// dels are the additions and deletions of current tree i but for those
// addq queues, hist the additions of history tree i+nCur (see add) but for
// those histq queues, and xdels is nil while empty, as it usually is.
//
// histq, when not nil, queues the history additions of the latest
// transactions, which are applied to hist only when something reads the
// history sets (histSets): a chain of With calls that reads only the
// current value (retractEntity's scans, say) then makes no history set per
// transaction, and the first history read, merge or persist applies the
// whole queue as one link per set (pss.AddBatchesLazilyKeyed), which one
// build sorts at once rather than a build every few thousand links.
//
// addq does the same for the additions to the current trees of
// transactions that only add to them (no datom of the tail retracted):
// applied to adds when something reads the current sets (addSets), so
// that a chain of assertions nobody reads in between (DataScript's add-1:
// a With per datom) costs a queue entry per transaction rather than a lazy
// link per set it changes. A transaction that reads the current value
// (a lookup ref, an upsert, a retraction) applies the queue then, and the
// chain goes on from there.
type overlay struct {
	adds, hist, dels *overlaySets
	xdels            *overlaySets
	addq, histq      *overlayQueue
	// direct counts down the transactions that change adds at once
	// rather than queue (see applyFold).
	direct int32
}

// overlayQueue is the additions of one transaction to the overlay's
// current sets (addq) or to its history sets (histq), queued behind those
// of the transactions before it (prev) on top of base, the sets the oldest
// of them applies to (the overlay's adds or hist). Its batches are the
// transaction's own datoms or retractions (see apply), which the tail
// keeps anyway. Only values and the entries queued after it hold an
// entry, never the tail: an applied entry holds the sets made for its
// value, which must go when the value goes.
//
// A value read after values derived from it were made can leave an
// applied entry inside a queue; the entries after it then keep its sets
// alive (one version of the sets per such entry) as long as the values
// holding them.
type overlayQueue struct {
	prev *overlayQueue
	base *overlaySets
	// adds are the additions to current tree i, or history tree i+nCur,
	// as apply would have given them to the set (AEVT's are EAVT's).
	adds [nCur][]datom.Datom
	// hist tells which: it picks the sort keys of the sets.
	hist bool
	mu   sync.Mutex // held while applying (applied)
	// sets, once applied asked for them, is base with the queue down to
	// here applied; a transaction queued after that starts a new queue on
	// it, so that the queue behind it (and its batches) can be collected.
	// The sets are allocated apart, not in the entry: the next entry's
	// base points to them, and a pointer into this entry would keep its
	// own base alive, and so on down the chain.
	sets atomic.Pointer[overlaySets]
}

// applied returns base with the queue down to q applied, made once: the
// batches since the newest queue entry already applied, oldest first, as
// one lazy link per set.
func (q *overlayQueue) applied() *overlaySets {
	if s := q.sets.Load(); s != nil {
		return s
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if s := q.sets.Load(); s != nil {
		return s
	}
	// The entries to apply, oldest first, counted before they are listed
	// (a queue can be a whole With chain long).
	start, n := q.base, 0
	for p := q; p != nil; p = p.prev {
		if s := p.sets.Load(); s != nil {
			start = s
			break
		}
		n++
	}
	qs := make([]*overlayQueue, n)
	for p := q; n > 0; p = p.prev {
		n--
		qs[n] = p
	}
	off := 0
	if q.hist {
		off = nCur
	}
	out := new(overlaySets)
	batches := make([][]datom.Datom, len(qs))
	for i := range out {
		for k, p := range qs {
			batches[k] = p.adds[i]
		}
		// The overlay's sets are in memory and never the zero Set: adding
		// to them lazily loads nothing and cannot fail.
		out[i], _ = start[i].AddBatchesLazilyKeyed(context.Background(), batches, overlayKeys[i+off])
	}
	q.sets.Store(out)
	return out
}

// enqueue puts q behind *head, the overlay's queue (nil: none), whose
// entries apply on top of *sets, the overlay's adds or hist: *head becomes
// q, and *sets the base q's queue applies to (a queue applied already is
// left behind: q starts a new one on its sets).
func (q *overlayQueue) enqueue(head **overlayQueue, sets **overlaySets) {
	switch p := *head; {
	case p == nil:
		q.base = *sets
	case p.sets.Load() != nil:
		// Applied already: a new queue starts on the result.
		q.base = p.sets.Load()
	default:
		q.prev, q.base = p, p.base
	}
	*sets, *head = q.base, q
}

// addSets returns the additions of the four current trees, with the queued
// ones applied (see addq).
func (o *overlay) addSets() *overlaySets {
	if o.addq != nil {
		return o.addq.applied()
	}
	return o.adds
}

// histSets returns the additions of the four history trees, with the
// queued ones applied (see histq).
func (o *overlay) histSets() *overlaySets {
	if o.histq != nil {
		return o.histq.applied()
	}
	return o.hist
}

// overlaySets are overlay sets of the four current trees, or of their
// history trees.
type overlaySets = [nCur]pss.Set[datom.Datom]

// add returns the additions of tree i (none for the log: scans of the log
// read the tail list).
func (o *overlay) add(i int) pss.Set[datom.Datom] {
	switch {
	case i < nCur:
		return o.addSets()[i]
	case i < 2*nCur:
		return o.histSets()[i-nCur]
	}
	return emptySets[i]
}

// xdel returns the deletions of current tree i that are no history.
func (o *overlay) xdel(i int) pss.Set[datom.Datom] {
	if o.xdels == nil {
		return emptySets[i]
	}
	return o.xdels[i]
}

func emptyOverlay() *overlay {
	o := &overlay{adds: new(overlaySets), hist: new(overlaySets), dels: new(overlaySets)}
	for i := range nCur {
		o.adds[i], _ = pss.New(overlayOptions(i))
		o.hist[i], _ = pss.New(overlayOptions(i + nCur))
		o.dels[i], _ = pss.New(overlayOptions(i))
	}
	return o
}

// within returns the overlay's additions and deletions of tree i as far as
// a scan of [lo, hi] needs them (pss.Set.Within): a set whose pending
// batches all lie outside the range is read as it was before them, not
// built. A transaction's lookups (retractEntity's scan of one entity, say)
// then leave the batches of the previous transactions pending, to be built
// together, rather than building them one transaction at a time. A set
// with nothing in the range is returned empty, so that the scan reads the
// tree alone (a lookup on a value whose overlay deletes datoms elsewhere,
// as every value a retraction made does, takes the scan's short path
// rather than merging three iterators). The deletions of a history tree
// are the zero set. hist asks for the deletions a history scan applies to
// current tree i: xdels (see overlay).
func (o *overlay) within(i int, lo, hi datom.Datom, hist bool) (adds, dels pss.Set[datom.Datom]) {
	adds = noneWithin(o.add(i).Within(lo, hi), i, lo, hi)
	if i < nCur {
		d := o.dels[i]
		if hist {
			d = o.xdel(i)
		}
		dels = noneWithin(d.Within(lo, hi), i, lo, hi)
	}
	return adds, dels
}

// withRetracted returns adds, the additions of history tree i (sorted),
// with the stored datoms the tail retracted merged in: the deletions of
// its current tree that are history (see overlay). What the merge of the
// tail adds to history tree i is that.
func (o *overlay) withRetracted(ctx context.Context, i int, adds []datom.Datom) ([]datom.Datom, error) {
	c := i - nCur
	if o.dels[c].Len() == 0 {
		return adds, nil
	}
	hs, err := o.dels[c].Slice(ctx, nil, nil)
	if err != nil {
		return nil, err
	}
	cmp := datom.Comparator(treeIndex(i))
	if x := o.xdel(c); x.Len() > 0 {
		xs, err := x.Slice(ctx, nil, nil)
		if err != nil {
			return nil, err
		}
		hs = minusSorted(hs, xs, cmp)
	}
	return mergeRuns(adds, hs, cmp), nil
}

// emptySets are the empty overlay sets of each tree (never changed).
var emptySets = func() (es [nTrees]pss.Set[datom.Datom]) {
	for i := range es {
		es[i], _ = pss.New(overlayOptions(i))
	}
	return es
}()

// noneWithin returns s, the overlay set of tree i, or the empty set if s
// holds nothing in [lo, hi]: one descent of the in-memory set (it loads
// nothing, so it cannot fail).
func noneWithin(s pss.Set[datom.Datom], i int, lo, hi datom.Datom) pss.Set[datom.Datom] {
	if s.Len() == 0 {
		return s
	}
	run, _, err := seekRun(context.Background(), s, i, lo, nil)
	if err == nil && (len(run) == 0 || datom.Comparator(treeIndex(i))(run[0], hi) > 0) {
		return emptySets[i]
	}
	return s
}

func (o *overlay) empty() bool {
	if o.histq != nil || o.addq != nil {
		return false // it queues a non-empty batch of additions
	}
	for i := range nCur {
		if o.adds[i].Len() > 0 || o.hist[i].Len() > 0 || o.dels[i].Len() > 0 {
			return false
		}
	}
	return true
}

// tailTx is one transaction of the log tail.
type tailTx struct {
	t         int64
	datoms    []datom.Datom
	retracted []datom.Datom
	enc       []byte // its encoding in the tail node, made once
}

// tailList is the log tail as an immutable list, newest first, so that
// appending a transaction to a value shares the rest (values made by With
// in a loop would otherwise copy the whole tail each time).
type tailList struct {
	tx    *tailTx
	prev  *tailList
	n     int
	first int64 // t of the oldest transaction in the list
}

// inTail reports whether a datom asserted by transaction tx is in the log
// tail, hence in the overlay's additions rather than in the stored trees
// (the trees hold exactly the transactions before the tail's first).
func (l *tailList) inTail(tx datom.ID) bool {
	return l != nil && datom.TxT(tx) >= l.first
}

func (l *tailList) len() int {
	if l == nil {
		return 0
	}
	return l.n
}

// txs returns the transactions oldest first.
func (l *tailList) txs() []*tailTx {
	out := make([]*tailTx, l.len())
	for i := len(out) - 1; l != nil; i, l = i-1, l.prev {
		out[i] = l.tx
	}
	return out
}

// DB is a database value: an immutable snapshot of one commit, possibly
// extended in memory by With, and possibly viewed as of a point in time,
// since one, or as history. Every method is safe for concurrent use, and
// every value derived from a DB (AsOf, Since, History, With) is a new DB
// that shares its structure.
type DB struct {
	st     *konserve.Store
	width  int
	head   *branch.Head // the head it was opened from; nil if never committed
	base   *branch.Commit
	dbid   string
	schema *datom.Schema

	basisT           int64
	nextUser, nextDB int64
	lastInstant      time.Time

	trees     [nTrees]*lazyTree
	ov        *overlay
	tail      *tailList
	tailBytes int64 // encoded size of tail, as tailTx.enc are filled in
	merged    bool  // trees were rebuilt in memory and need a flush

	v view
}

// Open opens the database on a branch of the bucket at rawURL
// ("file:///data/people", "s3://bucket/prefix?region=…", "mem://name").
// It reads the head (which inlines the commit) and the log tail; index
// nodes are fetched lazily as queries touch them. The store Open creates
// lives as long as the values read from it (a value may fetch nodes at any
// time), so it is never closed; a program that opens many databases, or
// wants to share one cache between values, opens a konserve.Store itself
// and uses OpenStore.
func Open(ctx context.Context, rawURL string, opts *Options) (*DB, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	var kopts *konserve.Options
	if opts != nil && opts.CacheBytes != 0 {
		kopts = &konserve.Options{CacheBytes: opts.CacheBytes}
	}
	st, err := konserve.Open(ctx, rawURL, kopts)
	if err != nil {
		return nil, fmt.Errorf("reader: open %s: %w", rawURL, err)
	}
	db, err := OpenStore(ctx, st, opts)
	if err != nil {
		st.Close()
		return nil, err
	}
	return db, nil
}

// OpenStore opens the database on a branch of an open store. Values opened
// from one store share its node cache.
func OpenStore(ctx context.Context, st *konserve.Store, opts *Options) (*DB, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	h, err := branch.Read(ctx, st, opts.branchName())
	if err != nil {
		if errors.Is(err, branch.ErrNoBranch) {
			return nil, fmt.Errorf("reader: %w on branch %q: %w", ErrNoDatabase, opts.branchName(), err)
		}
		return nil, fmt.Errorf("reader: %w", err)
	}
	return FromHead(ctx, st, h, opts.width())
}

// FromHead opens the database value a head names. The writer uses it after
// reading a head; most callers want Open.
func FromHead(ctx context.Context, st *konserve.Store, h *branch.Head, width int) (*DB, error) {
	db, err := fromCommit(ctx, st, h.Commit, width)
	if err != nil {
		return nil, fmt.Errorf("reader: open commit %s of branch %q: %w", h.Addr, h.Branch, err)
	}
	db.head = h
	return db, nil
}

// FromCommit opens the database value of a stored commit (for walking a
// branch's history).
func FromCommit(ctx context.Context, st *konserve.Store, addr konserve.Hash, width int) (*DB, error) {
	c, err := branch.LoadCommit(ctx, st, addr)
	if err != nil {
		return nil, fmt.Errorf("reader: %w", err)
	}
	db, err := fromCommit(ctx, st, c, width)
	if err != nil {
		return nil, fmt.Errorf("reader: open commit %s: %w", addr, err)
	}
	db.head = &branch.Head{Addr: addr, Commit: c}
	return db, nil
}

func fromCommit(ctx context.Context, st *konserve.Store, c *branch.Commit, width int) (*DB, error) {
	schema, err := datom.UnmarshalSchema(c.Schema)
	if err != nil {
		return nil, err
	}
	db := &DB{st: st, width: width, base: c, dbid: c.DBID, schema: schema,
		basisT: c.BasisT, nextUser: c.NextUser, nextDB: c.NextDB,
		ov: emptyOverlay(), v: nowView}
	if c.TxInstant != 0 {
		db.lastInstant = time.UnixMilli(c.TxInstant).UTC()
	}
	for i := range db.trees {
		r, ok := c.Root(treeNames[i])
		if !ok {
			return nil, fmt.Errorf("%w: commit has no root %q", branch.ErrFormat, treeNames[i])
		}
		db.trees[i] = &lazyTree{addr: node.Address(r.Addr), opts: treeOptions(st, i, width)}
	}
	db.trees[curAEVT].stats = statsFromCommit(c)
	if !c.Tail.IsZero() {
		data, err := st.GetNode(ctx, c.Tail)
		if err != nil {
			return nil, fmt.Errorf("load log tail: %w", err)
		}
		txs, err := decodeTail(data)
		if err != nil {
			return nil, fmt.Errorf("log tail %s: %w", c.Tail, err)
		}
		for _, t := range txs {
			if db, err = db.applyTail(ctx, t); err != nil {
				return nil, fmt.Errorf("log tail %s, t %d: %w", c.Tail, t.t, err)
			}
		}
	}
	return db, nil
}

// Schema returns the schema of the database value.
func (db *DB) Schema() *datom.Schema { return db.schema }

// BasisT returns the t of the newest transaction in the value (before any
// AsOf restriction).
func (db *DB) BasisT() int64 { return db.basisT }

// AsOfT returns the t the value is restricted to by AsOf, and false if it
// is not.
func (db *DB) AsOfT() (int64, bool) { return db.v.asOf, db.v.asOf != math.MaxInt64 }

// SinceT returns the t given to Since, and false if the value is not
// restricted by Since.
func (db *DB) SinceT() (int64, bool) { return db.v.since, db.v.since >= 0 }

// IsHistory reports whether the value is a history view.
func (db *DB) IsHistory() bool { return db.v.history }

// Head returns the head the value was opened from (nil for a value that was
// never committed). Values made by With keep their origin's head.
func (db *DB) Head() *branch.Head { return db.head }

// Store returns the store the value reads from.
func (db *DB) Store() *konserve.Store { return db.st }

// ID returns the database id, the same for every branch and copy.
func (db *DB) ID() string { return db.dbid }

// derive returns a shallow copy of db with view v.
func (db *DB) derive(v view) *DB {
	c := *db
	c.v = v
	return &c
}

// AsOf returns the value as it was right after transaction t: later
// assertions and retractions are invisible. t may be a basis t or a
// transaction entity id.
func (db *DB) AsOf(t int64) *DB {
	t = normalizeT(t)
	v := db.v
	if t < v.asOf {
		v.asOf = t
	}
	return db.derive(v)
}

// Since returns the value restricted to datoms added after transaction t
// (a basis t or a transaction entity id).
func (db *DB) Since(t int64) *DB {
	t = normalizeT(t)
	v := db.v
	if t > v.since {
		v.since = t
	}
	return db.derive(v)
}

// History returns a view of every assertion and retraction ever made (up to
// AsOf, after Since), each datom carrying its Added flag.
func (db *DB) History() *DB {
	v := db.v
	v.history = true
	return db.derive(v)
}

// normalizeT accepts a basis t or a transaction entity id.
func normalizeT(t int64) int64 {
	if datom.Part(t) == datom.PartTx {
		return datom.TxT(t)
	}
	return t
}

// AsOfTime returns the value as of the last transaction whose :db/txInstant
// is at or before tm.
func (db *DB) AsOfTime(ctx context.Context, tm time.Time) (*DB, error) {
	t, err := db.tAt(ctx, tm)
	if err != nil {
		return nil, err
	}
	return db.AsOf(t), nil
}

// SinceTime returns the value restricted to transactions after the last one
// at or before tm.
func (db *DB) SinceTime(ctx context.Context, tm time.Time) (*DB, error) {
	t, err := db.tAt(ctx, tm)
	if err != nil {
		return nil, err
	}
	return db.Since(t), nil
}

// tAt returns the t of the last transaction at or before tm (-1 if none).
func (db *DB) tAt(ctx context.Context, tm time.Time) (int64, error) {
	now := db.derive(nowView)
	end := datom.NormalizeInstant(tm).Add(time.Millisecond)
	t := int64(-1)
	err := now.IndexRange(ctx, datom.DBTxInstant, nil, end, func(d datom.Datom) bool {
		if dt := datom.TxT(d.E); dt > t {
			t = dt
		}
		return true
	})
	return t, err
}

// nextInstant is the :db/txInstant of the next transaction given the
// caller's clock reading now (zero: the wall clock): never before the last
// one, so instants stay monotonic when the clock steps back.
func (db *DB) nextInstant(now time.Time) time.Time {
	if now.IsZero() {
		now = time.Now()
	}
	inst := datom.NormalizeInstant(now)
	if inst.Before(db.lastInstant) {
		inst = db.lastInstant
	}
	return inst
}
