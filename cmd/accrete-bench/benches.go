package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/query"
	"github.com/accretedb/accrete/reader"
)

// result is a bench's engine-independent check, shaped as bench.js's
// describe(name): {count, value_sum} for queries, {datoms} for add-all,
// {json_len} for pull-one, {count} for the rules benches. encoding/json
// sorts map keys, which is also bench.js's key order for these.
type result map[string]any

// benchFn is a prepared bench: op is what is timed; describe (nil when
// bench.js has none) turns the last op's return value into the check.
type benchFn struct {
	op       func() (any, error)
	describe func(last any) (result, error)
}

// maker prepares a bench on an env: it builds (or reuses) the databases the
// bench reads, outside the timing.
type maker func(e *env) (benchFn, error)

// queries are bench.js's Q with keyword attributes (the EDN of the
// README); :sex holds the strings "male"/"female" of the JSON, so q3 and
// q4 match the string, as bench.js does.
var queries = map[string]string{
	"q1":              `[:find ?e :where [?e :name "Ivan"]]`,
	"q2":              `[:find ?e ?a :where [?e :name "Ivan"] [?e :age ?a]]`,
	"q2-switch":       `[:find ?e ?a :where [?e :age ?a] [?e :name "Ivan"]]`,
	"q3":              `[:find ?e ?a :where [?e :name "Ivan"] [?e :age ?a] [?e :sex "male"]]`,
	"q4":              `[:find ?e ?l ?a :where [?e :name "Ivan"] [?e :last-name ?l] [?e :age ?a] [?e :sex "male"]]`,
	"q5-shortcircuit": `[:find ?e ?n ?l ?a ?s ?al :in $ ?n ?a :where [?e :name ?n] [?e :age ?a] [?e :last-name ?l] [?e :sex ?s] [?e :alias ?al]]`,
	"qpred1":          `[:find ?e ?s :where [?e :salary ?s] [(> ?s 50000)]]`,
	"qpred2":          `[:find ?e ?s :in $ ?min_s :where [?e :salary ?s] [(> ?s ?min_s)]]`,
	"q5-valuejoin":    `[:find ?e1 ?l ?a :where [?e :name "Ivan"] [?e :age ?a] [?e1 :age ?a] [?e1 :last-name ?l]]`,
}

// queryArgs are the scalar inputs after the database, and queryCols the
// columns bench.js's describe sums (its check(rows, valueCols)).
var (
	queryArgs = map[string][]any{
		"q5-shortcircuit": {"Anastasia", int64(35)},
		"qpred2":          {int64(50000)},
	}
	queryCols = map[string][]int{
		"q1": {}, "q2": {1}, "q2-switch": {1}, "q3": {1}, "q4": {1, 2},
		"q5-shortcircuit": {}, "qpred1": {1}, "qpred2": {1}, "q5-valuejoin": {1, 2},
	}
)

const (
	rulesText  = `[[(follows ?x ?y) [?x :follows ?y]] [(follows ?x ?y) [?x :follows ?t] (follows ?t ?y)]]`
	rulesQuery = `[:find ?e ?e2 :in $ % :where (follows ?e ?e2)]`

	pullOnePattern      = `[:name {:follows ...}]`
	pullManyPattern     = `[:db/id :last-name :alias :sex :age :salary {:follows ...}]`
	pullWildcardPattern = `[* {:follows ...}]`
)

// manyKeys are pull-many-entities' keys, pullManyPattern's attributes.
var manyKeys = []edn.Keyword{"db/id", "last-name", "alias", "sex", "age", "salary"}

// parseEach makes query and pull benches hand the EDN text to the engine
// on every call (as DataScript's JS API reads its query string on every
// d.q), instead of a *query.Query parsed once.
var parseEach bool

