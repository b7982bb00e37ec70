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

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/query"
	"github.com/accretedb/accrete/reader"
	"github.com/accretedb/accrete/writer"
)

// DB is an immutable database value (see package reader).
type DB = reader.DB

// Report is the outcome of a transaction.
type Report = reader.Report

// Options configure a connection (see writer.Options).
type Options = writer.Options

// Conn is a connection that can transact: a writer on one branch of a
// database and the newest value it knows. It is safe for concurrent use.
type Conn struct {
	w *writer.Writer
}

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
	return &Conn{w: w}, nil
}

// Connect connects to the existing database in the bucket at url.
func Connect(ctx context.Context, url string, opts *Options) (*Conn, error) {
	w, err := writer.Open(ctx, url, opts)
	if err != nil {
		return nil, err
	}
	return &Conn{w: w}, nil
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
// its report once it is durable.
func (c *Conn) Transact(ctx context.Context, data any) (*Report, error) {
	return c.w.Transact(ctx, data)
}

// DB returns the newest database value the connection knows.
func (c *Conn) DB() *DB { return c.w.DB() }

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
