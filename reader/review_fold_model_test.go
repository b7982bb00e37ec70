package reader_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/reader"
)

// Review test: chains of small With calls (lazy overlay, log tail) and
// large ones (4096+ datoms: the transaction and the tail folded into
// in-memory trees, built bottom-up or updated) with retractions of datoms
// in the tail and in folded trees, cardinality-one replacements and
// retractEntity, checked after every step against a model that applies
// each report's TxData: the current indices (EAVT, AEVT, AVET for indexed
// attributes, VAET for refs) hold the model's current datoms, and history
// holds every datom ever transacted.

const foldSchema = `[
 {:db/ident :f/name  :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/index true}
 {:db/ident :f/age   :db/valueType :db.type/long   :db/cardinality :db.cardinality/one}
 {:db/ident :f/alias :db/valueType :db.type/string :db/cardinality :db.cardinality/many}
 {:db/ident :f/friend :db/valueType :db.type/ref   :db/cardinality :db.cardinality/many}]`

type foldModel struct {
	cur  map[string]datom.Datom
	hist map[string]datom.Datom
}

func eavKey(d datom.Datom) string { return fmt.Sprintf("%d %d %#v", d.E, d.A, d.V) }

func (m *foldModel) apply(ds []datom.Datom) {
	for _, d := range ds {
		m.hist[forkKey(d)] = d
		if d.Added {
			m.cur[eavKey(d)] = d
		} else {
			delete(m.cur, eavKey(d))
		}
	}
}

func (m *foldModel) check(ctx context.Context, db *reader.DB) error {
	s := db.Schema()
	want := func(idx datom.Index, d datom.Datom) bool {
		at := s.Attr(d.A)
		switch idx {
		case datom.AVET:
			return at != nil && at.Indexed()
		case datom.VAET:
			return at != nil && at.IsRef()
		}
		return true
	}
	for _, hist := range []bool{false, true} {
		v, model := db, m.cur
		if hist {
			v, model = db.History(), m.hist
		}
		for _, idx := range []datom.Index{datom.EAVT, datom.AEVT, datom.AVET, datom.VAET} {
			seen := map[string]bool{}
			var bad error
			err := v.Datoms(ctx, idx, nil, func(d datom.Datom) bool {
				k := forkKey(d)
				mk := k
				if !hist {
					mk = eavKey(d)
				}
				md, ok := model[mk]
				if !ok || forkKey(md) != k {
					bad = fmt.Errorf("history %v %v: datom %s not in the model", hist, idx, k)
					return false
				}
				if seen[k] {
					bad = fmt.Errorf("history %v %v: datom %s twice", hist, idx, k)
					return false
				}
				seen[k] = true
				return true
			})
			if err != nil {
				return err
			}
			if bad != nil {
				return bad
			}
			for _, d := range model {
				if want(idx, d) && !seen[forkKey(d)] {
					return fmt.Errorf("history %v %v: missing %s", hist, idx, forkKey(d))
				}
			}
		}
	}
	return nil
}

