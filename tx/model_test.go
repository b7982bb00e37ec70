package tx

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
)

var (
	modelSeed = flag.Uint64("tx.seed", 0, "seed of TestModel (0: from the clock)")
	modelTxs  = flag.Int("tx.txs", 400, "transactions per TestModel run")
)

// The model is a plain set of facts about user entities, written
// independently of Apply: it computes the state after a transaction as
// "before, minus retractions, plus assertions", then checks the invariants
// (cardinality, uniqueness, cas) on that result.

type mfact struct {
	e int64
	a edn.Keyword
	v any // string, or int64 (longs and refs)
}

type mattr struct{ many, ref, component, unique bool }

var modelAttrs = map[edn.Keyword]mattr{
	"person/name":    {},
	"person/email":   {unique: true},
	"person/ssn":     {unique: true},
	"person/aliases": {many: true},
	"person/friend":  {many: true, ref: true},
	"person/address": {ref: true, component: true},
	"person/age":     {},
	"address/city":   {},
}

type model struct {
	facts    map[mfact]bool
	nextUser int64
}

// mop is one generated operation.
type mop struct {
	kind    string // new add retract retractAttr retractEntity cas addLookup reverse
	e       int64  // entity (n of PartUser) for all but new
	a       edn.Keyword
	v       any
	old     any // cas; nil means absent
	name    string
	ssn     int64 // new: -1 means none
	email   string
	aliases []string
	city    string
}

func eid(n int64) datom.ID { return datom.MakeID(datom.PartUser, n) }

func (o mop) form(i int) any {
	switch o.kind {
	case "new":
		m := edn.Map{{Key: edn.Keyword("db/id"), Val: fmt.Sprintf("t%d", i)}, {Key: edn.Keyword("person/name"), Val: o.name}}
		if o.ssn >= 0 {
			m = append(m, edn.MapEntry{Key: edn.Keyword("person/ssn"), Val: o.ssn})
		}
		if o.email != "" {
			m = append(m, edn.MapEntry{Key: edn.Keyword("person/email"), Val: o.email})
		}
		if len(o.aliases) > 0 {
			var v edn.Vector
			for _, a := range o.aliases {
				v = append(v, a)
			}
			m = append(m, edn.MapEntry{Key: edn.Keyword("person/aliases"), Val: v})
		}
		if o.city != "" {
			m = append(m, edn.MapEntry{Key: edn.Keyword("person/address"), Val: edn.Map{{Key: edn.Keyword("address/city"), Val: o.city}}})
		}
		return m
	case "add", "retract":
		v := o.v
		if modelAttrs[o.a].ref {
			v = eid(v.(int64))
		}
		return edn.Vector{edn.Keyword("db/" + o.kind), eid(o.e), o.a, v}
	case "retractAttr":
		return edn.Vector{edn.Keyword("db/retract"), eid(o.e), o.a}
	case "addLookup": // e is an ssn here
		return edn.Vector{edn.Keyword("db/add"), edn.Vector{edn.Keyword("person/ssn"), o.e}, o.a, o.v}
	case "reverse": // {:db/id e :person/_friend v}
		return edn.Map{{Key: edn.Keyword("db/id"), Val: eid(o.e)}, {Key: edn.Keyword("person/_friend"), Val: eid(o.v.(int64))}}
	case "retractEntity":
		return edn.Vector{edn.Keyword("db/retractEntity"), eid(o.e)}
	case "cas":
		return edn.Vector{edn.Keyword("db/cas"), eid(o.e), edn.Keyword("person/age"), o.old, o.v}
	}
	panic("unknown op " + o.kind)
}

