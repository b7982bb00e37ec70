package query

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
)

// Review test for the row buffers a run reuses (exec.recycle/takeRows):
// a result handed to the caller must never share a buffer that a later
// step, a later query or a repeated query fills again. Each query's result
// is kept, canonicalised, and checked unchanged after every other query
// ran (twice, in both orders), and equal to its re-run; a few chains
// (pattern, predicate, pattern, function, pattern) are also checked
// against answers computed from the datoms directly.

var reviewReuseQueries = []struct {
	name, q string
	inputs  []any
}{
	{"chain-pred", `[:find ?e ?a ?s :where [?e "name" "Ivan"] [?e "age" ?a] [(< ?a 50)] [?e "salary" ?s] [(> ?s 10000)]]`, nil},
	{"chain-fn", `[:find ?e ?a2 ?l :where [?e "name" "Ivan"] [?e "age" ?a] [(* ?a 2) ?a2] [?e "last-name" ?l] [?e "sex" "male"]]`, nil},
	{"chain-4", `[:find ?e ?l ?a ?s :where [?e "sex" "female"] [?e "last-name" ?l] [?e "age" ?a] [?e "salary" ?s]]`, nil},
	{"coll", `[:find [?a ...] :where [?e "name" "Petr"] [?e "age" ?a]]`, nil},
	{"keys", `[:find ?e ?a :keys e a :where [?e "name" "Oleg"] [?e "age" ?a] [(> ?a 90)]]`, nil},
	{"not", `[:find ?e ?a :where [?e "name" "Yuri"] [?e "age" ?a] (not [?e "sex" "male"])]`, nil},
	{"or", `[:find ?e ?a :where [?e "age" ?a] [(< ?a 3)] (or [?e "name" "Ivan"] [?e "name" "Denis"])]`, nil},
	{"alias", `[:find ?e ?al :where [?e "name" "Fedor"] [?e "alias" ?al] [?e "age" ?a] [(< ?a 30)]]`, nil},
}

func reviewCanon(v any) string {
	var rows []string
	switch r := v.(type) {
	case Relation:
		for _, t := range r {
			rows = append(rows, fmt.Sprintf("%#v", t))
		}
	case []any:
		for _, x := range r {
			rows = append(rows, fmt.Sprintf("%#v", x))
		}
	case []map[edn.Keyword]any:
		for _, m := range r {
			rows = append(rows, fmt.Sprintf("%#v %#v", m[edn.Keyword("e")], m[edn.Keyword("a")]))
		}
	default:
		return fmt.Sprintf("%#v", v)
	}
	slices.Sort(rows)
	return strings.Join(rows, "\n")
}

func TestReviewQueryResultsSurviveBufferReuse(t *testing.T) {
	ctx := context.Background()
	db := people20k(t)
	type qq struct {
		name, q string
		inputs  []any
	}
	var qs []qq
	for _, b := range benchQueries {
		qs = append(qs, qq{b.name, b.q, b.inputs})
	}
	for _, r := range reviewReuseQueries {
		qs = append(qs, qq{r.name, r.q, r.inputs})
	}
	run := func(q qq) any {
		r, err := Q(ctx, q.q, append([]any{db}, q.inputs...)...)
		if err != nil {
			t.Fatalf("%s: %v", q.name, err)
		}
		return r
	}
	kept := make([]any, len(qs))
	snap := make([]string, len(qs))
	for i, q := range qs {
		kept[i] = run(q)
		snap[i] = reviewCanon(kept[i])
	}
	check := func(when string) {
		for i, q := range qs {
			if got := reviewCanon(kept[i]); got != snap[i] {
				t.Fatalf("%s: first result changed %s", q.name, when)
			}
		}
	}
	for round := 0; round < 2; round++ {
		for k := range qs {
			i := k
			if round == 1 {
				i = len(qs) - 1 - k
			}
			again := run(qs[i])
			if got := reviewCanon(again); got != snap[i] {
				t.Fatalf("%s: re-run differs from the first run (round %d)", qs[i].name, round)
			}
			check(fmt.Sprintf("after re-running %s", qs[i].name))
		}
	}

	// Models for the chains, from the datoms.
	s := db.Schema()
	attr := func(n string) datom.ID { return s.AttrByIdent(edn.Keyword(n)).ID }
	one := map[datom.ID]map[datom.ID]any{}
	for _, d := range db.All() {
		if one[d.E] == nil {
			one[d.E] = map[datom.ID]any{}
		}
		one[d.E][d.A] = d.V
	}
	var wantPred, wantFn []string
	for e, m := range one {
		if m[attr("name")] != "Ivan" {
			continue
		}
		a, _ := m[attr("age")].(int64)
		if sal, ok := m[attr("salary")].(int64); ok && a < 50 && sal > 10000 {
			wantPred = append(wantPred, fmt.Sprintf("%#v", []any{int64(e), a, sal}))
		}
		if m[attr("sex")] == "male" {
			wantFn = append(wantFn, fmt.Sprintf("%#v", []any{int64(e), 2 * a, m[attr("last-name")]}))
		}
	}
	slices.Sort(wantPred)
	slices.Sort(wantFn)
	for i, q := range qs {
		var want []string
		switch q.name {
		case "chain-pred":
			want = wantPred
		case "chain-fn":
			want = wantFn
		default:
			continue
		}
		if got := snap[i]; got != strings.Join(want, "\n") {
			t.Errorf("%s: %d rows differ from the model's %d", q.name, strings.Count(got, "\n")+1, len(want))
		}
	}
}
