package writer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/reader"
)

// A writer process and a reader process (issue 3): the reader follows the
// branch with reader.Watch on the file bucket while the writer process
// commits K transactions; the reader must receive every transaction, in
// order, none skipped and none twice, each with its datoms.

const (
	envWatchUntil    = "ACCRETE_WRITER_HELPER_UNTIL"    // basis t at which the watcher stops
	envWatchInterval = "ACCRETE_WRITER_HELPER_INTERVAL" // poll interval
)

var errWatchDone = errors.New("watch: done")

// TestHelperProcessWatcher is not a test: it is the body of the reader
// process, run only when the parent test sets ACCRETE_WRITER_HELPER to
// "watcher". It prints "ready" once it holds its starting value, then one
// "tx <t> <counter value>" line per transaction Watch reports and one
// "poll <number of transactions>" line per new value.
func TestHelperProcessWatcher(t *testing.T) {
	if os.Getenv(envHelper) != "watcher" {
		return // a normal test run: nothing to do
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	until, _ := strconv.ParseInt(os.Getenv(envWatchUntil), 10, 64)
	interval, _ := time.ParseDuration(os.Getenv(envWatchInterval))
	st, err := konserve.Open(ctx, os.Getenv(envURL), nil)
	if err != nil {
		t.Fatalf("watcher: %v", err)
	}
	defer st.Close()
	from, err := reader.OpenStore(ctx, st, nil)
	if err != nil {
		t.Fatalf("watcher: %v", err)
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	fmt.Fprintln(out, "ready", from.BasisT())
	out.Flush()
	err = reader.Watch(ctx, st, &reader.WatchOptions{Interval: interval, From: from}, func(db *reader.DB, txs []reader.TxInfo) error {
		nA, _ := db.Schema().Entid("counter/n")
		fmt.Fprintln(out, "poll", len(txs), db.BasisT())
		for _, ti := range txs {
			v := int64(-1)
			for _, d := range ti.Datoms {
				if d.A == nA && d.Added {
					v = d.V.(int64)
				}
			}
			fmt.Fprintln(out, "tx", ti.T, v)
		}
		if db.BasisT() >= until {
			return errWatchDone
		}
		return nil
	})
	if !errors.Is(err, errWatchDone) {
		t.Fatalf("watcher: %v", err)
	}
}

func TestWatchAcrossProcesses(t *testing.T) {
	// A fast poll sees most commits one by one; a slow one sees several
	// commits between two polls and must report all of them.
	for _, iv := range []time.Duration{2 * time.Millisecond, 100 * time.Millisecond} {
		t.Run(iv.String(), func(t *testing.T) { runWatch(t, iv) })
	}
}

func runWatch(t *testing.T, interval time.Duration) {
	ctx := context.Background()
	url := "file://" + t.TempDir()
	const k = 40
	w, err := Create(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustTx(t, w, counterSchema)
	mustTx(t, w, `[{:counter/name "c" :counter/n 0}]`)
	start := w.DB().BasisT()
	w.Close()

	// The reader process.
	rcmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcessWatcher$", "-test.count=1")
	rcmd.Env = append(os.Environ(), envHelper+"=watcher", envURL+"="+url, envWatchUntil+"="+strconv.FormatInt(start+k, 10),
		envWatchInterval+"="+interval.String())
	rcmd.Stderr = os.Stderr
	rout, err := rcmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := rcmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer rcmd.Process.Kill() // a no-op once it has exited
	br := bufio.NewReader(rout)
	first, err := br.ReadString('\n')
	if err != nil || first != fmt.Sprintf("ready %d\n", start) {
		t.Fatalf("watcher's first line %q (%v), want %q", first, err, fmt.Sprintf("ready %d", start))
	}

	// The writer process: K increments through the transaction function.
	wcmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcessWriter$", "-test.count=1")
	wcmd.Env = append(os.Environ(), envHelper+"=writer", envURL+"="+url, envCount+"="+strconv.Itoa(k), envMode+"=fn")
	if out, err := wcmd.CombinedOutput(); err != nil {
		t.Fatalf("writer process: %v\n%s", err, out)
	}

	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	if err := rcmd.Wait(); err != nil {
		t.Fatalf("watcher process: %v\n%s", err, rest)
	}
	next := start + 1
	polls, txs := 0, 0
	for _, line := range strings.Split(strings.TrimSpace(string(rest)), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue // the test framework's own output
		}
		switch f[0] {
		case "poll":
			polls++
		case "tx":
			tv, _ := strconv.ParseInt(f[1], 10, 64)
			v, _ := strconv.ParseInt(f[2], 10, 64)
			if tv != next || v != tv-start {
				t.Fatalf("watcher saw tx %d with counter %d, want tx %d with counter %d (in order, none skipped)", tv, v, next, next-start)
			}
			next++
			txs++
		}
	}
	if txs != k {
		t.Fatalf("watcher saw %d transactions, want %d", txs, k)
	}
	t.Logf("watcher saw %d transactions in %d new values", txs, polls)
}
