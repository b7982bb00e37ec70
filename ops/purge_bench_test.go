package ops

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/reader"
)

// BenchmarkPurge purges one entity (five datoms) per iteration from a
// 100,000-datom database (default node width and tail), then collects the
// garbage it left. Metrics: nodes-written/op and bytes-written/op (the
// purge commit: rewritten tree paths, log tail and commit), datoms/op,
// freed-nodes/op and freed-bytes/op (what a GC after the grace deletes
// because of the purge: the old paths, commit and tail), and db-nodes, the
// nodes the database had before (for scale). Run with a fixed
// count, e.g.
//
//	go test -run '^$' -bench Purge -benchtime 20x ./ops/
func BenchmarkPurge(b *testing.B) {
	for _, kind := range []string{"mem", "file"} {
		b.Run(kind, func(b *testing.B) {
			ctx := context.Background()
			url := scratchURL(b)
			if kind == "file" {
				url = "file://" + b.TempDir()
			}
			st := openStore(b, url)
			w := buildDeltaDB(b, st, 100_000, nil)
			w.Close()
			clock := time.Now()
			// Start from a bucket holding only what the head reaches.
			clock = clock.Add(2 * time.Hour)
			g0, err := GC(ctx, st, GCOptions{Now: func() time.Time { return clock }})
			if err != nil {
				b.Fatal(err)
			}
			var nodes, bytes, datoms, freedNodes, freedBytes int64
			var busy time.Duration
			db, err := reader.OpenStore(ctx, st, nil)
			if err != nil {
				b.Fatal(err)
			}
			idAttr, _ := db.Schema().Entid("b/id")
			var ids []datom.ID
			for i := range b.N {
				_ = db.Datoms(ctx, datom.AVET, []any{idAttr, int64(i) * 37 % 20_000}, func(d datom.Datom) bool {
					ids = append(ids, d.E)
					return false
				})
			}
			b.ResetTimer()
			for i := range b.N {
				t0 := time.Now()
				rep, err := Purge(ctx, st, fmt.Sprintf(`[[:db.purge/entity %d]]`, ids[i]), nil)
				busy += time.Since(t0)
				if err != nil {
					b.Fatal(err)
				}
				nodes += rep.NodesWritten
				bytes += rep.BytesWritten
				datoms += int64(rep.Datoms)
				b.StopTimer()
				clock = clock.Add(2 * time.Hour)
				g, err := GC(ctx, st, GCOptions{Now: func() time.Time { return clock }})
				if err != nil {
					b.Fatal(err)
				}
				freedNodes += g.Swept
				freedBytes += g.BytesFreed
				b.StartTimer()
			}
			n := float64(b.N)
			b.ReportMetric(float64(busy.Milliseconds())/n, "ms/purge")
			b.ReportMetric(float64(nodes)/n, "nodes-written/op")
			b.ReportMetric(float64(bytes)/n, "bytes-written/op")
			b.ReportMetric(float64(datoms)/n, "datoms/op")
			b.ReportMetric(float64(freedNodes)/n, "freed-nodes/op")
			b.ReportMetric(float64(freedBytes)/n, "freed-bytes/op")
			b.ReportMetric(float64(g0.Marked), "db-nodes")
		})
	}
}
