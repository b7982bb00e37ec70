package tx

import (
	"fmt"
	"strings"
	"testing"

	"github.com/accretedb/accrete/datom"
)

// TestRetractEntityWideComponentTree retracts the root of a component tree
// wider than the linear limit of the set of entities a retraction reached
// (smallIndex), with a cycle back to the root and an entity reached twice:
// every datom of the tree and every ref into it goes, once, and the
// entity outside the tree keeps its own datoms.
func TestRetractEntityWideComponentTree(t *testing.T) {
	db := newTestDB(t)
	db.mustTx(t, `[{:db/ident :node/kids :db/valueType :db.type/ref :db/cardinality :db.cardinality/many :db/isComponent true}
	               {:db/ident :node/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]`)
	var b strings.Builder
	b.WriteString(`[{:db/id "root" :node/name "root"} {:db/id "out" :node/name "out" :person/friend "root"}`)
	const kids = 3 * smallIndex
	for i := range kids {
		fmt.Fprintf(&b, ` {:db/id "k%d" :node/name "k%d" :node/kids ["g%d"]} [:db/add "root" :node/kids "k%d"] {:db/id "g%d" :node/name "g%d"}`, i, i, i, i, i, i)
	}
	// A cycle back to the root, and a grandchild that is also a child.
	b.WriteString(` [:db/add "g0" :node/kids "root"] [:db/add "g1" :node/kids "k2"]]`)
	r := db.mustTx(t, b.String())
	root, out := r.TempIDs.ID("root"), r.TempIDs.ID("out")
	before := len(db.userDatoms())
	r = db.mustTx(t, fmt.Sprintf(`[[:db/retractEntity %d]]`, root))
	left := db.userDatoms()
	for _, d := range left {
		if d.E != out {
			t.Errorf("datom %v survived the retraction of the tree", d)
		}
	}
	checkVals(t, db, out, "node/name", "out")
	// Everything but out's name: the root's name, kids refs and names,
	// grandchildren refs and names, the two extra refs, out's friend ref.
	want := 1 + kids*4 + 2 + 1
	if got := len(r.Retracted); got != want || before-len(left) != want {
		t.Errorf("retracted %d datoms (%d gone), want %d", got, before-len(left), want)
	}
	seen := map[string]bool{}
	for _, d := range r.Retracted {
		k := fmt.Sprint(d.E, d.A, d.V)
		if seen[k] {
			t.Errorf("datom %v retracted twice", d)
		}
		seen[k] = true
	}
}

// TestIDSet checks idSet against a map across its switch from a linear
// list to a map, and after reset.
func TestIDSet(t *testing.T) {
	var s idSet
	for round := range 2 {
		model := map[datom.ID]bool{}
		for i := range 5 * smallIndex {
			id := datom.ID(i*7%(3*smallIndex) + round)
			if got, want := s.add(id), !model[id]; got != want {
				t.Fatalf("round %d: add(%d) = %v, want %v", round, id, got, want)
			}
			model[id] = true
		}
		s.reset()
		if len(s.small) != 0 || s.m != nil {
			t.Fatalf("round %d: reset left %d ids and map %v", round, len(s.small), s.m != nil)
		}
	}
}

// TestManyUniqueValues runs the unique-value checks past their linear
// phase (more than smallIndex unique values in one transaction): tempids
// asserting the same new identity value merge, and a unique value
// asserted for a second entity fails naming its form.
func TestManyUniqueValues(t *testing.T) {
	const n = 3 * smallIndex
	var b strings.Builder
	b.WriteString("[")
	for i := range n {
		fmt.Fprintf(&b, `{:db/id "s%d" :person/ssn %d :person/email "e%d@x"} `, i, 1000+i, i)
	}
	for i := range n {
		fmt.Fprintf(&b, `{:db/id "t%d" :person/ssn %d :person/name "t%d"} `, i, 1000+i, i)
	}
	b.WriteString("]")
	db := newTestDB(t)
	r := db.mustTx(t, b.String())
	for i := range n {
		s, u := r.TempIDs.ID(fmt.Sprintf("s%d", i)), r.TempIDs.ID(fmt.Sprintf("t%d", i))
		if s != u {
			t.Fatalf("s%d and t%d assert one new identity value but resolved to %d and %d", i, i, s, u)
		}
		checkVals(t, db, s, "person/name", fmt.Sprintf("t%d", i))
	}

	var c strings.Builder
	c.WriteString("[")
	for i := range n {
		fmt.Fprintf(&c, `{:person/email "f%d@x"} `, i)
	}
	fmt.Fprintf(&c, `{:person/email "f%d@x"}]`, n/2)
	_, err := db.transact(parseTx(t, c.String()))
	wantErr(t, err, ErrUniqueConflict, n)
}
