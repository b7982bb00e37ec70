package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/internal/testenv"
	"github.com/accretedb/accrete/ops"
)

// field returns the integer value of :key in a printed EDN map, failing
// the test when it is absent.
func field(t *testing.T, m, key string) int64 {
	t.Helper()
	sub := regexp.MustCompile(`:` + regexp.QuoteMeta(key) + ` (-?\d+)[,}]`).FindStringSubmatch(m)
	if sub == nil {
		t.Fatalf("no :%s in %s", key, m)
	}
	n, err := strconv.ParseInt(sub[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// nodeFiles lists the node files of a file bucket (nodes/<2 hex>/<hex>).
func nodeFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "nodes", "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		// Skip gocloud's attribute sidecars and temp files, if any.
		if b := filepath.Base(f); len(b) == 64 {
			out = append(out, f)
		}
	}
	return out
}

// opsQueries are the questions a database must answer the same way before
// and after gc, and in a copy after sync.
var opsQueries = [][]string{
	{`[:find ?n ?a :where [?e :person/name ?n] [?e :person/age ?a]]`},
	{"--as-of", "2", `[:find ?n ?a :where [?e :person/name ?n] [?e :person/age ?a]]`},
	{"--history", `[:find ?n ?a ?added :where [?e :person/name ?n] [?e :person/age ?a _ ?added]]`},
	{`[:find ?n ?f :where [?e :person/name ?n] [?e :person/friend ?x] [?x :person/name ?f]]`},
}

// answers runs opsQueries against url.
func answers(t *testing.T, url string) []string {
	t.Helper()
	var out []string
	for _, q := range opsQueries {
		out = append(out, ok(t, "", append([]string{"query", url}, q...)...))
	}
	return out
}

func sameAnswers(t *testing.T, what string, got, want []string) {
	t.Helper()
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s: query %q:\n got  %s\n want %s", what, opsQueries[i], got[i], want[i])
		}
	}
}

// growPeople adds transactions that replace values, so that older commits
// hold nodes the head no longer reaches.
func growPeople(t *testing.T, url string) {
	t.Helper()
	for i := range 4 {
		ok(t, "", "transact", url, `[{:person/name "Ann" :person/age `+strconv.Itoa(31+i)+`} {:person/name "P`+strconv.Itoa(i)+`" :person/age `+strconv.Itoa(i)+`}]`)
	}
}

