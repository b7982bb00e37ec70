// Command crossjoin shows a query across databases: team A keeps the product
// catalog in one bucket, team B keeps the warehouse inventory in another
// bucket on another backend, and a third party, who can only read both
// buckets, joins them with last month's catalog in ONE query:
//
//	[:find … :in $catalog $inventory $old :where [$inventory …] [$catalog …] [$old …]]
//
// $old is not a copy: it is the catalog value as of 30 days ago (AsOfTime),
// read from the same bucket. Entity ids of different databases are unrelated;
// the databases join on a shared value, the SKU string.
//
// Run it from the repository root:
//
//	go run ./examples/crossjoin          # catalog in a file:// bucket, inventory in mem://
//	go run ./examples/crossjoin --catalog 's3://bucket/catalog?region=eu-west-1' --inventory file:///tmp/inventory
//
// With --part catalog, --part inventory or --part join only that team's part
// runs, so each can be its own process (or machine); mem:// buckets live in
// one process, so give file://, s3://, gs:// or azblob:// URLs then. The
// catalog and inventory parts need empty buckets.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/accretedb/accrete"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/query"
)

func main() {
	catalog := flag.String("catalog", "", "team A's catalog bucket URL (default: a file:// bucket in a new temporary directory)")
	inventory := flag.String("inventory", "mem://inventory", "team B's inventory bucket URL")
	part := flag.String("part", "all", "which part to run: all, catalog, inventory or join")
	flag.Parse()

	ctx := context.Background()
	if *catalog == "" {
		if *part != "all" {
			fail(errors.New("--part needs --catalog (and --inventory unless it is --part catalog)"))
		}
		dir, err := os.MkdirTemp("", "accrete-crossjoin-")
		if err != nil {
			fail(err)
		}
		defer os.RemoveAll(dir)
		*catalog = "file://" + filepath.ToSlash(dir)
	}
	var err error
	switch *part {
	case "all":
		err = teamA(ctx, *catalog)
		if err == nil {
			err = teamB(ctx, *inventory)
		}
		if err == nil {
			err = join(ctx, *catalog, *inventory)
		}
	case "catalog":
		err = teamA(ctx, *catalog)
	case "inventory":
		err = teamB(ctx, *inventory)
	case "join":
		err = join(ctx, *catalog, *inventory)
	default:
		err = fmt.Errorf("unknown --part %q (want all, catalog, inventory or join)", *part)
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "crossjoin:", err)
	os.Exit(1)
}

// teamA builds the catalog. Its history matters to the join, so it is
// written with a clock set in the past: the first catalog 45 days ago, a
// price change and a new product 10 days ago. (A real writer just uses the
// wall clock; Options.Now exists for imports and tests.)
func teamA(ctx context.Context, url string) error {
	fmt.Println("== team A: product catalog in", url)
	now := time.Now()
	clock := now.AddDate(0, 0, -45)
	conn, err := accrete.Create(ctx, url, &accrete.Options{Now: func() time.Time { return clock }})
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	defer conn.Close()
	txs := []struct {
		when time.Time
		what string
		data string
	}{
		{now.AddDate(0, 0, -45), "schema", `[
		 {:db/ident :product/sku   :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
		 {:db/ident :product/name  :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
		 {:db/ident :product/price :db/valueType :db.type/long   :db/cardinality :db.cardinality/one :db/doc "price in cents"}]`},
		{now.AddDate(0, 0, -45), "first catalog", `[
		 {:product/sku "K-100" :product/name "kettle"  :product/price 2990}
		 {:product/sku "T-200" :product/name "toaster" :product/price 3490}
		 {:product/sku "M-300" :product/name "mixer"   :product/price 8900}
		 {:product/sku "G-400" :product/name "grinder" :product/price 4500}]`},
		{now.AddDate(0, 0, -10), "price changes, one new product", `[
		 {:product/sku "K-100" :product/price 3190}
		 {:product/sku "M-300" :product/price 7900}
		 {:product/sku "B-500" :product/name "blender" :product/price 6900}]`},
	}
	for _, tx := range txs {
		clock = tx.when
		rep, err := conn.Transact(ctx, tx.data)
		if err != nil {
			return fmt.Errorf("catalog: %s: %w", tx.what, err)
		}
		fmt.Printf("t=%d %s: %s, %d datoms\n", rep.T, tx.when.Format("2006-01-02"), tx.what, len(rep.TxData))
	}
	return conn.Close()
}

