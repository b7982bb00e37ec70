package query

import (
	"context"
	"fmt"
	"testing"

	"github.com/accretedb/accrete/datom"
)

// Review test for pull's pooled scratch (pullScratchPool: an arena of
// items, level slices and datom buffers cleared on release and reused by
// the next pull): a result kept by the caller must not change when later
// pulls (of other patterns, entities and sizes) reuse that memory.
func TestReviewPullResultsSurviveScratchReuse(t *testing.T) {
	ctx := context.Background()
	db := wideDB(t, 4, 4, 44)
	root := datom.MakeID(datom.PartUser, 1)
	patterns := []string{
		`[:name {:follows ...}]`,
		`[:db/id :last-name :alias :sex :age :salary {:follows ...}]`,
		`[* {:follows ...}]`,
		`[:name :alias {:follows [:name {:follows [:age]}]}]`,
		`[:name {:_follows [:name :id]}]`,
	}
	eids := []any{int64(root), int64(datom.MakeID(datom.PartUser, 5)), int64(datom.MakeID(datom.PartUser, 23)), int64(datom.MakeID(datom.PartUser, 100))}
	type kept struct {
		name string
		v    any
		s    string
	}
	var ks []kept
	pullAll := func(round int) {
		for _, p := range patterns {
			for _, e := range eids {
				m, err := Pull(ctx, db, p, e)
				if err != nil {
					t.Fatalf("pull %s %v: %v", p, e, err)
				}
				name := fmt.Sprintf("pull %s %v", p, e)
				if round == 0 {
					ks = append(ks, kept{name, m, fmt.Sprint(m)})
				}
				o, err := PullOrdered(ctx, db, p, e)
				if err != nil {
					t.Fatalf("ordered pull %s %v: %v", p, e, err)
				}
				if round == 0 {
					ks = append(ks, kept{"ordered " + name, o, fmt.Sprint(o)})
				}
			}
			ms, err := PullMany(ctx, db, p, eids)
			if err != nil {
				t.Fatalf("pull-many %s: %v", p, err)
			}
			if round == 0 {
				ks = append(ks, kept{"many " + p, ms, fmt.Sprint(ms)})
			}
		}
		for _, k := range ks {
			if got := fmt.Sprint(k.v); got != k.s {
				t.Fatalf("round %d: kept result of %s changed", round, k.name)
			}
		}
	}
	for round := range 3 {
		pullAll(round)
	}
	if len(ks[0].s) < 1000 { // the root's follows tree: hundreds of entities
		t.Fatalf("root pull too small to exercise the arena: %d bytes", len(ks[0].s))
	}
	// And re-pulls equal the kept ones.
	i := 0
	for _, p := range patterns {
		for _, e := range eids {
			m, err := Pull(ctx, db, p, e)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(m) != ks[i].s {
				t.Fatalf("re-pull %s differs", ks[i].name)
			}
			i++
			o, err := PullOrdered(ctx, db, p, e)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(o) != ks[i].s {
				t.Fatalf("re-pull %s differs", ks[i].name)
			}
			i++
		}
		i++
	}
}
