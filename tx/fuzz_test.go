package tx

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
)

// FuzzApply feeds arbitrary EDN transaction data to Apply against a small
// database. Apply must not panic; it returns either an *Error or a Result
// whose datoms are sorted, carry the transaction id, and whose retractions
// match Retracted one for one.
func FuzzApply(f *testing.F) {
	for _, s := range []string{
		`[[:db/add "a" :person/name "A"]]`,
		`[{:db/id "a" :person/name "A" :person/aliases ["x" "y"] :person/friend [:person/ssn 1]}]`,
		`[{:person/ssn 1 :person/name "P2"} [:db/add "b" :person/ssn 1]]`,
		`[[:db/retract 8796093022208 :person/name "P"] [:db/retract 8796093022208 :person/aliases]]`,
		`[[:db/retractEntity [:person/ssn 1]] [:db.fn/retractEntity 8796093022209]]`,
		`[[:db/cas 8796093022208 :person/age nil 3] [:db/cas [:person/ssn 1] :person/age 1 2]]`,
		`[{:db/id "datomic.tx" :audit/user "x"} {:person/_friend [8796093022208 {:person/ssn 9}]}]`,
		`[{:person/address {:address/city "c" :address/street {:street/name "s"}}}]`,
		`[{:reg/course "m" :reg/student "s"} [:db/add -1 :person/color :color/red]]`,
		`[{:db/ident :x/y :db/valueType :db.type/long :db/cardinality :db.cardinality/many}]`,
		`[[:db/add "a" :person/name 1] [] [1 2] "s" {:nope 1}]`,
		`[[:db/add [:person/email "e"] :person/age 1.5] {:db/id :color/red :db/doc "red"}]`,
	} {
		f.Add(s)
	}
	db := newTestDB(f)
	db.mustTx(f, `[{:db/id "p" :person/ssn 1 :person/name "P" :person/age 1 :person/email "e" :person/friend "q"}
	               {:db/id "q" :person/name "Q" :person/address {:address/city "x"}}]`)
	f.Fuzz(func(t *testing.T, text string) {
		v, err := edn.ReadString(text)
		if err != nil {
			return
		}
		vec, ok := v.(edn.Vector)
		if !ok {
			return
		}
		r, err := Apply(context.Background(), db, vec, db.input(), nil)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is %T, want *Error", err, err)
			}
			if r != nil {
				t.Fatalf("result together with error %v", err)
			}
			_ = err.Error()
			return
		}
		if !slices.IsSortedFunc(r.Datoms, compareDatoms) {
			t.Fatalf("datoms not sorted: %v", r.Datoms)
		}
		nret := 0
		for _, d := range r.Datoms {
			if d.Tx != r.TxID {
				t.Fatalf("datom %v has Tx %d, want %d", d, d.Tx, r.TxID)
			}
			if !d.Added {
				nret++
			}
		}
		if nret != len(r.Retracted) {
			t.Fatalf("%d retractions, %d Retracted", nret, len(r.Retracted))
		}
		for _, d := range r.Retracted {
			if !d.Added || datom.TxT(d.Tx) > db.t {
				t.Fatalf("Retracted datom %v is not a current datom", d)
			}
		}
	})
}