// TestGC: a dry run deletes nothing; keeping every commit frees nothing; a
// real run deletes exactly what it reports and the database answers the
// same queries; verify stays clean.
func TestGC(t *testing.T) {
	url, dir := fileURL(t, "gc")
	newPeople(t, url)
	growPeople(t, url)
	before := answers(t, url)

	snap := snapshot(t, dir)
	r := accrete(t, "", "gc", url, "--dry-run", "--grace", "0s")
	if r.code != 0 {
		t.Fatalf("gc --dry-run: exit %d, stderr %s", r.code, r.stderr)
	}
	dry := strings.TrimSuffix(r.stdout, "\n")
	if !strings.HasPrefix(dry, "{:dry-run true, :marked ") || strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("gc --dry-run printed %q, want one map starting {:dry-run true, :marked", r.stdout)
	}
	if !strings.Contains(r.stderr, "gc: done: ") {
		t.Errorf("gc --dry-run: stderr %q, want progress lines ending with gc: done", r.stderr)
	}
	drySwept := field(t, dry, "swept")
	if drySwept == 0 || field(t, dry, "bytes-freed") == 0 {
		t.Errorf("gc --dry-run --grace 0s after replacing values: %s, want something to free", dry)
	}
	if d := diffSnapshots(snap, snapshot(t, dir)); d != "" {
		t.Fatalf("gc --dry-run changed the bucket: %s", d)
	}

	// Keeping every commit (since a time before the database) frees nothing.
	for _, since := range []string{"2000-01-01T00:00:00Z", "87600h"} {
		kept := ok(t, "", "gc", url, "--dry-run", "--grace", "0s", "--keep-since", since)
		if n := field(t, kept, "swept"); n != 0 {
			t.Errorf("gc --dry-run --keep-since %s: swept %d, want 0 (every commit retained): %s", since, n, kept)
		}
	}
	// The default grace (an hour) spares everything just written.
	if n := field(t, ok(t, "", "gc", "--dry-run", url), "swept"); n != 0 {
		t.Errorf("gc --dry-run with the default grace: swept %d, want 0", n)
	}

	files := len(nodeFiles(t, dir))
	real := ok(t, "", "gc", "--grace", "0s", url)
	if !strings.HasPrefix(real, "{:dry-run false, ") {
		t.Errorf("gc printed %s", real)
	}
	swept, bumped := field(t, real, "swept"), field(t, real, "bumped")
	if swept != drySwept {
		t.Errorf("gc swept %d, the dry run announced %d", swept, drySwept)
	}
	if got, want := int64(len(nodeFiles(t, dir))), int64(files)-swept+bumped; got != want {
		t.Errorf("node files after gc: %d, want %d (before) - %d (swept) + %d (bump commits) = %d", got, files, swept, bumped, want)
	}
	sameAnswers(t, "after gc", answers(t, url), before)
	v := ok(t, "", "verify", url)
	if !strings.HasPrefix(v, "{:nodes ") || !strings.Contains(v, ":missing [], :corrupt []") {
		t.Errorf("verify after gc = %s, want no missing or corrupt nodes", v)
	}
	// A second run frees only the heads the first one replaced by its bump.
	if n := field(t, ok(t, "", "gc", "--grace", "0s", url), "swept"); n != bumped {
		t.Errorf("second gc swept %d, want %d (the commits the first gc's bump replaced)", n, bumped)
	}
	sameAnswers(t, "after a second gc", answers(t, url), before)
}

// TestVerify: a clean database exits 0; a flipped byte in a node file
// exits 1 naming the node, on stdout and in the one stderr line; a deleted
// node is reported missing.
func TestVerify(t *testing.T) {
	url, dir := fileURL(t, "verify")
	newPeople(t, url)
	growPeople(t, url)
	clean := ok(t, "", "verify", url)
	if !strings.Contains(clean, ":missing [], :corrupt []") || field(t, clean, "nodes") == 0 {
		t.Fatalf("verify of a clean database = %s", clean)
	}
	if j := ok(t, "", "verify", url, "--json"); !strings.Contains(j, `":nodes":`) || !strings.Contains(j, `":missing":[]`) {
		t.Errorf("verify --json = %s", j)
	}

	files := nodeFiles(t, dir)
	if len(files) < 2 {
		t.Fatalf("only %d node files", len(files))
	}
	// Damage index nodes, not commits: a broken commit hides the nodes
	// only it names, and a missing parent commit is where history ends
	// after gc, not damage. Nor log tails: the file backend stages a
	// commit's tail in the head file too (konserve/file_stage.go), so a
	// deleted tail file can still be read, rightly, from there.
	tails := map[string]bool{}
	var nodes [][]byte
	var names []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if c, err := branch.DecodeCommit(b); err == nil {
			tails[c.Tail.String()] = true
			continue
		}
		nodes, names = append(nodes, b), append(names, f)
	}
	var data []byte
	var victim, gone string
	for i, f := range names {
		if tails[filepath.Base(f)] {
			continue
		}
		b := nodes[i]
		if victim == "" {
			victim, data = f, b
		} else if gone == "" {
			gone = f
		}
	}
	if gone == "" {
		t.Fatalf("fewer than two non-commit nodes among %d node files", len(files))
	}
	data[len(data)/2] ^= 0x40
	if err := os.WriteFile(victim, data, 0o644); err != nil {
		t.Fatal(err)
	}
	hash := filepath.Base(victim)
	r := accrete(t, "", "verify", url)
	if r.code != 1 {
		t.Errorf("verify with a flipped byte: exit %d, want 1 (stderr %q)", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, `:corrupt ["`+hash+`"]`) {
		t.Errorf("verify with a flipped byte in %s printed %q, want it in :corrupt", hash, r.stdout)
	}
	if strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, hash) || !strings.Contains(r.stderr, "corrupt") {
		t.Errorf("verify stderr %q, want one line naming corrupt node %s", r.stderr, hash)
	}

	// Delete another reachable node: it is reported missing.
	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}
	r = accrete(t, "", "verify", url)
	ghash := filepath.Base(gone)
	if r.code != 1 || !strings.Contains(r.stdout, ghash) || !strings.Contains(r.stderr, "missing") {
		t.Errorf("verify with %s deleted: exit %d, stdout %q, stderr %q; want exit 1 naming it missing", ghash, r.code, r.stdout, r.stderr)
	}
}

