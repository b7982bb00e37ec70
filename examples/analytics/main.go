// Command analytics is a read-only job over a larger database: it opens the
// bucket with a bounded node cache, runs an aggregate query, and prints its
// answer and what it cost in bucket requests (konserve.Store.Stats): how many
// nodes it fetched, how many bytes, and how often the cache answered.
// Serverless cost is requests, so this is the number to watch.
//
// If the bucket holds no database yet, the job first builds one: --sales
// sales of four attributes each (default 50,000 sales, about 200,000 datoms),
// written by a writer in batches. Later runs over the same bucket only read.
//
// Run it from the repository root:
//
//	go run ./examples/analytics                              # builds in a temp dir, then reads
//	go run ./examples/analytics --dir /tmp/sales             # keeps the bucket: run it twice
//	go run ./examples/analytics --dir /tmp/sales --cache-bytes 65536
//	go run ./examples/analytics --url 's3://bucket/sales?region=eu-west-1'
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
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/query"
	"github.com/accretedb/accrete/reader"
)

func main() {
	dir := flag.String("dir", "", "local directory for the bucket (default: a new temporary directory, removed at exit)")
	url := flag.String("url", "", "bucket URL (file://, s3://, gs://, azblob://); overrides --dir")
	cacheBytes := flag.Int64("cache-bytes", 32<<20, "bound of the decoded-node cache, in bytes (negative: no cache); below the query's working set (printed as \"cache holds\") every run refetches")
	sales := flag.Int("sales", 50000, "number of sales to build when the bucket holds no database")
	batch := flag.Int("batch", 5000, "sales per transaction when building")
	flag.Parse()

	if err := run(context.Background(), *dir, *url, *cacheBytes, *sales, *batch); err != nil {
		fmt.Fprintln(os.Stderr, "analytics:", err)
		os.Exit(1)
	}
}

// Regions are the groups of the aggregate.
var regions = []string{"north", "east", "south", "west", "center"}

// Sale i is in region i mod 5, on day i mod 365, for an amount that is a
// deterministic function of i: anyone can recompute the expected answer.
func saleAmount(i int) int64 { return int64(i*7919%1000 + 1) }

func run(ctx context.Context, dir, url string, cacheBytes int64, sales, batch int) error {
	if url == "" {
		if dir == "" {
			tmp, err := os.MkdirTemp("", "accrete-analytics-")
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

	// The job's store: the bounded cache is the point of this example.
	st, err := konserve.Open(ctx, url, &konserve.Options{CacheBytes: cacheBytes})
	if err != nil {
		return err
	}
	defer st.Close()
	db, err := reader.OpenStore(ctx, st, nil)
	if errors.Is(err, reader.ErrNoDatabase) {
		if err := build(ctx, url, sales, batch); err != nil {
			return err
		}
		db, err = reader.OpenStore(ctx, st, nil)
	}
	if err != nil {
		return err
	}
	fmt.Printf("opened %s at t=%d, cache bound %d bytes\n", url, db.BasisT(), cacheBytes)

	// Revenue per region over every sale: a full scan of two attributes.
	q := `[:find ?region (count ?s) (sum ?amount) (max ?amount)
	       :where [?s :sale/region ?region] [?s :sale/amount ?amount]]`
	for _, pass := range []string{"cold", "warm"} {
		before := st.Stats()
		start := time.Now()
		res, err := accrete.Q(ctx, q, db)
		if err != nil {
			return fmt.Errorf("query: %w", err)
		}
		elapsed := time.Since(start)
		after := st.Stats()
		fmt.Printf("\n%s run (%s):\n", pass, elapsed.Round(time.Millisecond))
		fmt.Println("region, sales, revenue, largest sale:")
		printRows(res)
		fmt.Printf("fetched %d nodes, %d bytes; cache hits %d, misses %d; cache holds %d nodes, %d bytes\n",
			after.Gets-before.Gets, after.BytesRead-before.BytesRead,
			after.CacheHits-before.CacheHits, after.CacheMisses-before.CacheMisses,
			after.CachedNodes, after.CachedBytes)
	}
	return nil
}

// build writes the sales database, batch sales per transaction.
func build(ctx context.Context, url string, sales, batch int) error {
	fmt.Printf("no database in %s: building %d sales\n", url, sales)
	start := time.Now()
	conn, err := accrete.Create(ctx, url, nil)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.Transact(ctx, `[
	 {:db/ident :sale/id     :db/valueType :db.type/long   :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
	 {:db/ident :sale/region :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
	 {:db/ident :sale/day    :db/valueType :db.type/long   :db/cardinality :db.cardinality/one}
	 {:db/ident :sale/amount :db/valueType :db.type/long   :db/cardinality :db.cardinality/one}]`); err != nil {
		return fmt.Errorf("transact schema: %w", err)
	}
	datoms := 0
	var b strings.Builder
	for lo := 0; lo < sales; lo += batch {
		b.Reset()
		b.WriteString("[")
		for i := lo; i < min(lo+batch, sales); i++ {
			fmt.Fprintf(&b, "{:sale/id %d :sale/region %q :sale/day %d :sale/amount %d}\n",
				i, regions[i%len(regions)], i%365, saleAmount(i))
		}
		b.WriteString("]")
		rep, err := conn.Transact(ctx, b.String())
		if err != nil {
			return fmt.Errorf("transact sales %d-%d: %w", lo, min(lo+batch, sales)-1, err)
		}
		datoms += len(rep.TxData)
	}
	if err := conn.Close(); err != nil {
		return err
	}
	fmt.Printf("built %d datoms in %s\n", datoms, time.Since(start).Round(time.Millisecond))
	return nil
}

// printRows prints a relation, one tuple per line, sorted: relations are
// sets, in no particular order.
func printRows(res any) {
	rows := res.(query.Relation)
	lines := make([]string, len(rows))
	for i, r := range rows {
		lines[i] = fmt.Sprintf("  %-7v %6v %9v %5v", r...)
	}
	sort.Strings(lines)
	fmt.Println(strings.Join(lines, "\n"))
}
