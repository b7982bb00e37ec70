package main

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/accretedb/accrete/edn"
)

func TestParseInterspersed(t *testing.T) {
	c := &command{name: "x", synopsis: "A B"}
	for _, tc := range []struct {
		args []string
		pos  string
		n    int
		json bool
	}{
		{[]string{"a", "--n", "3", "b"}, "a b", 3, false},
		{[]string{"--n", "3", "a", "b", "--json"}, "a b", 3, true},
		{[]string{"a", "b", "--n=4"}, "a b", 4, false},
		{[]string{"-", "-12", "--json"}, "- -12", 0, true},
		{[]string{"--json", "--", "--n", "x"}, "--n x", 0, true},
	} {
		fs := c.newFlags()
		n := fs.Int("n", 0, "")
		j := fs.Bool("json", false, "")
		pos, err := c.parse(&env{stdout: io.Discard}, fs, tc.args, 2, 2)
		if err != nil {
			t.Errorf("parse %q: %v", tc.args, err)
			continue
		}
		if got := strings.Join(pos, " "); got != tc.pos || *n != tc.n || *j != tc.json {
			t.Errorf("parse %q = %q n=%d json=%v, want %q n=%d json=%v", tc.args, got, *n, *j, tc.pos, tc.n, tc.json)
		}
	}
	fs := c.newFlags()
	var ue *usageError
	if _, err := c.parse(&env{stdout: io.Discard}, fs, []string{"a"}, 2, 2); !errors.As(err, &ue) {
		t.Errorf("one positional for two: err %v, want a usage error", err)
	}
	if _, err := c.parse(&env{stdout: io.Discard}, fs, []string{"a", "b", "--nope"}, 2, 2); !errors.As(err, &ue) {
		t.Errorf("unknown flag: err %v, want a usage error", err)
	}
	var help bytes.Buffer
	if _, err := c.parse(&env{stdout: &help}, fs, []string{"a", "--help"}, 2, 2); !errors.Is(err, errHelp) || !strings.HasPrefix(help.String(), "usage: accrete x A B") {
		t.Errorf("--help: err %v, printed %q", err, help.String())
	}
}

func TestParseDBRef(t *testing.T) {
	for _, tc := range []struct {
		raw, flag, url, branch, asOf, since string
		history                             bool
	}{
		{"file:///d", "", "file:///d", "main", "", "", false},
		{"file:///d?branch=dev&as-of=12", "", "file:///d", "dev", "12", "", false},
		{"file:///d?branch=dev", "other", "file:///d", "other", "", "", false},
		{"s3://b/p?region=us-east-1&since=3&history=true&endpoint=http://h:1", "", "s3://b/p?endpoint=http%3A%2F%2Fh%3A1&region=us-east-1", "main", "", "3", true},
		{"s3://b/p?region=us-east-1", "", "s3://b/p?region=us-east-1", "main", "", "", false},
	} {
		ref, err := parseDBRef(tc.raw, tc.flag)
		if err != nil {
			t.Errorf("parseDBRef(%q): %v", tc.raw, err)
			continue
		}
		if ref.url != tc.url || ref.branch != tc.branch || ref.asOf != tc.asOf || ref.since != tc.since || ref.history != tc.history {
			t.Errorf("parseDBRef(%q, %q) = %+v, want url %s branch %s as-of %q since %q history %v",
				tc.raw, tc.flag, ref, tc.url, tc.branch, tc.asOf, tc.since, tc.history)
		}
	}
	for _, bad := range []string{"people", "file:///d?branch=a/b", "file:///d?history=maybe", "%zz"} {
		if _, err := parseDBRef(bad, ""); err == nil {
			t.Errorf("parseDBRef(%q) succeeded, want an error", bad)
		}
	}
}

func TestBindIn(t *testing.T) {
	for _, tc := range []struct {
		q        string
		sources  []string
		rules    bool
		inputs   int
		wantIn   string
		wantFail bool
	}{
		{`[:find ?e :where [?e :a]]`, nil, false, 0, `[$]`, false},
		{`[:find ?e :where [?e :a]]`, nil, false, 1, ``, true},
		{`[:find ?e :in ?x :where [?e :a ?x]]`, nil, false, 1, `[$ ?x]`, false},
		{`[:find ?e :in $ ?x :where [?e :a ?x]]`, nil, false, 0, ``, true},
		{`[:find ?e :in $ $b ?x :where [?e :a ?x]]`, []string{"$b"}, true, 1, `[% $ $b ?x]`, false},
		{`[:find ?e :in $ $b :where [$b ?e]]`, nil, false, 1, `[$ $b]`, false},
		{`{:find [?e] :in [$ [?x ...]] :where [[?e :a ?x]]}`, []string{"$c"}, false, 1, `[$c $ [?x ...]]`, false},
	} {
		form, err := edn.ReadString(tc.q)
		if err != nil {
			t.Fatal(err)
		}
		qm, err := queryMap(form)
		if err != nil {
			t.Fatalf("queryMap(%s): %v", tc.q, err)
		}
		var named []namedSource
		for _, s := range tc.sources {
			named = append(named, namedSource{name: edn.Symbol(s)})
		}
		qm, in, err := bindIn(qm, named, tc.rules, tc.inputs)
		if (err != nil) != tc.wantFail {
			t.Errorf("bindIn(%s, %d inputs): err %v, want failure %v", tc.q, tc.inputs, err, tc.wantFail)
			continue
		}
		if err != nil {
			continue
		}
		if got := edn.String(edn.Vector(in)); got != tc.wantIn {
			t.Errorf("bindIn(%s) :in = %s, want %s", tc.q, got, tc.wantIn)
		}
		if v, _ := mapGet(qm, "in"); edn.String(v) != tc.wantIn {
			t.Errorf("bindIn(%s): query :in = %s, want %s", tc.q, edn.String(v), tc.wantIn)
		}
	}
}

