package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/reader"
	"github.com/accretedb/accrete/tx"
	"github.com/accretedb/accrete/writer"
)

// schemaTx is the workload's schema (README §1) for a schema-on-read
// database: undeclared attributes (:name, :age, …) are typed by their
// values, as DataScript's are untyped.
const schemaTx = `[
 {:db/ident :id      :db/unique :db.unique/identity}
 {:db/ident :follows :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}
 {:db/ident :alias   :db/cardinality :db.cardinality/many}]`

// schemaIndexAllTx is schemaTx with every attribute of the workload typed
// and in AVET (:db/index), for --index-all: Datalevin's benchmark declares
// the value types (name and last-name strings, age and salary longs; sex is
// a keyword there and a string in this JSON workload) and Datalevin keeps
// every datom in its AVE index, so its published figures are for that
// layout, not for DataScript's schema (untyped, AVET holding only :id).
const schemaIndexAllTx = `[
 {:db/ident :id        :db/unique :db.unique/identity}
 {:db/ident :follows   :db/valueType :db.type/ref :db/cardinality :db.cardinality/many :db/index true}
 {:db/ident :alias     :db/valueType :db.type/string :db/cardinality :db.cardinality/many :db/index true}
 {:db/ident :name      :db/valueType :db.type/string :db/index true}
 {:db/ident :last-name :db/valueType :db.type/string :db/index true}
 {:db/ident :full-name :db/valueType :db.type/string :db/index true}
 {:db/ident :sex       :db/valueType :db.type/string :db/index true}
 {:db/ident :age       :db/valueType :db.type/long :db/index true}
 {:db/ident :salary    :db/valueType :db.type/long :db/index true}]`

// backend says where the databases the read benches query live.
type backend string

const (
	// backendMem builds every database in memory with With.
	backendMem backend = "mem"
	// backendFile commits every database once into a file bucket through
	// the writer and reopens it read-only; reads go through the node cache.
	backendFile backend = "file"
)

// built is a database with the tempids of the transaction that filled it.
type built struct {
	db   *reader.DB
	temp tx.TempIDs
}

// env holds the workload and the databases the benches share. Databases are
// built on first use and kept, as bench.js memoizes db20k and the pull DB.
// It is used by one goroutine.
type env struct {
	ctx     context.Context
	variant string
	backend backend
	schema  string   // schemaTx or schemaIndexAllTx
	people  []entity // variant applied
	aux     map[string][]entity

	memStore *konserve.Store
	empty    *reader.DB // schema only, in memory
	mem      map[string]*built
	file     map[string]*built
	tmpDir   string
	closers  []func() error
}

func newEnv(ctx context.Context, variant string, be backend, people []entity, aux map[string][]entity) (*env, error) {
	return newEnvSchema(ctx, variant, be, schemaTx, people, aux)
}

// newEnvSchema is newEnv with the schema transaction given.
func newEnvSchema(ctx context.Context, variant string, be backend, schema string, people []entity, aux map[string][]entity) (*env, error) {
	st, err := konserve.Open(ctx, "mem://", nil)
	if err != nil {
		return nil, fmt.Errorf("accrete-bench: open mem store: %w", err)
	}
	e := &env{ctx: ctx, variant: variant, backend: be, schema: schema, people: people, aux: aux, memStore: st,
		mem: map[string]*built{}, file: map[string]*built{}}
	e.closers = append(e.closers, st.Close)
	db, err := reader.NewEmpty(ctx, st, true, 0)
	if err != nil {
		e.close()
		return nil, fmt.Errorf("accrete-bench: empty database: %w", err)
	}
	rep, err := db.With(ctx, schema, nil)
	if err != nil {
		e.close()
		return nil, fmt.Errorf("accrete-bench: schema: %w", err)
	}
	e.empty = rep.DBAfter
	return e, nil
}

// close releases the stores and removes the file buckets.
func (e *env) close() error {
	var errs []error
	for i := len(e.closers) - 1; i >= 0; i-- {
		errs = append(errs, e.closers[i]())
	}
	e.closers = nil
	if e.tmpDir != "" {
		errs = append(errs, os.RemoveAll(e.tmpDir))
		e.tmpDir = ""
	}
	return errors.Join(errs...)
}

