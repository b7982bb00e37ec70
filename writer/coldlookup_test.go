package writer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/reader"
)

// TestColdLookupGETs: a cold reader (fresh store, empty cache) reads an
// entity's datoms with one node GET per level of EAVT, plus the log tail
// when the head names one, and never the leaf after the entity's: leaves
// are cut between entities and branches record where the next leaf
// starts (pss.Options.Fence).
func TestColdLookupGETs(t *testing.T) {
	ctx := context.Background()
	url := fmt.Sprintf("mem://coldlookup-%d", rand.Int64())
	w, err := Create(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ids, err := importDatoms(ctx, w, 150_000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ids {
		st, err := konserve.Open(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		db, err := reader.OpenStore(ctx, st, nil)
		if err != nil {
			t.Fatal(err)
		}
		root, _ := db.Head().Commit.Root("eavt")
		tail := 0
		if !db.Head().Commit.Tail.IsZero() {
			tail = 1
		}
		s0 := st.Stats()
		n := 0
		if err := db.Datoms(ctx, datom.EAVT, []any{e}, func(datom.Datom) bool { n++; return true }); err != nil {
			t.Fatal(err)
		}
		s1 := st.Stats()
		if n != benchPerEntity {
			t.Fatalf("entity %d: %d datoms, want %d", e, n, benchPerEntity)
		}
		if root.Depth < 3 {
			t.Fatalf("EAVT of depth %d: the test needs a deeper tree", root.Depth)
		}
		// The open read the head and the tail; the lookup, the path.
		if got, want := s1.Gets+s1.HeadReads, int64(root.Depth+1+tail); got != want {
			t.Fatalf("entity %d: %d GETs (%d before the lookup), want %d: the head, %d tail, %d levels",
				e, got, s0.Gets+s0.HeadReads, want, tail, root.Depth)
		}
		st.Close()
	}
	// The same through EntityDatoms, the path of pull and the entity API.
	for _, e := range ids {
		st, err := konserve.Open(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		db, err := reader.OpenStore(ctx, st, nil)
		if err != nil {
			t.Fatal(err)
		}
		root, _ := db.Head().Commit.Root("eavt")
		tail := 0
		if !db.Head().Commit.Tail.IsZero() {
			tail = 1
		}
		n := 0
		if err := db.EntityDatoms(ctx, []datom.ID{e}, false, func(_ int, ds, more []datom.Datom) error {
			n += len(ds) + len(more)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		s := st.Stats()
		if n != benchPerEntity {
			t.Fatalf("entity %d: %d datoms, want %d", e, n, benchPerEntity)
		}
		if got, want := s.Gets+s.HeadReads, int64(root.Depth+1+tail); got != want {
			t.Fatalf("EntityDatoms(%d): %d GETs, want %d: the head, %d tail, %d levels", e, got, want, tail, root.Depth)
		}
		st.Close()
	}
}
