package examples_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/accretedb/accrete/internal/testenv"
)

// bin holds the example binaries TestMain builds once, by name.
var bin string

// examples are the folders TestMain builds; every one must have a test here.
var examples = []string{"quickstart", "s3reader", "crossjoin", "analytics"}

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "accrete-examples-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin = dir
	// No symbol tables: linking is most of the cost of this test.
	args := []string{"build", "-ldflags=-s -w", "-o", dir + string(filepath.Separator)}
	for _, e := range examples {
		args = append(args, "./"+e)
	}
	cmd := exec.Command("go", args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go %s: %v\n%s", strings.Join(args, " "), err, out)
		return 1
	}
	return m.Run()
}

// run runs example name with args, waits at most timeout and returns its
// stdout; it fails the test if the process fails.
func run(t *testing.T, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	exe := filepath.Join(bin, name)
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	t.Logf("%s %s:\n%s", name, strings.Join(args, " "), stdout.String())
	return stdout.String()
}

// wantLines fails the test unless every line of want occurs in out, in order
// (other lines may come between them).
func wantLines(t *testing.T, out string, want ...string) {
	t.Helper()
	lines := strings.Split(out, "\n")
	i := 0
	for _, w := range want {
		for i < len(lines) && strings.TrimSpace(lines[i]) != w {
			i++
		}
		if i == len(lines) {
			t.Errorf("output lacks line %q (in this order: %q)", w, want)
			return
		}
		i++
	}
}

// wantMatch fails the test unless out matches the regular expression re,
// and returns its submatches.
func wantMatch(t *testing.T, out, re string) []string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(out)
	if m == nil {
		t.Errorf("output does not match %s", re)
	}
	return m
}

// TestEveryExampleIsBuilt keeps the list above in step with the folders, so
// a new example cannot escape the build.
func TestEveryExampleIsBuilt(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != "testdata" {
			dirs = append(dirs, e.Name())
		}
	}
	got, want := strings.Join(dirs, " "), strings.Join(sorted(examples), " ")
	if got != want {
		t.Errorf("example folders: got %q, built by the test: %q", got, want)
	}
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	slices.Sort(s)
	return s
}

func fileURL(dir string) string { return "file://" + filepath.ToSlash(dir) }

func TestQuickstart(t *testing.T) {
	dir := t.TempDir()
	out := run(t, 30*time.Second, "quickstart", "--dir", dir)
	wantLines(t, out,
		"created "+fileURL(dir),
		"schema: t=1, 11 datoms",
		"name, age:", `"Ann" 34`, `"Bob" 29`, `"Carol" 41`,
		"friends of people aged 30 or more (name, friend):", `"Ann" "Bob"`, `"Ann" "Carol"`, `"Carol" "Ann"`,
		"average age: 34.666666666666664",
		`Ann: {:person/age 34, :person/friend [{:person/name "Bob"} {:person/name "Carol"}], :person/name "Ann"}`,
		`Ann now: {:person/age 35, :person/friend [{:person/name "Carol"}], :person/name "Ann"}`,
		"as of t=2 Ann was 34; at t=3 she is 35",
		"ages set since t=2 (name, age):", `"Ann" 35`,
		"t=2 :person/age 34 true",
		"t=2 :person/friend \"Bob\" true",
		"t=3 :person/age 35 true",
		"t=3 :person/age 34 false",
		"t=3 :person/friend \"Bob\" false",
	)
	wantMatch(t, out, `ages set since t=2 \(name, age\):\n  "Ann" 35\nhistory`) // and no one else
	// The second process is another OS process that read the bucket.
	m := wantMatch(t, out, `\| reader process (\d+) opened (\S+) at t=3\n`)
	if m != nil {
		if m[1] == "" || m[2] != fileURL(dir) {
			t.Errorf("reader process line: got pid %q url %q, want a pid and %q", m[1], m[2], fileURL(dir))
		}
	}
	wantMatch(t, out, `\| name, age:\n  \|   "Ann" 35\n  \|   "Bob" 29\n  \|   "Carol" 41\n`)
	wantMatch(t, out, `\| Ann has 1 friend\(s\)`)

	// The bucket now holds a database: running again over it is refused.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "quickstart"), "--dir", dir)
	msg, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(msg), "already holds a database") {
		t.Errorf("second run over the same --dir: got err %v, output %q; want a failure saying the bucket already holds a database", err, msg)
	}
}

// TestQuickstartS3 runs the tour, second process included, on the S3
// emulator: only the bucket URL changes.
func TestQuickstartS3(t *testing.T) {
	url := testenv.S3URL(t)
	out := run(t, 30*time.Second, "quickstart", "--url", url)
	wantLines(t, out, "created "+url, "as of t=2 Ann was 34; at t=3 she is 35")
	wantMatch(t, out, `\| reader process \d+ opened \S+ at t=3\n  \| name, age:\n  \|   "Ann" 35\n`)
}

