package query

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/accretedb/accrete/datom"
)

// BenchmarkParallelScan filters one attribute of n datoms for a value a
// thousandth of them hold, in one scan and in parts on every core
// (parscan.go).
func BenchmarkParallelScan(b *testing.B) {
	s, sds := buildSchema(b, `[{:db/ident :p/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]`)
	a := s.AttrByIdent("p/name")
	for _, n := range []int{20_000, 200_000, 2_000_000} {
		data := slices.Clone(sds)
		for i := range n {
			data = append(data, datom.Datom{E: int64(1_000_000 + i), A: a.ID, V: fmt.Sprintf("name-%d", i%1000), Tx: defaultTx, Added: true})
		}
		src := NewMemSource(s, data, false)
		q := `[:find ?e :where [?e :p/name "name-7"]]`
		for _, par := range []bool{false, true} {
			b.Run(fmt.Sprintf("n=%d/parallel=%v", n, par), func(b *testing.B) {
				p := minParallelScan
				if !par {
					minParallelScan = 1 << 62
				}
				defer func() { minParallelScan = p }()
				for b.Loop() {
					r, err := Q(context.Background(), q, src)
					if err != nil || len(r.(Relation)) != n/1000 {
						b.Fatalf("%v rows, %v", r, err)
					}
				}
			})
		}
	}
}
