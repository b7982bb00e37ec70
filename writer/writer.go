package writer

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/reader"
	"github.com/accretedb/accrete/tx"
)

// Sentinel errors.
var (
	// ErrExists is returned by Create when the branch already holds a
	// database.
	ErrExists = errors.New("writer: database exists")
	// ErrConflict is returned by Transact when the transaction could not be
	// committed because other writers kept moving the head (after
	// Options.MaxRetries rebases). The transaction was not applied.
	ErrConflict = fmt.Errorf("writer: too many concurrent commits: %w", konserve.ErrConflict)
	// ErrClosed is returned by Transact after Close.
	ErrClosed = errors.New("writer: closed")
)

// Options configure a Writer. The zero value (or nil) means defaults.
type Options struct {
	// Branch to write; "" means "main".
	Branch string
	// TailBytes is the log tail size past which a commit merges the tail
	// into the index trees (0: reader.DefaultTailBytes, 32 KiB). A commit
	// of a group of transactions raises it, up to maxTailScale times (see
	// tailLimit), so that a busy writer does not merge every few commits.
	TailBytes int64
	// MaxRetries bounds how often one batch is re-applied after losing the
	// head to another writer (0: 32).
	MaxRetries int
	// MaxBatch bounds how many queued transactions one commit takes (0: 1024).
	MaxBatch int
	// MergeInCommit merges a due log tail into the index trees in the
	// commit that finds it due, instead of in the background while
	// commits go on appending to the tail (the default, see the package
	// doc). The commit that merges then pays the merge's CPU and fsyncs
	// itself; group commit stalls behind it.
	MergeInCommit bool
	// Funcs are the transaction functions callable by name.
	Funcs map[edn.Keyword]tx.Func
	// Width is the node width of the index trees (0: pss.DefaultWidth).
	Width int
	// CacheBytes bounds the node cache of a store the writer opens.
	CacheBytes int64
	// SchemaOnRead makes Create make a schema-on-read database.
	SchemaOnRead bool
	// Now is the clock for :db/txInstant (nil: time.Now).
	Now func() time.Time
	// BulkWidth is the node width of trees Import builds or updates (0:
	// reader.DefaultBulkWidth).
	BulkWidth int
}

// Validate reports whether the options are usable.
func (o *Options) Validate() error {
	if o == nil {
		return nil
	}
	if o.Branch != "" && !branch.ValidName(o.Branch) {
		return fmt.Errorf("writer: %w: %q", branch.ErrBadName, o.Branch)
	}
	if o.TailBytes < 0 || o.MaxRetries < 0 || o.MaxBatch < 0 || o.CacheBytes < 0 || o.BulkWidth < 0 {
		return fmt.Errorf("writer: negative option")
	}
	return (&reader.Options{Width: o.Width}).Validate()
}