// teamB builds the inventory: stock per SKU and warehouse. It knows nothing
// of the catalog but the SKUs.
func teamB(ctx context.Context, url string) error {
	fmt.Println("== team B: inventory in", url)
	conn, err := accrete.Create(ctx, url, nil)
	if err != nil {
		return fmt.Errorf("inventory: %w", err)
	}
	defer conn.Close()
	for _, data := range []string{`[
		 {:db/ident :stock/sku       :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/index true}
		 {:db/ident :stock/warehouse :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
		 {:db/ident :stock/qty       :db/valueType :db.type/long   :db/cardinality :db.cardinality/one}]`, `[
		 {:stock/sku "K-100" :stock/warehouse "Lyon"   :stock/qty 12}
		 {:stock/sku "K-100" :stock/warehouse "Berlin" :stock/qty 3}
		 {:stock/sku "T-200" :stock/warehouse "Berlin" :stock/qty 7}
		 {:stock/sku "M-300" :stock/warehouse "Lyon"   :stock/qty 5}
		 {:stock/sku "B-500" :stock/warehouse "Lyon"   :stock/qty 2}]`} {
		rep, err := conn.Transact(ctx, data)
		if err != nil {
			return fmt.Errorf("inventory: %w", err)
		}
		fmt.Printf("t=%d %d datoms\n", rep.T, len(rep.TxData))
	}
	return conn.Close()
}

// join is the third party: read-only access to both buckets.
func join(ctx context.Context, catalogURL, inventoryURL string) error {
	fmt.Println("== join: catalog x inventory x catalog as of 30 days ago")
	catalog, err := accrete.Open(ctx, catalogURL, nil)
	if err != nil {
		return fmt.Errorf("open catalog: %w", err)
	}
	defer catalog.Store().Close()
	inventory, err := accrete.Open(ctx, inventoryURL, nil)
	if err != nil {
		return fmt.Errorf("open inventory: %w", err)
	}
	defer inventory.Store().Close()
	monthAgo := time.Now().AddDate(0, 0, -30)
	old, err := catalog.AsOfTime(ctx, monthAgo)
	if err != nil {
		return fmt.Errorf("catalog as of %s: %w", monthAgo.Format("2006-01-02"), err)
	}
	oldT, _ := old.AsOfT()
	fmt.Printf("catalog at t=%d, last month's catalog = as of %s = t=%d, inventory at t=%d\n",
		catalog.BasisT(), monthAgo.Format("2006-01-02"), oldT, inventory.BasisT())

	// Stock with today's and last month's price. B-500 is new this month,
	// so it has no $old price and the join drops it; G-400 is in no warehouse.
	res, err := accrete.Q(ctx, `
	  [:find ?name ?warehouse ?qty ?price ?old-price
	   :in $catalog $inventory $old
	   :where [$inventory ?s :stock/sku ?sku]
	          [$inventory ?s :stock/warehouse ?warehouse]
	          [$inventory ?s :stock/qty ?qty]
	          [$catalog ?p :product/sku ?sku]
	          [$catalog ?p :product/name ?name]
	          [$catalog ?p :product/price ?price]
	          [$old ?o :product/sku ?sku]
	          [$old ?o :product/price ?old-price]]`, catalog, inventory, old)
	if err != nil {
		return fmt.Errorf("join query: %w", err)
	}
	fmt.Println("product, warehouse, qty, price now, price last month:")
	printRows(res, func(r []any) string {
		change := ""
		if r[3] != r[4] {
			change = fmt.Sprintf("  (%+.2f)", float64(r[3].(int64)-r[4].(int64))/100)
		}
		return fmt.Sprintf("%-8s %-7s %3d %s %s%s", r[0], r[1], r[2], money(r[3]), money(r[4]), change)
	})

	// Stock value per warehouse at today's and at last month's prices, one
	// aggregate query over the same three sources.
	res, err = accrete.Q(ctx, `
	  [:find ?warehouse (sum ?value) (sum ?old-value)
	   :with ?s
	   :in $catalog $inventory $old
	   :where [$inventory ?s :stock/sku ?sku]
	          [$inventory ?s :stock/warehouse ?warehouse]
	          [$inventory ?s :stock/qty ?qty]
	          [$catalog ?p :product/sku ?sku]
	          [$catalog ?p :product/price ?price]
	          [$old ?o :product/sku ?sku]
	          [$old ?o :product/price ?old-price]
	          [(* ?qty ?price) ?value]
	          [(* ?qty ?old-price) ?old-value]]`, catalog, inventory, old)
	if err != nil {
		return fmt.Errorf("value query: %w", err)
	}
	fmt.Println("warehouse, stock value now, at last month's prices:")
	printRows(res, func(r []any) string {
		return fmt.Sprintf("%-7s %s %s", r[0], money(r[1]), money(r[2]))
	})
	return nil
}

// money formats cents.
func money(v any) string {
	c, ok := v.(int64)
	if !ok {
		return edn.String(v)
	}
	return fmt.Sprintf("%d.%02d", c/100, c%100)
}

// printRows prints a relation, one formatted line per tuple, sorted:
// relations are sets, in no particular order.
func printRows(res any, format func([]any) string) {
	rows := res.(query.Relation)
	lines := make([]string, len(rows))
	for i, r := range rows {
		lines[i] = "  " + format(r)
	}
	sort.Strings(lines)
	fmt.Println(strings.Join(lines, "\n"))
}
