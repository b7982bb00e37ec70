package tx

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
)

func TestSchemaInstalls(t *testing.T) {
	db := newTestDB(t)
	for _, kw := range []edn.Keyword{"person/name", "person/friend", "reg/key"} {
		a := db.schema.AttrByIdent(kw)
		if a == nil {
			t.Fatalf("attribute %s not installed", kw)
		}
		if datom.Part(a.ID) != datom.PartDB || datom.MakeID(datom.PartDB, datom.DBReserved) > a.ID {
			t.Errorf("attribute %s id %d, want PartDB at or past DBReserved", kw, a.ID)
		}
	}
	if got := db.schema.AttrByIdent("reg/key").TupleAttrs; len(got) != 2 {
		t.Errorf(":reg/key tupleAttrs = %v, want 2 attributes", got)
	}
	if _, ok := db.schema.Entid("color/red"); !ok {
		t.Errorf(":color/red is not an ident")
	}
}

func TestAddListAndMap(t *testing.T) {
	db := newTestDB(t)
	r := db.mustTx(t, `[[:db/add "ann" :person/name "Ann"]
	                    [:db/add "ann" :person/age 30]
	                    {:db/id "bob" :person/name "Bob" :person/friend "ann"}
	                    {:person/name "Cy"}
	                    [:db/add -7 :person/name "Dee"]]`)
	ann, bob, dee := r.TempIDs.ID("ann"), r.TempIDs.ID("bob"), r.TempIDs.ID(int64(-7))
	for name, id := range map[string]datom.ID{"ann": ann, "bob": bob, "-7": dee} {
		if datom.Part(id) != datom.PartUser {
			t.Errorf("tempid %s = %d, want a PartUser id", name, id)
		}
	}
	if ann == bob || bob == dee || ann == dee {
		t.Fatalf("tempids share ids: %v", r.TempIDs)
	}
	if got := r.TempIDs.ID(TxTempID); got != r.TxID {
		t.Errorf("TempIDs.ID(datomic.tx) = %d, want %d", got, r.TxID)
	}
	checkVals(t, db, ann, "person/name", "Ann")
	checkVals(t, db, ann, "person/age", int64(30))
	checkVals(t, db, bob, "person/friend", ann)
	if cy := db.entid(t, "person/name", "Cy"); cy == 0 {
		t.Errorf("map without :db/id made no entity")
	}
	// First appearance order: ann, bob, the anonymous map, -7.
	if !(ann < bob && bob < dee) {
		t.Errorf("allocation order ann=%d bob=%d dee=%d, want increasing", ann, bob, dee)
	}
	if r.NextUser != db.nextUser || r.NextUser != 4 {
		t.Errorf("NextUser = %d, want 4", r.NextUser)
	}
	// 6 user datoms + txInstant.
	if len(r.Datoms) != 7 {
		t.Errorf("got %d datoms, want 7: %v", len(r.Datoms), r.Datoms)
	}
	inst := db.values(t, r.TxID, "db/txInstant")
	if len(inst) != 1 || !inst[0].(time.Time).Equal(epoch.Add(2*time.Second)) {
		t.Errorf("txInstant = %v, want %v", inst, epoch.Add(2*time.Second))
	}
	for _, d := range r.Datoms {
		if d.Tx != r.TxID || !d.Added {
			t.Errorf("datom %v: want Tx %d and Added", d, r.TxID)
		}
	}
	if !slices.IsSortedFunc(r.Datoms, compareDatoms) {
		t.Errorf("datoms not sorted: %v", r.Datoms)
	}
}

func checkVals(t *testing.T, db *memDB, e datom.ID, kw edn.Keyword, want ...any) {
	t.Helper()
	got := db.values(t, e, kw)
	if len(got) != len(want) {
		t.Errorf("%d %s = %v, want %v", e, kw, got, want)
		return
	}
	for i := range got {
		if datom.CompareValues(got[i], want[i]) != 0 {
			t.Errorf("%d %s = %v, want %v", e, kw, got, want)
			return
		}
	}
}

