package query

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
)

func TestExplainOrdersBySelectivity(t *testing.T) {
	db := fixtures(t)["people"]
	// The selective clause comes last in the text but runs first, and the
	// join continues with per-entity lookups.
	p, err := Explain(context.Background(), `[:find ?e ?a :where [?e :age ?a] [?e :email "oleg@x"]]`, db)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Steps) != 2 {
		t.Fatalf("plan has %d steps, want 2:\n%s", len(p.Steps), p)
	}
	if got, want := p.Steps[0].Clause, `[?e :email "oleg@x"]`; got != want || p.Steps[0].Index != "AVET" {
		t.Errorf("first step = %s via %s, want %s via AVET\n%s", got, p.Steps[0].Index, want, p)
	}
	if got := p.Steps[1].Op; got != "lookup" || p.Steps[1].Index != "EAVT" {
		t.Errorf("second step = %s via %s, want lookup via EAVT\n%s", got, p.Steps[1].Index, p)
	}
}

func TestExplainPushesRangeIntoAVET(t *testing.T) {
	db := fixtures(t)["people"]
	p, err := Explain(context.Background(), `[:find ?e :where [?e :salary ?s] [(> ?s 150)] [(< ?s 300)]]`, db)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Steps) != 1 || p.Steps[0].Index != "AVET range" || len(p.Steps[0].Filters) != 2 {
		t.Fatalf("want one AVET range scan with two fused filters, got:\n%s", p)
	}
	// Not indexed: the predicate is fused into the AEVT scan instead.
	p, err = Explain(context.Background(), `[:find ?e :where [?e :age ?a] [(> ?a 30)]]`, db)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Steps) != 1 || p.Steps[0].Index != "AEVT" || len(p.Steps[0].Filters) != 1 {
		t.Fatalf("want one AEVT scan with a fused filter, got:\n%s", p)
	}
}

func TestExplainShowsSubPlans(t *testing.T) {
	db := fixtures(t)["people"]
	p, err := Explain(context.Background(), `[:find ?e :where [?e :name _] (not [?e :age 15]) (or [?e :age 37] [?e :age 60])]`, db)
	if err != nil {
		t.Fatal(err)
	}
	s := p.String()
	for _, want := range []string{"not (not [?e :age 15])", "or (or", "branch 2:"} {
		if !strings.Contains(s, want) {
			t.Errorf("plan lacks %q:\n%s", want, s)
		}
	}
}

func TestCancel(t *testing.T) {
	db := fixtures(t)["graph"]
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Q(ctx, `[:find ?a ?b :where [?a :node _] [?b :node _]]`, db)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	_, err = Q(ctx, `[:find ?a ?b :in $ % :where (r ?a ?b)]`, db, `[[(r ?a ?b) [?a :follows ?b]] [(r ?a ?b) [?a :follows ?c] (r ?c ?b)]]`)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("rules: err = %v, want context.Canceled", err)
	}
}

func TestMaxRows(t *testing.T) {
	db := fixtures(t)["people"]
	_, err := QWith(context.Background(), Options{MaxRows: 10}, `[:find ?a ?b :where [?a :name _] [?b :name _]]`, db)
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("err = %v, want ErrLimit", err)
	}
	if _, err := QWith(context.Background(), Options{MaxRows: -1}, `[:find ?a :where [?a :name _]]`, db); !errors.Is(err, ErrInput) {
		t.Fatalf("MaxRows -1: err = %v, want ErrInput", err)
	}
	r, err := QWith(context.Background(), Options{MaxRows: 10}, `[:find ?a :where [?a :name _]]`, db)
	if err != nil || len(r.(Relation)) != 5 {
		t.Fatalf("got %v, %v; want 5 rows", r, err)
	}
}

func TestErrorNamesClause(t *testing.T) {
	db := fixtures(t)["people"]
	_, err := Q(context.Background(), `[:find ?e :where [?e :age ?a] [(frob ?a)]]`, db)
	var qe *Error
	if !errors.As(err, &qe) || qe.Clause != "[(frob ?a)]" || !errors.Is(err, ErrUnknownFunction) {
		t.Fatalf("err = %#v, want *Error naming [(frob ?a)] wrapping ErrUnknownFunction", err)
	}
}

