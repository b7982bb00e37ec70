package reader

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/konserve"
)

// TestEntityDatomsModel checks EntityDatoms against Datoms, entity by
// entity, on values with tiny leaves (width 4, so entities span leaves),
// with and without a log tail (additions and deletions), merged, persisted
// (stored nodes), and through AsOf and Since views; and that what it hands
// out to keep does not change as later values are made and read.
func TestEntityDatomsModel(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	r, db, _ := modelDB(t, seed, 5, "", `[{:db/ident :p/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
	 {:db/ident :p/tag :db/valueType :db.type/string :db/cardinality :db.cardinality/many}
	 {:db/ident :p/ref :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}]`)
	ctx := context.Background()
	type kept struct {
		ds   []datom.Datom // as handed out
		copy []datom.Datom // a copy made then
	}
	var held []kept
	spans := 0 // entities handed out as two leaves' views
	var es []datom.ID
	for step := range 120 {
		var forms edn.Vector
		for f := range 1 + r.IntN(4) {
			switch k := r.IntN(10); {
			case k < 4 || len(es) == 0:
				m := edn.Map{{Key: edn.Keyword("db/id"), Val: fmt.Sprintf("t%d", f)},
					{Key: edn.Keyword("p/name"), Val: fmt.Sprintf("n%d", r.IntN(5))}}
				tags := edn.Vector{}
				for range r.IntN(8) {
					tags = append(tags, fmt.Sprintf("g%d", r.IntN(10)))
				}
				if len(tags) > 0 {
					m = append(m, edn.MapEntry{Key: edn.Keyword("p/tag"), Val: tags})
				}
				forms = append(forms, m)
			case k < 7:
				e := es[r.IntN(len(es))]
				if r.IntN(2) == 0 {
					forms = append(forms, edn.Vector{edn.Keyword("db/add"), e, edn.Keyword("p/tag"), fmt.Sprintf("g%d", r.IntN(10))})
				} else {
					forms = append(forms, edn.Vector{edn.Keyword("db/add"), e, edn.Keyword("p/ref"), es[r.IntN(len(es))]})
				}
			default:
				forms = append(forms, edn.Vector{edn.Keyword("db.fn/retractEntity"), es[r.IntN(len(es))]})
			}
		}
		rep, err := db.With(ctx, forms, nil)
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		db = rep.DBAfter
		for _, id := range rep.TempIDs.All() {
			if !slices.Contains(es, id) {
				es = append(es, id)
			}
		}
		slices.Sort(es)
		switch r.IntN(12) {
		case 0:
			if db, err = db.mergeTail(ctx); err != nil {
				t.Fatalf("step %d: merge: %v", step, err)
			}
		case 1:
			if db, _, err = db.Persist(ctx, PersistOptions{Merge: true}); err != nil {
				t.Fatalf("step %d: persist: %v", step, err)
			}
		}
		views := []*DB{db}
		if step%10 == 9 {
			views = append(views, db.AsOf(rep.TxID-2), db.Since(rep.TxID-2))
		}
		for _, v := range views {
			// A random increasing subset of the entities, with ids that
			// have no datoms (0, between, past the end) among them.
			var ids []datom.ID
			for _, e := range es {
				if r.IntN(3) > 0 {
					ids = append(ids, e)
				}
				if r.IntN(8) == 0 {
					ids = append(ids, e+1)
				}
			}
			ids = append([]datom.ID{0}, ids...)
			ids = slices.Compact(ids)
			calls := 0
			keep := r.IntN(2) == 0
			err := v.EntityDatoms(ctx, ids, keep, func(k int, ds, more []datom.Datom) error {
				if k != calls {
					return fmt.Errorf("call %d for entity %d", calls, k)
				}
				calls++
				var want []datom.Datom
				if err := v.Datoms(ctx, datom.EAVT, []any{ids[k]}, func(d datom.Datom) bool {
					want = append(want, d)
					return true
				}); err != nil {
					return err
				}
				if len(more) > 0 {
					if !keep {
						return fmt.Errorf("entity %d: %d more datoms without keep", ids[k], len(more))
					}
					spans++
				}
				if got := slices.Concat(ds, more); !slices.Equal(got, want) {
					return fmt.Errorf("entity %d:\ngot  %v + %v\nwant %v", ids[k], ds, more, want)
				}
				if keep && (cap(ds) != len(ds) || cap(more) != len(more)) {
					return fmt.Errorf("entity %d: kept slices with spare capacity (appending would write into a leaf)", ids[k])
				}
				if keep {
					held = append(held, kept{ds, slices.Clone(ds)}, kept{more, slices.Clone(more)})
				}
				return nil
			})
			if err != nil {
				t.Fatalf("seed %d, step %d: %v", seed, step, err)
			}
			if calls != len(ids) {
				t.Fatalf("seed %d, step %d: %d calls for %d ids", seed, step, calls, len(ids))
			}
		}
	}
	if spans == 0 {
		t.Errorf("seed %d: no entity came as two views", seed)
	}
	for i, h := range held {
		if !slices.Equal(h.ds, h.copy) {
			t.Fatalf("seed %d: datoms handed out changed later (%d): %v, were %v", seed, i, h.ds, h.copy)
		}
	}
}

// TestEntityDatomsErrors: ids out of order are refused before any call;
// an error from fn stops the read and comes back as it is; a cancelled
// context stops a long read.
func TestEntityDatomsErrors(t *testing.T) {
	ctx := context.Background()
	st, err := konserve.Open(ctx, "mem://", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	db, err := NewEmpty(ctx, st, false, 4)
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	count := func(int, []datom.Datom, []datom.Datom) error { calls++; return nil }
	for _, ids := range [][]datom.ID{{3, 2}, {1, 1}, {1, 5, 4}} {
		if err := db.EntityDatoms(ctx, ids, true, count); !errors.Is(err, ErrEntityOrder) {
			t.Errorf("ids %v: error %v, want ErrEntityOrder", ids, err)
		}
	}
	if calls != 0 {
		t.Errorf("%d calls on ids out of order", calls)
	}
	stop := errors.New("stop")
	err = db.EntityDatoms(ctx, []datom.ID{1, 2, 3}, false, func(k int, _, _ []datom.Datom) error {
		calls++
		if k == 1 {
			return stop
		}
		return nil
	})
	if err != stop || calls != 2 {
		t.Errorf("fn's error: %v after %d calls, want stop after 2", err, calls)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	ids := make([]datom.ID, 200)
	for i := range ids {
		ids[i] = datom.ID(i + 1)
	}
	if err := db.EntityDatoms(cctx, ids, false, count); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v, want context.Canceled", err)
	}
}