func TestCardinalityOneReplacesAndElides(t *testing.T) {
	db := newTestDB(t)
	r1 := db.mustTx(t, `[{:db/id "a" :person/name "Ann" :person/aliases ["x" "y"]}]`)
	a := r1.TempIDs.ID("a")
	r := db.mustTx(t, fmt.Sprintf(`[[:db/add %d :person/name "Anne"] [:db/add %d :person/aliases "x"]]`, a, a))
	want := []datom.Datom{
		{E: a, A: attrID(t, db, "person/name"), V: "Ann", Tx: r.TxID, Added: false},
		{E: a, A: attrID(t, db, "person/name"), V: "Anne", Tx: r.TxID, Added: true},
	}
	if got := userOnly(r.Datoms); !sameDatoms(got, want) {
		t.Errorf("datoms = %v, want %v (alias x elided)", got, want)
	}
	if len(r.Retracted) != 1 || r.Retracted[0].Tx != r1.TxID || r.Retracted[0].V != "Ann" || !r.Retracted[0].Added {
		t.Errorf("Retracted = %v, want the original [%d name Ann tx %d]", r.Retracted, a, r1.TxID)
	}
	checkVals(t, db, a, "person/name", "Anne")
	checkVals(t, db, a, "person/aliases", "x", "y")
}

func attrID(t *testing.T, db *memDB, kw edn.Keyword) datom.ID {
	t.Helper()
	a := db.schema.AttrByIdent(kw)
	if a == nil {
		t.Fatalf("no attribute %s", kw)
	}
	return a.ID
}

func userOnly(ds []datom.Datom) []datom.Datom {
	var out []datom.Datom
	for _, d := range ds {
		if datom.Part(d.E) == datom.PartUser {
			out = append(out, d)
		}
	}
	return out
}

func sameDatoms(a, b []datom.Datom) bool {
	return slices.EqualFunc(a, b, func(x, y datom.Datom) bool {
		return x.E == y.E && x.A == y.A && datom.CompareValues(x.V, y.V) == 0 && x.Tx == y.Tx && x.Added == y.Added
	})
}

func TestRetract(t *testing.T) {
	db := newTestDB(t)
	a := db.mustTx(t, `[{:db/id "a" :person/name "Ann" :person/aliases ["x" "y" "z"] :person/age 3}]`).TempIDs.ID("a")
	r := db.mustTx(t, fmt.Sprintf(`[[:db/retract %d :person/aliases "x"] [:db/retract %d :person/aliases "nope"] [:db/retract %d :person/age 4]]`, a, a, a))
	if got := userOnly(r.Datoms); len(got) != 1 || got[0].V != "x" || got[0].Added {
		t.Errorf("datoms = %v, want only the retraction of alias x", got)
	}
	checkVals(t, db, a, "person/aliases", "y", "z")
	checkVals(t, db, a, "person/age", int64(3))
	db.mustTx(t, fmt.Sprintf(`[[:db/retract %d :person/aliases]]`, a))
	checkVals(t, db, a, "person/aliases")
	checkVals(t, db, a, "person/name", "Ann")
}

func TestCardinalityManyCollections(t *testing.T) {
	db := newTestDB(t)
	r := db.mustTx(t, `[{:db/id "a" :person/name "A" :person/aliases #{"p" "q"}}
	                    {:db/id "b" :person/name "B" :person/aliases ("r") :person/friend ["a" "c"]}
	                    {:db/id "c" :person/name "C" :person/aliases "s"}]`)
	a, b, c := r.TempIDs.ID("a"), r.TempIDs.ID("b"), r.TempIDs.ID("c")
	checkVals(t, db, a, "person/aliases", "p", "q")
	checkVals(t, db, b, "person/aliases", "r")
	checkVals(t, db, b, "person/friend", a, c)
	checkVals(t, db, c, "person/aliases", "s")
}

func TestReverseRef(t *testing.T) {
	db := newTestDB(t)
	r := db.mustTx(t, `[{:db/id "a" :person/name "A"}
	                    {:db/id "b" :person/name "B" :person/_friend ["a" {:person/email "c@x" :person/name "C"}]}
	                    [:db/add "d" :person/_spouse "a"]
	                    [:db/add "d" :person/name "D"]]`)
	a, b, d := r.TempIDs.ID("a"), r.TempIDs.ID("b"), r.TempIDs.ID("d")
	c := db.entid(t, "person/email", "c@x")
	checkVals(t, db, a, "person/friend", b)
	checkVals(t, db, c, "person/friend", b)
	checkVals(t, db, a, "person/spouse", d)
}

