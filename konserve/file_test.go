package konserve_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accretedb/accrete/konserve"
)

// Cross-process compare-and-swap on the file backend. The test re-executes
// its own binary as helper processes (the os/exec test pattern); the
// environment variable below switches TestHelperProcess into helper mode.
const (
	helperEnv        = "ACCRETE_KONSERVE_CAS_HELPER" // "<dir>|<proc id>|<start unix nanos>"
	casProcs         = 4
	casRounds        = 30
	casIncrements    = 25
	casVersionsFile  = "versions.txt"
	casStoreSubdir   = "store"
	casCreatePrefix  = "race/create/r"
	casReplacePrefix = "race/replace/r"
	casCounterKey    = "race/counter"
)

func TestFileCASAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := konserve.Open(ctx, "file://"+filepath.Join(dir, casStoreSubdir), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Replace races start from a version every process knows in advance.
	var versions bytes.Buffer
	for r := range casRounds {
		v, err := s.SwapHead(ctx, fmt.Sprint(casReplacePrefix, r), "", fmt.Appendf(nil, "initial %d", r))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&versions, v)
	}
	if _, err := s.SwapHead(ctx, casCounterKey, "", []byte("0 init")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, casVersionsFile), versions.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	// All helpers start at the same instant so their rounds overlap.
	start := time.Now().Add(400 * time.Millisecond).UnixNano()
	outs := make([]bytes.Buffer, casProcs)
	errs := make([]error, casProcs)
	var wg sync.WaitGroup
	for p := range casProcs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%d|%d", helperEnv, dir, p, start))
		cmd.Stdout = &outs[p]
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		wg.Go(func() {
			if err := cmd.Run(); err != nil {
				errs[p] = fmt.Errorf("helper %d: %w\nstdout:\n%s\nstderr:\n%s", p, err, outs[p].String(), stderr.String())
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	// Each helper prints "create <round>" / "replace <round>" per win.
	winners := map[string][]int{}
	for p := range casProcs {
		sc := bufio.NewScanner(&outs[p])
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 2 && (f[0] == "create" || f[0] == "replace") {
				winners[f[0]+" "+f[1]] = append(winners[f[0]+" "+f[1]], p)
			}
		}
	}
	wins := make([]int, casProcs)
	for _, ws := range winners {
		for _, p := range ws {
			wins[p]++
		}
	}
	t.Logf("wins per process over %d create and %d replace rounds: %v", casRounds, casRounds, wins)
	for r := range casRounds {
		for _, kind := range []string{"create", "replace"} {
			ws := winners[fmt.Sprint(kind, " ", r)]
			if len(ws) != 1 {
				t.Errorf("%s round %d: winners %v, want exactly one", kind, r, ws)
				continue
			}
			prefix := casCreatePrefix
			if kind == "replace" {
				prefix = casReplacePrefix
			}
			data, _, err := s.ReadHead(ctx, fmt.Sprint(prefix, r))
			if want := fmt.Sprintf("%s %d by %d", kind, r, ws[0]); err != nil || string(data) != want {
				t.Errorf("%s round %d: key holds %q (%v), want the winner's %q", kind, r, data, err, want)
			}
		}
	}
	data, _, err := s.ReadHead(ctx, casCounterKey)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(strings.Fields(string(data))[0])
	if want := casProcs * casIncrements; n != want {
		t.Errorf("counter = %d (%q), want %d = %d processes × %d increments: an update was lost", n, data, want, casProcs, casIncrements)
	}
}

// TestHelperProcess is the body of each helper process started by
// TestFileCASAcrossProcesses; run directly, it has nothing to do.
func TestHelperProcess(t *testing.T) {
	env := os.Getenv(helperEnv)
	if env == "" {
		t.Skip("helper for TestFileCASAcrossProcesses; runs only when re-executed by it")
	}
	if err := runCASHelper(env); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func runCASHelper(env string) error {
	ctx := context.Background()
	parts := strings.Split(env, "|")
	if len(parts) != 3 {
		return fmt.Errorf("bad %s=%q", helperEnv, env)
	}
	dir := parts[0]
	id, err := strconv.Atoi(parts[1])
	if err != nil {
		return err
	}
	startNanos, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return err
	}
	vb, err := os.ReadFile(filepath.Join(dir, casVersionsFile))
	if err != nil {
		return err
	}
	versions := strings.Fields(string(vb))
	s, err := konserve.Open(ctx, "file://"+filepath.Join(dir, casStoreSubdir), nil)
	if err != nil {
		return err
	}
	defer s.Close()
	time.Sleep(time.Until(time.Unix(0, startNanos)))

	for r := range casRounds {
		// Create race: the key does not exist; everybody creates it.
		_, err := s.SwapHead(ctx, fmt.Sprint(casCreatePrefix, r), "", fmt.Appendf(nil, "create %d by %d", r, id))
		switch {
		case err == nil:
			fmt.Println("create", r)
		case !errors.Is(err, konserve.ErrConflict):
			return fmt.Errorf("create round %d: %w", r, err)
		}
		// Replace race: everybody swaps from the same known version.
		_, err = s.SwapHead(ctx, fmt.Sprint(casReplacePrefix, r), konserve.Version(versions[r]), fmt.Appendf(nil, "replace %d by %d", r, id))
		switch {
		case err == nil:
			fmt.Println("replace", r)
		case !errors.Is(err, konserve.ErrConflict):
			return fmt.Errorf("replace round %d: %w", r, err)
		}
	}
	// Counter: read, add one, swap; retry on conflict. The writer id in
	// the value keeps values unique, as SwapHead requires of heads.
	for done := 0; done < casIncrements; {
		data, v, err := s.ReadHead(ctx, casCounterKey)
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(strings.Fields(string(data))[0])
		if err != nil {
			return fmt.Errorf("counter %q: %w", data, err)
		}
		_, err = s.SwapHead(ctx, casCounterKey, v, fmt.Appendf(nil, "%d by %d", n+1, id))
		switch {
		case err == nil:
			done++
		case !errors.Is(err, konserve.ErrConflict):
			return fmt.Errorf("counter: %w", err)
		}
	}
	return nil
}
