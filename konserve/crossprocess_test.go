package konserve_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/accretedb/accrete/konserve"
)

// Cross-process compare-and-swap: the test binary re-executes itself as
// several OS processes (TestCrossProcessHelper) that race swaps on one key of a
// real server. Goroutines in one process share one HTTP client and one
// connection pool; processes share nothing but the server, which is the
// situation of several accrete writers.

const (
	xpHelperEnv     = "ACCRETE_KONSERVE_XP_HELPER"
	xpURLEnv        = "ACCRETE_KONSERVE_XP_HELPER_URL"
	xpIDEnv         = "ACCRETE_KONSERVE_XP_HELPER_ID"
	xpRoundsEnv     = "ACCRETE_KONSERVE_XP_HELPER_ROUNDS"
	xpIncrementsEnv = "ACCRETE_KONSERVE_XP_HELPER_INCREMENTS"
)

// runCrossProcessCAS starts procs helper processes against rawURL and
// checks both phases:
//   - rounds: every process repeatedly reads the head "round n by p" and
//     swaps it to "round n+1 by me"; each round must have exactly one winner;
//   - counter: every process increments a counter increments times by
//     read-modify-swap; the final value must be procs × increments.
func runCrossProcessCAS(t *testing.T, rawURL string, procs, rounds, increments int) {
	t.Helper()
	ctx := context.Background()
	b := openBackend(t, rawURL)
	defer b.Close()
	if _, err := b.Swap(ctx, "race/HEAD", "", []byte("round 0 by parent")); err != nil {
		t.Fatalf("create race head: %v", err)
	}
	if _, err := b.Swap(ctx, "race/counter", "", []byte("0 by parent")); err != nil {
		t.Fatalf("create counter: %v", err)
	}

	cmds := make([]*exec.Cmd, procs)
	outs := make([]*bytes.Buffer, procs)
	for i := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrossProcessHelper$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(),
			xpHelperEnv+"=1",
			xpURLEnv+"="+rawURL,
			xpIDEnv+"="+strconv.Itoa(i),
			xpRoundsEnv+"="+strconv.Itoa(rounds),
			xpIncrementsEnv+"="+strconv.Itoa(increments),
		)
		outs[i] = new(bytes.Buffer)
		cmd.Stdout = outs[i]
		cmd.Stderr = outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatalf("start helper %d: %v", i, err)
		}
		cmds[i] = cmd
	}
	failed := false
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("helper %d: %v\n%s", i, err, outs[i])
			failed = true
		}
	}
	if failed {
		t.FailNow()
	}

	winners := make(map[int][]int) // round → winning processes
	for i := range procs {
		sc := bufio.NewScanner(bytes.NewReader(outs[i].Bytes()))
		for sc.Scan() {
			var r int
			if _, err := fmt.Sscanf(sc.Text(), "WIN %d", &r); err == nil {
				winners[r] = append(winners[r], i)
			}
		}
	}
	for r := 1; r <= rounds; r++ {
		if got := winners[r]; len(got) != 1 {
			t.Errorf("round %d: winners %v, want exactly one", r, got)
		}
	}
	if len(winners) != rounds {
		t.Errorf("%d rounds had winners, want %d", len(winners), rounds)
	}
	data, _, err := b.ReadVersioned(ctx, "race/counter")
	if err != nil {
		t.Fatalf("read counter: %v", err)
	}
	var n int
	if _, err := fmt.Sscanf(string(data), "%d", &n); err != nil {
		t.Fatalf("parse counter %q: %v", data, err)
	}
	if want := procs * increments; n != want {
		t.Errorf("counter = %d, want %d (%d processes × %d increments): updates lost or doubled", n, want, procs, increments)
	}
	t.Logf("%d processes: %d rounds with one winner each, counter %d", procs, rounds, n)
}

// TestCrossProcessHelper is not a test: it is the body of one racing process of
// runCrossProcessCAS, and does nothing unless re-executed with xpHelperEnv set.
func TestCrossProcessHelper(t *testing.T) {
	if os.Getenv(xpHelperEnv) != "1" {
		t.Skip("helper process for the cross-process CAS tests; runs only when re-executed by them")
	}
	id := os.Getenv(xpIDEnv)
	rounds, _ := strconv.Atoi(os.Getenv(xpRoundsEnv))
	increments, _ := strconv.Atoi(os.Getenv(xpIncrementsEnv))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b := openBackend(t, os.Getenv(xpURLEnv))
	defer b.Close()

	// Phase 1: rounds. A swap that fails ambiguously is resolved by
	// re-reading: if the head is ours, we won (as the Store does).
	for {
		data, v, err := b.ReadVersioned(ctx, "race/HEAD")
		if err != nil {
			t.Fatalf("read head: %v", err)
		}
		var n int
		if _, err := fmt.Sscanf(string(data), "round %d", &n); err != nil {
			t.Fatalf("parse head %q: %v", data, err)
		}
		if n >= rounds {
			break
		}
		mine := fmt.Sprintf("round %d by %s", n+1, id)
		_, err = b.Swap(ctx, "race/HEAD", v, []byte(mine))
		if err != nil && !errors.Is(err, konserve.ErrConflict) {
			won, rerr := isMine(ctx, b, "race/HEAD", mine)
			if rerr != nil {
				t.Fatalf("swap %q: %v; re-read: %v", mine, err, rerr)
			}
			if !won {
				continue
			}
			err = nil
		}
		if err == nil {
			fmt.Printf("WIN %d\n", n+1)
		}
	}

	// Phase 2: counter. Values carry the process id and a local sequence so
	// that no two writes have the same bytes (S3 ETags are content MD5s).
	for j := 0; j < increments; {
		data, v, err := b.ReadVersioned(ctx, "race/counter")
		if err != nil {
			t.Fatalf("read counter: %v", err)
		}
		var n int
		if _, err := fmt.Sscanf(string(data), "%d", &n); err != nil {
			t.Fatalf("parse counter %q: %v", data, err)
		}
		mine := fmt.Sprintf("%d by %s", n+1, id)
		_, err = b.Swap(ctx, "race/counter", v, []byte(mine))
		if err != nil && !errors.Is(err, konserve.ErrConflict) {
			won, rerr := isMine(ctx, b, "race/counter", mine)
			if rerr != nil {
				t.Fatalf("swap counter: %v; re-read: %v", err, rerr)
			}
			if won {
				err = nil
			}
		}
		if err == nil {
			j++
		}
	}
}

// isMine re-reads key after an ambiguous swap and reports whether it holds
// mine (values are unique per writer). If another process has already
// swapped on top of an ambiguous success, the win is not seen and the test
// reports a round without a winner or a counter off by one: ambiguous
// answers are not expected on loopback, so that failure would be real news.
func isMine(ctx context.Context, b konserve.Backend, key, mine string) (bool, error) {
	data, _, err := b.ReadVersioned(ctx, key)
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(string(data)) == mine, nil
}
