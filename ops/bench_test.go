package ops

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/internal/testenv"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/writer"
)

// benchDB loads n people (2n datoms in each current index) on st in
// batches of 1000, with index node width 32, then 50 small updates.
func benchDB(b *testing.B, st *konserve.Store, n int) {
	b.Helper()
	ctx := context.Background()
	w, err := writer.CreateStore(ctx, st, &writer.Options{Width: 32})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Transact(ctx, testSchema); err != nil {
		b.Fatal(err)
	}
	for p := 0; p < n; p += 1000 {
		var sb strings.Builder
		sb.WriteString("[")
		for k := p; k < min(p+1000, n); k++ {
			fmt.Fprintf(&sb, `{:person/name "b%07d" :person/age %d}`, k, k%97)
		}
		sb.WriteString("]")
		if _, err := w.Transact(ctx, sb.String()); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 50 {
		if _, err := w.Transact(ctx, txData(i)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGCMark measures the mark phase alone (every node reachable from
// the head and the commits of the last hour), on a mem bucket, a file
// bucket and the local S3 server. Leaves are marked without being read.
func BenchmarkGCMark(b *testing.B) {
	for _, kind := range []string{"mem", "file", "s3"} {
		b.Run(kind, func(b *testing.B) {
			var url string
			switch kind {
			case "mem":
				url = scratchURL(b)
			case "file":
				url = "file://" + b.TempDir()
			case "s3":
				url = testenv.S3URL(b) // skips without the server
			}
			benchDB(b, openStore(b, url), 20000)
			ctx := context.Background()
			st := openStore(b, url)
			var marked, fetched int64
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				g := &collector{st: st, opts: GCOptions{Grace: DefaultGrace, Now: time.Now}, par: DefaultParallelism,
					marked: newHashSet(), heads: map[string]konserve.Hash{}, retainAfterMs: time.Now().Add(-DefaultGrace).UnixMilli()}
				if err := g.markHeads(ctx); err != nil {
					b.Fatal(err)
				}
				marked += g.rep.Marked
				fetched += g.rep.Fetched
			}
			sec := time.Since(start).Seconds()
			b.ReportMetric(float64(marked)/sec, "nodes/s")
			b.ReportMetric(float64(fetched)/sec, "reads/s")
			b.ReportMetric(float64(marked)/float64(b.N), "nodes/op")
		})
	}
}

// BenchmarkSync measures a full sync of one database from a mem bucket to
// an empty destination: file, mem, and the local S3 server.
func BenchmarkSync(b *testing.B) {
	srcURL := scratchURL(b)
	benchDB(b, openStore(b, srcURL), 10000)
	for _, kind := range []string{"mem", "file", "s3"} {
		b.Run(kind, func(b *testing.B) {
			if kind == "s3" {
				testenv.S3URL(b) // skips without the server
			}
			ctx := context.Background()
			src := openStore(b, srcURL)
			var nodes, bytes int64
			var busy time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				var dstURL string
				switch kind {
				case "mem":
					dstURL = scratchURL(b)
				case "file":
					dstURL = "file://" + b.TempDir()
				case "s3":
					dstURL = testenv.S3URL(b)
				}
				dst := openStore(b, dstURL)
				b.StartTimer()
				t0 := time.Now()
				rep, err := Sync(ctx, src, dst, SyncOptions{})
				busy += time.Since(t0)
				if err != nil {
					b.Fatal(err)
				}
				nodes += rep.Nodes
				bytes += rep.Bytes
			}
			b.ReportMetric(float64(nodes)/busy.Seconds(), "nodes/s")
			b.ReportMetric(float64(bytes)/busy.Seconds()/1e6, "MB/s")
			b.ReportMetric(float64(nodes)/float64(b.N), "nodes/op")
		})
	}
}

// BenchmarkGCSweep collects a file bucket whose history is all garbage,
// every commit but the head past the grace (the clock is stepped
// forward). transact: 20,000 people loaded in batches of 1,000, then 300
// small updates. import: 250,000 people (500,000 datoms) imported in one
// batch, then 300 small updates, whose merges turn paths of the imported
// trees into garbage. On the file backend merges and imports write packs,
// and the sweep rewrites each pack holding garbage once per batch of
// deletions; this measures what that costs against deleting one file per
// node.
func BenchmarkGCSweep(b *testing.B) {
	b.Run("transact", func(b *testing.B) {
		benchGCSweep(b, func(st *konserve.Store) { benchDB(b, st, 20000) })
	})
	b.Run("import", func(b *testing.B) {
		benchGCSweep(b, func(st *konserve.Store) { importDB(b, st, 250000) })
	})
}

// importDB creates a database of n people on st with one Import.
func importDB(b *testing.B, st *konserve.Store, n int) {
	b.Helper()
	ctx := context.Background()
	w, err := writer.CreateStore(ctx, st, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Transact(ctx, testSchema); err != nil {
		b.Fatal(err)
	}
	s := w.DB().Schema()
	name, _ := s.Entid(edn.Keyword("person/name"))
	age, _ := s.Entid(edn.Keyword("person/age"))
	ds := make([]datom.Datom, 0, 2*n)
	for k := range n {
		e := -int64(k + 1)
		ds = append(ds, datom.Datom{E: e, A: name, V: fmt.Sprintf("i%08d", k)}, datom.Datom{E: e, A: age, V: int64(k % 97)})
	}
	if _, err := w.Import(ctx, ds); err != nil {
		b.Fatal(err)
	}
}

func benchGCSweep(b *testing.B, build func(*konserve.Store)) {
	ctx := context.Background()
	var swept, listed int64
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		st, err := konserve.Open(ctx, "file://"+dir, nil)
		if err != nil {
			b.Fatal(err)
		}
		build(st)
		w, err := writer.OpenStore(ctx, st, nil)
		if err != nil {
			b.Fatal(err)
		}
		for i := range 300 {
			if _, err := w.Transact(ctx, txData(i)); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		later := time.Now().Add(48 * time.Hour)
		b.StartTimer()
		rep, err := GC(ctx, st, GCOptions{Now: func() time.Time { return later }})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		swept += rep.Swept
		listed += rep.Listed
		st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(swept)/float64(b.N), "swept/op")
	b.ReportMetric(float64(listed)/float64(b.N), "listed/op")
}
