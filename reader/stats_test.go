package reader_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/accretedb/accrete/reader"
	"github.com/accretedb/accrete/writer"
)

// TestStats checks DB.Stats against what the database holds: the log tree
// plus the tail hold every datom ever transacted; with no retractions the
// current EAVT tree holds as many datoms as the log tree; narrow trees are
// deep; history trees are empty.
func TestStats(t *testing.T) {
	ctx := context.Background()
	url := "mem://" // a bucket of its own: named ones outlive the test under -count
	w, err := writer.Create(ctx, url, &writer.Options{Width: 4, TailBytes: 512})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Transact(ctx, `[{:db/ident :k/n :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]`); err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		if _, err := w.Transact(ctx, fmt.Sprintf(`[{:k/n %d}]`, i)); err != nil {
			t.Fatal(err)
		}
	}
	db := w.DB()
	s, err := db.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	if err := db.TxRange(ctx, 0, 0, func(info reader.TxInfo) bool {
		total += int64(len(info.Datoms))
		return true
	}); err != nil {
		t.Fatal(err)
	}
	byName := map[string]reader.IndexStats{}
	for _, is := range s.Indexes {
		byName[is.Name] = is
	}
	if len(s.Indexes) != 9 {
		t.Fatalf("Stats has %d indexes, want 9: %+v", len(s.Indexes), s.Indexes)
	}
	lg, eavt := byName["log"], byName["eavt"]
	if got := lg.Datoms + s.TailDatoms; got != total {
		t.Errorf("log tree %d + tail %d datoms = %d, want %d (every datom of the log)", lg.Datoms, s.TailDatoms, got, total)
	}
	if eavt.Datoms != lg.Datoms {
		t.Errorf("eavt tree holds %d datoms, log tree %d; want equal (nothing retracted)", eavt.Datoms, lg.Datoms)
	}
	if eavt.Depth < 3 || eavt.Nodes < eavt.Datoms/4 || eavt.Bytes <= eavt.Nodes {
		t.Errorf("eavt at width 4 with %d datoms: depth %d, %d nodes, %d bytes; want a deep tree of at least datoms/4 nodes",
			eavt.Datoms, eavt.Depth, eavt.Nodes, eavt.Bytes)
	}
	if h := byName["history-eavt"]; h.Datoms != 0 {
		t.Errorf("history-eavt holds %d datoms, want 0", h.Datoms)
	}
	if s.BasisT != 41 || s.Seq != 41 {
		t.Errorf("BasisT %d Seq %d, want 41 and 41", s.BasisT, s.Seq)
	}
}

// BenchmarkStats measures a full walk of a small database's stored trees.
func BenchmarkStats(b *testing.B) {
	ctx := context.Background()
	w, err := writer.Create(ctx, "mem://", &writer.Options{Width: 16, TailBytes: 1 << 10})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	for i := range 50 {
		tx := "["
		for j := range 20 {
			tx += fmt.Sprintf(`{:db/doc "d%d-%d"}`, i, j)
		}
		if _, err := w.Transact(ctx, tx+"]"); err != nil {
			b.Fatal(err)
		}
	}
	db := w.DB()
	var nodes int64
	b.ReportAllocs()
	for b.Loop() {
		s, err := db.Stats(ctx)
		if err != nil {
			b.Fatal(err)
		}
		nodes = 0
		for _, is := range s.Indexes {
			nodes += is.Nodes
		}
	}
	b.ReportMetric(float64(nodes), "nodes/walk")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(nodes), "ns/node")
}