// dataset returns the entities of a named data set: "people" or a key of
// aux-datasets.json.
func (e *env) dataset(name string) ([]entity, error) {
	if name == "people" {
		return e.people, nil
	}
	es, ok := e.aux[name]
	if !ok {
		return nil, fmt.Errorf("accrete-bench: no data set %q in the aux file", name)
	}
	return es, nil
}

// memDB returns the data set transacted in one With on the empty database
// (d/db-with empty-db data).
func (e *env) memDB(name string) (*built, error) {
	if b, ok := e.mem[name]; ok {
		return b, nil
	}
	es, err := e.dataset(name)
	if err != nil {
		return nil, err
	}
	rep, err := e.empty.With(e.ctx, txData(es), nil)
	if err != nil {
		return nil, fmt.Errorf("accrete-bench: build %s in memory: %w", name, err)
	}
	b := &built{db: rep.DBAfter, temp: rep.TempIDs}
	e.mem[name] = b
	return b, nil
}

// fileDB returns the data set committed by the writer into its own file
// bucket (the schema, then the data in one transaction), reopened
// read-only. TailBytes 1 makes every commit merge its novelty into the index
// trees, so reads go through stored nodes and the cache rather than the
// in-memory tail.
func (e *env) fileDB(name string) (*built, error) {
	if b, ok := e.file[name]; ok {
		return b, nil
	}
	es, err := e.dataset(name)
	if err != nil {
		return nil, err
	}
	if e.tmpDir == "" {
		if e.tmpDir, err = os.MkdirTemp("", "accrete-bench-"); err != nil {
			return nil, fmt.Errorf("accrete-bench: temp dir: %w", err)
		}
	}
	url := "file://" + filepath.ToSlash(filepath.Join(e.tmpDir, name))
	w, err := writer.Create(e.ctx, url, &writer.Options{SchemaOnRead: true, TailBytes: 1})
	if err != nil {
		return nil, fmt.Errorf("accrete-bench: create %s: %w", url, err)
	}
	if _, err := w.Transact(e.ctx, e.schema); err != nil {
		return nil, errors.Join(fmt.Errorf("accrete-bench: %s: schema: %w", name, err), w.Close())
	}
	rep, err := w.Transact(e.ctx, txData(es))
	if err != nil {
		return nil, errors.Join(fmt.Errorf("accrete-bench: %s: data: %w", name, err), w.Close())
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("accrete-bench: %s: close writer: %w", name, err)
	}
	db, err := reader.Open(e.ctx, url, nil)
	if err != nil {
		return nil, fmt.Errorf("accrete-bench: reopen %s: %w", url, err)
	}
	e.closers = append(e.closers, db.Store().Close)
	b := &built{db: db, temp: rep.TempIDs}
	e.file[name] = b
	return b, nil
}

// readDB returns the data set on the selected backend.
func (e *env) readDB(name string) (*built, error) {
	if e.backend == backendFile {
		return e.fileDB(name)
	}
	return e.memDB(name)
}

// attrID resolves an attribute keyword in db; an unknown attribute gives
// the keyword itself, which matches no datom (as in DataScript, where a
// lookup on an attribute no datom has is empty).
func attrID(db *reader.DB, kw edn.Keyword) any {
	if a := db.Schema().AttrByIdent(kw); a != nil {
		return a.ID
	}
	return kw
}

// userDatoms counts the datoms of user entities (not schema, not
// transactions): the datoms DataScript's d.datoms(db, :eavt) returns.
func userDatoms(ctx context.Context, db *reader.DB) (int, error) {
	n := 0
	err := db.Datoms(ctx, datom.EAVT, nil, func(d datom.Datom) bool {
		if datom.Part(d.E) == datom.PartUser {
			n++
		}
		return true
	})
	if err != nil {
		return 0, fmt.Errorf("accrete-bench: count datoms: %w", err)
	}
	return n, nil
}
