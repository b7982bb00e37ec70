package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// bin is the accrete binary the end-to-end tests run as real processes, as
// a user would. It is built once, on first use (not in TestMain, so that
// fuzz workers and unit-only runs do not pay for a build), into binDir,
// which TestMain removes.
var (
	binDir   string
	bin      string
	binOnce  sync.Once
	binError error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binary builds the accrete binary once (go build -o DIR/accrete .).
func binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binError = os.MkdirTemp("", "accrete-cli-")
		if binError != nil {
			return
		}
		bin = filepath.Join(binDir, "accrete")
		out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
		if err != nil {
			binError = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binError != nil {
		t.Fatalf("build accrete: %v", binError)
	}
	return bin
}

// result is what one process printed and how it exited.
type result struct {
	stdout, stderr string
	code           int
}

// accrete runs the binary with args (and stdin when not empty).
func accrete(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run accrete %q: %v", args, err)
	}
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// ok runs accrete and fails the test unless it exits 0; it returns stdout
// without its final newline.
func ok(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	r := accrete(t, stdin, args...)
	if r.code != 0 {
		t.Fatalf("accrete %q: exit %d, stderr:\n%s", args, r.code, r.stderr)
	}
	if !strings.HasSuffix(r.stdout, "\n") || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("accrete %q: stdout is not exactly one line:\n%q", args, r.stdout)
	}
	return strings.TrimSuffix(r.stdout, "\n")
}

// want compares got with want.
func want(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s:\n got  %s\n want %s", what, got, want)
	}
}

// fileURL returns the URL of a new directory-backed bucket under t's temp dir.
func fileURL(t *testing.T, name string) (string, string) {
	dir := filepath.Join(t.TempDir(), name)
	return "file://" + dir, dir
}

// snapshot returns every file under dir with a hash of its contents, to
// check that a failing command changed nothing.
func snapshot(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	m := map[string][32]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			m[rel+"/"] = [32]byte{}
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		m[rel] = sha256.Sum256(b)
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return m
}

func diffSnapshots(a, b map[string][32]byte) string {
	var d []string
	for k, v := range a {
		if w, ok := b[k]; !ok {
			d = append(d, "removed "+k)
		} else if w != v {
			d = append(d, "changed "+k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			d = append(d, "added "+k)
		}
	}
	return strings.Join(d, ", ")
}

const schemaTx = `[{:db/ident :person/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :person/age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
 {:db/ident :person/friend :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}]`

const peopleTx = `[{:db/id "ann" :person/name "Ann" :person/age 30 :person/friend "bob"}
 {:db/id "bob" :person/name "Bob" :person/age 25}
 [:db/add -1 :person/name "Cy"]
 {:db/id "datomic.tx" :db/doc "first people"}]`

// newPeople creates a database with the schema and three people (t 1 and 2).
func newPeople(t *testing.T, url string) {
	t.Helper()
	ok(t, "", "create", url)
	ok(t, schemaTx, "transact", url, "-")
	ok(t, "", "transact", url, peopleTx)
}

// startWatch starts `accrete watch` and waits until it says it is watching.
func startWatch(t *testing.T, args ...string) (*exec.Cmd, *bufio.Reader) {
	t.Helper()
	cmd := exec.Command(binary(t), append([]string{"watch", "--interval", "50ms"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stderr).ReadString('\n')
		ready <- line
	}()
	select {
	case line := <-ready:
		if !strings.Contains(line, "watching") {
			t.Fatalf("watch: stderr %q, want a line saying it is watching", line)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("watch did not start within 20s")
	}
	return cmd, bufio.NewReader(stdout)
}

// readLine reads one line from r within a deadline.
func readLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	got := make(chan string, 1)
	go func() {
		line, _ := r.ReadString('\n')
		got <- line
	}()
	select {
	case line := <-got:
		return line
	case <-time.After(20 * time.Second):
		t.Fatal("no line within 20s")
		return ""
	}
}