// benchList is bench.js's default list, in its order; optional holds the
// benches run only when named.
var (
	benchList = []struct {
		name string
		mk   maker
	}{
		{"add-1", mkAdd1},
		{"add-5", mkAdd5},
		{"add-all", mkAddAll},
		{"init", mkInit},
		{"find-datoms", mkFindDatoms},
		{"retract-5", mkRetract5},
		{"q1", mkQuery("q1")},
		{"q2", mkQuery("q2")},
		{"q2-switch", mkQuery("q2-switch")},
		{"q3", mkQuery("q3")},
		{"q4", mkQuery("q4")},
		{"q5-shortcircuit", mkQuery("q5-shortcircuit")},
		{"qpred1", mkQuery("qpred1")},
		{"qpred2", mkQuery("qpred2")},
		{"pull-one-entities", mkPullEntities[[1]any]([]edn.Keyword{"name"})},
		{"pull-one", mkPull(pullOnePattern, true)},
		{"pull-many-entities", mkPullEntities[[6]any](manyKeys)},
		{"pull-many", mkPull(pullManyPattern, false)},
		{"pull-wildcard", mkPull(pullWildcardPattern, false)},
		{"rules-wide-3x3", mkRules("wide-3x3")},
		{"rules-wide-5x3", mkRules("wide-5x3")},
		{"rules-wide-7x3", mkRules("wide-7x3")},
		{"rules-wide-4x6", mkRules("wide-4x6")},
		{"rules-long-10x3", mkRules("long-10x3")},
		{"rules-long-30x3", mkRules("long-30x3")},
		{"rules-long-30x5", mkRules("long-30x5")},
	}
	optional = map[string]maker{
		"q5-valuejoin": mkQuery("q5-valuejoin"),
	}
)

func findMaker(name string) (maker, bool) {
	for _, b := range benchList {
		if b.name == name {
			return b.mk, true
		}
	}
	mk, ok := optional[name]
	return mk, ok
}

var (
	kwAdd     = edn.Keyword("db/add")
	kwRetract = edn.Keyword("db.fn/retractEntity")
)

// add-1: 5 single-datom transactions per person, each with the person's
// tempid, so each creates a new entity (the original's quirk, kept).
func mkAdd1(e *env) (benchFn, error) {
	attrs := []string{"name", "last-name", "sex", "age", "salary"}
	// The values go into the transaction's vector as they are: held as
	// an any already (as JavaScript holds every value, by reference), they
	// cost no conversion per transaction.
	type person struct {
		id   any
		vals [5]any
	}
	ps := make([]person, len(e.people))
	for i := range e.people {
		p := &e.people[i]
		ps[i].id = p.tempid()
		for k, a := range attrs {
			v, ok := p.get(a)
			if !ok {
				return benchFn{}, fmt.Errorf("accrete-bench: add-1: person %s has no %s", p.tempid(), a)
			}
			ps[i].vals[k] = v
		}
	}
	kws := make([]any, len(attrs))
	for i, a := range attrs {
		kws[i] = edn.Keyword(a)
	}
	var add any = kwAdd
	return benchFn{op: func() (any, error) {
		db := e.empty
		for i := range ps {
			for k := range kws {
				rep, err := db.With(e.ctx, edn.Vector{edn.Vector{add, ps[i].id, kws[k], ps[i].vals[k]}}, nil)
				if err != nil {
					return nil, err
				}
				db = rep.DBAfter
			}
		}
		return db, readAll(e.ctx, db)
	}}, nil
}

// add-5: one transaction per person map.
func mkAdd5(e *env) (benchFn, error) {
	txs := make([]edn.Vector, len(e.people))
	for i := range e.people {
		txs[i] = edn.Vector{e.people[i].txMap()}
	}
	return benchFn{op: func() (any, error) {
		db := e.empty
		for _, t := range txs {
			rep, err := db.With(e.ctx, t, nil)
			if err != nil {
				return nil, err
			}
			db = rep.DBAfter
		}
		return db, readAll(e.ctx, db)
	}}, nil
}

// add-all: all people in one transaction. Its check counts the user
// datoms of the database the timed op built.
func mkAddAll(e *env) (benchFn, error) {
	data := txData(e.people)
	return benchFn{
		op: func() (any, error) {
			rep, err := e.empty.With(e.ctx, data, nil)
			if err != nil {
				return nil, err
			}
			return rep.DBAfter, readAll(e.ctx, rep.DBAfter)
		},
		describe: func(last any) (result, error) {
			n, err := userDatoms(e.ctx, last.(*reader.DB))
			return result{"datoms": n}, err
		},
	}, nil
}