func TestNestedMaps(t *testing.T) {
	db := newTestDB(t)
	r := db.mustTx(t, `[{:db/id "a" :person/name "A"
	                     :person/address {:address/city "Oslo" :address/street {:street/name "Main"}}
	                     :person/friend [{:person/ssn 7 :person/name "F"} {:db/id "g" :person/name "G"}]}]`)
	a := r.TempIDs.ID("a")
	addr := db.values(t, a, "person/address")
	if len(addr) != 1 {
		t.Fatalf("address = %v, want one", addr)
	}
	checkVals(t, db, addr[0].(datom.ID), "address/city", "Oslo")
	st := db.values(t, addr[0].(datom.ID), "address/street")
	if len(st) != 1 {
		t.Fatalf("street = %v, want one", st)
	}
	checkVals(t, db, st[0].(datom.ID), "street/name", "Main")
	f := db.entid(t, "person/ssn", int64(7))
	checkVals(t, db, a, "person/friend", f, r.TempIDs.ID("g"))

	_, err := db.transact(parseTx(t, `[{:person/name "X" :person/friend {:person/name "Y"}}]`))
	wantErr(t, err, ErrInvalidForm, 0)
}

func TestIdentsAndLookupRefs(t *testing.T) {
	db := newTestDB(t)
	r := db.mustTx(t, `[{:db/id "a" :person/name "A" :person/email "a@x" :person/color :color/red}
	                    {:db/id "b" :person/name "B" :person/ssn 2}]`)
	a, b := r.TempIDs.ID("a"), r.TempIDs.ID("b")
	red, _ := db.schema.Entid("color/red")
	checkVals(t, db, a, "person/color", red)
	db.mustTx(t, `[[:db/add [:person/email "a@x"] :person/friend [:person/ssn 2]]
	               {:db/id [:person/ssn 2] :person/friend [[:person/email "a@x"]] :person/color :color/blue}]`)
	checkVals(t, db, a, "person/friend", b)
	checkVals(t, db, b, "person/friend", a)
	blue, _ := db.schema.Entid("color/blue")
	checkVals(t, db, b, "person/color", blue)

	// :db/ident is itself unique: attributes are reachable by lookup ref.
	db.mustTx(t, `[{:db/id [:db/ident :person/name] :db/doc "a name"}]`)
	if got := db.schema.AttrByIdent("person/name").Doc; got != "a name" {
		t.Errorf("doc via lookup ref = %q, want %q", got, "a name")
	}
}

func TestUpsert(t *testing.T) {
	db := newTestDB(t)
	p := db.mustTx(t, `[{:db/id "p" :person/ssn 1 :person/name "P"}]`).TempIDs.ID("p")
	r := db.mustTx(t, `[{:db/id "x" :person/ssn 1 :person/name "P2" :person/age 9}
	                    [:db/add "y" :person/ssn 1]
	                    [:db/add "y" :person/aliases "why"]]`)
	if r.TempIDs.ID("x") != p || r.TempIDs.ID("y") != p {
		t.Fatalf("upsert: x=%d y=%d, want both %d", r.TempIDs.ID("x"), r.TempIDs.ID("y"), p)
	}
	if r.NextUser != 1 {
		t.Errorf("NextUser = %d, want 1 (no new entity)", r.NextUser)
	}
	checkVals(t, db, p, "person/name", "P2")
	checkVals(t, db, p, "person/aliases", "why")

	// Two tempids with one new identity value become one new entity.
	r = db.mustTx(t, `[{:db/id "m" :person/ssn 5 :person/name "M"} {:db/id "n" :person/ssn 5 :person/age 1}]`)
	if r.TempIDs.ID("m") != r.TempIDs.ID("n") || datom.Part(r.TempIDs.ID("m")) != datom.PartUser {
		t.Errorf("merge: m=%d n=%d, want one new entity", r.TempIDs.ID("m"), r.TempIDs.ID("n"))
	}
	// A ref value that upserts resolves through the loop.
	db.mustTx(t, `[{:db/id "q" :person/ssn 5 :person/friend "r"} {:db/id "r" :person/ssn 1}]`)
	checkVals(t, db, r.TempIDs.ID("m"), "person/friend", p)

	// One tempid, two identities of different entities.
	db.mustTx(t, `[{:db/ident :person/code :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}]`)
	db.mustTx(t, `[{:db/id "c" :person/code "C" :person/name "c"}]`)
	_, err := db.transact(parseTx(t, `[{:db/id "z" :person/ssn 1 :person/code "C"}]`))
	wantErr(t, err, ErrUniqueConflict, 0)
}

