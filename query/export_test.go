package query

import (
	"strconv"
	"strings"
	"testing"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
)

// StartCPU lets the external benchmarks (package query_test) report CPU
// time per operation the way the internal ones do.
func StartCPU(b *testing.B) interface{ Report(*testing.B) } { return cpuReporter{startCPU(b)} }

type cpuReporter struct{ m *cpuMeter }

func (r cpuReporter) Report(b *testing.B) { r.m.report(b) }

// BenchSchema is the schema of DataScript's benchmark workload, as
// transaction data.
const BenchSchema = benchSchema

// BenchTxData returns one of DataScript's benchmark datasets ("people20k"
// or "wide-4x5", the pull database) as [:db/add tempid attr value] forms,
// with tempids "e<n>" so that refs resolve within the one transaction.
func BenchTxData(tb testing.TB, name string) []any {
	var m *MemSource
	switch name {
	case "people20k":
		m = people20k(tb)
	case "wide-4x5":
		m = wideDB(tb, 4, 5, 45)
	default:
		tb.Fatalf("BenchTxData: unknown dataset %q", name)
	}
	s := m.Schema()
	tempid := func(e datom.ID) string { return "e" + strconv.FormatInt(e&(1<<datom.PartShift-1), 10) }
	var out []any
	for _, d := range m.All() {
		a := s.Attr(d.A)
		kw, ok := s.Ident(d.A)
		if a == nil || !ok || strings.HasPrefix(string(kw), "db/") {
			continue
		}
		v := d.V
		if a.IsRef() {
			v = tempid(v.(int64))
		}
		out = append(out, edn.Vector{edn.Keyword("db/add"), tempid(d.E), kw, v})
	}
	return out
}
