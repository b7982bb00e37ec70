package reader

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
)

var overlaySeed = flag.Uint64("overlay-seed", 0, "seed for TestOverlayModel (0: time-based)")

// fact is one current (e, a, v) of the model.
type fact struct {
	e, a datom.ID
	v    string
}

func factOf(d datom.Datom) fact { return fact{d.E, d.A, fmt.Sprint(d.V)} }

// TestOverlayModel runs random transactions through With on a graph of
// values (mostly chains, sometimes forks of old values, sometimes a merge
// of the tail into the trees) and checks every value, read as soon as it is
// made or only at the end, against a model: the set of current facts. The
// overlay changes lazily (pss.UpdateLazily), so a value read late is built
// from a chain of pending batches; and retractions decide from the datom's
// transaction whether the datom is in the overlay or the stored tree, which
// the overlay invariant check verifies directly.
func TestOverlayModel(t *testing.T) {
	r, db, attr := modelDB(t, *overlaySeed, 3, "overlay-seed", `[{:db/ident :p/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
	 {:db/ident :p/tag :db/valueType :db.type/string :db/cardinality :db.cardinality/many}
	 {:db/ident :p/ref :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}
	 {:db/ident :p/id :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}]`)
	ctx := context.Background()
	name, tag, ref, pid := attr("p/name"), attr("p/tag"), attr("p/ref"), attr("p/id")
	kws := map[datom.ID]edn.Keyword{name: "p/name", tag: "p/tag", ref: "p/ref", pid: "p/id"}

	type value struct {
		db *DB
		m  map[fact]bool
	}
	vs := []value{{db, map[fact]bool{}}}
	nextID := int64(0)
	for step := range 400 {
		pi := len(vs) - 1
		if r.IntN(8) == 0 {
			pi = r.IntN(len(vs))
		}
		p := vs[pi]
		if r.IntN(40) == 0 {
			merged, err := p.db.mergeTail(ctx)
			if err != nil {
				t.Fatalf("step %d: merge: %v", step, err)
			}
			vs = append(vs, value{merged, p.m})
			continue
		}
		es := entities(p.m)
		var forms edn.Vector
		for range 1 + r.IntN(3) {
			switch k := r.IntN(10); {
			case k < 3 || len(es) == 0: // a new entity
				nextID++
				m := edn.Map{{Key: edn.Keyword("db/id"), Val: fmt.Sprintf("t%d", r.IntN(4))},
					{Key: edn.Keyword("p/name"), Val: fmt.Sprintf("n%d", r.IntN(5))},
					{Key: edn.Keyword("p/id"), Val: 1000*int64(step) + nextID}}
				if r.IntN(2) == 0 {
					m = append(m, edn.MapEntry{Key: edn.Keyword("p/tag"), Val: edn.Vector{fmt.Sprintf("g%d", r.IntN(4)), fmt.Sprintf("g%d", r.IntN(4))}})
				}
				forms = append(forms, m)
			case k < 5: // add to an existing entity (card one replaces)
				e := es[r.IntN(len(es))]
				switch r.IntN(3) {
				case 0:
					forms = append(forms, edn.Vector{edn.Keyword("db/add"), e, edn.Keyword("p/name"), fmt.Sprintf("n%d", r.IntN(5))})
				case 1:
					forms = append(forms, edn.Vector{edn.Keyword("db/add"), e, edn.Keyword("p/tag"), fmt.Sprintf("g%d", r.IntN(4))})
				default:
					forms = append(forms, edn.Vector{edn.Keyword("db/add"), e, edn.Keyword("p/ref"), es[r.IntN(len(es))]})
				}
			case k < 8: // retract one fact
				var fs []fact
				for f := range p.m {
					fs = append(fs, f)
				}
				slices.SortFunc(fs, func(a, b fact) int {
					if a.e != b.e {
						return int(a.e - b.e)
					}
					if a.a != b.a {
						return int(a.a - b.a)
					}
					return compareStrings(a.v, b.v)
				})
				f := fs[r.IntN(len(fs))]
				var v any = f.v
				if f.a == ref || f.a == pid {
					var n int64
					fmt.Sscan(f.v, &n)
					v = n
				}
				forms = append(forms, edn.Vector{edn.Keyword("db/retract"), f.e, kws[f.a], v})
			default:
				forms = append(forms, edn.Vector{edn.Keyword("db/retractEntity"), es[r.IntN(len(es))]})
			}
		}
		rep, err := p.db.With(ctx, forms, nil)
		if err != nil {
			// Conflicting random forms (a fact both added and retracted,
			// two names at once) are fine to reject; the value is unchanged.
			continue
		}
		m := maps.Clone(p.m)
		for _, d := range rep.TxData {
			if datom.Part(d.E) != datom.PartUser {
				continue
			}
			if d.Added {
				m[factOf(d)] = true
			} else {
				delete(m, factOf(d))
			}
		}
		vs = append(vs, value{rep.DBAfter, m})
		if r.IntN(4) == 0 {
			checkValue(t, vs[r.IntN(len(vs))].db, vs[r.IntN(len(vs))].m, ref, pid, "early", step, true)
		}
	}
	for _, i := range r.Perm(len(vs)) {
		checkValue(t, vs[i].db, vs[i].m, ref, pid, fmt.Sprintf("value %d", i), i, false)
	}
}