func TestRetractEntity(t *testing.T) {
	db := newTestDB(t)
	r := db.mustTx(t, `[{:db/id "a" :person/name "A" :person/address {:address/city "X" :address/street {:street/name "S"}}}
	                    {:db/id "b" :person/name "B" :person/friend "a" :person/spouse "a"}
	                    {:db/id "c" :person/name "C"}]`)
	a, b, c := r.TempIDs.ID("a"), r.TempIDs.ID("b"), r.TempIDs.ID("c")
	r = db.mustTx(t, fmt.Sprintf(`[[:db/retractEntity %d]]`, a))
	for _, d := range db.userDatoms() {
		if d.E != b && d.E != c {
			t.Errorf("datom %v survived retractEntity (component cascade)", d)
		}
		if v, ok := d.V.(datom.ID); ok && v == a {
			t.Errorf("ref %v to the retracted entity survived", d)
		}
	}
	checkVals(t, db, b, "person/name", "B")
	if len(r.Retracted) != 7 {
		t.Errorf("retracted %d datoms, want 7 (a:2, address:2, street:1, refs:2): %v", len(r.Retracted), r.Retracted)
	}
	db.mustTx(t, fmt.Sprintf(`[[:db.fn/retractEntity %d]]`, c))
	checkVals(t, db, c, "person/name")
}

func TestCAS(t *testing.T) {
	db := newTestDB(t)
	a := db.mustTx(t, `[{:db/id "a" :person/name "A"}]`).TempIDs.ID("a")
	db.mustTx(t, fmt.Sprintf(`[[:db/cas %d :person/age nil 1]]`, a))
	checkVals(t, db, a, "person/age", int64(1))
	db.mustTx(t, fmt.Sprintf(`[[:db.fn/cas %d :person/age 1 2]]`, a))
	checkVals(t, db, a, "person/age", int64(2))
	for _, text := range []string{
		`[[:db/cas %d :person/age 1 3]]`,
		`[[:db/cas %d :person/age nil 3]]`,
		`[[:db/cas %d :person/spouse 99999 3]]`,
	} {
		_, err := db.transact(parseTx(t, fmt.Sprintf(text, a)))
		if text == `[[:db/cas %d :person/spouse 99999 3]]` {
			wantErr(t, err, ErrInvalidEntity, 0)
			continue
		}
		wantErr(t, err, ErrCAS, 0)
	}
	checkVals(t, db, a, "person/age", int64(2))
}

