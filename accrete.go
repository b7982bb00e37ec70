// Package accrete is a serverless, storage-only Datalog database: a
// database is a value in a bucket.
//
// One writer turns each transaction into datoms, adds them to persistent
// B-tree indices and flushes the changed nodes as immutable,
// content-addressed blobs to any gocloud.dev bucket (local files, S3, GCS,
// Azure, memory), then atomically swaps the branch head. Every other
// process just reads: it opens the head and fetches index nodes lazily
// through a cache. Because a database is a value, one query can join
// databases from different buckets and points in time.
//
// This package is the one import for the common path:
//
//	conn, err := accrete.Create(ctx, "file:///tmp/people", nil)
//	rep, err := conn.Transact(ctx, `[{:db/ident :person/name …}]`)
//	db := conn.DB()
//	res, err := accrete.Q(ctx, `[:find ?n :where [_ :person/name ?n]]`, db)
//
// Read-only jobs use Open (or package reader) and never link the writer's
// code paths. Packages writer, reader, query and tx remain usable on
// their own.
package accrete

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/ops"
	"github.com/accretedb/accrete/query"
	"github.com/accretedb/accrete/reader"
	"github.com/accretedb/accrete/tx"
	"github.com/accretedb/accrete/writer"
)

// DB is an immutable database value (see package reader).
type DB = reader.DB

// Report is the outcome of a transaction.
type Report = reader.Report

// TempIDs is how a transaction's tempids resolved (Report.TempIDs: ID,
// Lookup, All, Map; see tx.TempIDs).
type TempIDs = tx.TempIDs

// Options configure a connection (see writer.Options).
type Options = writer.Options

// Conn is a connection that can transact: a writer on one branch of a
// database and the newest value it knows. It is safe for concurrent use.
type Conn struct {
	w      *writer.Writer
	branch string
	width  int

	mu     sync.Mutex
	purged *reader.DB // the value a Purge committed, until the writer knows a newer one
}

// ErrPurgeInTransact is returned by Transact for data holding purge forms
// (:db/purge, :db.purge/attribute, :db.purge/entity,
// :db.history.purge/before): purging rewrites history and is not a
// transaction a writer applies; use Conn.Purge.
var ErrPurgeInTransact = errors.New("accrete: purge forms cannot be transacted; use Conn.Purge")

// PurgeOptions configure Conn.Purge (see ops.PurgeOptions; Branch is the
// connection's).
type PurgeOptions = ops.PurgeOptions

// PurgeReport says what Conn.Purge did.
type PurgeReport = ops.PurgeReport

// ErrExists is returned by Create when the bucket already holds a database
// on the branch.
var ErrExists = writer.ErrExists

// ErrNoDatabase is returned by Connect and Open when the bucket holds no
// database on the branch.
var ErrNoDatabase = reader.ErrNoDatabase

// Create makes a new database in the bucket at url and connects to it.
func Create(ctx context.Context, url string, opts *Options) (*Conn, error) {
	w, err := writer.Create(ctx, url, opts)
	if err != nil {
		return nil, err
	}
	return newConn(w, opts), nil
}

func newConn(w *writer.Writer, opts *Options) *Conn {
	c := &Conn{w: w, branch: branch.Default}
	if opts != nil {
		if opts.Branch != "" {
			c.branch = opts.Branch
		}
		c.width = opts.Width
	}
	return c
}

// Connect connects to the existing database in the bucket at url.
func Connect(ctx context.Context, url string, opts *Options) (*Conn, error) {
	w, err := writer.Open(ctx, url, opts)
	if err != nil {
		return nil, err
	}
	return newConn(w, opts), nil
}

// CreateOrConnect connects to the database at url, creating it first if
// the bucket holds none.
func CreateOrConnect(ctx context.Context, url string, opts *Options) (*Conn, error) {
	c, err := Connect(ctx, url, opts)
	if errors.Is(err, ErrNoDatabase) {
		c, err = Create(ctx, url, opts)
		if errors.Is(err, ErrExists) { // another process created it meanwhile
			c, err = Connect(ctx, url, opts)
		}
	}
	return c, err
}