func TestReviewFoldModel(t *testing.T) {
	ctx := context.Background()
	for seed := range uint64(4) {
		width := []int{0, 8, 8, 0}[seed]
		stored := seed >= 2
		t.Run(fmt.Sprint("seed", seed, "-width", width, "-stored", stored), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 77))
			var st *konserve.Store
			if stored {
				var err error
				if st, err = konserve.Open(ctx, "mem://", nil); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
			}
			db, err := reader.NewEmpty(ctx, st, false, width)
			if err != nil {
				t.Fatal(err)
			}
			m := &foldModel{cur: map[string]datom.Datom{}, hist: map[string]datom.Datom{}}
			for _, hist := range []bool{false, true} {
				v := db
				if hist {
					v = db.History()
				}
				if err := v.Datoms(ctx, datom.EAVT, nil, func(d datom.Datom) bool {
					if hist {
						m.hist[forkKey(d)] = d
					} else {
						m.cur[eavKey(d)] = d
					}
					return true
				}); err != nil {
					t.Fatal(err)
				}
			}
			sch, err := reader.TxForms(foldSchema)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := db.With(ctx, sch, nil)
			if err != nil {
				t.Fatal(err)
			}
			m.apply(rep.TxData)
			db = rep.DBAfter
			var ents []datom.ID
			step := 0
			tx := func(newEnts, changes int) {
				t.Helper()
				var forms edn.Vector
				for j := 0; j < newEnts; j++ {
					id := fmt.Sprintf("n%d-%d", step, j)
					mp := edn.Map{{Key: edn.Keyword("db/id"), Val: id},
						{Key: edn.Keyword("f/name"), Val: fmt.Sprint("name", rng.IntN(50))},
						{Key: edn.Keyword("f/age"), Val: int64(rng.IntN(90))},
						{Key: edn.Keyword("f/alias"), Val: edn.Vector{fmt.Sprint("a", rng.IntN(7)), fmt.Sprint("b", rng.IntN(7))}}}
					if len(ents) > 0 {
						mp = append(mp, edn.MapEntry{Key: edn.Keyword("f/friend"), Val: int64(ents[rng.IntN(len(ents))])})
					}
					forms = append(forms, mp)
				}
				touched := map[datom.ID]bool{}
				for j := 0; j < changes && len(ents) > 0; j++ {
					e := ents[rng.IntN(len(ents))]
					if touched[e] {
						continue
					}
					touched[e] = true
					switch rng.IntN(4) {
					case 0:
						forms = append(forms, edn.Vector{edn.Keyword("db/add"), int64(e), edn.Keyword("f/age"), int64(100 + rng.IntN(50))})
					case 1:
						forms = append(forms, edn.Vector{edn.Keyword("db/retract"), int64(e), edn.Keyword("f/alias"), fmt.Sprint("a", rng.IntN(7))})
					case 2:
						forms = append(forms, edn.Vector{edn.Keyword("db/add"), int64(e), edn.Keyword("f/name"), fmt.Sprint("re", rng.IntN(50))})
					case 3:
						forms = append(forms, edn.Vector{edn.Keyword("db.fn/retractEntity"), int64(e)})
					}
				}
				if len(forms) == 0 {
					return
				}
				rep, err := db.With(ctx, forms, nil)
				if err != nil {
					t.Fatalf("step %d: %v", step, err)
				}
				m.apply(rep.TxData)
				for k, id := range rep.TempIDs.All() {
					if s, ok := k.(string); ok && len(s) > 0 && s[0] == 'n' {
						ents = append(ents, id)
					}
				}
				db = rep.DBAfter
				step++
			}
			checkNow := func(what string) {
				t.Helper()
				if err := m.check(ctx, db); err != nil {
					t.Fatalf("step %d (%s): %v", step, what, err)
				}
			}
			persist := func(merge bool) {
				t.Helper()
				if st == nil {
					return
				}
				p, _, err := db.Persist(ctx, reader.PersistOptions{Branch: "main", Merge: merge})
				if err != nil {
					t.Fatalf("step %d: persist: %v", step, err)
				}
				db = p
				checkNow(fmt.Sprint("persisted, merge ", merge))
			}
			for range 30 {
				tx(1+rng.IntN(3), rng.IntN(3))
			}
			checkNow("small")
			persist(true)
			for range 10 {
				tx(1+rng.IntN(3), 1+rng.IntN(3))
			}
			persist(false) // a stored tail
			tx(1100, 40)   // 4400+ datoms: folded
			checkNow("fold 1")
			persist(false)
			for range 30 {
				tx(rng.IntN(3), 1+rng.IntN(4))
			}
			checkNow("small on folded")
			tx(1200, 300) // folded with tail retractions and tree retractions
			checkNow("fold 2")
			persist(true)
			for range 10 {
				tx(rng.IntN(2), 1+rng.IntN(4))
				checkNow("small after fold 2")
			}
			tx(3000, 200) // may update instead of rebuild
			checkNow("fold 3")
		})
	}
}