// checkValue compares db's current user datoms in every index with model
// m, and checks the overlay invariant the retraction path relies on.
// early checks may pick a db and a model of different values; they only
// read (building lazy sets), and compare nothing.
func checkValue(t *testing.T, db *DB, m map[fact]bool, ref, pid datom.ID, what string, step int, early bool) {
	t.Helper()
	ctx := context.Background()
	for _, idx := range []datom.Index{datom.EAVT, datom.AEVT, datom.AVET, datom.VAET} {
		got := map[fact]bool{}
		var prev *datom.Datom
		err := db.Datoms(ctx, idx, nil, func(d datom.Datom) bool {
			if prev != nil && datom.Comparator(idx)(*prev, d) >= 0 {
				t.Errorf("%s (%d): %v: %v not after %v", what, step, idx, d, *prev)
			}
			prev = &d
			if datom.Part(d.E) == datom.PartUser {
				got[factOf(d)] = true
			}
			return true
		})
		if err != nil {
			t.Fatalf("%s: %v: %v", what, idx, err)
		}
		if early {
			continue
		}
		want := map[fact]bool{}
		for f := range m {
			switch {
			case idx == datom.AVET && f.a != pid, idx == datom.VAET && f.a != ref:
				continue
			}
			want[f] = true
		}
		if !maps.Equal(got, want) {
			t.Fatalf("%s (%d): %v holds %d user facts, model %d\n got %v\nwant %v", what, step, idx, len(got), len(want), got, want)
		}
	}
	for _, i := range []int{curEAVT, curAEVT, curVAET} {
		adds, err := db.ov.addSets()[i].Slice(ctx, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range adds {
			if !db.tail.inTail(d.Tx) {
				t.Fatalf("%s: overlay %s adds %v from before the tail", what, treeNames[i], d)
			}
		}
		dels, err := db.ov.dels[i].Slice(ctx, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range dels {
			if db.tail.inTail(d.Tx) {
				t.Fatalf("%s: overlay %s deletes %v asserted in the tail", what, treeNames[i], d)
			}
		}
	}
}

func entities(m map[fact]bool) []datom.ID {
	seen := map[datom.ID]bool{}
	for f := range m {
		seen[f.e] = true
	}
	return slices.Sorted(maps.Keys(seen))
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestOverlayConcurrentReads: values of one With chain, never read while
// it was made, read from many goroutines at once (run with -race): each
// overlay set is built once, by whichever reader comes first, and every
// reader sees the value's own datoms.
func TestOverlayConcurrentReads(t *testing.T) {
	ctx := context.Background()
	db, err := NewEmpty(ctx, nil, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	var vs []*DB
	for i := range 300 {
		rep, err := db.With(ctx, edn.Vector{edn.Vector{edn.Keyword("db/add"), "e", edn.Keyword("c/n"), int64(i)}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		db = rep.DBAfter
		vs = append(vs, db)
	}
	count := func(db *DB, idx datom.Index) int {
		n := 0
		if err := db.Datoms(ctx, idx, nil, func(d datom.Datom) bool {
			if datom.Part(d.E) == datom.PartUser {
				n++
			}
			return true
		}); err != nil {
			t.Error(err)
		}
		return n
	}
	done := make(chan struct{})
	for g := range 6 {
		go func() {
			defer func() { done <- struct{}{} }()
			for j := range vs {
				i := (j*(g+5) + 17*g) % len(vs)
				for _, idx := range []datom.Index{datom.EAVT, datom.AEVT} {
					if n := count(vs[i], idx); n != i+1 {
						t.Errorf("value %d: %v holds %d user datoms, want %d", i, idx, n, i+1)
						return
					}
				}
			}
		}()
	}
	for range 6 {
		<-done
	}
}