// Transact commits transaction data (EDN text or parsed forms) and returns
// its report once it is durable. Data holding purge forms fails with
// ErrPurgeInTransact, naming the form: use Purge.
func (c *Conn) Transact(ctx context.Context, data any) (*Report, error) {
	forms, err := reader.TxForms(data)
	if err != nil {
		return nil, err
	}
	for i, f := range forms {
		if ops.IsPurgeForm(f) {
			return nil, fmt.Errorf("%w: form %d %s", ErrPurgeInTransact, i, edn.String(f))
		}
	}
	return c.w.Transact(ctx, forms)
}

// Purge removes datoms from the connection's branch for legal erasure
// (Datahike's :db/purge, :db.purge/attribute, :db.purge/entity and
// :db.history.purge/before; see ops.Purge) and records the purge as a
// transaction: what was purged, by whom (opts.By) and when, never the
// values. The bytes leave the bucket when GC later collects the old
// commits' nodes (after its grace); other branches and synced copies keep
// the datoms until they are purged too.
//
// After Purge, DB returns the purged value. The writer learns of the new
// head at its next commit, which loses the head swap and rebases onto it,
// so no transaction is lost either way.
func (c *Conn) Purge(ctx context.Context, data any, opts *PurgeOptions) (PurgeReport, error) {
	var o PurgeOptions
	if opts != nil {
		o = *opts
	}
	o.Branch = c.branch
	if o.Width == 0 {
		o.Width = c.width
	}
	rep, err := ops.Purge(ctx, c.w.Store(), data, &o)
	if err != nil || rep.Head == nil {
		return rep, err
	}
	db, err := reader.FromHead(ctx, c.w.Store(), rep.Head, o.Width)
	if err != nil {
		return rep, fmt.Errorf("accrete: open the purged value: %w", err)
	}
	c.mu.Lock()
	if c.purged == nil || db.BasisT() > c.purged.BasisT() {
		c.purged = db
	}
	c.mu.Unlock()
	return rep, nil
}

// DB returns the newest database value the connection knows: the writer's,
// or the value the last Purge committed if the writer has not committed
// past it yet.
func (c *Conn) DB() *DB {
	db := c.w.DB()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.purged != nil {
		if c.purged.BasisT() > db.BasisT() {
			return c.purged
		}
		c.purged = nil
	}
	return db
}

// Writer returns the connection's writer.
func (c *Conn) Writer() *writer.Writer { return c.w }

// Close waits for queued transactions and releases the connection.
func (c *Conn) Close() error { return c.w.Close() }

// Open opens a read-only database value from the bucket at url: one GET
// for the head, then index nodes on demand.
func Open(ctx context.Context, url string, opts *reader.Options) (*DB, error) {
	return reader.Open(ctx, url, opts)
}

// Q runs a Datalog query (EDN text or data) over inputs: database values,
// rule sets and plain values, bound to :in in order (see query.Q).
func Q(ctx context.Context, q any, inputs ...any) (any, error) {
	return query.Q(ctx, q, inputs...)
}

// Pull returns the attributes of entity eid (an id, ident or lookup ref)
// selected by pattern; nil when it has none of them.
func Pull(ctx context.Context, db *DB, pattern any, eid any) (map[edn.Keyword]any, error) {
	return query.Pull(ctx, db, pattern, eid)
}

// PullOrdered is Pull with each entity's result as an edn.Map in pattern
// order: cheaper to build than Go maps (see query.PullOrdered).
func PullOrdered(ctx context.Context, db *DB, pattern any, eid any) (edn.Map, error) {
	return query.PullOrdered(ctx, db, pattern, eid)
}

// PullMany is Pull for several entities.
func PullMany(ctx context.Context, db *DB, pattern any, eids []any) ([]map[edn.Keyword]any, error) {
	return query.PullMany(ctx, db, pattern, eids)
}

// Entity returns a lazy entity of db: attributes are read on first access,
// refs navigate to entities.
func Entity(ctx context.Context, db *DB, eid any) (*query.Entity, error) {
	return query.EntityOf(ctx, db, eid)
}

// Datom is one fact: [e a v tx added].
type Datom = datom.Datom
