package query

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/accretedb/accrete/edn"
)

// The conformance suite: testdata/query/*.txt hold cases written from
// Datomic's query documentation and DataScript's semantics:
//
//	=== name
//	db: people            (the fixture bound to $ when there is no "in:")
//	in: $people 30 [1 2]  (optional: the inputs, EDN; $fixture names a database)
//	query:
//	[:find … :where …]
//	result:
//	#{[…]}                (or: ;; ERROR ErrSentinel "regexp")
//
// Relations, collections and :keys results compare as unordered; sets and
// maps anywhere compare as unordered.

var rewrite = flag.Bool("rewrite", false, "print actual results of failing conformance cases in a form ready to paste")

const peopleSchema = `[
 {:db/ident :name   :db/valueType :db.type/string  :db/cardinality :db.cardinality/one :db/index true}
 {:db/ident :age    :db/valueType :db.type/long    :db/cardinality :db.cardinality/one}
 {:db/ident :email  :db/valueType :db.type/string  :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :friend :db/valueType :db.type/ref     :db/cardinality :db.cardinality/many}
 {:db/ident :tags   :db/valueType :db.type/keyword :db/cardinality :db.cardinality/many}
 {:db/ident :salary :db/valueType :db.type/long    :db/cardinality :db.cardinality/one :db/index true}
 {:db/ident :height :db/valueType :db.type/double  :db/cardinality :db.cardinality/one}
 {:db/ident :parent :db/valueType :db.type/ref     :db/cardinality :db.cardinality/one}
 {:db/ident :sex    :db/valueType :db.type/keyword :db/cardinality :db.cardinality/one}
 {:db/ident :sex/male}
 {:db/ident :sex/female}
 {:db/ident :gender :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}
]`

const peopleData = `[
 {:db/id 1001 :name "Ivan" :age 15 :email "ivan@x" :friend [1002 1003] :tags [:a :b] :salary 100 :height 1.8 :sex :male :gender :sex/male}
 {:db/id 1002 :name "Petr" :age 37 :email "petr@x" :friend [1003] :salary 200 :sex :male :parent 1004 :gender :sex/male}
 {:db/id 1003 :name "Oleg" :age 25 :email "oleg@x" :salary 300 :sex :male :height 1.7}
 {:db/id 1004 :name "Anna" :age 60 :email "anna@x" :friend [1001] :tags [:c] :sex :female :salary 150 :gender :sex/female}
 {:db/id 1005 :name "Ivan" :age 22 :email "ivan2@x" :sex :male :parent 1002}
]`

const graphSchema = `[
 {:db/ident :node    :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :follows :db/valueType :db.type/ref  :db/cardinality :db.cardinality/many}
]`

// 1→2→3→4→2 (a cycle) and 5→6.
const graphData = `[
 {:db/id 1001 :node 1 :follows [1002]}
 {:db/id 1002 :node 2 :follows [1003]}
 {:db/id 1003 :node 3 :follows [1004]}
 {:db/id 1004 :node 4 :follows [1002]}
 {:db/id 1005 :node 5 :follows [1006]}
 {:db/id 1006 :node 6}
]`

const bankSchema = `[
 {:db/ident :owner   :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :balance :db/valueType :db.type/long   :db/cardinality :db.cardinality/one}
]`

// Account 1001 goes 10 → 20 → 5; account 1002 is opened at tx 5002.
const bankData = `[
 [1001 :owner "ann" 5001]
 [1001 :balance 10 5001]
 [1001 :balance 10 5002 false]
 [1001 :balance 20 5002]
 [1002 :owner "bob" 5002]
 [1002 :balance 7 5002]
 [1001 :balance 20 5003 false]
 [1001 :balance 5 5003]
]`

func fixtures(t testing.TB) map[string]Source {
	return map[string]Source{
		"people":  buildDB(t, peopleSchema, peopleData, false),
		"graph":   buildDB(t, graphSchema, graphData, false),
		"bank":    buildDB(t, bankSchema, bankData, false),
		"history": buildDB(t, bankSchema, bankData, true),
	}
}

type confCase struct {
	name, file string
	line       int
	db         string
	in         string
	query      string
	result     string
}

func readCases(t *testing.T, path string) []confCase {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []confCase
	var cur *confCase
	section := ""
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "=== "):
			cases = append(cases, confCase{name: strings.TrimSpace(line[4:]), file: filepath.Base(path), line: n})
			cur = &cases[len(cases)-1]
			section = ""
		case cur == nil:
		case section == "" && strings.HasPrefix(line, "db:"):
			cur.db = strings.TrimSpace(line[3:])
		case section == "" && strings.HasPrefix(line, "in:"):
			cur.in = strings.TrimSpace(line[3:])
		case line == "query:":
			section = "query"
		case line == "result:":
			section = "result"
		case section == "query":
			cur.query += line + "\n"
		case section == "result":
			cur.result += line + "\n"
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cases
}

