package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/query"
)

// BenchmarkQ4Floor measures how fast q4's lookups can be over accrete's
// indices without a query engine: hand-written merge joins over the same
// runs of datoms the engine reads (with --index-all), for comparing the
// engine's q4 with Datalevin's published 0.14 ms.
//
//   - engine: query.Q on q4, as accrete-bench runs it.
//   - joins-ivan: the merges alone for "Ivan": [?e :sex "male"] against
//     the value's AVET datoms, then [?e :last-name ?l] and [?e :age ?a]
//     against their attributes' AEVT datoms, galloping as the engine does.
//   - joins-rotating: the same for each of the workload's names in turn,
//     so the processor's branch predictors cannot learn one sequence of
//     searches (the engine runs other code between two q4s).
//
// Before measuring it checks that the merges find exactly q4's answer.
func BenchmarkQ4Floor(b *testing.B) {
	ctx := context.Background()
	people, err := loadPeople(filepath.Join(defaultDataDir(), "people-20k.json"))
	if err != nil {
		b.Fatal(err)
	}
	e, err := newEnvSchema(ctx, "full", backendMem, schemaIndexAllTx, people, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := e.close(); err != nil {
			b.Error(err)
		}
	})
	built, err := e.memDB("people")
	if err != nil {
		b.Fatal(err)
	}
	db := built.db
	attr := func(kw string) int64 {
		a := db.Schema().AttrByIdent(edn.Keyword(kw))
		if a == nil {
			b.Fatalf("no attribute %s", kw)
		}
		return a.ID
	}
	name, sex, last, age := attr("name"), attr("sex"), attr("last-name"), attr("age")

	// The entities of each name, sorted (AVET holds them so).
	var names []string
	byName := map[string][]int64{}
	err = db.DatomChunks(ctx, datom.AVET, []any{name}, func(ds []datom.Datom) bool {
		for i := range ds {
			n := ds[i].V.(string)
			if _, ok := byName[n]; !ok {
				names = append(names, n)
			}
			byName[n] = append(byName[n], ds[i].E)
		}
		return true
	})
	if err != nil {
		b.Fatal(err)
	}

	var males []int64
	var out []any // e, l, a of each answer
	joins := func(ivans []int64) {
		males, out = males[:0], out[:0]
		k := 0
		mustChunks(b, db.DatomChunks(ctx, datom.AVET, []any{sex, "male"}, func(ds []datom.Datom) bool {
			j := 0
			for ; k < len(ivans); k++ {
				x := ivans[k]
				if ds[len(ds)-1].E < x {
					return true
				}
				if ds[j].E < x {
					j = floorGallop(ds, j, x)
				}
				if ds[j].E == x {
					males = append(males, x)
				}
			}
			return false
		}))
		ls := make([]any, len(males))
		for step, a := range []int64{last, age} {
			k := 0
			mustChunks(b, db.DatomChunks(ctx, datom.AEVT, []any{a}, func(ds []datom.Datom) bool {
				j := 0
				for ; k < len(males); k++ {
					x := males[k]
					if ds[len(ds)-1].E < x {
						return true
					}
					if ds[j].E < x {
						j = floorGallop(ds, j, x)
					}
					if ds[j].E != x {
						continue
					}
					if step == 0 {
						ls[k] = ds[j].V
					} else if ls[k] != nil {
						out = append(out, x, ls[k], ds[j].V)
					}
				}
				return false
			}))
		}
	}

	pq, err := query.Parse(queries["q4"])
	if err != nil {
		b.Fatal(err)
	}
	res, err := query.Q(ctx, pq, db)
	if err != nil {
		b.Fatal(err)
	}
	joins(byName["Ivan"])
	if got, want := floorRows(out), floorResult(res.(query.Relation)); !slices.Equal(got, want) {
		b.Fatalf("the merges found %d answers, q4 %d", len(got), len(want))
	}

	b.Run("engine", func(b *testing.B) {
		for b.Loop() {
			if _, err := query.Q(ctx, pq, db); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("joins-ivan", func(b *testing.B) {
		for b.Loop() {
			joins(byName["Ivan"])
		}
	})
	b.Run("joins-rotating", func(b *testing.B) {
		i := 0
		for b.Loop() {
			joins(byName[names[i%len(names)]])
			i++
		}
	})
}

func mustChunks(b *testing.B, err error) {
	if err != nil {
		b.Fatal(err)
	}
}

// floorGallop is query's gallopE: the first i >= j with ds[i].E >= x,
// given ds[j].E < x <= ds[len(ds)-1].E.
func floorGallop(ds []datom.Datom, j int, x int64) int {
	lo, step := j, 1
	hi := lo + step
	for hi < len(ds) && ds[hi].E < x {
		lo = hi
		step <<= 1
		hi = lo + step
	}
	hi = min(hi, len(ds)-1)
	for lo+1 < hi {
		m := int(uint(lo+hi) >> 1)
		if ds[m].E < x {
			lo = m
		} else {
			hi = m
		}
	}
	return hi
}

// floorRows and floorResult render answers as sorted strings.
func floorRows(out []any) []string {
	var s []string
	for i := 0; i < len(out); i += 3 {
		s = append(s, fmt.Sprint(out[i], out[i+1], out[i+2]))
	}
	slices.Sort(s)
	return s
}

func floorResult(rows query.Relation) []string {
	var s []string
	for _, r := range rows {
		s = append(s, fmt.Sprint(r[0], r[1], r[2]))
	}
	slices.Sort(s)
	return s
}