func TestTxFunctions(t *testing.T) {
	db := newTestDB(t)
	a := db.mustTx(t, `[{:db/id "a" :person/name "A" :person/age 1}]`).TempIDs.ID("a")
	boom := errors.New("boom")
	db.opts = &Options{Funcs: map[edn.Keyword]Func{
		"my/inc": func(ctx context.Context, s Snapshot, args ...any) ([]any, error) {
			var cur int64
			if err := s.Datoms(ctx, datom.EAVT, []any{args[0], s.Schema().AttrByIdent(args[1].(edn.Keyword)).ID}, func(d datom.Datom) bool {
				cur = d.V.(int64)
				return false
			}); err != nil {
				return nil, err
			}
			return []any{edn.Vector{edn.Keyword("db/cas"), args[0], args[1], cur, cur + 1}}, nil
		},
		"my/twice": func(ctx context.Context, s Snapshot, args ...any) ([]any, error) {
			return []any{edn.Vector{edn.Keyword("my/inc"), args[0], args[1]}}, nil
		},
		"my/fail": func(ctx context.Context, s Snapshot, args ...any) ([]any, error) { return nil, boom },
		"my/panic": func(ctx context.Context, s Snapshot, args ...any) ([]any, error) {
			var m map[string]int
			m["x"] = 1
			return nil, nil
		},
		"my/forms": func(ctx context.Context, s Snapshot, args ...any) ([]any, error) {
			return []any{edn.Map{{Key: edn.Keyword("person/name"), Val: args[0]}}, edn.Vector{edn.Keyword("db/add"), "n", edn.Keyword("person/age"), args[1]}, edn.Vector{edn.Keyword("db/add"), "n", edn.Keyword("person/name"), "N"}}, nil
		},
		"my/loop": func(ctx context.Context, s Snapshot, args ...any) ([]any, error) {
			return []any{edn.Vector{edn.Keyword("my/loop")}}, nil
		},
	}}
	db.mustTx(t, fmt.Sprintf(`[[:my/inc %d :person/age]]`, a))
	db.mustTx(t, fmt.Sprintf(`[[:my/twice %d :person/age]]`, a))
	checkVals(t, db, a, "person/age", int64(3))
	_, err := db.transact(parseTx(t, `[[:my/fail]]`))
	wantErr(t, err, ErrTxFunc, 0)
	if !errors.Is(err, boom) {
		t.Errorf("error %v does not wrap the function's own error", err)
	}
	_, err = db.transact(parseTx(t, `[[:my/panic]]`))
	wantErr(t, err, ErrTxFunc, 0)
	r := db.mustTx(t, `[[:my/forms "M" 5]]`)
	checkVals(t, db, r.TempIDs.ID("n"), "person/age", int64(5))
	if db.entid(t, "person/name", "M") == 0 {
		t.Errorf("map returned by a function was not transacted")
	}
	_, err = db.transact(parseTx(t, `[{:person/name "ok"} [:my/loop]]`))
	wantErr(t, err, ErrTxFunc, 1)
	_, err = db.transact(parseTx(t, `[[:my/unknown 1]]`))
	wantErr(t, err, ErrInvalidForm, 0)
}

func TestTxMetadata(t *testing.T) {
	db := newTestDB(t)
	r := db.mustTx(t, `[{:db/id "datomic.tx" :audit/user "ann"} {:person/name "A"}]`)
	checkVals(t, db, r.TxID, "audit/user", "ann")
	at := time.Date(2020, 5, 6, 7, 8, 9, 123456789, time.UTC)
	r = db.mustTx(t, `[[:db/add "datomic.tx" :db/txInstant #inst "2020-05-06T07:08:09.123Z"]]`)
	checkVals(t, db, r.TxID, "db/txInstant", at.Truncate(time.Millisecond))
	if n := len(r.Datoms); n != 1 {
		t.Errorf("got %d datoms, want only the explicit txInstant: %v", n, r.Datoms)
	}
}

func TestSchemaTransactions(t *testing.T) {
	db := newTestDB(t)
	before := db.schema
	r := db.mustTx(t, `[{:person/name "A"}]`)
	if r.Schema != before {
		t.Errorf("data-only transaction changed the schema pointer")
	}
	r = db.mustTx(t, `[{:db/ident :pet/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]`)
	if r.Schema == before || r.Schema.AttrByIdent("pet/name") == nil {
		t.Fatalf("schema after = %p, want a new schema with :pet/name", r.Schema)
	}
	if id := r.Schema.AttrByIdent("pet/name").ID; datom.Part(id) != datom.PartDB {
		t.Errorf(":pet/name id %d, want PartDB", id)
	}
	db.mustTx(t, `[{:pet/name "Rex"}]`)
	// Using an attribute in the transaction that installs it fails.
	_, err := db.transact(parseTx(t, `[{:db/ident :pet/age :db/valueType :db.type/long :db/cardinality :db.cardinality/one} {:pet/age 1}]`))
	wantErr(t, err, ErrUnknownAttribute, 1)
	// An invalid schema change is rejected by datom.Schema.Apply.
	_, err = db.transact(parseTx(t, `[{:db/ident :pet/bad :db/valueType :db.type/string}]`))
	wantErr(t, err, ErrSchema, -1)
	if !errors.Is(err, datom.ErrSchema) {
		t.Errorf("error %v does not wrap datom.ErrSchema", err)
	}
}