var sentinels = map[string]error{
	"ErrMalformed":            ErrMalformed,
	"ErrUnknownFunction":      ErrUnknownFunction,
	"ErrUnboundVariable":      ErrUnboundVariable,
	"ErrInsufficientBindings": ErrInsufficientBindings,
	"ErrMissingSource":        ErrMissingSource,
	"ErrArity":                ErrArity,
	"ErrUnknownRule":          ErrUnknownRule,
	"ErrInput":                ErrInput,
	"ErrFunction":             ErrFunction,
	"ErrLimit":                ErrLimit,
}

var errLine = regexp.MustCompile(`^;; ERROR (?:(\w+) )?"(.*)"$`)

// testFuncs are the user functions the suite registers.
func testFuncs() *Funcs {
	f := &Funcs{}
	f.Register("user/double", func(args []any) (any, error) {
		if len(args) != 1 {
			return nil, ErrArity
		}
		n, ok := args[0].(int64)
		if !ok {
			return nil, errors.New("not a long")
		}
		return 2 * n, nil
	})
	f.Register("user/adult?", func(args []any) (any, error) {
		n, _ := args[0].(int64)
		return n >= 18, nil
	})
	f.RegisterAggregate("user/longest", func(consts, vals []any) (any, error) {
		best := ""
		for _, v := range vals {
			if s, _ := v.(string); len(s) > len(best) {
				best = s
			}
		}
		return best, nil
	})
	return f
}

func TestConformance(t *testing.T) {
	dbs := fixtures(t)
	files, err := filepath.Glob("testdata/query/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no conformance files: %v", err)
	}
	total := 0
	for _, file := range files {
		for _, c := range readCases(t, file) {
			total++
			t.Run(strings.TrimSuffix(c.file, ".txt")+"/"+c.name, func(t *testing.T) {
				runCase(t, c, dbs)
			})
		}
	}
	t.Logf("%d conformance cases", total)
}

func runCase(t *testing.T, c confCase, dbs map[string]Source) {
	t.Helper()
	var inputs []any
	if c.in != "" {
		vals, err := edn.ReadAll([]byte(c.in))
		if err != nil {
			t.Fatalf("%s:%d: bad in: %v", c.file, c.line, err)
		}
		for _, v := range vals {
			if s, ok := v.(edn.Symbol); ok && strings.HasPrefix(string(s), "$") {
				db, ok := dbs[string(s[1:])]
				if !ok {
					t.Fatalf("%s:%d: unknown fixture %s", c.file, c.line, s)
				}
				inputs = append(inputs, db)
				continue
			}
			inputs = append(inputs, v)
		}
	} else if c.db != "" {
		db, ok := dbs[c.db]
		if !ok {
			t.Fatalf("%s:%d: unknown fixture %s", c.file, c.line, c.db)
		}
		inputs = []any{db}
	}
	want := strings.TrimSpace(c.result)
	got, err := QWith(context.Background(), Options{Funcs: testFuncs()}, c.query, inputs...)
	if m := errLine.FindStringSubmatch(want); m != nil {
		if err == nil {
			t.Fatalf("%s:%d: got %s, want error %q", c.file, c.line, qString(got), m[2])
		}
		if !regexp.MustCompile(m[2]).MatchString(err.Error()) {
			t.Fatalf("%s:%d: error %q does not match %q", c.file, c.line, err, m[2])
		}
		if m[1] != "" {
			s, ok := sentinels[m[1]]
			if !ok {
				t.Fatalf("%s:%d: unknown sentinel %s", c.file, c.line, m[1])
			}
			if !errors.Is(err, s) {
				t.Fatalf("%s:%d: error %q is not %s", c.file, c.line, err, m[1])
			}
		}
		return
	}
	if err != nil {
		t.Fatalf("%s:%d: %v", c.file, c.line, err)
	}
	pq, _ := Parse(c.query)
	exp, rerr := edn.Read([]byte(want))
	if rerr != nil {
		t.Fatalf("%s:%d: bad expected result: %v", c.file, c.line, rerr)
	}
	g, w := canonResult(pq.kind, pq.keysKind != keysNone, got), canonResult(pq.kind, pq.keysKind != keysNone, exp)
	if g != w {
		if *rewrite {
			t.Logf("=== %s actual:\n%s", c.name, g)
		}
		t.Fatalf("%s:%d:\n got: %s\nwant: %s", c.file, c.line, g, w)
	}
}
