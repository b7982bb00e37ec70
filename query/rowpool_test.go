package query

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
)

// TestPooledRowsStayIntact: row buffers go back to pools when a query
// ends (rowpool.go) and serve the next query. A result that kept a view
// of a pooled buffer, or a buffer pooled while a relation still used it,
// would show here as a result that changes after later queries, or as a
// wrong answer while queries run at once on several goroutines.
func TestPooledRowsStayIntact(t *testing.T) {
	s, sds := buildSchema(t, `[{:db/ident :p/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
	  {:db/ident :p/age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
	  {:db/ident :p/sex :db/valueType :db.type/keyword :db/cardinality :db.cardinality/one}]`)
	name, age, sex := s.AttrByIdent("p/name"), s.AttrByIdent("p/age"), s.AttrByIdent("p/sex")
	data := slices.Clone(sds)
	for i := range 6000 {
		e := int64(100_000 + i)
		data = append(data,
			datom.Datom{E: e, A: name.ID, V: fmt.Sprintf("n%d", i%7), Tx: defaultTx, Added: true},
			datom.Datom{E: e, A: age.ID, V: int64(i % 50), Tx: defaultTx, Added: true},
			datom.Datom{E: e, A: sex.ID, V: []any{edn.Keyword("male"), edn.Keyword("female")}[i%2], Tx: defaultTx, Added: true})
	}
	src := NewMemSource(s, data, false)
	// Without :in, each query's rows are its result's tuples (findRows'
	// no-copy path); with it, they are copied out.
	queries := []string{
		`[:find ?e ?a :where [?e :p/name %q] [?e :p/age ?a] [?e :p/sex :male]]`,
		`[:find ?e :where [?e :p/name %q]]`,
		`[:find ?e ?a ?s :where [?e :p/name %q] [?e :p/age ?a] [?e :p/sex ?s]]`,
		`[:find ?e ?a :in $ ?n :where [?e :p/name ?n] [?e :p/age ?a] [?e :p/sex :male]]`,
		`[:find ?a (count ?e) :in $ ?n :where [?e :p/name ?n] [?e :p/age ?a]]`,
		`[:find [?a ...] :in $ ?n :where [?e :p/name ?n] [?e :p/age ?a] [(> ?a 20)]]`,
	}
	run := func(qi int, n string) (any, error) {
		if q := queries[qi]; strings.Contains(q, ":in") {
			return Q(context.Background(), q, src, n)
		}
		return Q(context.Background(), fmt.Sprintf(queries[qi], n), src)
	}
	type job struct {
		q   int
		n   string
		res any
	}
	want := map[[2]string]string{}
	for qi := range queries {
		for k := range 7 {
			n := fmt.Sprintf("n%d", k)
			r, err := run(qi, n)
			if err != nil {
				t.Fatal(err)
			}
			want[[2]string{fmt.Sprint(qi), n}] = canon(r)
		}
	}
	var mu sync.Mutex
	var kept []job
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 60 {
				qi, n := (g+i)%len(queries), fmt.Sprintf("n%d", (g*7+i)%7)
				r, err := run(qi, n)
				if err != nil {
					t.Error(err)
					return
				}
				if got := canon(r); got != want[[2]string{fmt.Sprint(qi), n}] {
					t.Errorf("goroutine %d query %d %s: result differs from the one computed alone", g, qi, n)
					return
				}
				mu.Lock()
				kept = append(kept, job{qi, n, r})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, j := range kept {
		if canon(j.res) != want[[2]string{fmt.Sprint(j.q), j.n}] {
			t.Fatalf("query %d %s: a result changed after later queries ran", j.q, j.n)
		}
	}
}
