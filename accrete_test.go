package accrete_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/accretedb/accrete"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/query"
)

// Example is the common path: create a database in a local bucket,
// transact schema and data, query and pull, and travel in time.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "accrete-example")
	defer os.RemoveAll(dir)
	url := "file://" + filepath.ToSlash(dir)

	conn, err := accrete.Create(ctx, url, nil)
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	_, err = conn.Transact(ctx, `[
	  {:db/ident :person/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
	  {:db/ident :person/age  :db/valueType :db.type/long   :db/cardinality :db.cardinality/one}
	  {:db/ident :person/friend :db/valueType :db.type/ref  :db/cardinality :db.cardinality/many}]`)
	if err != nil {
		panic(err)
	}
	first, err := conn.Transact(ctx, `[{:db/id "ann" :person/name "Ann" :person/age 34 :person/friend "bob"}
	                                   {:db/id "bob" :person/name "Bob" :person/age 29}]`)
	if err != nil {
		panic(err)
	}
	if _, err := conn.Transact(ctx, `[{:person/name "Ann" :person/age 35}]`); err != nil {
		panic(err)
	}

	// Any process that can read the bucket opens the database as a value.
	db, err := accrete.Open(ctx, url, nil)
	if err != nil {
		panic(err)
	}
	res, err := accrete.Q(ctx, `[:find ?n ?a :where [?e :person/name ?n] [?e :person/age ?a]]`, db)
	if err != nil {
		panic(err)
	}
	rows := res.(query.Relation)
	sort.Slice(rows, func(i, j int) bool { return rows[i][0].(string) < rows[j][0].(string) })
	fmt.Println(rows)

	ann, err := accrete.Pull(ctx, db, `[:person/name {:person/friend [:person/name]}]`, edn.Vector{edn.Keyword("person/name"), "Ann"})
	if err != nil {
		panic(err)
	}
	fmt.Println(ann[edn.Keyword("person/name")], ann[edn.Keyword("person/friend")])

	then, err := accrete.Q(ctx, `[:find ?a . :where [?e :person/name "Ann"] [?e :person/age ?a]]`, db.AsOf(first.T))
	if err != nil {
		panic(err)
	}
	fmt.Println("Ann's age as of her first transaction:", then)
	// Output:
	// [[Ann 35] [Bob 29]]
	// Ann [map[:person/name:Bob]]
	// Ann's age as of her first transaction: 34
}
