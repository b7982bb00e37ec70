package query_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accretedb/accrete/query"
	"github.com/accretedb/accrete/reader"
)

// TestLogFunctions runs Datomic's log functions, tx-ids and tx-data, over a
// reader.DB's log: time points as ts, transaction ids, times and nil, and
// the datoms of one transaction joined with the database.
func TestLogFunctions(t *testing.T) {
	ctx := context.Background()
	db, err := reader.NewEmpty(ctx, nil, false, 8)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var reps []*reader.Report
	for i, data := range []string{
		`[{:db/ident :name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]`,
		`[{:db/id "a" :name "a"}]`,
		`[{:db/id "b" :name "b"}]`,
		`[{:db/id "c" :name "c"}]`,
	} {
		rep, err := db.With(ctx, data, &reader.TxOptions{Now: t0.Add(time.Duration(i) * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		reps, db = append(reps, rep), rep.DBAfter
	}
	a := reps[1].TempIDs.ID("a")
	rep, err := db.With(ctx, fmt.Sprintf(`[[:db/retract %d :name "a"]]`, a), &reader.TxOptions{Now: t0.Add(4 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	reps, db = append(reps, rep), rep.DBAfter
	txs := func(from, to int) []any {
		var out []any
		for _, r := range reps[from:to] {
			out = append(out, r.TxID)
		}
		return out
	}
	log := db.Log()
	idsQ := `[:find [?tx ...] :in ?log ?from ?to :where [(tx-ids ?log ?from ?to) [?tx ...]]]`
	for _, c := range []struct {
		name     string
		from, to any
		want     []any
	}{
		{"the whole log", nil, nil, nil}, // checked below: every transaction, the bootstrap's too
		{"from a t to a t", reps[2].T, reps[4].T, txs(2, 4)},
		{"from a transaction id to a transaction id", reps[1].TxID, reps[3].TxID, txs(1, 3)},
		{"from a time", t0.Add(3 * time.Hour), nil, txs(3, 5)},
		{"between times, the end excluded", t0.Add(time.Hour), t0.Add(3 * time.Hour), txs(1, 3)},
		{"a time between transactions", t0.Add(90 * time.Minute), t0.Add(150 * time.Minute), txs(2, 3)},
		{"an end before the first transaction", nil, t0.Add(-time.Hour), nil},
	} {
		got, err := query.Q(ctx, idsQ, log, c.from, c.to)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		g, _ := got.([]any)
		slices.SortFunc(g, func(x, y any) int { return int(x.(int64) - y.(int64)) })
		if c.name == "the whole log" {
			if len(g) < len(reps) || !slices.Equal(g[len(g)-len(reps):], txs(0, len(reps))) {
				t.Errorf("%s: %v, want the transactions %v at the end", c.name, g, txs(0, len(reps)))
			}
			continue
		}
		if !slices.Equal(g, c.want) {
			t.Errorf("%s: %v, want %v", c.name, g, c.want)
		}
	}

	// tx-data of the retraction, its attributes named through the database.
	dataQ := `[:find ?e ?attr ?v ?added :in $ ?log ?tx :where [(tx-data ?log ?tx) [[?e ?a ?v _ ?added]]] [?a :db/ident ?attr]]`
	for _, tx := range []any{reps[4].TxID, reps[4].T} {
		got, err := query.Q(ctx, dataQ, db, log, tx)
		if err != nil {
			t.Fatal(err)
		}
		s := fmt.Sprint(got)
		if rel, ok := got.(query.Relation); !ok || len(rel) != 2 ||
			!strings.Contains(s, fmt.Sprintf("[%d :name a false]", a)) ||
			!strings.Contains(s, fmt.Sprintf("[%d :db/txInstant", reps[4].TxID)) {
			t.Errorf("tx-data of %v: %s, want the retraction of a's name and the transaction's instant", tx, s)
		}
	}

	// Errors name what was wrong.
	for _, c := range []struct {
		q    string
		in   []any
		want string
	}{
		{idsQ, []any{"not a log", nil, nil}, "is not a transaction log"},
		{idsQ, []any{log, "yesterday", nil}, "is not a time point"},
		{dataQ, []any{db, log, "x"}, "is not a t or a transaction id"},
		{`[:find ?tx :in ?log :where [(tx-ids ?log 1) [?tx ...]]]`, []any{log}, "tx-ids takes a log, a start and an end"},
	} {
		_, err := query.Q(ctx, c.q, c.in...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: error %v, want one containing %q", c.q, c.in, err, c.want)
		}
	}
	var _ query.Log = log // reader's log is a query log
}
