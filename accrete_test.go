package accrete_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

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

	// The same pull as edn.Maps, in the pattern's order, prints as EDN.
	annOrdered, err := accrete.PullOrdered(ctx, db, `[{:person/friend [:person/name]} :person/name]`, edn.Vector{edn.Keyword("person/name"), "Ann"})
	if err != nil {
		panic(err)
	}
	fmt.Println(edn.String(annOrdered))

	then, err := accrete.Q(ctx, `[:find ?a . :where [?e :person/name "Ann"] [?e :person/age ?a]]`, db.AsOf(first.T))
	if err != nil {
		panic(err)
	}
	fmt.Println("Ann's age as of her first transaction:", then)
	// Output:
	// [[Ann 35] [Bob 29]]
	// Ann [map[:person/name:Bob]]
	// {:person/friend [{:person/name "Bob"}], :person/name "Ann"}
	// Ann's age as of her first transaction: 34
}

// ExampleConn_Purge erases a person for good: every datom of the entity,
// current and past, leaves every index; the purge transaction records who
// asked and how many datoms went, not the values.
func ExampleConn_Purge() {
	ctx := context.Background()
	conn, err := accrete.Create(ctx, "mem://", nil)
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	for _, tx := range []string{
		`[{:db/ident :user/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}]`,
		`[{:user/email "a@b"} {:user/email "c@d"}]`,
		`[[:db/retract [:user/email "a@b"] :user/email "a@b"]]`,
	} {
		if _, err := conn.Transact(ctx, tx); err != nil {
			panic(err)
		}
	}
	rep, err := conn.Purge(ctx, `[[:db.purge/entity [:user/email "a@b"]]]`, &accrete.PurgeOptions{By: "dpo"})
	if err != nil {
		panic(err)
	}
	fmt.Println("datoms purged:", rep.Datoms)
	ever, err := accrete.Q(ctx, `[:find [?v ...] :where [_ :user/email ?v]]`, conn.DB().History())
	if err != nil {
		panic(err)
	}
	fmt.Println("emails ever:", ever)
	by, err := accrete.Q(ctx, `[:find ?by . :where [_ :accrete.purge/by ?by]]`, conn.DB())
	if err != nil {
		panic(err)
	}
	fmt.Println("purged by:", by)
	// Output:
	// datoms purged: 2
	// emails ever: [c@d]
	// purged by: dpo
}

// TestConnPurge: purge forms are refused by Transact; after Purge the
// connection shows the purged value, and its writer commits past it.
func TestConnPurge(t *testing.T) {
	ctx := context.Background()
	conn, err := accrete.Create(ctx, "mem://", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Transact(ctx, `[{:db/ident :user/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}]`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Transact(ctx, `[{:user/email "a@b"}]`); err != nil {
		t.Fatal(err)
	}
	_, err = conn.Transact(ctx, `[{:user/email "x@y"} [:db.purge/entity [:user/email "a@b"]]]`)
	if !errors.Is(err, accrete.ErrPurgeInTransact) || !strings.Contains(err.Error(), "form 1") {
		t.Fatalf("Transact of a purge form: %v, want ErrPurgeInTransact naming form 1", err)
	}
	emails := func() any {
		t.Helper()
		res, err := accrete.Q(ctx, `[:find [?v ...] :where [_ :user/email ?v]]`, conn.DB().History())
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(res)
	}
	if got := emails(); got != "[a@b]" {
		t.Fatalf("before: %v", got)
	}
	if _, err := conn.Purge(ctx, `[[:db/purge [:user/email "a@b"] :user/email "a@b"]]`, nil); err != nil {
		t.Fatal(err)
	}
	if got := emails(); got != "[]" {
		t.Fatalf("after purge: %v", got)
	}
	if _, err := conn.Transact(ctx, `[{:user/email "c@d"}]`); err != nil {
		t.Fatal(err)
	}
	if got := emails(); got != "[c@d]" {
		t.Fatalf("after a transaction following the purge: %v", got)
	}
}
