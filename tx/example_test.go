package tx

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/accretedb/accrete/edn"
)

// A transaction in map form with a tempid, a cardinality-many collection
// and transaction metadata, applied to a database whose schema declares the
// attributes. The caller (the writer) stores the Result; here the in-memory
// test snapshot does.
func ExampleApply() {
	db := newMemDB(nil, false)
	db.mustTx(nil, `[{:db/ident :person/name    :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
	                 {:db/ident :person/aliases :db/valueType :db.type/string :db/cardinality :db.cardinality/many}
	                 {:db/ident :audit/user     :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]`)
	data, _ := edn.ReadString(`[{:db/id "ann" :person/name "Ann" :person/aliases ["A" "Annie"]}
	                            {:db/id "datomic.tx" :audit/user "ops"}]`)
	r, err := Apply(context.Background(), db, data.(edn.Vector), db.input(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("ann:", r.TempIDs.ID("ann"))
	for _, d := range r.Datoms {
		a, _ := r.Schema.Ident(d.A)
		v := edn.String(d.V)
		if t, ok := d.V.(time.Time); ok {
			v = t.Format(time.RFC3339)
		}
		fmt.Println(d.E, a, v, d.Added)
	}

	// An invalid transaction fails whole, naming the form at fault.
	bad, _ := edn.ReadString(`[{:person/name "Bob"} [:db/add "x" :person/name 42]]`)
	_, err = Apply(context.Background(), db, bad.(edn.Vector), db.input(), nil)
	var e *Error
	if errors.As(err, &e) {
		fmt.Println(errors.Is(err, ErrWrongType), e.Index, edn.String(e.Form))
	}
	// Output:
	// ann: 8796093022208
	// 4398046511106 :db/txInstant 2026-01-01T00:00:02Z true
	// 4398046511106 :audit/user "ops" true
	// 8796093022208 :person/name "Ann" true
	// 8796093022208 :person/aliases "A" true
	// 8796093022208 :person/aliases "Annie" true
	// true 1 [:db/add "x" :person/name 42]
}
