package reader

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
)

var historySeed = flag.Uint64("history-seed", 0, "seed for TestHistoryModel (0: time-based)")

// hop is one operation of the history model: a user datom as a transaction
// reported it.
type hop struct {
	e, a  datom.ID
	v     string
	t     int64
	added bool
}

func hopOf(d datom.Datom) hop {
	return hop{d.E, d.A, fmt.Sprint(d.V), datom.TxT(d.Tx), d.Added}
}

// TestHistoryModel runs random transactions through With (chains, forks
// of old values, merges of the tail into the trees, attributes that gain
// or lose :db/index, an attribute without history) and checks History,
// AsOf and Count of every value against a plain list of the operations
// that made it. The overlay keeps a retracted stored datom in history
// through its deletion mask, not through the history additions (see
// overlay), which every history and as-of scan, Count and the merge must
// agree on.
func TestHistoryModel(t *testing.T) {
	r, db, attr := modelDB(t, *historySeed, 7, "history-seed", `[{:db/ident :h/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
	 {:db/ident :h/tag :db/valueType :db.type/string :db/cardinality :db.cardinality/many :db/index true}
	 {:db/ident :h/ref :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}
	 {:db/ident :h/note :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/noHistory true}]`)
	ctx := context.Background()
	name, tag, ref, note := attr("h/name"), attr("h/tag"), attr("h/ref"), attr("h/note")
	kws := map[datom.ID]edn.Keyword{name: "h/name", tag: "h/tag", ref: "h/ref", note: "h/note"}
	ids := []datom.ID{name, tag, ref, note}

	type value struct {
		db  *DB
		ops []hop // every user operation, oldest first
	}
	vs := []value{{db: db}}
	for step := range 300 {
		pi := len(vs) - 1
		if r.IntN(6) == 0 {
			pi = r.IntN(len(vs))
		}
		p := vs[pi]
		switch r.IntN(30) {
		case 0:
			merged, err := p.db.mergeTail(ctx)
			if err != nil {
				t.Fatalf("step %d: merge: %v", step, err)
			}
			vs = append(vs, value{merged, p.ops})
			continue
		case 1:
			// :h/name gains or loses :db/index (AVET reindexes it).
			op := "db/add"
			if p.db.Schema().Attr(name).Indexed() {
				op = "db/retract"
			}
			rep, err := p.db.With(ctx, edn.Vector{edn.Vector{edn.Keyword(op), name, edn.Keyword("db/index"), true}}, nil)
			if err != nil {
				t.Fatalf("step %d: %s :db/index: %v", step, op, err)
			}
			vs = append(vs, value{rep.DBAfter, p.ops})
			continue
		}
		cur := historyAt(p.ops, 1<<60)
		var forms edn.Vector
		for range 1 + r.IntN(4) {
			k := r.IntN(10)
			switch {
			case k < 3 || len(cur) == 0:
				m := edn.Map{{Key: edn.Keyword("db/id"), Val: fmt.Sprintf("t%d", r.IntN(3))},
					{Key: edn.Keyword("h/name"), Val: fmt.Sprintf("n%d", r.IntN(4))}}
				if r.IntN(2) == 0 {
					m = append(m, edn.MapEntry{Key: edn.Keyword("h/tag"), Val: edn.Vector{fmt.Sprintf("g%d", r.IntN(3))}})
				}
				if r.IntN(2) == 0 {
					m = append(m, edn.MapEntry{Key: edn.Keyword("h/note"), Val: fmt.Sprintf("x%d", r.IntN(3))})
				}
				forms = append(forms, m)
			case k < 5:
				e := cur[r.IntN(len(cur))].e
				switch r.IntN(4) {
				case 0:
					forms = append(forms, edn.Vector{edn.Keyword("db/add"), e, edn.Keyword("h/name"), fmt.Sprintf("n%d", r.IntN(4))})
				case 1:
					forms = append(forms, edn.Vector{edn.Keyword("db/add"), e, edn.Keyword("h/tag"), fmt.Sprintf("g%d", r.IntN(3))})
				case 2:
					forms = append(forms, edn.Vector{edn.Keyword("db/add"), e, edn.Keyword("h/note"), fmt.Sprintf("x%d", r.IntN(3))})
				default:
					forms = append(forms, edn.Vector{edn.Keyword("db/add"), e, edn.Keyword("h/ref"), cur[r.IntN(len(cur))].e})
				}
			case k < 8:
				f := cur[r.IntN(len(cur))]
				var v any = f.v
				if f.a == ref {
					var n int64
					fmt.Sscan(f.v, &n)
					v = n
				}
				forms = append(forms, edn.Vector{edn.Keyword("db/retract"), f.e, kws[f.a], v})
			default:
				forms = append(forms, edn.Vector{edn.Keyword("db/retractEntity"), cur[r.IntN(len(cur))].e})
			}
		}
		rep, err := p.db.With(ctx, forms, nil)
		if err != nil {
			continue // conflicting random forms
		}
		ops := slices.Clip(p.ops)
		for _, d := range rep.TxData {
			if datom.Part(d.E) == datom.PartUser {
				ops = append(ops, hopOf(d))
			}
		}
		vs = append(vs, value{rep.DBAfter, ops})
		if r.IntN(5) == 0 {
			// Read a value early (building its lazy sets) without checking.
			v := vs[r.IntN(len(vs))].db
			v.History().Datoms(ctx, datom.EAVT, nil, func(datom.Datom) bool { return true })
		}
	}
	for _, i := range r.Perm(len(vs)) {
		checkHistory(t, vs[i].db, vs[i].ops, ids, note, ref, r, fmt.Sprintf("value %d", i))
	}
}