// TestSync copies a database with two branches between file buckets and
// from a file bucket to the S3 server, resumes with only what is new, and
// refuses a diverged destination unless --force.
func TestSync(t *testing.T) {
	src, _ := fileURL(t, "src")
	newPeople(t, src)
	ok(t, "", "branch", src, "create", "feature")
	ok(t, "", "transact", src+"?branch=feature", `[{:person/name "Fay" :person/age 40}]`)
	growPeople(t, src)

	for _, tc := range []struct {
		name string
		dst  func(t *testing.T) string
	}{
		{"file", func(t *testing.T) string { u, _ := fileURL(t, "dst"); return u }},
		{"s3", func(t *testing.T) string { return testenv.S3URL(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := tc.dst(t)
			first := ok(t, "", "sync", src, dst)
			if !strings.HasPrefix(first, "{:nodes ") || field(t, first, "nodes") == 0 || field(t, first, "bytes") == 0 ||
				field(t, first, "heads") != 2 || field(t, first, "branches") != 2 {
				t.Errorf("first sync = %s, want nodes and bytes sent and 2 heads of 2 branches", first)
			}
			sameAnswers(t, "destination after sync", answers(t, dst), answers(t, src))
			fq := `[:find ?a . :where [?e :person/name "Fay"] [?e :person/age ?a]]`
			want(t, "feature branch copied", ok(t, "", "query", dst, "--branch", "feature", fq), `40`)
			if v := ok(t, "", "verify", dst); !strings.Contains(v, ":missing [], :corrupt []") {
				t.Errorf("verify of the copy = %s", v)
			}

			again := ok(t, "", "sync", src, dst)
			if field(t, again, "nodes") != 0 || field(t, again, "bytes") != 0 || field(t, again, "heads") != 0 {
				t.Errorf("second sync without new commits = %s, want nothing sent", again)
			}

			// One new transaction on main: only its nodes travel, and only
			// main's head moves.
			ok(t, "", "transact", src, `[{:person/name "Gus" :person/age 50}]`)
			delta := ok(t, "", "sync", src, dst, "--branch", "main")
			if field(t, delta, "heads") != 1 || field(t, delta, "commits") != 1 || field(t, delta, "branches") != 1 ||
				field(t, delta, "nodes") == 0 || field(t, delta, "nodes") >= field(t, first, "nodes") {
				t.Errorf("sync of one new transaction = %s (first sync %s), want 1 commit, 1 head, fewer nodes", delta, first)
			}
			sameAnswers(t, "destination after delta sync", answers(t, dst), answers(t, src))

			// Diverged: a commit only the destination has.
			ok(t, "", "transact", dst, `[{:person/name "Hal" :person/age 1}]`)
			ok(t, "", "transact", src, `[{:person/name "Ivy" :person/age 2}]`)
			r := accrete(t, "", "sync", src, dst)
			if r.code != 1 || !strings.Contains(r.stderr, "diverged") || r.stdout != "" {
				t.Errorf("sync onto a diverged head: exit %d, stdout %q, stderr %q; want exit 1 saying diverged", r.code, r.stdout, r.stderr)
			}
			ok(t, "", "sync", "--force", src, dst)
			sameAnswers(t, "destination after sync --force", answers(t, dst), answers(t, src))

			// And back: from the destination into a new file bucket.
			back, _ := fileURL(t, "back")
			if out := ok(t, "", "sync", dst, back); field(t, out, "heads") != 2 {
				t.Errorf("sync back = %s, want 2 heads", out)
			}
			sameAnswers(t, "copy of the copy", answers(t, back), answers(t, src))
		})
	}
}

// TestOpsErrors: usage errors exit 2, failures exit 1, both with one line
// on stderr and nothing on stdout, and the bucket unchanged.
func TestOpsErrors(t *testing.T) {
	url, dir := fileURL(t, "people")
	newPeople(t, url)
	missing, missingDir := fileURL(t, "missing")
	empty := t.TempDir()
	cases := []struct {
		code int
		args []string
		rx   string
	}{
		{2, []string{"gc"}, "expected URL"},
		{2, []string{"gc", url, url}, "expected URL"},
		{2, []string{"gc", url, "--grace", "-1s"}, "negative"},
		{2, []string{"gc", url, "--grace", "soon"}, "grace"},
		{2, []string{"gc", url, "--keep-since", "yesterday"}, "keep-since"},
		{2, []string{"gc", url, "--bogus"}, "bogus"},
		{1, []string{"gc", missing}, "no database"},
		{1, []string{"gc", "file://" + empty}, "no database"},
		{1, []string{"gc", url + "?as-of=1"}, "as-of"},
		{2, []string{"verify"}, "expected URL"},
		{1, []string{"verify", missing}, "no database"},
		{1, []string{"verify", url, "--branch", "nope"}, "no branch nope"},
		{1, []string{"verify", url + "?branch=nope"}, "no branch nope"},
		{2, []string{"sync", url}, "expected SRC DST"},
		{2, []string{"sync", url, "file://" + empty + "?branch=x"}, "own name"},
		{1, []string{"sync", missing, "file://" + empty}, "no database"},
		{1, []string{"sync", url, url}, "same bucket"},
		{1, []string{"sync", url, "--branch", "nope", "file://" + empty}, "no branch nope"},
		{1, []string{"sync", url + "?as-of=2", "file://" + empty}, "as-of"},
	}
	before := snapshot(t, dir)
	for _, c := range cases {
		r := accrete(t, "", c.args...)
		if r.code != c.code {
			t.Errorf("accrete %q: exit %d, want %d (stderr %q)", c.args, r.code, c.code, r.stderr)
		}
		if r.stdout != "" {
			t.Errorf("accrete %q: stdout %q, want nothing", c.args, r.stdout)
		}
		if strings.Count(r.stderr, "\n") != 1 || !strings.HasSuffix(r.stderr, "\n") {
			t.Errorf("accrete %q: stderr is not one line: %q", c.args, r.stderr)
		}
		if !strings.Contains(r.stderr, c.rx) {
			t.Errorf("accrete %q: stderr %q does not mention %q", c.args, r.stderr, c.rx)
		}
		if d := diffSnapshots(before, snapshot(t, dir)); d != "" {
			t.Fatalf("accrete %q changed the bucket: %s", c.args, d)
		}
	}
	if _, err := os.Stat(missingDir); !os.IsNotExist(err) {
		t.Errorf("commands on a missing file bucket created %s (stat: %v)", missingDir, err)
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Errorf("failed syncs wrote into the destination: %d entries", len(entries))
	}
}

// TestDiff compares two points in time of one branch, two branches and two
// buckets, and checks --stats against the datoms printed.
func TestDiff(t *testing.T) {
	url, _ := fileURL(t, "diff")
	newPeople(t, url)
	ok(t, "", "transact", url, `[{:person/name "Ann" :person/age 31}]`)
	ann, tx2, tx3 := idOf(t, url, "Ann"), txOf(t, url, 2), txOf(t, url, 3)

	got := ok(t, "", "diff", url+"?as-of=2", url)
	wantRx := `^\[\[:db/add ` + tx3 + ` :db/txInstant #inst "[^"]+" ` + tx3 + `\] ` +
		`\[:db/retract ` + ann + ` :person/age 30 ` + tx2 + `\] ` +
		`\[:db/add ` + ann + ` :person/age 31 ` + tx3 + `\]\]$`
	if !regexp.MustCompile(wantRx).MatchString(got) {
		t.Errorf("diff as-of 2 → now:\n got  %s\n want %s", got, wantRx)
	}
	// The other way round, flags after the positionals, as-of as a tx id.
	back := ok(t, "", "diff", url, url+"?as-of="+tx2)
	if !strings.Contains(back, `[:db/retract `+tx3+` :db/txInstant #inst "`) ||
		!strings.Contains(back, `[:db/add `+ann+` :person/age 30 `+tx2+`]`) ||
		!strings.Contains(back, `[:db/retract `+ann+` :person/age 31 `+tx3+`]`) || strings.Count(back, "[:db/") != 3 {
		t.Errorf("diff now → as-of tx %s = %s", tx2, back)
	}
	want(t, "diff of a value with itself", ok(t, "", "diff", url, url+"?as-of=3"), `[]`)
	st := ok(t, "", "diff", "--stats", url+"?as-of=2", url)
	if field(t, st, "added") != 2 || field(t, st, "retracted") != 1 || !strings.HasPrefix(st, "{:nodes-visited ") {
		t.Errorf("diff --stats = %s, want 2 added and 1 retracted", st)
	}
	if j := ok(t, "", "diff", url+"?as-of=2", url, "--json"); !strings.Contains(j, `[":db/retract",`+ann+`,":person/age",30,`+tx2+`]`) {
		t.Errorf("diff --json = %s", j)
	}
	// An as-of instant: the newest transaction at or before it.
	if got := ok(t, "", "diff", url+"?as-of=2999-01-01T00:00:00Z", url); got != `[]` {
		t.Errorf("diff as-of a future instant → now = %s, want []", got)
	}

	// Two branches.
	ok(t, "", "branch", url, "create", "feature")
	ok(t, "", "transact", url+"?branch=feature", `[{:person/name "Dee" :person/age 7}]`)
	br := ok(t, "", "diff", url, url+"?branch=feature")
	dee := idOf(t, url+"?branch=feature", "Dee")
	if !strings.Contains(br, `[:db/add `+dee+` :person/name "Dee" `) || !strings.Contains(br, `[:db/add `+dee+` :person/age 7 `) ||
		strings.Contains(br, ":db/retract") || strings.Count(br, "[:db/add") != 3 {
		t.Errorf("diff main → feature = %s, want Dee's two datoms and the transaction's instant", br)
	}
	// Two buckets: a synced copy has no difference.
	cp, _ := fileURL(t, "diff-copy")
	ok(t, "", "sync", url, cp)
	want(t, "diff across buckets", ok(t, "", "diff", url, cp), `[]`)
	want(t, "diff across buckets and branches", ok(t, "", "diff", cp+"?branch=feature", url+"?branch=feature"), `[]`)

	missing, _ := fileURL(t, "missing")
	for _, c := range []struct {
		code int
		args []string
		rx   string
	}{
		{2, []string{"diff", url}, "expected URL1 URL2"},
		{2, []string{"diff", url, url, url}, "expected URL1 URL2"},
		{2, []string{"diff", url, url, "--as-of", "1"}, "as-of"},
		{1, []string{"diff", url + "?history=true", url}, "history"},
		{1, []string{"diff", url + "?since=1", url}, "since"},
		{1, []string{"diff", url, missing}, "no database"},
		{1, []string{"diff", url + "?as-of=soon", url}, "as-of"},
		{1, []string{"diff", url + "?branch=nope", url}, "no database"},
	} {
		r := accrete(t, "", c.args...)
		if r.code != c.code || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, c.rx) {
			t.Errorf("accrete %q: exit %d, stdout %q, stderr %q; want exit %d, one line mentioning %q", c.args, r.code, r.stdout, r.stderr, c.code, c.rx)
		}
	}
}

