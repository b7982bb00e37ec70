// Command s3reader shows accrete's serverless reading: one writer process and
// several reader processes that share nothing but a bucket (S3 in
// production). Each reader follows the branch with reader.Watch, which polls
// the head with a conditional read (an unchanged head costs one GET answered
// 304) and hands over every new database value together with the
// transactions committed since the previous one, none skipped. The reader
// then queries the new value.
//
// Run the whole demo (a writer and two reader processes) from the repository
// root:
//
//	go run ./examples/s3reader                       # a file:// bucket in a temp dir
//	go run ./examples/s3reader --url 's3://my-bucket/orders?region=eu-west-1'
//	go run ./examples/s3reader --url 's3://accrete-test/orders?endpoint=http://127.0.0.1:7070&use_path_style=true&region=us-east-1'
//
// or run the parts yourself, in several shells or on several machines:
//
//	go run ./examples/s3reader --role reader --url URL --orders 5   # each reader
//	go run ./examples/s3reader --role writer --url URL --orders 5   # the writer
//
// S3 credentials and region come from the AWS SDK's standard chain
// (AWS_ACCESS_KEY_ID, ~/.aws, instance roles); the URL's query may set
// region, endpoint and use_path_style.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/accretedb/accrete"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/query"
	"github.com/accretedb/accrete/reader"
)

func main() {
	url := flag.String("url", "", "bucket URL shared by the writer and the readers (default: a file:// bucket in a new temporary directory)")
	role := flag.String("role", "demo", "demo (writer + reader processes), writer or reader")
	readers := flag.Int("readers", 2, "demo: number of reader processes")
	orders := flag.Int("orders", 5, "number of orders the writer places; a reader stops once it has seen them all")
	interval := flag.Duration("interval", 100*time.Millisecond, "writer: pause between two orders")
	poll := flag.Duration("poll", 50*time.Millisecond, "reader: interval between polls of the branch head")
	id := flag.Int("id", 1, "reader: a number naming this reader in its output")
	timeout := flag.Duration("timeout", time.Minute, "give up after this long")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var err error
	switch *role {
	case "demo":
		err = demo(ctx, *url, *readers, *orders, *interval, *poll)
	case "writer":
		err = writeOrders(ctx, *url, *orders, *interval)
	case "reader":
		err = readOrders(ctx, *url, *id, *orders, *poll)
	default:
		err = fmt.Errorf("unknown --role %q (want demo, writer or reader)", *role)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "s3reader:", err)
		os.Exit(1)
	}
}

// schema: an order has an id (unique, so re-running the writer updates
// rather than duplicates), an item and a quantity.
const schema = `[
 {:db/ident :order/id   :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :order/item :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :order/qty  :db/valueType :db.type/long   :db/cardinality :db.cardinality/one}]`

var items = []string{"apple", "pear", "plum", "fig", "kiwi"}

// out serializes whole lines from the goroutines of the demo process.
var out sync.Mutex

func say(format string, args ...any) {
	out.Lock()
	defer out.Unlock()
	fmt.Printf(format+"\n", args...)
}

// demo prepares the database, starts the reader processes, waits until each
// is watching, then writes the orders and waits for every reader to see them.
func demo(ctx context.Context, url string, nReaders, nOrders int, interval, poll time.Duration) error {
	// Cancelling ctx kills the reader processes: none outlives a failed demo.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if url == "" {
		dir, err := os.MkdirTemp("", "accrete-s3reader-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		url = "file://" + filepath.ToSlash(dir)
	}
	say("bucket: %s", url)
	conn, err := accrete.Create(ctx, url, nil)
	if errors.Is(err, accrete.ErrExists) {
		return fmt.Errorf("%s already holds a database: the demo needs an empty bucket (or use --role)", url)
	}
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.Transact(ctx, schema); err != nil {
		return fmt.Errorf("transact schema: %w", err)
	}

	exe, err := os.Executable()
	if err != nil {
		return err
	}
	ready := make(chan struct{}, nReaders)
	errs := make(chan error, nReaders)
	for i := 1; i <= nReaders; i++ {
		cmd := exec.CommandContext(ctx, exe, "--role", "reader", "--url", url,
			"--id", strconv.Itoa(i), "--orders", strconv.Itoa(nOrders), "--poll", poll.String())
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start reader %d: %w", i, err)
		}
		say("started reader process %d (pid %d)", i, cmd.Process.Pid)
		go func() {
			// Forward the reader's lines; its first line says it is watching.
			sc := bufio.NewScanner(stdout)
			first := true
			for sc.Scan() {
				say("  %s", sc.Text())
				if first {
					ready <- struct{}{}
					first = false
				}
			}
			if first {
				ready <- struct{}{} // it died before watching: Wait reports why
			}
			errs <- cmd.Wait()
		}()
	}
	for range nReaders {
		select {
		case <-ready:
		case <-ctx.Done():
			return ctx.Err()
		}
	}

	if err := writeOrders(ctx, url, nOrders, interval); err != nil {
		return err
	}
	var failed error
	for range nReaders {
		if err := <-errs; err != nil {
			failed = errors.Join(failed, fmt.Errorf("reader process: %w", err))
		}
	}
	if failed != nil {
		return failed
	}
	say("all %d readers saw all %d orders", nReaders, nOrders)
	return nil
}