func TestUserFunctionReceivesSource(t *testing.T) {
	db := fixtures(t)["people"]
	var f Funcs
	var gotSrc any
	f.Register("has-schema?", func(args []any) (any, error) {
		gotSrc = args[0]
		_, ok := args[0].(Source)
		return ok, nil
	})
	r, err := QWith(context.Background(), Options{Funcs: &f}, `[:find ?e . :where [?e :age 15] [(has-schema? $ ?e)]]`, db)
	if err != nil || r != int64(1001) {
		t.Fatalf("got %v, %v; want 1001", r, err)
	}
	if gotSrc != db {
		t.Fatalf("function got %T, want the Source itself", gotSrc)
	}
}

// TestUserPanicIsError: a user function or aggregate that panics fails
// the query with an *Error naming its clause and wrapping ErrFunction; the
// process goes on (as a transaction function's panic fails only its
// transaction).
func TestUserPanicIsError(t *testing.T) {
	db := fixtures(t)["people"]
	var f Funcs
	f.Register("boom?", func(args []any) (any, error) { return args[5], nil }) // out of range
	f.Register("boom", func(args []any) (any, error) { panic("kaboom") })
	f.RegisterAggregate("boom-agg", func(consts, vals []any) (any, error) { panic(errors.New("agg kaboom")) })
	for _, c := range []struct{ q, clause, msg string }{
		{`[:find ?e :where [?e :age ?a] [(boom? ?a)]]`, "[(boom? ?a)]", "index out of range"},
		{`[:find ?e ?x :where [?e :age ?a] [(boom ?a) ?x]]`, "[(boom ?a) ?x]", "kaboom"},
		{`[:find (boom-agg ?a) . :where [?e :age ?a]]`, "(boom-agg ?a)", "agg kaboom"},
	} {
		_, err := QWith(context.Background(), Options{Funcs: &f}, c.q, db)
		var qe *Error
		if !errors.As(err, &qe) || qe.Clause != c.clause || !errors.Is(err, ErrFunction) ||
			!strings.Contains(err.Error(), "panic") || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: err = %v, want an *Error naming %s wrapping ErrFunction with the panic's %q", c.q, err, c.clause, c.msg)
		}
	}
}