// txOf returns the transaction id of basis t, as printed.
func txOf(t *testing.T, url string, basis int) string {
	t.Helper()
	out := ok(t, "", "log", url, "--from", strconv.Itoa(basis), "--to", strconv.Itoa(basis+1))
	sub := regexp.MustCompile(`^\[\{:t ` + strconv.Itoa(basis) + `, :tx (\d+),`).FindStringSubmatch(out)
	if sub == nil {
		t.Fatalf("log of t %d = %s", basis, out)
	}
	return sub[1]
}

// TestBranchMerge merges a branch with new facts into main (and into
// another branch with --into), keeps transaction metadata, merges nothing
// twice, and refuses a conflict with one line and no change.
func TestBranchMerge(t *testing.T) {
	url, dir := fileURL(t, "merge")
	newPeople(t, url)
	ok(t, "", "branch", url, "create", "feature")
	ok(t, "", "branch", url, "create", "other")
	ok(t, "", "transact", url+"?branch=feature", `[{:person/name "Dee" :person/age 7} {:person/name "Bob" :person/age 26}
		{:db/id "datomic.tx" :db/doc "from feature"}]`)
	ok(t, "", "transact", url, `[{:person/name "Eve" :person/age 50}]`)

	dry := ok(t, "", "branch", url, "merge", "feature", "--dry-run")
	want(t, "merge --dry-run", dry, `{:merged "feature", :into "main", :transactions 1, :datoms 6, :t 3, :dry-run true}`)
	want(t, "merge", ok(t, "", "branch", "--into", "main", url, "merge", "feature"),
		`{:merged "feature", :into "main", :transactions 1, :datoms 6, :t 4}`)
	q := `[:find ?n ?a :where [?e :person/name ?n] [?e :person/age ?a]]`
	want(t, "main after merge", ok(t, "", "query", url, q), `#{["Ann" 30] ["Bob" 26] ["Dee" 7] ["Eve" 50]}`)
	want(t, "metadata kept", ok(t, "", "query", url, `[:find ?d . :where [?e :person/name "Dee" ?tx] [?tx :db/doc ?d]]`), `"from feature"`)
	want(t, "merge again", ok(t, "", "branch", url, "merge", "feature"),
		`{:merged "feature", :into "main", :transactions 0, :datoms 0, :t 4}`)
	// --into another branch; the URL's branch= names the target as well.
	want(t, "merge --into", ok(t, "", "branch", url, "merge", "feature", "--into", "other"),
		`{:merged "feature", :into "other", :transactions 1, :datoms 6, :t 3}`)
	want(t, "other after merge", ok(t, "", "query", url+"?branch=other", q), `#{["Ann" 30] ["Bob" 26] ["Dee" 7]}`)
	ok(t, "", "transact", url+"?branch=feature", `[{:person/name "Fay" :person/age 1}]`)
	want(t, "merge into the URL's branch", ok(t, "", "branch", url+"?branch=other", "merge", "feature"),
		`{:merged "feature", :into "other", :transactions 1, :datoms 3, :t 4}`)

	// A conflict: both sides change Ann's age.
	ok(t, "", "transact", url+"?branch=feature", `[{:person/name "Ann" :person/age 41}]`)
	ok(t, "", "transact", url, `[{:person/name "Ann" :person/age 42}]`)
	before := snapshot(t, dir)
	r := accrete(t, "", "branch", url, "merge", "feature")
	if r.code != 1 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 ||
		!strings.Contains(r.stderr, "1 conflict: ") || !strings.Contains(r.stderr, ":person/age was [30], source [41], target [42]") {
		t.Errorf("merge with a conflict: exit %d, stdout %q, stderr %q; want exit 1 and one line naming the :person/age conflict", r.code, r.stdout, r.stderr)
	}
	if d := diffSnapshots(before, snapshot(t, dir)); d != "" {
		t.Errorf("a conflicting merge changed the bucket: %s", d)
	}
	want(t, "main after refused merge", ok(t, "", "query", url, `[:find ?a . :where [?e :person/name "Ann"] [?e :person/age ?a]]`), `42`)

	for _, c := range []struct {
		code int
		args []string
		rx   string
	}{
		{2, []string{"branch", url, "merge"}, "merge FROM"},
		{2, []string{"branch", url, "list", "--into", "x"}, "merge only"},
		{2, []string{"branch", url, "create", "x", "--dry-run"}, "merge only"},
		{1, []string{"branch", url, "merge", "nope"}, "no branch nope"},
		{1, []string{"branch", url, "merge", "feature", "--into", "nope"}, "no branch nope"},
		{1, []string{"branch", url, "merge", "main"}, "itself"},
		{1, []string{"branch", url, "merge", "feature", "--into", "no/slash"}, "branch name"},
	} {
		r := accrete(t, "", c.args...)
		if r.code != c.code || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, c.rx) {
			t.Errorf("accrete %q: exit %d, stdout %q, stderr %q; want exit %d, one line mentioning %q", c.args, r.code, r.stdout, r.stderr, c.code, c.rx)
		}
	}
	if d := diffSnapshots(before, snapshot(t, dir)); d != "" {
		t.Errorf("failed merge commands changed the bucket: %s", d)
	}
}

