package writer

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/accretedb/accrete/konserve"
)

// TestKilledWriterProcess: a writer process on the file backend is killed
// (SIGKILL, no Close) in the middle of a stream of commits, at a different
// point each round. On that backend a commit's log tail and commit record
// are staged in the head file's slot and written as files in the
// background, so a kill usually lands with the last commits' objects only
// in the ring. Afterwards the database must open, every node the head and
// its whole history reach must be readable, every acknowledged increment
// must be in it, and the next writer process must commit on top.
func TestKilledWriterProcess(t *testing.T) {
	if os.Getenv(envHelper) != "" {
		return
	}
	ctx := context.Background()
	url := "file://" + t.TempDir()
	w, err := Create(ctx, url, &Options{TailBytes: 2048})
	if err != nil {
		t.Fatal(err)
	}
	mustTx(t, w, counterSchema)
	mustTx(t, w, `[{:counter/name "c" :counter/n 0}]`)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	acked := int64(0)
	for round, killAfter := range []int{1, 3, 7, 12, 20, 33} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcessKilledWriter$", "-test.count=1")
		cmd.Env = append(os.Environ(), envHelper+"=killed-writer", envURL+"="+url)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(stdout)
		seen := 0
		for seen < killAfter && lines.Scan() {
			f := strings.Fields(lines.Text())
			if len(f) == 2 && f[0] == "acked" {
				v, _ := strconv.ParseInt(f[1], 10, 64)
				acked = max(acked, v)
				seen++
			}
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, stdout)
		_ = cmd.Wait()
		if seen < killAfter {
			t.Fatalf("round %d: the writer process stopped after %d acknowledged commits", round, seen)
		}

		st, err := konserve.Open(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		s, err := readState(ctx, st.Backend())
		if err != nil {
			t.Fatalf("round %d (killed after %d commits): %v", round, killAfter, err)
		}
		st.Close()
		w, err := Open(ctx, url, &Options{Funcs: counterFuncs})
		if err != nil {
			t.Fatalf("round %d: open a writer after the kill: %v", round, err)
		}
		n, err := counterValue(ctx, w.DB())
		if err != nil {
			t.Fatal(err)
		}
		if n < acked {
			t.Fatalf("round %d: counter %d after the kill, but %d was acknowledged", round, n, acked)
		}
		rep, err := w.Transact(ctx, `[[:counter/inc "c"]]`)
		if err != nil {
			t.Fatalf("round %d: commit after the kill: %v", round, err)
		}
		if n2, err := counterValue(ctx, rep.DBAfter); err != nil || n2 != n+1 {
			t.Fatalf("round %d: counter after the next commit %d, %v; want %d", round, n2, err, n+1)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: killed after %d commits; basis t %d, %d datoms read", round, killAfter, s.basisT, len(s.dump))
	}
}

// TestHelperProcessKilledWriter is not a test: it is the body of the
// writer process TestKilledWriterProcess kills. It increments the counter
// until it is killed, printing (unbuffered) one "acked <value>" line per
// acknowledged commit.
func TestHelperProcessKilledWriter(t *testing.T) {
	if os.Getenv(envHelper) != "killed-writer" {
		return
	}
	ctx := context.Background()
	w, err := Open(ctx, os.Getenv(envURL), &Options{Funcs: counterFuncs, TailBytes: 2048})
	if err != nil {
		t.Fatalf("helper: open: %v", err)
	}
	for {
		rep, err := w.Transact(ctx, `[[:counter/inc "c"]]`)
		if err != nil {
			t.Fatalf("helper: transact: %v", err)
		}
		n, err := counterValue(ctx, rep.DBAfter)
		if err != nil {
			t.Fatalf("helper: %v", err)
		}
		fmt.Fprintf(os.Stdout, "acked %d\n", n)
	}
}