func TestSchemaIdempotentAndConstraints(t *testing.T) {
	db := newTestDB(t)
	before := db.schema
	r := db.mustTx(t, testSchema)
	if len(r.Datoms) != 1 || r.Schema != before {
		t.Errorf("re-transacting the schema gave %d datoms (want only txInstant) and schema changed: %v", len(r.Datoms), r.Schema != before)
	}
	a := db.mustTx(t, `[{:db/id "a" :person/name "A" :person/aliases ["x" "y"]} {:db/id "b" :person/name "A"}]`).TempIDs.ID("a")
	// Tightening constraints the data violates fails.
	_, err := db.transact(parseTx(t, `[{:db/ident :person/aliases :db/cardinality :db.cardinality/one}]`))
	wantErr(t, err, ErrCardinalityConflict, -1)
	if !errors.Is(err, ErrSchema) {
		t.Errorf("got %v, want ErrSchema too", err)
	}
	_, err = db.transact(parseTx(t, `[{:db/ident :person/name :db/unique :db.unique/value}]`))
	wantErr(t, err, ErrUniqueConflict, -1)
	// ... and succeeds once the data fits, in the same transaction.
	db.mustTx(t, fmt.Sprintf(`[{:db/ident :person/aliases :db/cardinality :db.cardinality/one} [:db/retract %d :person/aliases "y"]]`, a))
	if got := db.schema.AttrByIdent("person/aliases").Cardinality; got != datom.CardinalityOne {
		t.Errorf("cardinality = %v, want one", got)
	}
}

func TestSchemaOnRead(t *testing.T) {
	db := newMemDB(t, true)
	r := db.mustTx(t, `[{:db/id "a" :any/thing 42 :any/name "x"} {:db/ident :any/tags :db/cardinality :db.cardinality/many}]`)
	a := r.TempIDs.ID("a")
	if r.Schema.AttrByIdent("any/thing") == nil || r.Schema.AttrByIdent("any/tags") == nil {
		t.Fatalf("schema-on-read attributes not installed")
	}
	checkVals(t, db, a, "any/thing", int64(42))
	checkVals(t, db, a, "any/name", "x")
	// Values are typed by themselves; declared cardinality is enforced.
	db.mustTx(t, fmt.Sprintf(`[[:db/add %d :any/thing "now a string"] {:db/id %d :any/tags ["p" "q"]}]`, a, a))
	checkVals(t, db, a, "any/thing", "now a string")
	checkVals(t, db, a, "any/tags", "p", "q")
	_, err := db.transact(parseTx(t, fmt.Sprintf(`[[:db/add %d :any/name "y"] [:db/add %d :any/name "z"]]`, a, a)))
	wantErr(t, err, ErrCardinalityConflict, 1)
	// Schema-on-write rejects the same data.
	w := newMemDB(t, false)
	_, err = w.transact(parseTx(t, `[{:any/thing 42}]`))
	wantErr(t, err, ErrUnknownAttribute, 0)
}

func TestCompositeTuples(t *testing.T) {
	db := newTestDB(t)
	r := db.mustTx(t, `[{:db/id "r" :reg/course "math" :reg/student "ann"}]`)
	e := r.TempIDs.ID("r")
	checkVals(t, db, e, "reg/key", edn.Vector{"math", "ann"})
	db.mustTx(t, fmt.Sprintf(`[[:db/add %d :reg/student "bob"]]`, e))
	checkVals(t, db, e, "reg/key", edn.Vector{"math", "bob"})
	// A composite tuple works in a lookup ref.
	db.mustTx(t, `[[:db/add [:reg/key ["math" "bob"]] :person/name "reg"]]`)
	checkVals(t, db, e, "person/name", "reg")
	db.mustTx(t, fmt.Sprintf(`[[:db/retract %d :reg/course "math"]]`, e))
	checkVals(t, db, e, "reg/key", edn.Vector{nil, "bob"})
	db.mustTx(t, fmt.Sprintf(`[[:db/retract %d :reg/student "bob"]]`, e))
	checkVals(t, db, e, "reg/key")
	// The tuple is unique: a second entity with the same components fails.
	db.mustTx(t, `[{:reg/course "art" :reg/student "cy"}]`)
	_, err := db.transact(parseTx(t, `[{:reg/course "art" :reg/student "cy"}]`))
	wantErr(t, err, ErrUniqueConflict, -1)
	_, err = db.transact(parseTx(t, `[{:reg/key ["a" "b"]}]`))
	wantErr(t, err, ErrInvalidForm, 0)
}