// init: DataScript's init-db, a database built from raw datoms without
// the transaction machinery: reader.DB.Init on the schema database, with the
// same unsorted list of (id, attr, value) (aliases expanded to one datom
// per distinct value; entity n of the file is user entity n). Under
// schema-on-read Init takes attribute ids, so the timed op first installs
// the attributes the schema does not declare, as schema-on-read transactions
// do (cardinality one, untyped; one small transaction, as
// init-db takes the schema with the datoms).
func mkInit(e *env) (benchFn, error) {
	type fact struct {
		e  datom.ID
		kw edn.Keyword
		v  any
	}
	var facts []fact
	for i := range e.people {
		p := &e.people[i]
		n, err := strconv.ParseInt(p.tempid(), 10, 64)
		if err != nil || n < 1 {
			return benchFn{}, fmt.Errorf("accrete-bench: init: person id %q is not a positive integer", p.tempid())
		}
		id := datom.MakeID(datom.PartUser, n)
		for _, a := range p.attrs {
			kw := edn.Keyword(a.name)
			if xs, ok := a.v.([]any); ok {
				seen := map[any]bool{}
				for _, x := range xs {
					if !seen[x] {
						seen[x] = true
						facts = append(facts, fact{id, kw, x})
					}
				}
				continue
			}
			facts = append(facts, fact{id, kw, a.v})
		}
	}
	var install edn.Vector
	seen := map[edn.Keyword]bool{}
	for _, f := range facts {
		if _, ok := e.empty.Schema().Entid(f.kw); !ok && !seen[f.kw] {
			seen[f.kw] = true
			install = append(install, edn.Map{{Key: edn.Keyword("db/ident"), Val: f.kw},
				{Key: edn.Keyword("db/cardinality"), Val: edn.Keyword("db.cardinality/one")}})
		}
	}
	ds := make([]datom.Datom, len(facts))
	return benchFn{op: func() (any, error) {
		db := e.empty
		if len(install) > 0 {
			rep, err := db.With(e.ctx, install, nil)
			if err != nil {
				return nil, err
			}
			db = rep.DBAfter
		}
		schema := db.Schema()
		for i, f := range facts {
			a, ok := schema.Entid(f.kw)
			if !ok {
				return nil, fmt.Errorf("accrete-bench: init: attribute :%s not installed", f.kw)
			}
			ds[i] = datom.Datom{E: f.e, A: a, V: f.v}
		}
		rep, err := db.Init(e.ctx, ds, nil)
		if err != nil {
			return nil, err
		}
		return rep.DBAfter, readAll(e.ctx, rep.DBAfter)
	}}, nil
}

// find-datoms: the first EAVT datom of (e, :full-name) for DataScript's
// eids 9000..10999, i.e. the people at those positions of the array.
func mkFindDatoms(e *env) (benchFn, error) {
	b, err := e.readDB("people")
	if err != nil {
		return benchFn{}, err
	}
	var eids []datom.ID
	for id := 9000; id < 11000 && id <= len(e.people); id++ {
		eid, ok := b.temp.Lookup(e.people[id-1].tempid())
		if !ok {
			return benchFn{}, fmt.Errorf("accrete-bench: find-datoms: tempid %s unresolved", e.people[id-1].tempid())
		}
		eids = append(eids, eid)
	}
	a := attrID(b.db, "full-name")
	comps := make([][]any, len(eids))
	for i, eid := range eids {
		comps[i] = []any{eid, a}
	}
	return benchFn{op: func() (any, error) {
		n := 0
		for _, c := range comps {
			err := b.db.Datoms(e.ctx, datom.EAVT, c, func(d datom.Datom) bool {
				if s, ok := d.V.(string); ok {
					n += len(s)
				}
				return false
			})
			if err != nil {
				return nil, err
			}
		}
		return n, nil
	}}, nil
}

// retract-5: from the 20k database (always in memory), retract every
// person entity, one transaction each, in an order shuffled with seed 5.
func mkRetract5(e *env) (benchFn, error) {
	b, err := e.memDB("people")
	if err != nil {
		return benchFn{}, err
	}
	var eids []datom.ID
	err = b.db.Datoms(e.ctx, datom.AEVT, []any{attrID(b.db, "name")}, func(d datom.Datom) bool {
		eids = append(eids, d.E)
		return true
	})
	if err != nil {
		return benchFn{}, fmt.Errorf("accrete-bench: retract-5: %w", err)
	}
	r := rng(5)
	shuffle(&r, eids)
	txs := make([]edn.Vector, len(eids))
	for i, eid := range eids {
		txs[i] = edn.Vector{edn.Vector{kwRetract, eid}}
	}
	return benchFn{op: func() (any, error) {
		db := b.db
		for _, t := range txs {
			rep, err := db.With(e.ctx, t, nil)
			if err != nil {
				return nil, err
			}
			db = rep.DBAfter
		}
		return db, readAll(e.ctx, db)
	}}, nil
}

// readAll reads each index of db, current and history, once, so that the
// timed op includes whatever the reader left to do on first read (overlay
// updates are applied lazily): DataScript's db_with returns a database whose
// indices are built, and the comparison must be like for like.
func readAll(ctx context.Context, db *reader.DB) error {
	for _, v := range []*reader.DB{db, db.History()} {
		for _, idx := range []datom.Index{datom.EAVT, datom.AEVT, datom.AVET, datom.VAET} {
			if err := v.Datoms(ctx, idx, nil, func(datom.Datom) bool { return false }); err != nil {
				return fmt.Errorf("accrete-bench: read the built database: %w", err)
			}
		}
	}
	return nil
}