func TestS3ReaderFile(t *testing.T) {
	checkS3Reader(t, fileURL(t.TempDir()))
}

func TestS3ReaderS3(t *testing.T) {
	checkS3Reader(t, testenv.S3URL(t))
}

// checkS3Reader runs the writer and two reader processes over url and checks
// that each reader saw every transaction exactly once and the final totals.
func checkS3Reader(t *testing.T, url string) {
	const readers, orders = 2, 5
	out := run(t, 60*time.Second, "s3reader", "--url", url, "--readers", fmt.Sprint(readers),
		"--orders", fmt.Sprint(orders), "--interval", "20ms", "--poll", "20ms")
	wantLines(t, out,
		"writer: t=2 placed order o1: 1 apple",
		"writer: t=3 placed order o2: 2 pear",
		"writer: t=4 placed order o3: 3 plum",
		"writer: t=5 placed order o4: 4 fig",
		"writer: t=6 placed order o5: 5 kiwi",
		fmt.Sprintf("all %d readers saw all %d orders", readers, orders))
	for r := 1; r <= readers; r++ {
		wantLines(t, out,
			fmt.Sprintf("reader %d: watching from t=1 (0 orders, 0 items)", r),
			fmt.Sprintf("reader %d: done at t=6: 5 orders, 15 items, 5 transactions seen", r))
		// Watch skips no transaction, however many commits land between polls.
		txs, last := 0, 1
		re := regexp.MustCompile(fmt.Sprintf(`reader %d: new value t=(\d+) \(\+(\d+) tx, \d+ datoms\)`, r))
		for _, m := range re.FindAllStringSubmatch(out, -1) {
			var at, n int
			fmt.Sscan(m[1], &at)
			fmt.Sscan(m[2], &n)
			if at != last+n {
				t.Errorf("reader %d: value t=%d reports %d transactions after t=%d; want %d", r, at, n, last, at-last)
			}
			txs += n
			last = at
		}
		if txs != orders || last != 6 {
			t.Errorf("reader %d: saw %d transactions up to t=%d; want %d up to t=6", r, txs, last, orders)
		}
	}
}

// crossjoinAnswer is what the join part prints for the data the example
// writes, whatever the buckets.
var crossjoinAnswer = []string{
	"catalog at t=3, last month's catalog = as of",
	"product, warehouse, qty, price now, price last month:",
	"kettle   Berlin    3 31.90 29.90  (+2.00)",
	"kettle   Lyon     12 31.90 29.90  (+2.00)",
	"mixer    Lyon      5 79.00 89.00  (-10.00)",
	"toaster  Berlin    7 34.90 34.90",
	"warehouse, stock value now, at last month's prices:",
	"Berlin  340.00 334.00",
	"Lyon    777.80 803.80",
}

