package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/accretedb/accrete/internal/testenv"
)

// TestEndToEnd walks the main job across separate processes: create,
// transact, query from another process, watch from a third, pull, the
// index and log commands, branches, and export → import → same answers.
func TestEndToEnd(t *testing.T) {
	url, dir := fileURL(t, "people")
	want(t, "create", ok(t, "", "create", url), `{:created "`+url+`", :branch "main", :t 0}`)
	want(t, "schema tx", ok(t, schemaTx, "transact", url, "-"), `{:tx 1, :tempids {"datomic.tx" 4398046511105}, :datoms 11}`)
	rep := ok(t, "", "transact", url, peopleTx)
	// Tempid keys appear as given: strings as strings, negative ints as ints.
	if !regexp.MustCompile(`^\{:tx 2, :tempids \{"ann" \d+, "bob" \d+, "datomic.tx" \d+, -1 \d+\}, :datoms 8\}$`).MatchString(rep) {
		t.Errorf("people tx report = %s", rep)
	}

	// A second process queries; flags may come before or after positionals.
	q := `[:find ?n ?a :where [?e :person/name ?n] [?e :person/age ?a]]`
	want(t, "query", ok(t, "", "query", url, q), `#{["Ann" 30] ["Bob" 25]}`)
	want(t, "query flags first", ok(t, "", "query", "--as-of", "1", url, q), `#{}`)
	want(t, "query flags after", ok(t, "", "query", url, "--as-of", "1", q), `#{}`)
	want(t, "query as-of in URL", ok(t, "", "query", url+"?as-of=1", q), `#{}`)
	want(t, "input", ok(t, "", "query", url, `[:find ?a . :in $ ?n :where [?e :person/name ?n] [?e :person/age ?a]]`, `"Bob"`), `25`)
	want(t, "attribute variable binds idents", ok(t, "", "query", url,
		`[:find ?a :in $ ?n :where [?e :person/name ?n] [?e ?a]]`, `"Bob"`), `#{[:person/age] [:person/name]}`)
	want(t, "json", ok(t, "", "query", url, `[:find ?n :where [?e :person/age 30] [?e :person/name ?n]]`, "--json"), `[["Ann"]]`)
	want(t, "$ bound without :in naming it", ok(t, "", "query", url,
		`[:find ?n :in ?min :where [?e :person/age ?a] [(> ?a ?min)] [?e :person/name ?n]]`, "26"), `#{["Ann"]}`)
	want(t, "collection source", ok(t, "", "query", url,
		`[:find ?n ?c :in $ $cities :where [?e :person/name ?n] [$cities ?n ?c]]`, `[["Ann" "Oslo"] ["Zed" "Rome"]]`), `#{["Ann" "Oslo"]}`)
	rules := `[[(friend ?a ?b) [?a :person/friend ?b]] [(friend ?a ?b) [?b :person/friend ?a]]]`
	want(t, "rules", ok(t, "", "query", url, "--rules", rules,
		`[:find ?n :in $ % :where [?b :person/name "Bob"] (friend ?b ?f) [?f :person/name ?n]]`), `#{["Ann"]}`)
	rulesFile := filepath.Join(t.TempDir(), "rules.edn")
	if err := os.WriteFile(rulesFile, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	want(t, "rules file, % bound without :in naming it", ok(t, "", "query", url, "--rules", rulesFile,
		`[:find ?n :where [?b :person/name "Ann"] (friend ?b ?f) [?f :person/name ?n]]`), `#{["Bob"]}`)
	want(t, "tx metadata", ok(t, "", "query", url, `[:find ?d . :where [?e :person/name "Ann" ?tx] [?tx :db/doc ?d]]`), `"first people"`)

	// A third process watches and sees the next transaction.
	watch, lines := startWatch(t, url)
	ok(t, "", "transact", url, `[{:person/name "Ann" :person/age 31}]`)
	line := readLine(t, lines)
	if !strings.HasPrefix(line, "{:t 3, ") || !strings.Contains(line, `:person/age 31`) || !strings.HasSuffix(line, "}\n") {
		t.Errorf("watch printed %q, want transaction 3 with :person/age 31", line)
	}
	if err := watch.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := watch.Wait(); err != nil {
		t.Errorf("watch after SIGINT: %v, want exit 0", err)
	}

	// pull, by lookup ref, ident and id; nil when nothing.
	want(t, "pull", ok(t, "", "pull", url, `[:person/name :person/age {:person/friend [:person/name]}]`, `[:person/name "Ann"]`),
		`{:person/age 31, :person/friend [{:person/name "Bob"}], :person/name "Ann"}`)
	want(t, "pull as-of", ok(t, "", "pull", "--as-of", "2", url, `[:person/age]`, `[:person/name "Ann"]`), `{:person/age 30}`)
	want(t, "pull missing", ok(t, "", "pull", url, `[*]`, `[:person/name "Nobody"]`), `nil`)
	want(t, "pull none of the attributes", ok(t, "", "pull", url, `[:person/age]`, `[:person/name "Cy"]`), `nil`)
	want(t, "pull missing id", ok(t, "", "pull", url, `[*]`, `123456789`), `nil`)
	want(t, "pull ident", ok(t, "", "pull", url, `[:db/valueType]`, `:person/age`), `{:db/valueType {:db/id 22, :db/ident :db.type/long}}`)

	// datoms, log, history.
	want(t, "datoms avet", ok(t, "", "datoms", url, "avet", ":person/name", `"Bob"`, "--limit", "1"),
		strings.Replace(`[[ID :person/name "Bob" 4398046511106 true]]`, "ID", idOf(t, url, "Bob"), 1))
	if got := ok(t, "", "datoms", url, "eavt", `[:person/name "Ann"]`, ":person/age"); !strings.Contains(got, ":person/age 31") || strings.Contains(got, ":person/age 30") {
		t.Errorf("datoms eavt Ann age = %s", got)
	}
	logOut := ok(t, "", "log", url, "--from", "2", "--to", "3")
	if !strings.HasPrefix(logOut, "[{:t 2, :tx 4398046511106, :instant #inst ") || strings.Contains(logOut, ":t 3") {
		t.Errorf("log --from 2 --to 3 = %s", logOut)
	}
	hist := ok(t, "", "history", url, `[:person/name "Ann"]`)
	for _, s := range []string{`:a :person/age, :v 30, :tx 4398046511107, :t 3, :instant #inst`, `:added false`, `:a :person/age, :v 31`} {
		if !strings.Contains(hist, s) {
			t.Errorf("history lacks %q:\n%s", s, hist)
		}
	}
	if i, j := strings.Index(hist, ":v 30, :tx 4398046511107"), strings.Index(hist, ":v 31"); i < 0 || j < i {
		t.Errorf("history: the retraction of 30 should come before the assertion of 31 in t 3:\n%s", hist)
	}

	// Branches.
	want(t, "branch list", ok(t, "", "branch", url, "list"), `["main"]`)
	want(t, "branch create", ok(t, "", "branch", url, "create", "before", "--from", "2"), `{:branch "before", :t 2}`)
	want(t, "branch list 2", ok(t, "", "branch", url, "list"), `["before" "main"]`)
	want(t, "query branch", ok(t, "", "query", url, "--branch", "before", `[:find ?a . :where [?e :person/name "Ann"] [?e :person/age ?a]]`), `30`)
	ok(t, "", "transact", url+"?branch=before", `[{:person/name "Dee"}]`)
	want(t, "branches diverge", ok(t, "", "query", url, `[:find (count ?e) . :where [?e :person/name]]`), `3`)
	want(t, "branch delete", ok(t, "", "branch", url, "delete", "before"), `{:deleted "before"}`)
	want(t, "branch list 3", ok(t, "", "branch", url, "list"), `["main"]`)

	// stats.
	st := ok(t, "", "stats", url)
	for _, s := range []string{":basis-t 3", ":eavt {:datoms ", ":log {:datoms ", ":requests {:gets "} {
		if !strings.Contains(st, s) {
			t.Errorf("stats lacks %q: %s", s, st)
		}
	}

	// export → import into a new bucket → the same answers. First give the
	// log retractions and references to entities of earlier transactions.
	ok(t, "", "transact", url, `[[:db/retract [:person/name "Ann"] :person/friend [:person/name "Bob"]]
		{:person/name "Cy" :person/friend [[:person/name "Ann"] [:person/name "Bob"]]}]`)
	ok(t, "", "transact", url, `[[:db/retractEntity [:person/name "Bob"]] {:person/name "Eve" :person/friend [:person/name "Cy"]}]`)
	export := ok(t, "", "export", url)
	exportFile := filepath.Join(t.TempDir(), "people.edn")
	if err := os.WriteFile(exportFile, []byte(export+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	url2, _ := fileURL(t, "copy")
	imp := ok(t, "", "import", url2, exportFile)
	want(t, "import report", imp, `{:transactions 5, :entities 7, :datoms 32, :t 5}`)
	queries := []struct {
		args []string
	}{
		{[]string{q}},
		{[]string{"--as-of", "2", q}},
		{[]string{"--history", `[:find ?n ?a ?added :where [?e :person/name ?n] [?e :person/age ?a _ ?added]]`}},
		{[]string{`[:find ?n ?f :where [?e :person/name ?n] [?e :person/friend ?x] [?x :person/name ?f]]`}},
		{[]string{`[:find ?n ?inst :where [?e :person/name ?n ?tx] [?tx :db/txInstant ?inst]]`}},
		{[]string{`[:find ?d . :where [?e :person/name "Ann" ?tx] [?tx :db/doc ?d]]`}},
		{[]string{`[:find ?a ?t :where [?e :db/ident ?a] [?e :db/valueType ?vt] [?vt :db/ident ?t] [(namespace ?a) ?ns] [(= ?ns "person")]]`}},
	}
	for _, qq := range queries {
		a := ok(t, "", append([]string{"query", url}, qq.args...)...)
		b := ok(t, "", append([]string{"query", url2}, qq.args...)...)
		if a != b {
			t.Errorf("query %q after export/import:\n original %s\n imported %s", qq.args, a, b)
		}
	}
	// The imported log exports to the same text.
	want(t, "re-export", ok(t, "", "export", url2), export)
	_ = dir
}

// idOf returns the entity id of a person, as printed.
func idOf(t *testing.T, url, name string) string {
	t.Helper()
	return ok(t, "", "query", url, `[:find ?e . :in $ ?n :where [?e :person/name ?n]]`, `"`+name+`"`)
}

// TestCrossBucket joins a database in the S3 emulator with one in a file
// bucket, and with the S3 database's past, in one query.
func TestCrossBucket(t *testing.T) {
	s3 := testenv.S3URL(t)
	file, _ := fileURL(t, "inventory")
	ok(t, "", "create", s3)
	ok(t, "", "transact", s3, `[{:db/ident :product/sku :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
		{:db/ident :product/price :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]`)
	ok(t, "", "transact", s3, `[{:product/sku "A1" :product/price 10} {:product/sku "B2" :product/price 20}]`)
	ok(t, "", "transact", s3, `[{:product/sku "A1" :product/price 12}]`)
	ok(t, "", "create", "--schema-on-read", file)
	ok(t, "", "transact", file, `[{:stock/sku "A1" :stock/count 5} {:stock/sku "B2" :stock/count 0}]`)

	sep := "?"
	if strings.Contains(s3, "?") {
		sep = "&"
	}
	got := ok(t, "", "query", s3, "--source", "$inv="+file, "--source", "$old="+s3+sep+"as-of=2",
		`[:find ?sku ?price ?old ?n :in $ $inv $old :where
		  [?p :product/sku ?sku] [?p :product/price ?price]
		  [$old ?o :product/sku ?sku] [$old ?o :product/price ?old]
		  [$inv ?s :stock/sku ?sku] [$inv ?s :stock/count ?n] [(> ?n 0)]]`)
	want(t, "cross-bucket query", got, `#{["A1" 12 10 5]}`)
}

// TestImportFormats loads CSV, JSON lines and an EDN entity stream.
func TestImportFormats(t *testing.T) {
	url, _ := fileURL(t, "imports")
	newPeople(t, url)
	tmp := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	csvFile := write("p.csv", "name,age,ignored\nEve,22,x\n\"Fay, Jr.\",,y\nGus,40,z\n")
	want(t, "csv", ok(t, "", "import", url, csvFile, "--map", "name=:person/name", "--map", "age=:person/age", "--batch", "2"),
		`{:transactions 2, :entities 3, :datoms 7, :t 4}`)
	jsonFile := write("p.jsonl", `{"person/name": "Hal", ":person/age": 50}`+"\n\n"+`[[":db/add", "x", "person/name", "Ida"]]`+"\n")
	want(t, "jsonl", ok(t, "", "import", url, jsonFile), `{:transactions 2, :entities 1, :datoms 5, :t 6}`)
	ednFile := write("p.edn", `{:person/name "Jo"} {:person/name "Kai" :person/age 9} [[:db/add "y" :person/name "Lu"]]`)
	want(t, "edn", ok(t, "", "import", url, ednFile), `{:transactions 2, :entities 2, :datoms 6, :t 8}`)
	want(t, "stdin", ok(t, `{:person/name "Mo"}`, "import", url, "-", "--format", "edn"), `{:transactions 1, :entities 1, :datoms 2, :t 9}`)
	want(t, "all there", ok(t, "", "query", url, `[:find ?n ?a :where [?e :person/name ?n] [(get-else $ ?e :person/age -1) ?a]]`),
		`#{["Ann" 30] ["Bob" 25] ["Cy" -1] ["Eve" 22] ["Fay, Jr." -1] ["Gus" 40] ["Hal" 50] ["Ida" -1] ["Jo" -1] ["Kai" 9] ["Lu" -1] ["Mo" -1]}`)
}

// TestHelp checks that help goes to stdout and exits 0 for every command.
func TestHelp(t *testing.T) {
	r := accrete(t, "", "help")
	if r.code != 0 || !strings.Contains(r.stdout, "mem://") || !strings.Contains(r.stdout, "ONE process") {
		t.Errorf("help: exit %d, stdout %q; want 0 and a note that mem:// lives in one process", r.code, r.stdout)
	}
	for _, c := range commands {
		for _, args := range [][]string{{c.name, "--help"}, {"help", c.name}, {c.name, "-h"}} {
			r := accrete(t, "", args...)
			if r.code != 0 || !strings.HasPrefix(r.stdout, "usage: accrete "+c.name) || r.stderr != "" {
				t.Errorf("accrete %q: exit %d, stdout %.40q, stderr %q", args, r.code, r.stdout, r.stderr)
			}
		}
	}
}

// TestErrors checks every error path: one line on stderr, nothing on
// stdout, the right exit code, and no change in the bucket.
func TestErrors(t *testing.T) {
	url, dir := fileURL(t, "people")
	newPeople(t, url)
	missing, missingDir := fileURL(t, "missing")
	tmp := t.TempDir()
	badEDN := filepath.Join(tmp, "bad.edn")
	os.WriteFile(badEDN, []byte(`{:person/name "X"} {:person/name`), 0o644)
	badCSV := filepath.Join(tmp, "bad.csv")
	os.WriteFile(badCSV, []byte("name,age\nP,1\nQ,notanumber\n"), 0o644)
	badTx := filepath.Join(tmp, "badtx.edn")
	os.WriteFile(badTx, []byte(`{:person/name "R"} [[:db/add "z" :no/such 1]]`), 0o644)

	cases := []struct {
		code int
		args []string
		rx   string // what the line must mention
	}{
		{2, nil, "no command"},
		{2, []string{"frob"}, `unknown command "frob"`},
		{1, []string{"create", url}, "already exists"},
		{1, []string{"create", url, "--branch", "no/slash"}, "branch name"},
		{2, []string{"create"}, "expected URL"},
		{1, []string{"create", "not a url"}, "not a bucket URL"},
		{1, []string{"transact", url, `[{:person/name "A"`}, "transaction data"},
		{1, []string{"transact", url, `[{:no/such 1}]`}, ":no/such"},
		{1, []string{"transact", url, `[{:person/age "old"}]`}, "person/age"},
		{1, []string{"transact", url, `42`}, "vector of forms"},
		{1, []string{"transact", url, `{"a": `, "--json"}, "JSON"},
		{1, []string{"transact", missing, `[]`}, "no database"},
		{1, []string{"transact", url + "?as-of=1", `[]`}, "past"},
		{2, []string{"transact", url, "--bogus", `[]`}, "bogus"},
		{2, []string{"query", url}, "expected URL QUERY-EDN"},
		{1, []string{"query", url, `[:find ?x :where [?x`}, "query"},
		{1, []string{"query", url, `[:find ?x :where [?y :person/name]]`}, "?x"},
		{1, []string{"query", url, `[:find ?e :in $ ?n :where [?e :person/name ?n]]`}, "needs 1 input"},
		{1, []string{"query", url, `[:find ?e :where [?e :person/name]]`, `1`}, "needs 0 input"},
		{1, []string{"query", url, `[:find ?e :in $ ?n :where [?e :person/name ?n]]`, `"a`}, "input 1"},
		{2, []string{"query", url, "--source", "inv=" + url, `[:find ?e :where [?e :person/name]]`}, "--source"},
		{1, []string{"query", url, "--source", "$m=" + missing, `[:find ?e :where [?e :person/name]]`}, "no database"},
		{1, []string{"query", url, "--rules", filepath.Join(tmp, "nope.edn"), `[:find ?e :where [?e :person/name]]`}, "rules"},
		{1, []string{"query", url, "--as-of", "yesterday", `[:find ?e :where [?e :person/name]]`}, "as-of"},
		{1, []string{"query", missing, `[:find ?e :where [?e :person/name]]`}, "no database"},
		{1, []string{"query", url + "?branch=nope", `[:find ?e :where [?e :person/name]]`}, "no database"},
		{2, []string{"pull", url, `[*]`}, "expected URL PATTERN-EDN ENTITY"},
		{1, []string{"pull", url, `[*]`, `"ann"`}, "entity"},
		{1, []string{"pull", url, `[:a`, `1`}, "pattern"},
		{2, []string{"datoms", url, "xyz"}, "unknown index"},
		{1, []string{"datoms", url, "aevt", ":no/such"}, "unknown attribute"},
		{1, []string{"history", url, `:no/such`}, "no entity"},
		{2, []string{"log", url, "--from", "x"}, "from"},
		{2, []string{"branch", url, "rename", "x"}, "expected list"},
		{1, []string{"branch", url, "delete", "nope"}, "no branch nope"},
		{1, []string{"branch", url, "create", "main"}, "already exists"},
		{1, []string{"branch", url, "create", "old", "--from", "0", "--branch", "nope"}, "no branch nope"},
		{2, []string{"branch", url, "list", "--from", "1"}, "--from"},
		{1, []string{"import", url, filepath.Join(tmp, "nope.edn")}, "nope.edn"},
		{1, []string{"import", url, badEDN}, "EDN value 2"},
		{1, []string{"import", url, badCSV, "--map", "name=:person/name,age=:person/age"}, "row 3"},
		{1, []string{"import", url, badCSV, "--map", "nom=:person/name"}, "nom"},
		{2, []string{"import", url, badEDN, "--format", "xml"}, "xml"},
		{2, []string{"import", url, filepath.Join(tmp, "data.txt")}, "format"},
		{1, []string{"stats", missing}, "no database"},
		{1, []string{"watch", missing}, "no database"},
		{1, []string{"export", missing}, "no database"},
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
	// The partially valid transaction file fails at its second transaction:
	// the first is committed (the error says how many were).
	r := accrete(t, "", "import", url, badTx)
	if r.code != 1 || !strings.Contains(r.stderr, "after 1 committed") {
		t.Errorf("import of a failing transaction: exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(missingDir); !os.IsNotExist(err) {
		t.Errorf("commands on a missing file bucket created %s (stat: %v)", missingDir, err)
	}
	_ = time.Second
}

// TestJSONAndReplay covers JSON in and out, watch --from (replaying the log
// before following it) and a schema-on-read export/import round trip.
func TestJSONAndReplay(t *testing.T) {
	url, _ := fileURL(t, "json")
	ok(t, "", "create", url, "--schema-on-read")
	rep := ok(t, "", "transact", "--json", url, `[{"db/id": "a", "item/name": "pen", "item/tags": ":office"}, [":db/add", -2, "item/name", "cup"]]`)
	if !regexp.MustCompile(`^\{":datoms":8,":tempids":\{"-2":\d+,"a":\d+,"datomic.tx":\d+\},":tx":1\}$`).MatchString(rep) {
		t.Errorf("transact --json report = %s", rep)
	}
	want(t, "query --json", ok(t, "", "query", url, `[:find ?n ?t :where [?e :item/name ?n] [?e :item/tags ?t]]`, "--json"), `[["pen",":office"]]`)
	ok(t, "", "transact", url, `[{:item/name "ink"}]`)

	watch, lines := startWatch(t, url, "--from", "0")
	for _, wantT := range []string{"{:t 1, ", "{:t 2, "} {
		if line := readLine(t, lines); !strings.HasPrefix(line, wantT) {
			t.Errorf("watch --from 0 printed %q, want a line starting %q", line, wantT)
		}
	}
	watch.Process.Signal(syscall.SIGINT)
	if err := watch.Wait(); err != nil {
		t.Errorf("watch after SIGINT: %v", err)
	}

	exportFile := filepath.Join(t.TempDir(), "items.edn")
	if err := os.WriteFile(exportFile, []byte(ok(t, "", "export", url)), 0o644); err != nil {
		t.Fatal(err)
	}
	url2, _ := fileURL(t, "json-copy")
	ok(t, "", "import", url2, exportFile)
	q := `[:find ?n ?a :where [?e :item/name ?n] [?e ?a]]`
	want(t, "schema-on-read copy", ok(t, "", "query", url2, q), ok(t, "", "query", url, q))
	want(t, "copy stays schema-on-read", ok(t, "", "transact", url2, `[{:new/attr 1}]`)[:7], `{:tx 3,`)
}