// historyAt returns the facts true after t: per (e, a, v), the last
// operation at or before t, if an assertion.
func historyAt(ops []hop, t int64) []hop {
	type fk struct {
		e, a datom.ID
		v    string
	}
	last := map[fk]hop{}
	var order []fk
	for _, o := range ops {
		if o.t > t {
			continue
		}
		k := fk{o.e, o.a, o.v}
		if _, ok := last[k]; !ok {
			order = append(order, k)
		}
		last[k] = o
	}
	var out []hop
	for _, k := range order {
		if o := last[k]; o.added {
			out = append(out, o)
		}
	}
	return out
}

func sortHops(hs []hop) []hop {
	slices.SortFunc(hs, func(a, b hop) int {
		switch {
		case a.e != b.e:
			return int(a.e - b.e)
		case a.a != b.a:
			return int(a.a - b.a)
		case a.v != b.v:
			return compareStrings(a.v, b.v)
		case a.t != b.t:
			return int(a.t - b.t)
		case a.added != b.added:
			if a.added {
				return 1
			}
			return -1
		}
		return 0
	})
	return hs
}

// checkHistory compares the history and as-of views of db in every index
// with the operations ops that made it.
func checkHistory(t *testing.T, db *DB, ops []hop, attrs []datom.ID, noHist, ref datom.ID, r *rand.Rand, what string) {
	t.Helper()
	ctx := context.Background()
	inIdx := func(idx datom.Index, a datom.ID) bool {
		switch idx {
		case datom.AVET:
			// :h/tag is always indexed; :h/name's AVET history depends on
			// when it was (reindexing is checked through the current view
			// by TestOverlayModel's kind of checks, not here).
			return a == attrs[1]
		case datom.VAET:
			return a == ref
		}
		return true
	}
	read := func(v *DB, idx datom.Index) []hop {
		var got []hop
		var prev *datom.Datom
		for _, a := range attrs {
			comps := []any{a}
			if idx == datom.EAVT || idx == datom.VAET {
				comps = nil
			}
			if !inIdx(idx, a) {
				continue
			}
			err := v.Datoms(ctx, idx, comps, func(d datom.Datom) bool {
				if prev != nil && datom.Comparator(idx)(*prev, d) >= 0 {
					t.Errorf("%s: %v: %v not after %v", what, idx, d, *prev)
				}
				prev = &d
				if datom.Part(d.E) == datom.PartUser && (comps != nil || d.A == a) {
					got = append(got, hopOf(d))
				}
				return true
			})
			if err != nil {
				t.Fatalf("%s: %v: %v", what, idx, err)
			}
			if comps == nil {
				prev = nil
			}
		}
		return sortHops(got)
	}
	basis := db.BasisT()
	// History: every operation on attributes with history, and the current
	// assertions of the one without.
	var want []hop
	for _, o := range ops {
		if o.a != noHist {
			want = append(want, o)
		}
	}
	for _, o := range historyAt(ops, basis) {
		if o.a == noHist {
			want = append(want, o)
		}
	}
	for _, idx := range []datom.Index{datom.EAVT, datom.AEVT, datom.AVET, datom.VAET} {
		var w []hop
		for _, o := range want {
			if inIdx(idx, o.a) {
				w = append(w, o)
			}
		}
		sortHops(w)
		got := read(db.History(), idx)
		if !slices.Equal(got, w) {
			t.Fatalf("%s: history %v: got %d datoms, want %d\n got %v\nwant %v", what, idx, len(got), len(w), got, w)
		}
		if idx == datom.EAVT || idx == datom.AEVT {
			for _, a := range attrs {
				n, err := db.History().Count(ctx, datom.AEVT, []any{a})
				if err != nil {
					t.Fatal(err)
				}
				m := 0
				for _, o := range w {
					if o.a == a {
						m++
					}
				}
				if n < m {
					t.Fatalf("%s: history count of %d is %d, below the %d datoms", what, a, n, m)
				}
			}
		}
	}
	// As of a random t: the facts true then (without the attribute that
	// keeps no history, whose past is gone).
	at := r.Int64N(basis + 1)
	var w []hop
	for _, o := range historyAt(ops, at) {
		if o.a != noHist {
			w = append(w, o)
		}
	}
	sortHops(w)
	got := slices.DeleteFunc(read(db.AsOf(at), datom.EAVT), func(o hop) bool { return o.a == noHist })
	if !slices.Equal(got, w) {
		t.Fatalf("%s: as of %d: got %d datoms, want %d\n got %v\nwant %v", what, at, len(got), len(w), got, w)
	}
}
