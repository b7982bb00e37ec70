package tx

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
)

// memDB is an in-memory Snapshot for tests: the current datoms kept sorted
// in each index order. It applies Results, so a sequence of transactions
// can run against it.
type memDB struct {
	schema   *datom.Schema
	idx      [4][]datom.Datom // EAVT, AEVT, AVET, VAET (every datom; filtered on scan)
	t        int64
	nextUser int64
	nextDB   int64
	opts     *Options
}

var _ Snapshot = (*memDB)(nil)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newMemDB(t testing.TB, schemaOnRead bool) *memDB {
	s, ds := datom.Bootstrap(schemaOnRead)
	db := &memDB{schema: s, nextDB: datom.DBReserved}
	db.insert(ds)
	return db
}

func (db *memDB) Schema() *datom.Schema { return db.schema }

func (db *memDB) Datoms(ctx context.Context, idx datom.Index, comps []any, fn func(datom.Datom) bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if int(idx) >= len(db.idx) {
		return fmt.Errorf("memdb: index %v not supported", idx)
	}
	ds := db.idx[idx]
	// Binary search to the first datom whose leading fields are >= comps.
	i, _ := slices.BinarySearchFunc(ds, comps, func(d datom.Datom, c []any) int { return prefixCompare(idx, d, c) })
	for ; i < len(ds); i++ {
		d := ds[i]
		if prefixCompare(idx, d, comps) != 0 {
			break
		}
		a := db.schema.Attr(d.A)
		if idx == datom.AVET && (a == nil || !a.Indexed()) {
			continue
		}
		if idx == datom.VAET && (a == nil || !a.IsRef()) {
			continue
		}
		if !fn(d) {
			return nil
		}
	}
	return nil
}

// prefixCompare compares the leading fields of d, in index order, with comps.
// Id fields are compared without boxing them (the benchmarks scan through
// it, and should measure tx rather than this stand-in).
func prefixCompare(idx datom.Index, d datom.Datom, comps []any) int {
	order := [4]byte{'e', 'a', 'v', 't'}
	switch idx {
	case datom.AEVT:
		order = [4]byte{'a', 'e', 'v', 't'}
	case datom.AVET:
		order = [4]byte{'a', 'v', 'e', 't'}
	case datom.VAET:
		order = [4]byte{'v', 'a', 'e', 't'}
	}
	for i, c := range comps {
		var r int
		switch order[i] {
		case 'e':
			r = compareID(d.E, c)
		case 'a':
			r = compareID(d.A, c)
		case 't':
			r = compareID(d.Tx, c)
		default:
			r = datom.CompareValues(d.V, c)
		}
		if r != 0 {
			return r
		}
	}
	return 0
}

func compareID(x datom.ID, c any) int {
	if y, ok := c.(int64); ok {
		return cmp.Compare(x, y)
	}
	return datom.CompareValues(x, c)
}

func (db *memDB) insert(ds []datom.Datom) {
	for i := range db.idx {
		db.idx[i] = append(db.idx[i], ds...)
		slices.SortFunc(db.idx[i], datom.Comparator(datom.Index(i)))
	}
}

// apply makes r the current state: it removes r.Retracted and adds the
// assertions of r.Datoms.
func (db *memDB) apply(r *Result) {
	for i := range db.idx {
		db.idx[i] = slices.DeleteFunc(db.idx[i], func(d datom.Datom) bool {
			for _, x := range r.Retracted {
				if x.E == d.E && x.A == d.A && datom.CompareValues(x.V, d.V) == 0 {
					return true
				}
			}
			return false
		})
	}
	var adds []datom.Datom
	for _, d := range r.Datoms {
		if d.Added {
			adds = append(adds, d)
		}
	}
	db.insert(adds)
	db.schema = r.Schema
	db.t = datom.TxT(r.TxID)
	db.nextUser, db.nextDB = r.NextUser, r.NextDB
}

func (db *memDB) input() Input {
	return Input{T: db.t + 1, TxInstant: epoch.Add(time.Duration(db.t+1) * time.Second), NextUser: db.nextUser, NextDB: db.nextDB}
}