func TestParseKeepSince(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Time
		err  string
	}{
		{"720h", now.Add(-720 * time.Hour), ""},
		{"90m", now.Add(-90 * time.Minute), ""},
		{"0s", now, ""},
		{"2026-01-02T15:04:05Z", time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC), ""},
		{"2026-01-02T15:04:05.5+01:00", time.Date(2026, 1, 2, 14, 4, 5, 5e8, time.UTC), ""},
		{"-5h", time.Time{}, "negative"},
		{"yesterday", time.Time{}, "neither"},
		{"2026-01-02", time.Time{}, "neither"},
		{"", time.Time{}, "neither"},
	} {
		got, err := parseKeepSince(c.in, now)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("parseKeepSince(%q) = %v, %v; want an error mentioning %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || !got.Equal(c.want) {
			t.Errorf("parseKeepSince(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

// FuzzParseKeepSince: any input either fails or gives an instant; a
// duration never lands after now.
func FuzzParseKeepSince(f *testing.F) {
	for _, s := range []string{"720h", "1h30m", "0", "-1s", "2026-01-02T15:04:05Z", "2026-01-02T15:04:05.999999999-07:00", "", "9999999999h"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseKeepSince(s, now)
		if err != nil {
			if !got.IsZero() {
				t.Errorf("parseKeepSince(%q) failed (%v) but returned %v", s, err, got)
			}
			return
		}
		if _, derr := time.ParseDuration(s); derr == nil && got.After(now) {
			t.Errorf("parseKeepSince(%q) = %v, after now %v", s, got, now)
		}
	})
}

func TestConflictList(t *testing.T) {
	c := ops.Conflict{Kind: ops.ConflictChanged, E: 7, A: "person/age", Base: []any{int64(1)}, Source: []any{int64(2)}, Target: []any{int64(3)}}
	want(t, "one", conflictList([]ops.Conflict{c}), "1 conflict: "+c.String())
	five := []ops.Conflict{c, c, c, c, c}
	got := conflictList(five)
	if !strings.HasPrefix(got, "5 conflicts: ") || !strings.HasSuffix(got, "; and 2 more") || strings.Count(got, c.String()) != maxConflictsShown {
		t.Errorf("conflictList of 5 = %q", got)
	}
}

// TestGCProgress: plain lines per phase off a terminal; one line redrawn
// in place and closed with a newline on a terminal.
func TestGCProgress(t *testing.T) {
	phases := []ops.GCProgress{
		{Phase: ops.PhaseMark, Marked: 10},
		{Phase: ops.PhaseSweep, Marked: 12, Listed: 20},
		{Phase: ops.PhaseDone, Marked: 12, Listed: 20, Swept: 8},
	}
	var plain, tty strings.Builder
	p := &gcProgress{e: &env{stderr: &plain}}
	q := &gcProgress{e: &env{stderr: &tty, stderrTTY: true}}
	for _, g := range phases {
		p.report(g)
		q.report(g)
	}
	p.end()
	q.end()
	want(t, "plain progress", plain.String(),
		"gc: mark: 10 nodes marked\ngc: sweep: 12 nodes marked, 20 nodes listed\ngc: done: 12 nodes marked, 20 nodes listed, 8 swept\n")
	if s := tty.String(); strings.Count(s, "\n") != 1 || !strings.HasSuffix(s, "8 swept\n") || strings.Count(s, "\r\x1b[K") != 3 {
		t.Errorf("terminal progress = %q, want 3 redraws and one final newline", s)
	}
}

// benchPeople creates a file-bucket database of rows people (two datoms
// each) through import, in this process, and returns its URL.
func benchPeople(b *testing.B, rows int) string {
	b.Helper()
	dir := b.TempDir()
	csvPath := filepath.Join(dir, "people.csv")
	var sb strings.Builder
	sb.WriteString("name,age\n")
	for i := range rows {
		fmt.Fprintf(&sb, "p%d,%d\n", i, i%90)
	}
	if err := os.WriteFile(csvPath, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	url := "file://" + filepath.Join(dir, "db")
	runInProcess(b, "", "create", url)
	runInProcess(b, schemaTx, "transact", url)
	runInProcess(b, "", "import", url, csvPath, "--map", "name=:person/name,age=:person/age", "--batch", "5000")
	return url
}

// fieldB is field for benchmarks.
func fieldB(b *testing.B, m, key string) float64 {
	b.Helper()
	sub := regexp.MustCompile(`:` + regexp.QuoteMeta(key) + ` (\d+)[,}]`).FindStringSubmatch(m)
	if sub == nil {
		b.Fatalf("no :%s in %s", key, m)
	}
	n, _ := strconv.ParseFloat(sub[1], 64)
	return n
}

// BenchmarkSyncOneTransaction measures `accrete sync` (in this process,
// file → file) of a 1-transaction delta on a 40,000-datom database: the
// nodes and bytes sent per sync should be about one path per changed index.
func BenchmarkSyncOneTransaction(b *testing.B) {
	src := benchPeople(b, 20000)
	dst := "file://" + filepath.Join(b.TempDir(), "dst")
	full := runInProcess(b, "", "sync", src, dst)
	b.Logf("initial sync: %s", strings.TrimSpace(full))
	var nodes, bytes float64
	i := 0
	for b.Loop() {
		b.StopTimer()
		runInProcess(b, "", "transact", src, fmt.Sprintf(`[{:person/name "p%d" :person/age %d}]`, i*7919%20000, 100+i))
		i++
		b.StartTimer()
		out := runInProcess(b, "", "sync", src, dst)
		nodes += fieldB(b, out, "nodes")
		bytes += fieldB(b, out, "bytes")
	}
	b.ReportMetric(nodes/float64(b.N), "nodes/sync")
	b.ReportMetric(bytes/float64(b.N), "bytes/sync")
}

// BenchmarkDiffOneTransaction measures `accrete diff --stats` (in this
// process) between two consecutive commits of a 40,000-datom database.
func BenchmarkDiffOneTransaction(b *testing.B) {
	url := benchPeople(b, 20000)
	runInProcess(b, "", "transact", url, `[{:person/name "p123" :person/age 99}]`)
	out := runInProcess(b, "", "stats", url)
	basis := int(fieldB(b, out, "basis-t"))
	prev := fmt.Sprintf("%s?as-of=%d", url, basis-1)
	var visited float64
	for b.Loop() {
		out := runInProcess(b, "", "diff", "--stats", prev, url)
		if fieldB(b, out, "added") != 2 || fieldB(b, out, "retracted") != 1 {
			b.Fatalf("diff of one change = %s, want 2 added and 1 retracted", out)
		}
		visited += fieldB(b, out, "nodes-visited")
	}
	b.ReportMetric(visited/float64(b.N), "nodes-visited/diff")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/diff")
}