// mkQuery runs one of the people queries on the 20k database.
func mkQuery(name string) maker {
	return func(e *env) (benchFn, error) {
		b, err := e.readDB("people")
		if err != nil {
			return benchFn{}, err
		}
		var q any = queries[name]
		if !parseEach {
			if q, err = query.Parse(queries[name]); err != nil {
				return benchFn{}, fmt.Errorf("accrete-bench: %s: %w", name, err)
			}
		}
		inputs := append([]any{b.db}, queryArgs[name]...)
		cols := queryCols[name]
		return benchFn{
			op: func() (any, error) { return query.Q(e.ctx, q, inputs...) },
			describe: func(last any) (result, error) {
				rows, ok := last.(query.Relation)
				if !ok {
					return nil, fmt.Errorf("accrete-bench: %s: result is %T, want a relation", name, last)
				}
				return check(rows, cols), nil
			},
		}, nil
	}
}

// check is bench.js's check(rows, valueCols): the row count and the sum
// over the given columns of numbers, or of the length of anything else
// printed as a string.
func check(rows query.Relation, cols []int) result {
	var sum int64
	var fsum float64
	isFloat := false
	for _, r := range rows {
		for _, c := range cols {
			switch v := r[c].(type) {
			case int64:
				sum += v
			case float64:
				fsum += v
				isFloat = true
			case string:
				sum += int64(len([]rune(v)))
			case edn.Keyword:
				sum += int64(len(string(v)))
			default:
				sum += int64(len(fmt.Sprint(v)))
			}
		}
	}
	if isFloat {
		return result{"count": len(rows), "value_sum": fsum + float64(sum)}
	}
	return result{"count": len(rows), "value_sum": sum}
}

// mkRules runs the recursive follows rule on a tree data set.
func mkRules(set string) maker {
	return func(e *env) (benchFn, error) {
		b, err := e.readDB(set)
		if err != nil {
			return benchFn{}, err
		}
		var q, rules any = rulesQuery, rulesText
		if !parseEach {
			if q, err = query.Parse(rulesQuery); err != nil {
				return benchFn{}, fmt.Errorf("accrete-bench: rules query: %w", err)
			}
			if rules, err = query.ParseRules(rulesText); err != nil {
				return benchFn{}, fmt.Errorf("accrete-bench: rules: %w", err)
			}
		}
		return benchFn{
			op: func() (any, error) { return query.Q(e.ctx, q, b.db, rules) },
			describe: func(last any) (result, error) {
				rows, ok := last.(query.Relation)
				if !ok {
					return nil, fmt.Errorf("accrete-bench: rules-%s: result is %T, want a relation", set, last)
				}
				return result{"count": len(rows)}, nil
			},
		}, nil
	}
}

// pullRoot is entity 1 of the pull database (wide-4x5): the entity of
// tempid "1".
func pullRoot(e *env) (*built, datom.ID, error) {
	b, err := e.readDB("wide-4x5")
	if err != nil {
		return nil, 0, err
	}
	root, ok := b.temp.Lookup("1")
	if !ok {
		return nil, 0, fmt.Errorf("accrete-bench: pull database: tempid \"1\" unresolved")
	}
	return b, root, nil
}

// mkPull pulls a recursive pattern from the root of the pull database;
// withLen adds pull-one's check, the length of the result as JSON (the
// JS API's keys: plain attribute names, ":db/id"). It pulls with
// PullOrdered: each entity's result an edn.Map in pattern order, the Go
// form of the insertion-ordered object DataScript's JS pull returns (Pull's
// Go maps, hash tables, take about twice as long to fill; the query
// package's BenchmarkPullDS measures both).
func mkPull(pattern string, withLen bool) maker {
	return func(e *env) (benchFn, error) {
		b, root, err := pullRoot(e)
		if err != nil {
			return benchFn{}, err
		}
		var op func() (any, error)
		if parseEach {
			op = func() (any, error) { return query.PullOrdered(e.ctx, b.db, pattern, root) }
		} else {
			p, err := query.ParsePull(pattern)
			if err != nil {
				return benchFn{}, fmt.Errorf("accrete-bench: pull %s: %w", pattern, err)
			}
			op = func() (any, error) { return p.PullOrdered(e.ctx, b.db, root) }
		}
		fn := benchFn{op: op}
		if withLen {
			fn.describe = func(last any) (result, error) {
				n, err := jsonLen(last)
				return result{"json_len": n}, err
			}
		}
		return fn, nil
	}
}