// transact applies data and, on success, the result.
func (db *memDB) transact(data []any) (*Result, error) {
	r, err := Apply(context.Background(), db, data, db.input(), db.opts)
	if err != nil {
		return nil, err
	}
	db.apply(r)
	return r, nil
}

// mustTx transacts EDN text (a vector of forms) and fails the test on error.
// A nil t (examples) panics instead.
func (db *memDB) mustTx(t testing.TB, text string) *Result {
	if t != nil {
		t.Helper()
	}
	r, err := db.transact(parseTx(t, text))
	if err != nil {
		failf(t, "transact %s: %v", text, err)
	}
	return r
}

func failf(t testing.TB, format string, args ...any) {
	if t == nil {
		panic(fmt.Sprintf(format, args...))
	}
	t.Helper()
	t.Fatalf(format, args...)
}

func parseTx(t testing.TB, text string) []any {
	if t != nil {
		t.Helper()
	}
	v, err := edn.ReadString(text)
	if err != nil {
		failf(t, "parse %s: %v", text, err)
	}
	vec, ok := v.(edn.Vector)
	if !ok {
		failf(t, "parse %s: got %T, want a vector of forms", text, v)
	}
	return vec
}

// values returns the current values of attribute kw of entity e, sorted.
func (db *memDB) values(t testing.TB, e datom.ID, kw edn.Keyword) []any {
	t.Helper()
	a := db.schema.AttrByIdent(kw)
	if a == nil {
		t.Fatalf("no attribute %s", kw)
	}
	var out []any
	for _, d := range db.idx[datom.EAVT] {
		if d.E == e && d.A == a.ID {
			out = append(out, d.V)
		}
	}
	return out
}

// entid returns the entity with unique value v of kw, or 0.
func (db *memDB) entid(t testing.TB, kw edn.Keyword, v any) datom.ID {
	t.Helper()
	a := db.schema.AttrByIdent(kw)
	if a == nil {
		t.Fatalf("no attribute %s", kw)
	}
	for _, d := range db.idx[datom.EAVT] {
		if d.A == a.ID && datom.CompareValues(d.V, v) == 0 {
			return d.E
		}
	}
	return 0
}

// userDatoms returns the current datoms of user entities, EAVT.
func (db *memDB) userDatoms() []datom.Datom {
	var out []datom.Datom
	for _, d := range db.idx[datom.EAVT] {
		if datom.Part(d.E) == datom.PartUser {
			out = append(out, d)
		}
	}
	return out
}

const testSchema = `[
 {:db/ident :person/name    :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :person/email   :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/value}
 {:db/ident :person/ssn     :db/valueType :db.type/long   :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :person/aliases :db/valueType :db.type/string :db/cardinality :db.cardinality/many}
 {:db/ident :person/friend  :db/valueType :db.type/ref    :db/cardinality :db.cardinality/many}
 {:db/ident :person/spouse  :db/valueType :db.type/ref    :db/cardinality :db.cardinality/one}
 {:db/ident :person/address :db/valueType :db.type/ref    :db/cardinality :db.cardinality/one :db/isComponent true}
 {:db/ident :person/age     :db/valueType :db.type/long   :db/cardinality :db.cardinality/one}
 {:db/ident :person/color   :db/valueType :db.type/ref    :db/cardinality :db.cardinality/one}
 {:db/ident :address/city   :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :address/street :db/valueType :db.type/ref    :db/cardinality :db.cardinality/one :db/isComponent true}
 {:db/ident :street/name    :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :audit/user     :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :reg/course     :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :reg/student    :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :reg/key        :db/valueType :db.type/tuple  :db/cardinality :db.cardinality/one
  :db/tupleAttrs [:reg/course :reg/student] :db/unique :db.unique/identity}
 {:db/ident :color/red}
 {:db/ident :color/blue}
]`

// newTestDB returns a memDB with testSchema installed.
func newTestDB(t testing.TB) *memDB {
	t.Helper()
	db := newMemDB(t, false)
	db.mustTx(t, testSchema)
	return db
}