// checkCrossjoin checks the join's answer: every line, in order, and no
// other product rows (blender is new this month, grinder has no stock).
func checkCrossjoin(t *testing.T, out string) {
	t.Helper()
	i := strings.Index(out, "== join")
	if i < 0 {
		t.Fatalf("output has no join part")
	}
	join := out[i:]
	want := append([]string{}, crossjoinAnswer...)
	// The first line has a date in it: compare its stable prefix.
	wantMatch(t, join, `catalog at t=3, last month's catalog = as of \d{4}-\d\d-\d\d = t=2, inventory at t=2\n`)
	want = want[1:]
	var got []string
	for _, l := range strings.Split(join, "\n")[2:] {
		if l = strings.TrimSpace(l); l != "" {
			got = append(got, l)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("join answer:\ngot:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestCrossjoinFileAndMem(t *testing.T) {
	out := run(t, 30*time.Second, "crossjoin", "--catalog", fileURL(t.TempDir()))
	wantLines(t, out, "== team B: inventory in mem://inventory")
	checkCrossjoin(t, out)
}

// TestCrossjoinProcesses runs each team and the join as its own process,
// sharing only the buckets.
func TestCrossjoinProcesses(t *testing.T) {
	cat, inv := fileURL(t.TempDir()), fileURL(t.TempDir())
	out := run(t, 20*time.Second, "crossjoin", "--part", "catalog", "--catalog", cat)
	wantLines(t, out, "t=2 "+time.Now().AddDate(0, 0, -45).Format("2006-01-02")+": first catalog, 13 datoms")
	run(t, 20*time.Second, "crossjoin", "--part", "inventory", "--catalog", cat, "--inventory", inv)
	out = run(t, 20*time.Second, "crossjoin", "--part", "join", "--catalog", cat, "--inventory", inv)
	checkCrossjoin(t, out)
}

func TestCrossjoinS3AndFile(t *testing.T) {
	out := run(t, 30*time.Second, "crossjoin", "--catalog", testenv.S3URL(t), "--inventory", fileURL(t.TempDir()))
	checkCrossjoin(t, out)
}

// analyticsStats are the request counters one query run printed.
type analyticsStats struct {
	gets, bytes, hits, misses, cachedNodes, cachedBytes int64
}

// analyticsRuns parses the cold and warm runs of an analytics output,
// checking that each printed the expected answer for n sales.
func analyticsRuns(t *testing.T, out string, n int) (cold, warm analyticsStats) {
	t.Helper()
	// The expected answer, recomputed from the example's definition of sale i.
	regions := []string{"north", "east", "south", "west", "center"}
	type agg struct{ count, sum, max int64 }
	want := map[string]*agg{}
	for i := range n {
		a := want[regions[i%5]]
		if a == nil {
			a = &agg{}
			want[regions[i%5]] = a
		}
		amount := int64(i*7919%1000 + 1)
		a.count++
		a.sum += amount
		a.max = max(a.max, amount)
	}
	re := regexp.MustCompile(`(?s)(cold|warm) run \([^)]*\):\nregion, sales, revenue, largest sale:\n(.*?)\nfetched (\d+) nodes, (\d+) bytes; cache hits (\d+), misses (\d+); cache holds (\d+) nodes, (\d+) bytes`)
	ms := re.FindAllStringSubmatch(out, -1)
	if len(ms) != 2 {
		t.Fatalf("found %d query runs in the output, want 2 (cold, warm)", len(ms))
	}
	for _, m := range ms {
		got := map[string]agg{}
		for _, l := range strings.Split(m[2], "\n") {
			var region string
			var a agg
			if _, err := fmt.Sscan(l, &region, &a.count, &a.sum, &a.max); err != nil {
				t.Errorf("%s run: row %q: %v", m[1], l, err)
			}
			got[region] = a
		}
		if len(got) != len(want) {
			t.Errorf("%s run: %d regions, want %d", m[1], len(got), len(want))
		}
		for r, w := range want {
			if got[r] != *w {
				t.Errorf("%s run: region %s: got (count sum max) %v, want %v", m[1], r, got[r], *w)
			}
		}
		var s analyticsStats
		for i, p := range []*int64{&s.gets, &s.bytes, &s.hits, &s.misses, &s.cachedNodes, &s.cachedBytes} {
			*p, _ = strconv.ParseInt(m[3+i], 10, 64)
		}
		if m[1] == "cold" {
			cold = s
		} else {
			warm = s
		}
	}
	return cold, warm
}

func TestAnalytics(t *testing.T) {
	const sales = 10000
	dir := t.TempDir()
	// First run: the bucket is empty, so it builds the database, then reads.
	out := run(t, 60*time.Second, "analytics", "--dir", dir, "--sales", fmt.Sprint(sales), "--batch", "2500")
	wantLines(t, out, fmt.Sprintf("no database in %s: building %d sales", fileURL(dir), sales))
	wantMatch(t, out, fmt.Sprintf(`built %d datoms in`, 4*sales+sales/2500)) // 4 per sale, and each transaction its :db/txInstant
	analyticsRuns(t, out, sales)

	// Second run: read-only over the existing database, with a cache that
	// holds the working set: the warm run fetches nothing.
	out = run(t, 30*time.Second, "analytics", "--dir", dir, "--cache-bytes", fmt.Sprint(64<<20))
	if strings.Contains(out, "building") {
		t.Errorf("second run built the database again")
	}
	cold, warm := analyticsRuns(t, out, sales)
	if cold.gets == 0 || cold.bytes == 0 || cold.misses != cold.gets {
		t.Errorf("cold run with a large cache: got %+v, want some nodes fetched, one GET per miss", cold)
	}
	if warm.gets != 0 || warm.misses != 0 || warm.hits == 0 {
		t.Errorf("warm run with a large cache: got %+v, want every node from the cache", warm)
	}

	// Third run: a cache far smaller than the working set stays within its
	// bound, and the warm run must fetch again.
	const small = 64 << 10
	out = run(t, 30*time.Second, "analytics", "--dir", dir, "--cache-bytes", fmt.Sprint(small))
	cold, warm = analyticsRuns(t, out, sales)
	if warm.gets == 0 || warm.cachedBytes > small || cold.cachedBytes > small {
		t.Errorf("runs with a %d-byte cache: cold %+v, warm %+v; want refetches and at most %d bytes cached", small, cold, warm, small)
	}
}
