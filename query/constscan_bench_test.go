package query

import (
	"context"
	"testing"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
)

// BenchmarkConstScan: a pattern with a constant value on an unindexed
// attribute scans AEVT and tests each value in the scan's loop (vfilter),
// for strings, keywords and booleans alike: 50,000 datoms, 500 matches.
func BenchmarkConstScan(b *testing.B) {
	s, ds := buildSchema(b, `[{:db/ident :k :db/valueType :db.type/keyword :db/cardinality :db.cardinality/one}
	 {:db/ident :b :db/valueType :db.type/boolean :db/cardinality :db.cardinality/one}
	 {:db/ident :n :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]`)
	ka, ba, na := s.AttrByIdent("k").ID, s.AttrByIdent("b").ID, s.AttrByIdent("n").ID
	kws := []edn.Keyword{"status/active", "status/pending", "status/closed", "status/rare"}
	strs := []string{"active", "pending", "closed", "rare"}
	for i := 0; i < 50000; i++ {
		e := datom.MakeID(datom.PartUser, int64(i+1))
		j := i % 3
		if i%100 == 0 {
			j = 3
		}
		ds = append(ds, datom.Datom{E: e, A: ka, V: kws[j], Tx: defaultTx, Added: true},
			datom.Datom{E: e, A: ba, V: i%100 == 0, Tx: defaultTx, Added: true},
			datom.Datom{E: e, A: na, V: strs[j], Tx: defaultTx, Added: true})
	}
	src := NewMemSource(s, ds, false)
	src.chunk = 128
	ctx := context.Background()
	for _, q := range []struct{ name, q string }{
		{"keyword", `[:find ?e :where [?e :k :status/rare]]`},
		{"bool", `[:find ?e :where [?e :b true]]`},
		{"string", `[:find ?e :where [?e :n "rare"]]`},
	} {
		pq, err := Parse(q.q)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(q.name, func(b *testing.B) {
			for b.Loop() {
				r, err := Q(ctx, pq, src)
				if err != nil {
					b.Fatal(err)
				}
				if len(r.(Relation)) != 500 {
					b.Fatalf("%d rows", len(r.(Relation)))
				}
			}
		})
	}
}
