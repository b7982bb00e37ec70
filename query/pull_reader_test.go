package query

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/reader"
)

// TestPullEntityOnReader runs pull and Entity over a *reader.DB, which
// reads entities through EntityDatoms (leaf views; two views for an
// entity across leaves), and checks them against the same datoms in a
// MemSource: random graphs of up to 40 entities with tags enough to span
// leaves, in the log tail (32-key leaves), merged into trees of 4-key
// leaves, and with a tail on top of those.
func TestPullEntityOnReader(t *testing.T) {
	seed := *pullModelSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -pull.seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0xdb))
	ctx := context.Background()
	st, err := konserve.Open(ctx, "mem://", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	spans := 0 // entities read as two leaves' views
	attrs := []edn.Keyword{"m/name", "m/tag", "m/n", "m/friend", "m/best", "m/part", "m/main", "m/kind"}
	for round := range 12 {
		db, err := reader.NewEmpty(ctx, st, false, 4)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := db.With(ctx, `[{:db/ident :m/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
		 {:db/ident :m/tag :db/valueType :db.type/string :db/cardinality :db.cardinality/many}
		 {:db/ident :m/n :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
		 {:db/ident :m/friend :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}
		 {:db/ident :m/best :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}
		 {:db/ident :m/part :db/valueType :db.type/ref :db/cardinality :db.cardinality/many :db/isComponent true}
		 {:db/ident :m/main :db/valueType :db.type/ref :db/cardinality :db.cardinality/one :db/isComponent true}
		 {:db/ident :m/kind :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}
		 {:db/ident :kind/a} {:db/ident :kind/b}]`, nil)
		if err != nil {
			t.Fatal(err)
		}
		db = rep.DBAfter
		n := 2 + rng.IntN(39)
		// Only the first nRef entities refer or are referred to: a pull
		// recursing with ... returns every simple path from its root (it
		// stops a cycle along the path, as DataScript's pull does), and on
		// a dense graph of 40 entities that is exponential (a CI run once
		// spent ten minutes on one). Twelve is TestPullModel's bound; the other entities still
		// carry the tags that make entities span leaves.
		nRef := min(n, 12)
		tid := func(i int) string { return fmt.Sprint("e", i) }
		var forms edn.Vector
		for i := range n {
			m := edn.Map{{Key: edn.Keyword("db/id"), Val: tid(i)}, {Key: edn.Keyword("m/name"), Val: fmt.Sprint("n", i)}}
			if rng.IntN(2) == 0 {
				m = append(m, edn.MapEntry{Key: edn.Keyword("m/n"), Val: int64(rng.IntN(100))})
			}
			tags := edn.Vector{}
			for range rng.IntN(12) {
				tags = append(tags, fmt.Sprint("t", rng.IntN(20)))
			}
			if len(tags) > 0 {
				m = append(m, edn.MapEntry{Key: edn.Keyword("m/tag"), Val: tags})
			}
			forms = append(forms, m)
			if i >= nRef {
				continue
			}
			for range rng.IntN(4) {
				forms = append(forms, edn.Vector{edn.Keyword("db/add"), tid(i), edn.Keyword("m/friend"), tid(rng.IntN(nRef))})
			}
			for _, a := range []string{"m/best", "m/part", "m/main"} {
				if rng.IntN(3) == 0 {
					forms = append(forms, edn.Vector{edn.Keyword("db/add"), tid(i), edn.Keyword(a), tid(rng.IntN(nRef))})
				}
			}
			if rng.IntN(3) == 0 {
				forms = append(forms, edn.Vector{edn.Keyword("db/add"), tid(i), edn.Keyword("m/kind"), []edn.Keyword{"kind/a", "kind/b"}[rng.IntN(2)]})
			}
		}
		rep, err = db.With(ctx, forms, nil)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		db = rep.DBAfter
		ids := make([]datom.ID, n)
		for i := range n {
			ids[i] = rep.TempIDs.ID(tid(i))
		}
		switch round % 3 {
		case 1, 2:
			if db, _, err = db.Persist(ctx, reader.PersistOptions{Merge: true}); err != nil {
				t.Fatal(err)
			}
		}
		if round%3 == 2 {
			// A tail on top of the trees: more tags, and retractions.
			var more edn.Vector
			for range 1 + rng.IntN(6) {
				e := ids[rng.IntN(n)]
				if rng.IntN(2) == 0 {
					more = append(more, edn.Vector{edn.Keyword("db/add"), e, edn.Keyword("m/tag"), fmt.Sprint("u", rng.IntN(5))})
				} else {
					more = append(more, edn.Vector{edn.Keyword("db/retract"), e, edn.Keyword("m/name"), fmt.Sprint("n", slicesIndex(ids, e))})
				}
			}
			if rep, err = db.With(ctx, more, nil); err != nil {
				t.Fatal(err)
			}
			db = rep.DBAfter
		}
		var all []datom.Datom
		if err := db.Datoms(ctx, datom.EAVT, nil, func(d datom.Datom) bool {
			all = append(all, d)
			return true
		}); err != nil {
			t.Fatal(err)
		}
		mem := NewMemSource(db.Schema(), all, false)

		// Entity: walk everything from a random root on both.
		root := ids[rng.IntN(n)]
		walk := func(src Source) string {
			en := mustEntity(t, src, root)
			out := ""
			queue, seen := []*Entity{en}, map[datom.ID]bool{root: true}
			for len(queue) > 0 {
				en := queue[0]
				queue = queue[1:]
				out += fmt.Sprintf("#e%d", en.ID())
				for _, kw := range attrs {
					v := mustGet(t, en, kw)
					out += " " + entityCanon(v)
					for _, c := range refTargets(v) {
						if !seen[c.ID()] {
							seen[c.ID()] = true
							queue = append(queue, c)
						}
					}
				}
				m, err := en.Map(ctx)
				if err != nil {
					t.Fatal(err)
				}
				out += " " + entityCanon(m) + "\n"
			}
			return out
		}
		src := &spanCounter{DB: db}
		if got, want := walk(src), walk(mem); got != want {
			t.Fatalf("seed %d, round %d: entity walk on reader.DB\n%s\nwant (MemSource)\n%s", seed, round, got, want)
		}

		// Pull: random patterns from several roots together.
		for range 20 {
			p := MustParsePull(qString(pullModelPattern(rng, 0)))
			roots := make([]any, 1+rng.IntN(5))
			for i := range roots {
				roots[i] = ids[rng.IntN(n)]
			}
			got, err := PullMany(ctx, src, p, roots)
			if err != nil {
				t.Fatal(err)
			}
			want, err := PullMany(ctx, mem, p, roots)
			if err != nil {
				t.Fatal(err)
			}
			for i := range roots {
				if g, w := pullCanon(got[i]), pullCanon(want[i]); g != w {
					t.Fatalf("seed %d, round %d: pull %s from %v on reader.DB\ngot  %s\nwant %s", seed, round, p, roots[i], g, w)
				}
			}
		}
		spans += src.spans
	}
	if spans == 0 {
		t.Errorf("seed %d: no entity was read across two leaves", seed)
	}
}

// spanCounter is a reader.DB that counts the entities EntityDatoms hands
// out as two views.
type spanCounter struct {
	*reader.DB
	spans int
}

func (s *spanCounter) EntityDatoms(ctx context.Context, ids []datom.ID, keep bool, fn func(k int, ds, more []datom.Datom) error) error {
	return s.DB.EntityDatoms(ctx, ids, keep, func(k int, ds, more []datom.Datom) error {
		if len(more) > 0 {
			s.spans++
		}
		return fn(k, ds, more)
	})
}

func slicesIndex(ids []datom.ID, e datom.ID) int {
	for i, x := range ids {
		if x == e {
			return i
		}
	}
	return -1
}
