// Command quickstart is the five-minute tour of accrete from Go: it creates a
// database in a local bucket, transacts a schema and some data, queries and
// pulls it, changes a fact and travels back in time (as-of and history), and
// finally reopens the database from a second OS process, which shares nothing
// with the first but the bucket.
//
// Run it from the repository root:
//
//	go run ./examples/quickstart                    # a fresh file:// bucket in a temp dir
//	go run ./examples/quickstart --dir /tmp/people  # keep the bucket in /tmp/people
//	go run ./examples/quickstart --url 's3://bucket/people?region=us-east-1'
//
// The directory or URL must not hold a database yet. The second process is
// this same program, re-executed with --read-only URL: that mode only opens
// the bucket and queries it, which is all any other machine would do.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/accretedb/accrete"
	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/query"
)

func main() {
	dir := flag.String("dir", "", "local directory for the bucket (default: a new temporary directory, removed at exit)")
	url := flag.String("url", "", "bucket URL (file://, s3://, gs://, azblob://); overrides --dir")
	readOnly := flag.String("read-only", "", "reader mode: open the database at this URL, query it and exit (used for the second process)")
	flag.Parse()

	ctx := context.Background()
	var err error
	if *readOnly != "" {
		err = readerProcess(ctx, *readOnly)
	} else {
		err = run(ctx, *dir, *url)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// schema declares three attributes. :person/name is a unique identity, so
// [:person/name "Ann"] names Ann's entity (a lookup ref) and transacting a
// map with an existing name updates that entity instead of creating one.
const schema = `[
 {:db/ident :person/name   :db/valueType :db.type/string :db/cardinality :db.cardinality/one  :db/unique :db.unique/identity}
 {:db/ident :person/age    :db/valueType :db.type/long   :db/cardinality :db.cardinality/one}
 {:db/ident :person/friend :db/valueType :db.type/ref    :db/cardinality :db.cardinality/many}]`

// people uses string tempids ("ann", "bob") to refer to entities created in
// the same transaction.
const people = `[
 {:db/id "ann"   :person/name "Ann"   :person/age 34 :person/friend ["bob" "carol"]}
 {:db/id "bob"   :person/name "Bob"   :person/age 29}
 {:db/id "carol" :person/name "Carol" :person/age 41 :person/friend "ann"}]`

func run(ctx context.Context, dir, url string) error {
	if url == "" {
		if dir == "" {
			tmp, err := os.MkdirTemp("", "accrete-quickstart-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			dir = tmp
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return err
		}
		url = "file://" + filepath.ToSlash(abs)
	}

	step("1. create a database in a bucket")
	conn, err := accrete.Create(ctx, url, nil)
	if errors.Is(err, accrete.ErrExists) {
		return fmt.Errorf("%s already holds a database: pass an empty --dir or --url", url)
	}
	if err != nil {
		return err
	}
	defer conn.Close()
	fmt.Println("created", url)

	step("2. transact a schema, then data")
	rep, err := conn.Transact(ctx, schema)
	if err != nil {
		return fmt.Errorf("transact schema: %w", err)
	}
	fmt.Printf("schema: t=%d, %d datoms\n", rep.T, len(rep.TxData))
	first, err := conn.Transact(ctx, people)
	if err != nil {
		return fmt.Errorf("transact people: %w", err)
	}
	fmt.Printf("people: t=%d, %d datoms, tempids: ann=%d bob=%d carol=%d\n", first.T, len(first.TxData),
		first.TempIDs.ID("ann"), first.TempIDs.ID("bob"), first.TempIDs.ID("carol"))

	step("3. query")
	db := conn.DB()
	res, err := accrete.Q(ctx, `[:find ?name ?age :where [?e :person/name ?name] [?e :person/age ?age]]`, db)
	if err != nil {
		return fmt.Errorf("query ages: %w", err)
	}
	printRows("name, age", res)

	res, err = accrete.Q(ctx, `[:find ?name ?friend
	                           :in $ ?min-age
	                           :where [?e :person/age ?age] [(>= ?age ?min-age)]
	                                  [?e :person/name ?name] [?e :person/friend ?f] [?f :person/name ?friend]]`, db, 30)
	if err != nil {
		return fmt.Errorf("query friends: %w", err)
	}
	printRows("friends of people aged 30 or more (name, friend)", res)

	avg, err := accrete.Q(ctx, `[:find (avg ?age) . :where [_ :person/age ?age]]`, db)
	if err != nil {
		return fmt.Errorf("query average: %w", err)
	}
	fmt.Printf("average age: %v\n", avg)

	step("4. pull an entity by lookup ref")
	annRef := edn.Vector{edn.Keyword("person/name"), "Ann"}
	ann, err := accrete.Pull(ctx, db, `[:person/name :person/age {:person/friend [:person/name]}]`, annRef)
	if err != nil {
		return fmt.Errorf("pull: %w", err)
	}
	fmt.Println("Ann:", edn.String(ann))

	step("5. change facts: Ann turns 35 and is no longer Bob's friend")
	second, err := conn.Transact(ctx, `[{:person/name "Ann" :person/age 35}
	                                    [:db/retract [:person/name "Ann"] :person/friend [:person/name "Bob"]]]`)
	if err != nil {
		return fmt.Errorf("transact update: %w", err)
	}
	fmt.Printf("update: t=%d, %d datoms\n", second.T, len(second.TxData))
	db = conn.DB()
	ann, err = accrete.Pull(ctx, db, `[:person/name :person/age {:person/friend [:person/name]}]`, annRef)
	if err != nil {
		return fmt.Errorf("pull: %w", err)
	}
	fmt.Println("Ann now:", edn.String(ann))

	step("6. travel in time")
	ageQ := `[:find ?age . :in $ ?name :where [?e :person/name ?name] [?e :person/age ?age]]`
	then, err := accrete.Q(ctx, ageQ, db.AsOf(first.T), "Ann")
	if err != nil {
		return fmt.Errorf("query as-of: %w", err)
	}
	now, err := accrete.Q(ctx, ageQ, db, "Ann")
	if err != nil {
		return fmt.Errorf("query now: %w", err)
	}
	fmt.Printf("as of t=%d Ann was %v; at t=%d she is %v\n", first.T, then, db.BasisT(), now)

	// A Since view holds only the datoms added after t. Ann's name was
	// asserted before, so the query takes names from the current value: two
	// sources, $since and $, in one query.
	changed, err := accrete.Q(ctx, `[:find ?name ?age
	                               :in $since $
	                               :where [$since ?e :person/age ?age] [$ ?e :person/name ?name]]`, db.Since(first.T), db)
	if err != nil {
		return fmt.Errorf("query since: %w", err)
	}
	printRows(fmt.Sprintf("ages set since t=%d (name, age)", first.T), changed)

	hist, err := accrete.Q(ctx, `[:find ?tx ?attr ?v ?added
	                            :in $ ?name
	                            :where [?e :person/name ?name] [?e ?attr ?v ?tx ?added]]`, db.History(), "Ann")
	if err != nil {
		return fmt.Errorf("query history: %w", err)
	}
	rows := hist.(query.Relation)
	sort.Slice(rows, func(i, j int) bool {
		if a, b := rows[i][0].(int64), rows[j][0].(int64); a != b {
			return a < b
		}
		if a, b := rows[i][1].(edn.Keyword), rows[j][1].(edn.Keyword); a != b {
			return a < b
		}
		return rows[i][3] == true && rows[j][3] == false // within one tx: assertion first
	})
	fmt.Println("history of Ann (t, attribute, value, asserted?):")
	for _, r := range rows {
		v := r[2]
		if r[1] == edn.Keyword("person/friend") { // a ref: show whom it points to
			v = nameOf(ctx, db, r[2].(int64))
		}
		fmt.Printf("  t=%d %v %s %v\n", datom.TxT(r[0].(int64)), r[1], edn.String(v), r[3])
	}

	step("7. open the same database from another process")
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, exe, "--read-only", url)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("reader process: %w", err)
	}
	fmt.Print(indent(string(out), "  | "))
	return nil
}

// readerProcess is everything a process on another machine needs to read the
// database: the bucket URL. It opens the newest value (one GET for the head)
// and fetches index nodes only as the query touches them.
func readerProcess(ctx context.Context, url string) error {
	db, err := accrete.Open(ctx, url, nil)
	if err != nil {
		return err
	}
	defer db.Store().Close()
	fmt.Printf("reader process %d opened %s at t=%d\n", os.Getpid(), url, db.BasisT())
	res, err := accrete.Q(ctx, `[:find ?name ?age :where [?e :person/name ?name] [?e :person/age ?age]]`, db)
	if err != nil {
		return err
	}
	printRows("name, age", res)
	n, err := accrete.Q(ctx, `[:find (count ?f) . :in $ ?name :where [?e :person/name ?name] [?e :person/friend ?f]]`, db, "Ann")
	if err != nil {
		return err
	}
	fmt.Printf("Ann has %v friend(s)\n", n)
	return nil
}

// nameOf returns the :person/name of entity e, or e itself if it has none.
func nameOf(ctx context.Context, db *accrete.DB, e int64) any {
	m, err := accrete.Pull(ctx, db, `[:person/name]`, e)
	if err != nil || m == nil {
		return e
	}
	return m[edn.Keyword("person/name")]
}

func step(title string) { fmt.Printf("\n== %s\n", title) }

// printRows prints a relation as EDN, one tuple per line, sorted: relations
// are sets, in no particular order.
func printRows(title string, res any) {
	rows := res.(query.Relation)
	lines := make([]string, len(rows))
	for i, r := range rows {
		parts := make([]string, len(r))
		for j, v := range r {
			parts[j] = edn.String(v)
		}
		lines[i] = "  " + strings.Join(parts, " ")
	}
	sort.Strings(lines)
	fmt.Printf("%s:\n%s\n", title, strings.Join(lines, "\n"))
}

func indent(s, prefix string) string {
	lines := strings.SplitAfter(s, "\n")
	var b strings.Builder
	for _, l := range lines {
		if l != "" {
			b.WriteString(prefix + l)
		}
	}
	return b.String()
}