// jsonLen is the length of JSON.stringify of a pull result as DataScript's
// JS API returns it.
func jsonLen(v any) (int, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(jsJSON(v)); err != nil {
		return 0, fmt.Errorf("accrete-bench: pull result as JSON: %w", err)
	}
	return len([]rune(strings.TrimSuffix(buf.String(), "\n"))), nil
}

// jsJSON converts a pull result to the JS API's shape: keys without the
// leading colon for unqualified attributes, as the JS API names them.
func jsJSON(v any) any {
	switch x := v.(type) {
	case edn.Map:
		m := make(map[string]any, len(x))
		for _, en := range x {
			k, ok := en.Key.(edn.Keyword)
			if !ok {
				return fmt.Sprintf("a pull result with key %v", en.Key) // pull's keys are keywords
			}
			m[jsKey(k)] = jsJSON(en.Val)
		}
		return m
	case map[edn.Keyword]any:
		m := make(map[string]any, len(x))
		for k, val := range x {
			m[jsKey(k)] = jsJSON(val)
		}
		return m
	case edn.Vector:
		return jsJSONSlice(x)
	case edn.Set:
		return jsJSONSlice(x)
	case []any:
		return jsJSONSlice(x)
	case edn.Keyword:
		return ":" + string(x)
	}
	return v
}

// jsKey is a pull result's key as the JS API names it.
func jsKey(k edn.Keyword) string {
	if k.Namespace() != "" {
		return ":" + string(k)
	}
	return string(k)
}

func jsJSONSlice(xs []any) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = jsJSON(x)
	}
	return out
}

// walkNode is one entity of an entity walk: the values of the walk's keys
// (nil when the entity has none) and the entities it follows. It is the Go
// form of the object literal bench.js's f builds: a JavaScript engine makes
// an object of fixed shape into a fixed layout (a hidden class with
// in-object fields), which is what a Go program walking entities into its
// own data makes them into, a struct. The entities followed are a slice of
// structs, filled in place, as a Go program builds a tree whose fan-out it
// knows before it descends (JavaScript's map over the references makes an
// array of pointers to objects each allocated on its own, which its young
// generation allocates by bumping a pointer; Go's allocator is not
// generational, so a Go program keeps children in their parent's slice).
// Until session 11 the walk built an edn.Map per entity, and before that a
// Go map: a hash table, several times as costly to fill, and not what a JS
// engine makes of an object literal.
type walkNode[V [1]any | [6]any] struct {
	vals    V
	follows []walkNode[V]
}

// mkPullEntities walks the pull database from [:id 1] through the entity
// API, collecting keys (as many as V holds) and recursing into :follows,
// as bench.js's f.
func mkPullEntities[V [1]any | [6]any](keys []edn.Keyword) maker {
	return func(e *env) (benchFn, error) {
		if n := len(walkNode[V]{}.vals); len(keys) != n {
			return benchFn{}, fmt.Errorf("accrete-bench: an entity walk of %d keys into nodes of %d", len(keys), n)
		}
		b, _, err := pullRoot(e)
		if err != nil {
			return benchFn{}, err
		}
		// f fills o with en and, recursively, the entities en follows.
		var f func(en *query.Entity, o *walkNode[V]) error
		f = func(en *query.Entity, o *walkNode[V]) error {
			for i, k := range keys {
				v, err := en.Get(e.ctx, k)
				if err != nil {
					return err
				}
				o.vals[i] = v
			}
			fv, err := en.Get(e.ctx, "follows")
			if err != nil {
				return err
			}
			set, _ := fv.(edn.Set)
			if len(set) == 0 {
				return nil
			}
			o.follows = make([]walkNode[V], len(set))
			for i, c := range set {
				ce, ok := c.(*query.Entity)
				if !ok {
					return fmt.Errorf("accrete-bench: :follows value %T is not an entity", c)
				}
				if err := f(ce, &o.follows[i]); err != nil {
					return err
				}
			}
			return nil
		}
		lookup := edn.Vector{edn.Keyword("id"), int64(1)}
		return benchFn{op: func() (any, error) {
			en, err := query.EntityOf(e.ctx, b.db, lookup)
			if err != nil {
				return nil, err
			}
			if en == nil {
				return nil, fmt.Errorf("accrete-bench: no entity [:id 1]")
			}
			o := new(walkNode[V])
			if err := f(en, o); err != nil {
				return nil, err
			}
			return o, nil
		}}, nil
	}
}
