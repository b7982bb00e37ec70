package query_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/query"
	"github.com/accretedb/accrete/reader"
)

// Review test: one Entity (and the groups of the targets it reaches)
// walked by several goroutines at once over a reader.DB (kept leaf views;
// a log tail on top so some entities are copies), for the race detector,
// with every walk agreeing with a walk alone from a fresh EntityOf.
func TestReviewEntityConcurrentWalk(t *testing.T) {
	ctx := context.Background()
	db, err := reader.NewEmpty(ctx, nil, false, 8)
	if err != nil {
		t.Fatal(err)
	}
	for _, data := range []any{query.BenchSchema, query.BenchTxData(t, "wide-4x5")} {
		rep, err := db.With(ctx, data, nil)
		if err != nil {
			t.Fatal(err)
		}
		db = rep.DBAfter
	}
	// A tail: change some ages and add follows.
	rep, err := db.With(ctx, `[[:db/add [:id 1] :age 1000] [:db/add [:id 5] :age 2000] [:db/add [:id 6] :follows [:id 1]]]`, nil)
	if err != nil {
		t.Fatal(err)
	}
	db = rep.DBAfter
	r, err := query.Q(ctx, `[:find ?e . :where [?e :id 1]]`, db)
	if err != nil || r == nil {
		t.Fatalf("root: %v %v", r, err)
	}
	walk := func(root *query.Entity) (string, error) {
		seen := map[datom.ID]string{}
		var rec func(en *query.Entity, depth int) error
		rec = func(en *query.Entity, depth int) error {
			if _, ok := seen[en.ID()]; ok || depth > 5 {
				return nil
			}
			name, err := en.Get(ctx, edn.Keyword("name"))
			if err != nil {
				return err
			}
			age, err := en.Get(ctx, edn.Keyword("age"))
			if err != nil {
				return err
			}
			seen[en.ID()] = fmt.Sprint(name, "/", age)
			fs, err := en.Get(ctx, edn.Keyword("follows"))
			if err != nil {
				return err
			}
			set, _ := fs.(edn.Set)
			for _, f := range set {
				if err := rec(f.(*query.Entity), depth+1); err != nil {
					return err
				}
			}
			return nil
		}
		if err := rec(root, 0); err != nil {
			return "", err
		}
		var out []string
		for id, s := range seen {
			out = append(out, fmt.Sprint(id, " ", s))
		}
		sort.Strings(out)
		return strings.Join(out, "\n"), nil
	}
	alone, err := query.EntityOf(ctx, db, r)
	if err != nil {
		t.Fatal(err)
	}
	want, err := walk(alone)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(want, "\n") + 1; n < 700 || !strings.Contains(want, "/1000") {
		t.Fatalf("walk too small or without the tail's change: %d entities", n)
	}
	shared, err := query.EntityOf(ctx, db, r)
	if err != nil {
		t.Fatal(err)
	}
	const g = 4
	got := make([]string, g)
	errs := make([]error, g)
	var wg sync.WaitGroup
	for i := range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = walk(shared)
		}()
	}
	wg.Wait()
	for i := range g {
		if errs[i] != nil {
			t.Fatalf("walker %d: %v", i, errs[i])
		}
		if got[i] != want {
			t.Fatalf("walker %d disagrees with the walk alone", i)
		}
	}
}