func (o Options) withDefaults() Options {
	if o.Branch == "" {
		o.Branch = branch.Default
	}
	if o.TailBytes == 0 {
		o.TailBytes = reader.DefaultTailBytes
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = 32
	}
	if o.MaxBatch == 0 {
		o.MaxBatch = 1024
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Writer commits transactions to one branch of a database. It is safe for
// concurrent use; transactions submitted concurrently are committed
// together (group commit), each with its own report.
type Writer struct {
	st       *konserve.Store
	ownStore bool
	opts     Options
	id       string

	mu     sync.Mutex
	db     *reader.DB // newest value this writer knows is committed
	closed bool

	queue chan *request
	done  chan struct{}
	wg    sync.WaitGroup

	// merge is the background merge of the log tail in flight (nil if
	// none). Only the committer goroutine touches it.
	merge *mergeJob
	// counters of background merges, for benchmarks and tests
	mergesStarted, mergesAdopted, mergesDropped, mergeWaits atomic.Int64
	// repoints counts commits re-pointed at a GC's bumped head.
	repoints atomic.Int64
	// groupTxs is how many transactions the commit in progress carries
	// (committer only), which scales the tail threshold (tailLimit).
	groupTxs int
	// prepared carries a commit's persisted value, published just before
	// its objects and head are written, to the loop, which applies the
	// next batch on it meanwhile. lastPersisted and lastCommitted are the
	// values of the last commit that landed cleanly (committer only).
	prepared                     chan *reader.DB
	lastPersisted, lastCommitted *reader.DB
	// waitMerges makes every commit wait for a merge in flight (tests: a
	// deterministic order of storage operations). Set before the first
	// Transact.
	waitMerges bool
	// released is how many requests the last finished commit answered
	// (see letReleasedResubmit).
	released atomic.Int64
	// mergeGate, if not nil, holds every background merge until it is
	// closed (tests: a merge in flight for as long as they need). Set
	// before the first Transact.
	mergeGate chan struct{}
}

// mergeJob is one background merge: MergeTail of src, a committed value.
type mergeJob struct {
	src  *reader.DB
	out  *reader.DB
	err  error
	done chan struct{}
}

// maxTailFactor bounds the log tail while a background merge is in flight:
// past maxTailFactor × TailBytes the committer waits for the merge (and, if
// there is none or it failed, merges in the commit path), so a slow or
// failing merge cannot let the tail, which every commit rewrites, grow
// without bound.
const maxTailFactor = 4

type request struct {
	ctx   context.Context
	forms []any
	// bulk, if not nil, is a bulk import (Import) committed alone.
	bulk    []datom.Datom
	bulkRes *reader.BulkResult
	rep     *reader.Report
	err     error
	ready   chan struct{}
}

// Create makes a new, empty database on a branch of the bucket at rawURL
// and returns a writer for it. It fails with ErrExists if the branch holds
// one.
func Create(ctx context.Context, rawURL string, opts *Options) (*Writer, error) {
	st, err := openStore(ctx, rawURL, opts)
	if err != nil {
		return nil, err
	}
	w, err := CreateStore(ctx, st, opts)
	if err != nil {
		st.Close()
		return nil, err
	}
	w.ownStore = true
	return w, nil
}

// Open returns a writer for the existing database on a branch of the
// bucket at rawURL.
func Open(ctx context.Context, rawURL string, opts *Options) (*Writer, error) {
	st, err := openStore(ctx, rawURL, opts)
	if err != nil {
		return nil, err
	}
	w, err := OpenStore(ctx, st, opts)
	if err != nil {
		st.Close()
		return nil, err
	}
	w.ownStore = true
	return w, nil
}

func openStore(ctx context.Context, rawURL string, opts *Options) (*konserve.Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	var kopts *konserve.Options
	if opts != nil && opts.CacheBytes != 0 {
		kopts = &konserve.Options{CacheBytes: opts.CacheBytes}
	}
	st, err := konserve.Open(ctx, rawURL, kopts)
	if err != nil {
		return nil, fmt.Errorf("writer: open %s: %w", rawURL, err)
	}
	return st, nil
}

// CreateStore is Create on an open store (which the writer does not close).
func CreateStore(ctx context.Context, st *konserve.Store, opts *Options) (*Writer, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	o := deref(opts).withDefaults()
	if _, err := branch.Read(ctx, st, o.Branch); err == nil {
		return nil, fmt.Errorf("%w on branch %q", ErrExists, o.Branch)
	} else if !errors.Is(err, branch.ErrNoBranch) {
		return nil, fmt.Errorf("writer: create: %w", err)
	}
	db, err := reader.NewEmpty(ctx, st, o.SchemaOnRead, o.Width)
	if err != nil {
		return nil, err
	}
	w := newWriter(st, o)
	db, c, err := db.Persist(ctx, reader.PersistOptions{Branch: o.Branch, Merge: true, Writer: w.id, TxTs: []int64{0}})
	if err != nil {
		return nil, fmt.Errorf("writer: create: %w", err)
	}
	h, err := branch.Advance(ctx, st, o.Branch, nil, c)
	if err != nil {
		if errors.Is(err, branch.ErrExists) {
			return nil, fmt.Errorf("%w on branch %q", ErrExists, o.Branch)
		}
		return nil, fmt.Errorf("writer: create: %w", err)
	}
	w.db = db.Committed(h)
	w.start()
	return w, nil
}

// OpenStore is Open on an open store (which the writer does not close).
func OpenStore(ctx context.Context, st *konserve.Store, opts *Options) (*Writer, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	o := deref(opts).withDefaults()
	db, err := reader.OpenStore(ctx, st, &reader.Options{Branch: o.Branch, Width: o.Width})
	if err != nil {
		return nil, fmt.Errorf("writer: %w", err)
	}
	w := newWriter(st, o)
	w.db = db
	w.start()
	return w, nil
}

func deref(o *Options) Options {
	if o == nil {
		return Options{}
	}
	return *o
}

func newWriter(st *konserve.Store, o Options) *Writer {
	var id [6]byte
	_, _ = rand.Read(id[:])
	return &Writer{st: st, opts: o, id: hex.EncodeToString(id[:]),
		queue: make(chan *request, o.MaxBatch), done: make(chan struct{}), prepared: make(chan *reader.DB, 1)}
}

func (w *Writer) start() {
	w.wg.Add(1)
	go w.loop()
}

// DB returns the newest database value this writer has committed or seen.
func (w *Writer) DB() *reader.DB {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.db
}

// Store returns the writer's store.
func (w *Writer) Store() *konserve.Store { return w.st }

// Transact commits transaction data (EDN text, or parsed forms as []any or
// edn.Vector) and returns its report once it is durable and the branch
// head names it. An invalid transaction fails alone with an error naming
// the form at fault (see package tx) and writes nothing. If ctx ends first,
// Transact returns ctx's error and the transaction may still commit.
func (w *Writer) Transact(ctx context.Context, data any) (*reader.Report, error) {
	forms, err := reader.TxForms(data)
	if err != nil {
		return nil, err
	}
	r := &request{ctx: ctx, forms: forms, ready: make(chan struct{})}
	if err := w.submit(ctx, r); err != nil {
		return nil, err
	}
	return r.rep, r.err
}

// submit queues r for the committer and waits until it is done, or until
// ctx ends or the writer closes first.
func (w *Writer) submit(ctx context.Context, r *request) error {
	w.mu.Lock()
	closed := w.closed
	w.mu.Unlock()
	if closed {
		return ErrClosed
	}
	select {
	case w.queue <- r:
	case <-w.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-r.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ImportReport is the outcome of Import: the transaction's report (its
// TempIDs map each tempid, an int64, to its entity id) and what the
// import wrote.
type ImportReport struct {
	*reader.Report
	// Nodes and Bytes count the index nodes written; Syncs the
	// file-system syncs that made them durable (file backend).
	Nodes int
	Bytes int64
	Syncs int
}

// Import asserts datoms about new entities as one transaction through the
// bulk path (reader.BulkAssert: E a negative tempid, ref values tempids or
// existing ids; checked against the schema, sorted once per index, merged
// into the trees in one batch, nodes written as packs on the file backend)
// and returns once the branch head names it. It is for loading large data
// sets, at a cost per datom several times lower than Transact's. Bad input
// fails with an error wrapping reader.ErrBulk and writes nothing. The
// import is committed alone, after the transactions queued before it.
func (w *Writer) Import(ctx context.Context, ds []datom.Datom) (*ImportReport, error) {
	if len(ds) == 0 {
		return nil, fmt.Errorf("writer: import: %w: no datoms", reader.ErrBulk)
	}
	r := &request{ctx: ctx, bulk: ds, ready: make(chan struct{})}
	if err := w.submit(ctx, r); err != nil {
		return nil, err
	}
	if r.err != nil {
		return nil, r.err
	}
	return &ImportReport{Report: r.rep, Nodes: r.bulkRes.Nodes, Bytes: r.bulkRes.Bytes, Syncs: r.bulkRes.Syncs}, nil
}

// Close stops the writer after the queued transactions are committed, and
// closes the store if the writer opened it.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	close(w.done)
	w.wg.Wait()
	if w.ownStore {
		return w.st.Close()
	}
	// The last commits' objects may still be being written as files
	// (konserve stages them in the head's slot on the file backend): the
	// bucket stops changing when Close returns, as it does for a merge in
	// flight.
	return w.st.Settle(context.Background())
}

func (w *Writer) loop() {
	defer w.wg.Done()
	var next []*request // a batch collected while the previous committed
	var pre *preApplied // next, applied ahead on the previous batch's value
	for {
		batch := next
		next = nil
		if pre != nil {
			var rest []*request
			batch, pre, rest = w.topUp(batch, pre)
			if rest != nil {
				w.commit(batch, pre)
				batch, pre = rest, nil
				select {
				case <-w.prepared: // that commit's, not the next one's
				default:
				}
			}
		}
		if batch == nil {
			var first *request
			select {
			case first = <-w.queue:
			case <-w.done:
				// Drain what was queued before Close.
				for {
					select {
					case r := <-w.queue:
						w.commit([]*request{r}, nil)
					default:
						return
					}
				}
			}
			var rest []*request
			batch, rest = w.fill(first)
			if rest != nil {
				w.commit(batch, nil)
				batch = rest
			}
		}
		// Pipelining: while this batch's objects and head are written,
		// collect the next batch and apply it in memory on top of this
		// one's value; the next commit uses that work if this one
		// committed cleanly (see commit), and redoes it otherwise.
		done := make(chan struct{})
		go func(b []*request, p *preApplied) {
			defer close(done)
			w.commit(b, p)
		}(batch, pre)
		pre = nil
		select {
		case persisted := <-w.prepared:
			select {
			case r := <-w.queue:
				var rest []*request
				next, rest = w.fill(r)
				if rest == nil && next[0].bulk == nil {
					pre = w.preApply(persisted, next)
				} else if rest != nil {
					<-done
					w.commit(next, nil)
					next = rest
				}
			case <-done:
			}
		case <-done:
		}
		<-done
		// A value published by an attempt that did not commit is stale.
		select {
		case <-w.prepared:
		default:
		}
	}
}

// bulkTempIDs is the report's table of an import's tempids (negative
// int64s) and of its transaction: the import's map itself, which the
// writer never modifies.
func bulkTempIDs(res *reader.BulkResult) tx.TempIDs {
	return tx.NewImportTempIDs(res.TempIDs, res.TxID)
}

// fill takes queued requests after first into one batch. A bulk import
// commits alone: if one is queued behind the batch, fill stops there and
// returns it as rest (the caller commits batch, then rest).
func (w *Writer) fill(first *request) (batch, rest []*request) {
	batch = []*request{first}
	if first.bulk == nil {
		w.letReleasedResubmit()
	}
	for first.bulk == nil && len(batch) < w.opts.MaxBatch {
		select {
		case r := <-w.queue:
			if r.bulk != nil {
				return batch, []*request{r}
			}
			batch = append(batch, r)
		default:
			return batch, nil
		}
	}
	return batch, nil
}

// letReleasedResubmit yields the processor once before a group is closed
// if the last commit released more than one requester (Postgres's
// commit_delay with commit_siblings, without the delay): requesters that
// submit again as soon as their transaction is done (a pool of clients,
// each with one transaction in flight) then join this group rather than
// the next, instead of splitting into two groups that take turns, each
// paying a commit's storage round trips. A lone requester's commits are
// not delayed.
func (w *Writer) letReleasedResubmit() {
	want := int(w.released.Load())
	if want <= 1 {
		return
	}
	// Yield while they keep arriving, until as many are queued as were
	// released; two yields in a row without an arrival end the wait.
	for n, stalls := len(w.queue), 0; n < want && stalls < 2; {
		runtime.Gosched()
		if m := len(w.queue); m > n {
			n, stalls = m, 0
		} else {
			stalls++
		}
	}
}

// topUp adds the requests queued behind batch, which was applied ahead as
// pre, applying them on pre's value (see letReleasedResubmit). A bulk
// import met in the queue is returned as rest, to commit after batch.
func (w *Writer) topUp(batch []*request, pre *preApplied) ([]*request, *preApplied, []*request) {
	w.letReleasedResubmit()
	var extra, rest []*request
	for len(batch)+len(extra) < w.opts.MaxBatch && rest == nil {
		select {
		case r := <-w.queue:
			if r.bulk != nil {
				rest = []*request{r}
			} else {
				extra = append(extra, r)
			}
			continue
		default:
		}
		break
	}
	if len(extra) == 0 {
		return batch, pre, rest
	}
	db, ts, live := w.apply(pre.db, extra)
	return append(batch, extra...), &preApplied{on: pre.on, db: db, ts: slices.Concat(pre.ts, ts), live: pre.live + live}, rest
}

// preApplied is a batch applied ahead, on the value another commit was
// about to publish.
type preApplied struct {
	on   *reader.DB // the value it was applied on (that commit's persisted value)
	db   *reader.DB
	ts   []int64
	live int
}

// preApply applies batch on persisted, the value the commit in flight is
// writing, so that the next commit need not wait for the CPU work.
func (w *Writer) preApply(persisted *reader.DB, batch []*request) *preApplied {
	db, ts, live := w.apply(persisted, batch)
	return &preApplied{on: persisted, db: db, ts: ts, live: live}
}

// apply applies each request of batch in turn, starting from db; a failing
// one fails alone. It returns the value after the last, their ts and how
// many succeeded.
func (w *Writer) apply(db *reader.DB, batch []*request) (*reader.DB, []int64, int) {
	var ts []int64
	live := 0
	now := w.opts.Now()
	for _, r := range batch {
		r.rep, r.err = nil, nil
		if err := r.ctx.Err(); err != nil {
			r.err = err
			continue
		}
		if r.bulk != nil {
			next, res, err := db.BulkAssert(r.ctx, r.bulk, &reader.BulkOptions{Now: now, Width: w.opts.BulkWidth})
			if err != nil {
				r.err = err
				continue
			}
			r.bulkRes = res
			r.rep = &reader.Report{DBBefore: db, DBAfter: next, TxID: res.TxID, T: res.T, TxData: res.Datoms,
				TempIDs: bulkTempIDs(res)}
			db = next
			ts = append(ts, res.T)
			live++
			continue
		}
		rep, err := db.Transact(r.ctx, r.forms, &reader.TxOptions{Funcs: w.opts.Funcs, Now: now})
		if err != nil {
			r.err = err
			continue
		}
		r.rep = rep
		db = rep.DBAfter
		ts = append(ts, rep.T)
		live++
	}
	return db, ts, live
}

// commit applies a batch to the newest known value, makes it durable and
// moves the head; on losing the head to another writer it rebases the
// batch onto the new head and tries again.
func (w *Writer) commit(batch []*request, pre *preApplied) {
	ctx := context.Background()
	bulk := batch[0].bulk != nil
	base, adopted := w.adoptMerge(ctx, w.DB(), bulk)
	for attempt := 0; ; attempt++ {
		var db *reader.DB
		var ts []int64
		var live int
		if attempt == 0 && pre != nil && pre.on == w.lastPersisted && base == w.lastCommitted {
			// Applied ahead on exactly the value base is (committed
			// cleanly, no merge adopted since): the reports stand.
			db, ts, live = pre.db, pre.ts, pre.live
			for _, r := range batch {
				if r.rep != nil {
					r.rep.DBBefore = base
					break
				}
			}
		} else {
			db, ts, live = w.apply(base, batch)
		}
		w.groupTxs = live
		if live > 0 && w.merge != nil && !w.opts.MergeInCommit && db.TailBytes() > maxTailFactor*w.tailLimit() {
			// The batch took the tail past its bound while a background
			// merge is in flight: wait for that merge and apply the batch
			// again on its trees, rather than merge in the commit path,
			// which would also leave the merge in flight stale. (The
			// check before the batch, in adoptMerge, sees the tail without
			// it; a large group adds several times TailBytes.)
			if nb, ok := w.adoptMergeWait(ctx, base); ok {
				base, adopted = nb, true
				db, ts, live = w.apply(base, batch)
				w.groupTxs = live
			}
		}
		if live == 0 {
			// Every transaction failed. If another writer moved the head,
			// they failed against an old value (:db/cas, transaction
			// functions and uniqueness must see the truth): move to the
			// head and apply them again. Otherwise their errors stand.
			if attempt < w.opts.MaxRetries && failedOnData(batch) {
				if h, err := branch.Read(ctx, w.st, w.opts.Branch); err == nil && base.Head() != nil && h.Addr != base.Head().Addr {
					if nb, err := base.FastForward(ctx, h, w.opts.Width); err == nil {
						base = nb
						w.mu.Lock()
						w.db = base
						w.mu.Unlock()
						continue
					}
				}
			}
			finish(batch)
			return
		}
		persisted, c, pending, err := db.Prepare(ctx, reader.PersistOptions{Branch: w.opts.Branch, Parent: base.Head(),
			TailBytes: w.tailLimit(), Writer: w.id, TxTs: ts,
			DeferMerge: !w.opts.MergeInCommit && db.TailBytes() <= maxTailFactor*w.tailLimit()})
		if err != nil {
			failLive(batch, fmt.Errorf("writer: commit: %w", err))
			return
		}
		select {
		case w.prepared <- persisted:
		default:
		}
		preparedAt := time.Now()
		h, err := branch.AdvanceWith(ctx, w.st, w.opts.Branch, base.Head(), c, pending)
		// A swap lost to garbage collection's gc_gen bump of our parent
		// (same roots, tail and counters) needs no rebase: everything the
		// commit names is still safe (see gcBumpOf), so the same
		// commit, pointed at the bumped head, is swapped again. Without
		// this, a commit that merges its tail redid the merge after every
		// bump, and a GC bumping often could starve it.
		// Not so for a commit that adopted a background merge: the merge's
		// nodes were written when it finished, which may be longer ago
		// than GC's grace, and nothing named them, so the GC that bumped
		// may have swept them. That commit rebases: FastForward reopens
		// the bumped head (its roots differ from the merged ones), and the
		// merge is dropped.
		for bumps := 0; !adopted && errors.Is(err, branch.ErrConflict) && bumps < w.opts.MaxRetries; bumps++ {
			cur, rerr := branch.Read(ctx, w.st, w.opts.Branch)
			if rerr != nil || !gcBumpOf(cur, base.Head()) || time.Since(preparedAt) > maxRepointAge {
				break
			}
			nc := *c
			nc.Seq = cur.Commit.Seq + 1
			nc.Parents = []konserve.Hash{cur.Addr}
			nc.GCGen = cur.Commit.GCGen
			c = &nc
			base = base.Committed(cur)
			w.repoints.Add(1)
			h, err = branch.AdvanceWith(ctx, w.st, w.opts.Branch, cur, c, nil)
		}
		if err == nil {
			committed := persisted.Committed(h)
			w.mu.Lock()
			w.db = committed
			w.mu.Unlock()
			w.lastPersisted, w.lastCommitted = persisted, committed
			if !w.opts.MergeInCommit && w.merge == nil && committed.TailBytes() > w.tailLimit() {
				w.startMerge(committed)
			}
			// The last report's value is the committed one; earlier ones
			// are the in-memory values between the batch's transactions.
			for i := len(batch) - 1; i >= 0; i-- {
				if batch[i].rep != nil {
					batch[i].rep.DBAfter = committed
					break
				}
			}
			w.finish(batch)
			return
		}
		if !errors.Is(err, branch.ErrConflict) {
			// The swap's outcome is unknown even after konserve re-read
			// the head: look once more before giving up.
			if cur, rerr := branch.Read(ctx, w.st, w.opts.Branch); rerr == nil && cur.Commit.BasisT >= c.BasisT {
				if ok, _ := w.landed(ctx, cur, c, base.Head()); !ok {
					failLive(batch, fmt.Errorf("writer: commit: %w", err))
					return
				}
				w.adopt(ctx, cur, persisted)
				w.finish(batch)
				return
			} else if rerr == nil && base.Head() != nil && cur.Addr == base.Head().Addr && attempt < w.opts.MaxRetries {
				// The head is where it was: the commit did not land
				// (a transient error storing the tail, the commit record
				// or the head). Try again on the same base; the objects
				// stored so far are orphans or are stored again.
				backoff(attempt)
				continue
			}
			failLive(batch, fmt.Errorf("writer: commit: %w", err))
			return
		}
		// Another writer moved the head. After an ambiguous reply our
		// commit may have landed and been built upon already: look for it
		// in the new head's ancestry before re-applying anything, so no
		// transaction is ever applied twice.
		h, err = branch.Read(ctx, w.st, w.opts.Branch)
		if err == nil {
			if landed, lerr := w.landed(ctx, h, c, base.Head()); lerr == nil && landed {
				w.adopt(ctx, h, persisted)
				w.finish(batch)
				return
			}
		}
		if attempt >= w.opts.MaxRetries {
			failLive(batch, ErrConflict)
			return
		}
		// Rebase onto the new head: when it only appended to the log tail
		// of base, replay just the new transactions (FastForward).
		if err == nil {
			base, err = base.FastForward(ctx, h, w.opts.Width)
		}
		if err != nil {
			failLive(batch, fmt.Errorf("writer: rebase: %w", err))
			return
		}
		w.mu.Lock()
		w.db = base
		w.mu.Unlock()
		backoff(attempt)
	}
}

// Tail threshold scaling. A commit of one transaction merges the tail
// past TailBytes, which keeps a small commit within its object and byte
// budget (≤ 4 objects, ≤ 32 KiB amortized). A group commit of many
// transactions fills the tail several times faster, and merging at the
// same size then costs a merge every few commits: each merge rewrites
// about as many leaves whatever its size (the new datoms of a batch
// spread over every leaf of the value-sorted trees), so a busy writer
// spent most of its CPU on merges. The threshold therefore grows by one
// TailBytes per groupTxsPerScale transactions in the commit, up to
// maxTailScale × TailBytes: the tail each commit rewrites is then shared
// by that many more transactions.
const (
	groupTxsPerScale = 8
	maxTailScale     = 4
)

// tailLimit is the tail size past which the commit in progress merges (or
// starts a background merge): TailBytes scaled by the group size.
func (w *Writer) tailLimit() int64 {
	scale := 1 + int64(max(w.groupTxs-1, 0))/groupTxsPerScale
	return w.opts.TailBytes * min(scale, maxTailScale)
}

// maxRepointAge bounds how old a prepared commit may be and still be
// pointed at a garbage collector's bumped head instead of being rebased.
// Its new nodes are as old as the commit: far below any sane GC grace
// (ops.DefaultGrace is an hour), which is what keeps them from the sweep.
const maxRepointAge = time.Minute

// gcBumpOf reports whether head cur is a garbage collector's gc_gen bump
// of parent (ops.GC's G2): a commit whose only parent is parent and that
// names the same trees, log tail, schema and counters with a higher GCGen.
// A commit prepared on parent can then be re-pointed at cur: the nodes it
// wrote or freshened are younger than any GC cutoff (and konserve's
// conditional delete keeps a node freshened after GC listed it), and the
// rest is what cur names, which GC marked.
func gcBumpOf(cur, parent *branch.Head) bool {
	if cur == nil || parent == nil {
		return false
	}
	c, p := cur.Commit, parent.Commit
	if len(c.Parents) != 1 || c.Parents[0] != parent.Addr || c.GCGen <= p.GCGen || len(c.TxTs) != 0 ||
		c.Tail != p.Tail || c.BasisT != p.BasisT || c.NextUser != p.NextUser || c.NextDB != p.NextDB ||
		c.DBID != p.DBID || c.SchemaOnRead != p.SchemaOnRead || !bytes.Equal(c.Schema, p.Schema) ||
		len(c.Roots) != len(p.Roots) {
		return false
	}
	for i := range c.Roots {
		if c.Roots[i].Name != p.Roots[i].Name || c.Roots[i].Addr != p.Roots[i].Addr {
			return false
		}
	}
	return true
}

// startMerge merges the log tail of db, a committed value, into the index
// trees in the background (see reader.AdoptMerge). The commit path goes on
// appending to the tail meanwhile; a crash leaves the merged nodes as
// orphans, never a head that names a missing node.
func (w *Writer) startMerge(db *reader.DB) {
	j := &mergeJob{src: db, done: make(chan struct{})}
	w.merge = j
	w.mergesStarted.Add(1)
	w.wg.Add(1)
	gate := w.mergeGate
	go func() {
		defer w.wg.Done()
		defer close(j.done)
		if gate != nil {
			<-gate
		}
		j.out, j.err = db.MergeTail(context.Background())
	}()
}

// adoptMerge moves base onto the trees of a finished background merge, if
// there is one that applies to it. It waits for a merge in flight only if
// base's tail has grown past maxTailFactor × TailBytes, or wait is set (a
// bulk import, which merges the tail itself). A failed or stale
// merge is dropped: the next commit whose tail is due starts another, and a
// tail that keeps growing is merged in the commit path (see commit).
// adopted reports whether the returned value names the merge's trees.
func (w *Writer) adoptMerge(ctx context.Context, base *reader.DB, wait bool) (db *reader.DB, adopted bool) {
	j := w.merge
	if j == nil {
		return base, false
	}
	if wait || w.waitMerges || base.TailBytes() > maxTailFactor*w.tailLimit() {
		select {
		case <-j.done:
		default:
			w.mergeWaits.Add(1)
			<-j.done
		}
	}
	select {
	case <-j.done:
	default:
		return base, false
	}
	w.merge = nil
	if j.err != nil {
		w.mergesDropped.Add(1)
		return base, false
	}
	// Nothing names a merge's nodes until a commit adopts it, so a GC that
	// ran since its source was committed (it bumped gc_gen on the head
	// base now descends from) may have swept them: such a merge is dropped,
	// never published. Without this, a writer that rebased onto GC's bump
	// by FastForward (which keeps the merge applicable) would name missing
	// nodes.
	if sh, bh := j.src.Head(), base.Head(); sh == nil || bh == nil || sh.Commit.GCGen != bh.Commit.GCGen {
		w.mergesDropped.Add(1)
		return base, false
	}
	nb, err := base.AdoptMerge(ctx, j.src, j.out)
	if err != nil {
		w.mergesDropped.Add(1)
		return base, false
	}
	w.mergesAdopted.Add(1)
	w.mu.Lock()
	w.db = nb
	w.mu.Unlock()
	return nb, true
}

// adoptMergeWait waits for the background merge in flight and moves base
// onto its trees (see adoptMerge); ok is false if it does not apply.
func (w *Writer) adoptMergeWait(ctx context.Context, base *reader.DB) (*reader.DB, bool) {
	w.mergeWaits.Add(1)
	<-w.merge.done
	return w.adoptMerge(ctx, base, true)
}

// adopt makes head h, which contains this writer's last commit (persisted),
// the writer's newest value.
func (w *Writer) adopt(ctx context.Context, h *branch.Head, persisted *reader.DB) {
	db, err := reader.FromHead(ctx, w.st, h, w.opts.Width)
	if err != nil {
		// The next commit finds the head moved and rebases.
		db = persisted
	}
	w.mu.Lock()
	w.db = db
	w.mu.Unlock()
}

// landed reports whether commit c is head h or one of its ancestors newer
// than base (the head c was built on).
func (w *Writer) landed(ctx context.Context, h *branch.Head, c *branch.Commit, base *branch.Head) (bool, error) {
	body, err := branch.EncodeCommit(c)
	if err != nil {
		return false, err
	}
	ours := konserve.HashOf(body)
	var floor uint64
	if base != nil {
		floor = base.Commit.Seq
	}
	found := false
	err = branch.Walk(ctx, w.st, h.Addr, func(addr konserve.Hash, cc *branch.Commit) (bool, error) {
		if addr == ours {
			found = true
			return false, nil
		}
		return cc.Seq > floor+1, nil
	})
	return found, err
}

func backoff(attempt int) {
	d := time.Duration(1<<min(attempt, 6)) * 100 * time.Microsecond
	var b [1]byte
	_, _ = rand.Read(b[:])
	time.Sleep(d + time.Duration(b[0])*d/256)
}

// failedOnData reports whether a request of batch failed for a reason
// other than its context ending.
func failedOnData(batch []*request) bool {
	for _, r := range batch {
		if r.err != nil && !errors.Is(r.err, context.Canceled) && !errors.Is(r.err, context.DeadlineExceeded) {
			return true
		}
	}
	return false
}

func (w *Writer) finish(batch []*request) {
	w.released.Store(int64(len(batch)))
	finish(batch)
}

func finish(batch []*request) {
	for _, r := range batch {
		close(r.ready)
	}
}

func failLive(batch []*request, err error) {
	for _, r := range batch {
		if r.err == nil {
			r.rep, r.err = nil, err
		}
	}
	finish(batch)
}