func genOp(rng *rand.Rand, m *model) mop {
	pick := func(prefix string, n int) string { return fmt.Sprintf("%s%d", prefix, rng.IntN(n)) }
	if m.nextUser == 0 || rng.IntN(5) == 0 {
		o := mop{kind: "new", name: pick("n", 4), ssn: -1}
		if rng.IntN(2) == 0 {
			o.ssn = int64(rng.IntN(8))
		}
		if rng.IntN(3) == 0 {
			o.email = pick("e", 6)
		}
		for range rng.IntN(3) {
			o.aliases = append(o.aliases, pick("a", 4))
		}
		if rng.IntN(3) == 0 {
			o.city = pick("c", 3)
		}
		return o
	}
	e := rng.Int64N(m.nextUser)
	switch rng.IntN(14) {
	case 12:
		return mop{kind: "addLookup", e: int64(rng.IntN(8)), a: "person/aliases", v: pick("a", 4)}
	case 13:
		return mop{kind: "reverse", e: e, v: rng.Int64N(m.nextUser)}
	case 0, 1:
		return mop{kind: "add", e: e, a: "person/name", v: pick("n", 4)}
	case 2, 3:
		return mop{kind: "add", e: e, a: "person/aliases", v: pick("a", 4)}
	case 4:
		return mop{kind: "add", e: e, a: "person/email", v: pick("e", 6)}
	case 5:
		return mop{kind: "add", e: e, a: "person/ssn", v: int64(rng.IntN(8))}
	case 6:
		return mop{kind: "add", e: e, a: "person/friend", v: rng.Int64N(m.nextUser)}
	case 7:
		return mop{kind: "retract", e: e, a: "person/aliases", v: pick("a", 4)}
	case 8:
		return mop{kind: "retractAttr", e: e, a: []edn.Keyword{"person/aliases", "person/name", "person/friend"}[rng.IntN(3)]}
	case 9:
		return mop{kind: "retractEntity", e: e}
	default:
		o := mop{kind: "cas", e: e, v: int64(rng.IntN(4))}
		if rng.IntN(3) > 0 {
			o.old = int64(rng.IntN(4))
		}
		return o
	}
}