// TestConcurrentQueries runs one parsed query from many goroutines; -race
// checks that *Query and the sources are not written.
func TestConcurrentQueries(t *testing.T) {
	db := fixtures(t)["graph"]
	q := MustParse(`[:find ?x ?y :in $ % :where (r ?a ?b) [?a :node ?x] [?b :node ?y]]`)
	rules, err := ParseRules(`[[(r ?a ?b) [?a :follows ?b]] [(r ?a ?b) [?a :follows ?c] (r ?c ?b)]]`)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Q(context.Background(), q, db, rules)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := Q(context.Background(), q, db, rules)
			if err == nil && canonResult(findRel, false, got) != canonResult(findRel, false, want) {
				err = fmt.Errorf("got %s, want %s", canon(got), canon(want))
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestGoValuesAsQueryAndInputs(t *testing.T) {
	db := fixtures(t)["people"]
	q := []any{edn.Keyword("find"), edn.Symbol("?e"), edn.Keyword("in"), edn.Symbol("$"), []any{edn.Symbol("?n"), edn.Symbol("...")},
		edn.Keyword("where"), []any{edn.Symbol("?e"), edn.Keyword("name"), edn.Symbol("?n")}}
	r, err := Q(context.Background(), q, db, []string{"Oleg", "Anna"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := canonResult(findRel, false, r), "#{[1003] [1004]}"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	// int inputs are normalized to int64.
	r, err = Q(context.Background(), `[:find ?e . :in $ ?a :where [?e :age ?a]]`, db, 60)
	if err != nil || r != int64(1004) {
		t.Fatalf("got %v, %v; want 1004", r, err)
	}
}

func TestPullInFind(t *testing.T) {
	db := fixtures(t)["people"]
	r, err := Q(context.Background(), `[:find (pull ?e [:name :age]) . :where [?e :email "oleg@x"]]`, db)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := r.(map[edn.Keyword]any)
	if !ok || m["name"] != "Oleg" || m["age"] != int64(25) || len(m) != 2 {
		t.Fatalf("got %#v, want {:name \"Oleg\" :age 25}", r)
	}
	r, err = Q(context.Background(), `[:find ?n (pull $ ?f [:name]) :where [?e :name ?n] [?e :age 37] [?e :friend ?f]]`, db)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := canonResult(findRel, false, r), `#{["Petr" {:name "Oleg"}]}`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func ExampleQ() {
	s, sds := buildSchema(&testing.T{}, `[{:db/ident :name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
	                                    {:db/ident :age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]`)
	name, age := s.AttrByIdent("name").ID, s.AttrByIdent("age").ID
	db := NewMemSource(s, append(sds,
		datomOf(1001, name, "Ivan"), datomOf(1001, age, int64(30)),
		datomOf(1002, name, "Petr"), datomOf(1002, age, int64(20)),
	), false)
	r, err := Q(context.Background(), `[:find ?n . :in $ ?min :where [?e :age ?a] [(>= ?a ?min)] [?e :name ?n]]`, db, 25)
	fmt.Println(r, err)
	// Output: Ivan <nil>
}

// FuzzParse feeds arbitrary text to Parse: it must return a *Query or an
// error wrapping one of the sentinels, never panic. The seeds are the
// conformance queries.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/query/*.txt")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, part := range strings.Split(string(data), "query:\n")[1:] {
			f.Add(strings.SplitN(part, "result:", 2)[0])
		}
	}
	f.Add(`[:find ?e :where (or-join [[?a] ?b] [?a :x ?b])]`)
	f.Fuzz(func(t *testing.T, text string) {
		q, err := Parse(text)
		if err != nil {
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("error %v is not a *query.Error", err)
			}
			return
		}
		if q.String() == "" || len(q.find) == 0 {
			t.Fatalf("parsed %q into an empty query", text)
		}
		// A parsed query re-parses from its printed form.
		text2, err := edn.Marshal(q.form)
		if err != nil {
			return
		}
		if _, err := Parse(text2); err != nil {
			t.Fatalf("re-parse of %s: %v", text2, err)
		}
	})
}

// FuzzParseRules feeds arbitrary text to ParseRules.
func FuzzParseRules(f *testing.F) {
	f.Add(`[[(r ?a ?b) [?a :follows ?b]] [(r ?a ?b) [?a :follows ?c] (r ?c ?b)]]`)
	f.Add(`[[(adult [?e]) [?e :age ?a] [(>= ?a 18)]]]`)
	f.Add(`[[(s ?e) (or [?e :a 1] (and [?e :b 2] (not [?e :c 3])))]]`)
	f.Fuzz(func(t *testing.T, text string) {
		r, err := ParseRules(text)
		if err != nil {
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("error %v is not a *query.Error", err)
			}
			return
		}
		for name, defs := range r.defs {
			if len(defs) == 0 || defs[0].name != name {
				t.Fatalf("rule %s has no definitions", name)
			}
		}
	})
}

// FuzzQuery evaluates arbitrary query text against the people fixture: it
// must answer or fail with a *query.Error (or a context error), never
// panic. Seeds are the conformance queries.
func FuzzQuery(f *testing.F) {
	files, _ := filepath.Glob("testdata/query/*.txt")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, part := range strings.Split(string(data), "query:\n")[1:] {
			f.Add(strings.SplitN(part, "result:", 2)[0])
		}
	}
	db := fixtures(f)["people"]
	f.Fuzz(func(t *testing.T, text string) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		_, err := QWith(ctx, Options{MaxRows: 5000, Funcs: testFuncs()}, text, db)
		var qe *Error
		if err != nil && !errors.As(err, &qe) {
			t.Fatalf("error %v is not a *query.Error", err)
		}
	})
}

// TestTwoPointsInTime joins two values of one database (as of tx 5002, and
// now) and a plain collection in one query, as a reader would with AsOf.
func TestTwoPointsInTime(t *testing.T) {
	s, sds := buildSchema(t, bankSchema)
	all := buildData(t, s, bankData)
	var then []datom.Datom
	for _, d := range all {
		if d.Tx <= 5002 {
			then = append(then, d)
		}
	}
	old := NewMemSource(s, append(slices.Clone(sds), then...), false)
	now := NewMemSource(s, append(slices.Clone(sds), all...), false)
	r, err := Q(context.Background(),
		`[:find ?o ?b1 ?b2 ?tier :in $old $now $tiers
		  :where [$old ?e :balance ?b1] [$now ?e :balance ?b2] [(not= ?b1 ?b2)]
		         [$now ?e :owner ?o] [$tiers ?o ?tier]]`,
		old, now, [][]any{{"ann", "gold"}, {"bob", "silver"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := canonResult(findRel, false, r), `#{["ann" 20 5 "gold"]}`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}