func TestFromJSON(t *testing.T) {
	got, err := jsonTxData([]byte(`[{"person/name": "Ann", ":person/tags": [":a", "b"], "db/id": -1, "x/n": 1.5, "x/i": 7},
		[":db/add", "t", ":person/name", "Bob"], ["db/add", "t", "person/age", 3]]`))
	if err != nil {
		t.Fatal(err)
	}
	want := `[{:db/id -1, :person/name "Ann", :person/tags [:a "b"], :x/i 7, :x/n 1.5} [:db/add "t" :person/name "Bob"] ["db/add" "t" "person/age" 3]]`
	if s := edn.String(got); s != want {
		t.Errorf("jsonTxData:\n got  %s\n want %s", s, want)
	}
	for _, bad := range []string{``, `1`, `[1] [2]`, `{"a":`, `"s"`} {
		if _, err := jsonTxData([]byte(bad)); err == nil {
			t.Errorf("jsonTxData(%q) succeeded, want an error", bad)
		}
	}
}

// TestUnwrapReader checks that the export vector streams element by element
// however the input is split into reads.
func TestUnwrapReader(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{:a 1} {:b [1 2]}]`, `{:a 1} {:b [1 2]}`},
		{"{:a [[]]}]\n\n", "{:a [[]]}"},
		{"]", ""},
		{"{:a [1]} ] ", "{:a [1]} "},
	} {
		for _, wrap := range []func(io.Reader) io.Reader{func(r io.Reader) io.Reader { return r }, iotest.OneByteReader, iotest.HalfReader} {
			b, err := io.ReadAll(&unwrapReader{r: wrap(strings.NewReader(tc.in))})
			if err != nil || string(b) != tc.want {
				t.Errorf("unwrap %q = %q, %v; want %q", tc.in, b, err, tc.want)
			}
		}
	}
	if _, err := io.ReadAll(&unwrapReader{r: strings.NewReader(`{:a 1}`)}); err == nil {
		t.Errorf("unwrap without the closing bracket succeeded, want an error")
	}
}

func TestParsePoint(t *testing.T) {
	if tt, tm, err := parsePoint("12"); err != nil || tt != 12 || !tm.IsZero() {
		t.Errorf("parsePoint(12) = %d, %v, %v", tt, tm, err)
	}
	if _, tm, err := parsePoint("2024-01-02T03:04:05Z"); err != nil || tm.Year() != 2024 {
		t.Errorf("parsePoint(instant) = %v, %v", tm, err)
	}
	for _, bad := range []string{"-1", "soon", ""} {
		if _, _, err := parsePoint(bad); err == nil {
			t.Errorf("parsePoint(%q) succeeded, want an error", bad)
		}
	}
}

// TestProgress checks both progress displays: a bar redrawn in place on a
// terminal, plain lines otherwise.
func TestProgress(t *testing.T) {
	for _, tty := range []bool{true, false} {
		var errb bytes.Buffer
		im := &importer{e: &env{stderr: &errb, stderrTTY: tty}, in: &countingReader{n: 50}, size: 100, nTx: 2, nEntities: 7, nDatoms: 21}
		im.progress(false)
		im.progress(true)
		got := errb.String()
		if tty {
			if !strings.HasPrefix(got, "\r\x1b[Kimport: [===============               ]  50% 2 transactions, 7 entities, 21 datoms") || !strings.HasSuffix(got, "\n") || strings.Count(got, "\n") != 1 {
				t.Errorf("terminal progress = %q", got)
			}
			continue
		}
		wantLine := "import: 2 transactions, 7 entities, 21 datoms (50% of 100 bytes)\n"
		if got != wantLine+wantLine {
			t.Errorf("plain progress = %q, want two lines %q", got, wantLine)
		}
	}
}