// eval returns the state after ops, the entity of each new op, the
// counter, and the errors the transaction may fail with (none: it succeeds).
func (m *model) eval(ops []mop) (after map[mfact]bool, newIDs map[int]int64, next int64, errs []error) {
	next = m.nextUser
	newIDs = map[int]int64{}
	asserted := map[mfact]bool{}
	explicit := map[mfact]bool{}
	implied := map[mfact]bool{}
	holder := func(a edn.Keyword, v any) (int64, bool) {
		for f := range m.facts {
			if f.a == a && f.v == v {
				return f.e, true
			}
		}
		return 0, false
	}
	txSSN := map[int64]int64{}
	for _, o := range ops {
		if o.kind == "add" && o.a == "person/ssn" {
			if _, ok := txSSN[o.v.(int64)]; !ok {
				txSSN[o.v.(int64)] = o.e
			}
		}
	}
	var retractEntity func(e int64, seen map[int64]bool)
	retractEntity = func(e int64, seen map[int64]bool) {
		if seen[e] {
			return
		}
		seen[e] = true
		for f := range m.facts {
			if f.e == e {
				implied[f] = true
				if modelAttrs[f.a].component {
					retractEntity(f.v.(int64), seen)
				}
			}
			if modelAttrs[f.a].ref && f.v == e {
				implied[f] = true
			}
		}
	}
	for i, o := range ops {
		switch o.kind {
		case "new":
			id, ok := int64(0), false
			if o.ssn >= 0 {
				if id, ok = holder("person/ssn", o.ssn); !ok {
					id, ok = txSSN[o.ssn]
				}
			}
			if !ok {
				id = next
				next++
			}
			if o.ssn >= 0 {
				txSSN[o.ssn] = id
				asserted[mfact{id, "person/ssn", o.ssn}] = true
			}
			newIDs[i] = id
			asserted[mfact{id, "person/name", o.name}] = true
			if o.email != "" {
				asserted[mfact{id, "person/email", o.email}] = true
			}
			for _, a := range o.aliases {
				asserted[mfact{id, "person/aliases", a}] = true
			}
			if o.city != "" {
				c := next
				next++
				asserted[mfact{c, "address/city", o.city}] = true
				asserted[mfact{id, "person/address", c}] = true
			}
		case "add":
			asserted[mfact{o.e, o.a, o.v}] = true
		case "addLookup":
			if e, ok := holder("person/ssn", o.e); ok {
				asserted[mfact{e, o.a, o.v}] = true
			} else {
				errs = append(errs, ErrLookupRef)
			}
		case "reverse":
			asserted[mfact{o.v.(int64), "person/friend", o.e}] = true
		case "retract":
			explicit[mfact{o.e, o.a, o.v}] = true
		case "retractAttr":
			for f := range m.facts {
				if f.e == o.e && f.a == o.a {
					implied[f] = true
				}
			}
		case "retractEntity":
			retractEntity(o.e, map[int64]bool{})
		case "cas":
			cur, has := any(nil), false
			for f := range m.facts {
				if f.e == o.e && f.a == "person/age" {
					cur, has = f.v, true
				}
			}
			if (o.old == nil && has) || (o.old != nil && (!has || cur != o.old)) {
				errs = append(errs, ErrCAS)
			}
			asserted[mfact{o.e, "person/age", o.v}] = true
		}
	}
	type ea struct {
		e int64
		a edn.Keyword
	}
	one := map[ea]any{}
	for f := range asserted {
		if explicit[f] {
			errs = append(errs, ErrConflict)
		}
		if modelAttrs[f.a].many {
			continue
		}
		if v, ok := one[ea{f.e, f.a}]; ok && v != f.v {
			errs = append(errs, ErrCardinalityConflict)
		}
		one[ea{f.e, f.a}] = f.v
	}
	after = map[mfact]bool{}
	for f := range m.facts {
		if explicit[f] || (implied[f] && !asserted[f]) {
			continue
		}
		if v, ok := one[ea{f.e, f.a}]; ok && !modelAttrs[f.a].many && v != f.v {
			continue
		}
		after[f] = true
	}
	for f := range asserted {
		after[f] = true
	}
	owner := map[mfact]int64{}
	for f := range after {
		if !modelAttrs[f.a].unique {
			continue
		}
		k := mfact{0, f.a, f.v}
		if o, ok := owner[k]; ok && o != f.e {
			errs = append(errs, ErrUniqueConflict)
		}
		owner[k] = f.e
	}
	return after, newIDs, next, errs
}

// modelReadSchema declares, for a schema-on-read database, only what the
// model needs beyond typing by value; :person/name, :person/age and
// :address/city are installed on first use (T7).
const modelReadSchema = `[
 {:db/ident :person/email   :db/unique :db.unique/value}
 {:db/ident :person/ssn     :db/unique :db.unique/identity}
 {:db/ident :person/aliases :db/cardinality :db.cardinality/many}
 {:db/ident :person/friend  :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}
 {:db/ident :person/address :db/valueType :db.type/ref :db/isComponent true}
]`

func TestModel(t *testing.T) {
	seed := *modelSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Run("schema-on-write", func(t *testing.T) { runModel(t, seed, newTestDB(t)) })
	t.Run("schema-on-read", func(t *testing.T) {
		db := newMemDB(t, true)
		db.mustTx(t, modelReadSchema)
		runModel(t, seed, db)
		for _, kw := range []edn.Keyword{"person/name", "person/age"} {
			if a := db.schema.AttrByIdent(kw); a == nil || a.ValueType != datom.TypeInvalid {
				t.Errorf("%s = %+v, want an attribute installed on first use, typed by its values", kw, a)
			}
		}
	})
}