func TestDeterministic(t *testing.T) {
	data := `[{:db/id "a" :person/name "A" :person/aliases ["z" "y" "x"] :person/friend ["b" "c"]}
	          {:db/id "b" :person/name "B"} {:db/id "c" :person/name "C" :person/email "c@"}]`
	var first *Result
	for i := 0; i < 5; i++ {
		db := newTestDB(t)
		r := db.mustTx(t, data)
		if first == nil {
			first = r
			continue
		}
		if !sameDatoms(first.Datoms, r.Datoms) {
			t.Fatalf("run %d datoms = %v, want %v", i, r.Datoms, first.Datoms)
		}
	}
}

// wantErr checks that err is an *Error for form index with sentinel want.
func wantErr(t *testing.T, err error, want error, index int) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", want)
	}
	if !errors.Is(err, want) {
		t.Fatalf("got %v, want errors.Is %v", err, want)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %T %v, want *Error", err, err)
	}
	if e.Index != index {
		t.Errorf("error %v names form %d, want %d", err, e.Index, index)
	}
}

func TestGoValueInput(t *testing.T) {
	db := newTestDB(t)
	data := []any{
		[]any{edn.Keyword("db/add"), -1, edn.Keyword("person/name"), "A"},
		[]any{edn.Keyword("db/add"), -1, edn.Keyword("person/age"), 7},
		edn.List{edn.Keyword("db/add"), "b", edn.Keyword("person/friend"), -1},
		edn.Map{{Key: edn.Keyword("db/id"), Val: "b"}, {Key: edn.Keyword("person/aliases"), Val: []any{"x", "y"}}},
	}
	r, err := db.transact(data)
	if err != nil {
		t.Fatal(err)
	}
	a, ok := r.TempIDs.Lookup(int64(-1))
	if !ok {
		t.Fatalf("TempIDs = %v, want the key int64(-1) for the Go int tempid -1", r.TempIDs)
	}
	checkVals(t, db, a, "person/age", int64(7))
	checkVals(t, db, r.TempIDs.ID("b"), "person/friend", a)
	checkVals(t, db, r.TempIDs.ID("b"), "person/aliases", "x", "y")
	// An int entity id works like an int64 one.
	db.mustTx(t, "[]")
	if _, err := db.transact([]any{[]any{edn.Keyword("db/add"), int(a), edn.Keyword("person/age"), int64(8)}}); err != nil {
		t.Fatal(err)
	}
	checkVals(t, db, a, "person/age", int64(8))
}

func TestFunctionsSeeSnapshotBefore(t *testing.T) {
	db := newTestDB(t)
	a := db.mustTx(t, `[{:db/id "a" :person/name "old"}]`).TempIDs.ID("a")
	var seen []any
	db.opts = &Options{Funcs: map[edn.Keyword]Func{
		"my/peek": func(ctx context.Context, s Snapshot, args ...any) ([]any, error) {
			err := s.Datoms(ctx, datom.EAVT, []any{a, s.Schema().AttrByIdent("person/name").ID}, func(d datom.Datom) bool {
				seen = append(seen, d.V)
				return true
			})
			return nil, err
		},
	}}
	db.mustTx(t, fmt.Sprintf(`[[:db/add %d :person/name "new"] [:my/peek]]`, a))
	if len(seen) != 1 || seen[0] != "old" {
		t.Errorf("function saw %v, want [old] (the database before the transaction)", seen)
	}
	checkVals(t, db, a, "person/name", "new")
}

func TestEmptyTransaction(t *testing.T) {
	db := newTestDB(t)
	r := db.mustTx(t, `[]`)
	if len(r.Datoms) != 1 || r.Datoms[0].E != r.TxID {
		t.Errorf("empty transaction datoms = %v, want only the txInstant", r.Datoms)
	}
}

func TestNextDBBelowReserved(t *testing.T) {
	db := newMemDB(t, false)
	in := db.input()
	in.NextDB = 0
	r, err := Apply(context.Background(), db, parseTx(t, `[{:db/ident :a/b :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]`), in, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.Schema.AttrByIdent("a/b").ID, datom.MakeID(datom.PartDB, datom.DBReserved); got != want {
		t.Errorf(":a/b id = %d, want %d (the first id past the built-ins)", got, want)
	}
	if r.NextDB != datom.DBReserved+1 {
		t.Errorf("NextDB = %d, want %d", r.NextDB, datom.DBReserved+1)
	}
}