// writeOrders is the writer process: the only one that transacts. It
// connects to (or creates) the database and places nOrders orders, one
// transaction each.
func writeOrders(ctx context.Context, url string, nOrders int, interval time.Duration) error {
	if url == "" {
		return errors.New("--role writer needs --url")
	}
	conn, err := accrete.CreateOrConnect(ctx, url, nil)
	if err != nil {
		return err
	}
	defer conn.Close()
	if conn.DB().Schema().AttrByIdent(edn.Keyword("order/id")) == nil {
		if _, err := conn.Transact(ctx, schema); err != nil {
			return fmt.Errorf("transact schema: %w", err)
		}
	}
	for i := 1; i <= nOrders; i++ {
		if i > 1 {
			select {
			case <-time.After(interval):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		item := items[(i-1)%len(items)]
		rep, err := conn.Transact(ctx, fmt.Sprintf(`[{:order/id "o%d" :order/item %q :order/qty %d}]`, i, item, i))
		if err != nil {
			return fmt.Errorf("transact order %d: %w", i, err)
		}
		say("writer: t=%d placed order o%d: %d %s", rep.T, i, i, item)
	}
	return conn.Close()
}

// readOrders is a reader process: it opens the bucket, watches the branch
// and queries each new value until it has seen nOrders orders.
func readOrders(ctx context.Context, url string, id, nOrders int, poll time.Duration) error {
	if url == "" {
		return errors.New("--role reader needs --url")
	}
	// One store for every value Watch opens, so they share its node cache.
	st, err := konserve.Open(ctx, url, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	// Wait for the writer to create the database if it has not yet.
	var db *reader.DB
	for {
		db, err = reader.OpenStore(ctx, st, nil)
		if !errors.Is(err, reader.ErrNoDatabase) {
			break
		}
		select {
		case <-time.After(poll):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err != nil {
		return err
	}
	n, qty, err := summary(ctx, db)
	if err != nil {
		return err
	}
	say("reader %d: watching from t=%d (%d orders, %d items)", id, db.BasisT(), n, qty)
	if n >= int64(nOrders) {
		say("reader %d: done at t=%d: %d orders, %d items", id, db.BasisT(), n, qty)
		return nil
	}

	errDone := errors.New("done")
	seen := 0
	err = reader.Watch(ctx, st, &reader.WatchOptions{From: db, Interval: poll}, func(db *reader.DB, txs []reader.TxInfo) error {
		n, qty, err := summary(ctx, db)
		if err != nil {
			return err
		}
		datoms := 0
		for _, tx := range txs {
			datoms += len(tx.Datoms)
		}
		seen += len(txs)
		say("reader %d: new value t=%d (+%d tx, %d datoms): %d orders, %d items", id, db.BasisT(), len(txs), datoms, n, qty)
		if n >= int64(nOrders) {
			say("reader %d: done at t=%d: %d orders, %d items, %d transactions seen", id, db.BasisT(), n, qty, seen)
			return errDone
		}
		return nil
	})
	if errors.Is(err, errDone) {
		return nil
	}
	return err
}

// summary counts the orders of db and sums their quantities.
func summary(ctx context.Context, db *reader.DB) (orders, qty int64, err error) {
	res, err := accrete.Q(ctx, `[:find (count ?o) (sum ?q) :where [?o :order/id] [?o :order/qty ?q]]`, db)
	if err != nil {
		return 0, 0, fmt.Errorf("query orders: %w", err)
	}
	rows := res.(query.Relation)
	if len(rows) == 0 { // no orders yet: aggregates over nothing give no row
		return 0, 0, nil
	}
	orders, ok1 := rows[0][0].(int64)
	qty, ok2 := rows[0][1].(int64)
	if !ok1 || !ok2 {
		return 0, 0, fmt.Errorf("query orders: unexpected result %v", rows[0])
	}
	return orders, qty, nil
}