func runModel(t *testing.T, seed uint64, db *memDB) {
	t.Logf("seed %d (rerun with -tx.seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	m := &model{facts: map[mfact]bool{}}
	var failed, ok int
	for i := range *modelTxs {
		var ops []mop
		for range 1 + rng.IntN(3) {
			ops = append(ops, genOp(rng, m))
		}
		var data []any
		for j, o := range ops {
			data = append(data, o.form(j))
		}
		after, newIDs, next, wantErrs := m.eval(ops)
		beforeDB := db.userDatoms()
		r, err := db.transact(data)
		if len(wantErrs) > 0 {
			failed++
			if err == nil {
				t.Fatalf("seed %d tx %d %s: succeeded, want one of %v", seed, i, formText(edn.Vector(data)), wantErrs)
			}
			if !slices.ContainsFunc(wantErrs, func(w error) bool { return errors.Is(err, w) }) {
				t.Fatalf("seed %d tx %d %s: got %v, want one of %v", seed, i, formText(edn.Vector(data)), err, wantErrs)
			}
			continue
		}
		ok++
		if err != nil {
			t.Fatalf("seed %d tx %d %s: %v", seed, i, formText(edn.Vector(data)), err)
		}
		checkResult(t, beforeDB, r)
		for j, id := range newIDs {
			if got := r.TempIDs.ID(fmt.Sprintf("t%d", j)); got != eid(id) {
				t.Fatalf("seed %d tx %d: tempid t%d = %d, want %d", seed, i, j, got, eid(id))
			}
		}
		if r.NextUser != next {
			t.Fatalf("seed %d tx %d: NextUser = %d, want %d", seed, i, r.NextUser, next)
		}
		m.facts, m.nextUser = after, next
		if got, want := dumpDB(db), dumpModel(m); got != want {
			t.Fatalf("seed %d tx %d %s:\ndb:\n%s\nmodel:\n%s", seed, i, formText(edn.Vector(data)), got, want)
		}
	}
	t.Logf("%d transactions applied, %d rejected, %d facts at the end", ok, failed, len(m.facts))
	if ok == 0 || failed == 0 {
		t.Errorf("generator produced %d good and %d bad transactions; want both", ok, failed)
	}
}

// checkResult checks a Result against the state before it: retractions
// remove existing datoms, assertions are new (elision), Datoms are sorted.
func checkResult(t *testing.T, before []datom.Datom, r *Result) {
	t.Helper()
	has := func(d datom.Datom) (datom.Datom, bool) {
		for _, x := range before {
			if x.E == d.E && x.A == d.A && datom.CompareValues(x.V, d.V) == 0 {
				return x, true
			}
		}
		return datom.Datom{}, false
	}
	if !slices.IsSortedFunc(r.Datoms, compareDatoms) {
		t.Fatalf("datoms not sorted: %v", r.Datoms)
	}
	nret := 0
	for _, d := range r.Datoms {
		if d.Tx != r.TxID {
			t.Fatalf("datom %v: Tx want %d", d, r.TxID)
		}
		if datom.Part(d.E) != datom.PartUser {
			continue
		}
		old, ok := has(d)
		switch {
		case d.Added && ok:
			t.Fatalf("redundant assertion %v not elided", d)
		case !d.Added && !ok:
			t.Fatalf("retraction %v of a fact that is not true", d)
		case !d.Added:
			nret++
			if !slices.ContainsFunc(r.Retracted, func(x datom.Datom) bool { return x == old }) {
				t.Fatalf("retraction %v: original %v missing from Retracted %v", d, old, r.Retracted)
			}
		}
	}
	if nret != len(r.Retracted) {
		t.Fatalf("%d retractions but %d Retracted datoms", nret, len(r.Retracted))
	}
}

func dumpDB(db *memDB) string {
	var lines []string
	for _, d := range db.userDatoms() {
		kw, _ := db.schema.Ident(d.A)
		v := d.V
		if modelAttrs[kw].ref {
			v = d.V.(int64) - eid(0)
		}
		lines = append(lines, fmt.Sprintf("%d %s %v", d.E-eid(0), kw, v))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func dumpModel(m *model) string {
	var lines []string
	for f := range m.facts {
		lines = append(lines, fmt.Sprintf("%d %s %v", f.e, f.a, f.v))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
