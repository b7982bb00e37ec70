package writer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/reader"
)

// TestColdLookupGETs: a cold reader (fresh store, empty cache) reads an
// entity's datoms with one node GET per level of EAVT, plus the log tail
// when the head names one, and never the leaf after the entity's: leaves
// are cut between entities, branches record where the next leaf starts
// (pss.Options.Fence), and a datom added to an entity that ends a leaf
// goes into that leaf.
func TestColdLookupGETs(t *testing.T) {
	ctx := context.Background()
	url, w, ids := importMergingCommits(t, "coldlookup", 150_000)
	defer w.Close()
	// Then every sampled entity gets one more datom, which sorts after
	// its others, merged into the trees at each commit: an entity that
	// ends a leaf keeps it in that leaf.
	if _, err := w.Transact(ctx, `[{:db/ident :b/note :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]`); err != nil {
		t.Fatal(err)
	}
	for lo := 0; lo < len(ids); lo += 50 {
		var forms []any
		for _, e := range ids[lo:min(lo+50, len(ids))] {
			forms = append(forms, edn.Vector{edn.Keyword("db/add"), e, edn.Keyword("b/note"), "noted"})
		}
		if _, err := w.Transact(ctx, forms); err != nil {
			t.Fatal(err)
		}
	}
	// Datoms is the path of queries, EntityDatoms that of pull and the
	// entity API.
	lookups := []struct {
		name string
		read func(db *reader.DB, e datom.ID) (int, error)
	}{
		{"Datoms", func(db *reader.DB, e datom.ID) (int, error) {
			n := 0
			err := db.Datoms(ctx, datom.EAVT, []any{e}, func(datom.Datom) bool { n++; return true })
			return n, err
		}},
		{"EntityDatoms", func(db *reader.DB, e datom.ID) (int, error) {
			n := 0
			err := db.EntityDatoms(ctx, []datom.ID{e}, false, func(_ int, ds, more []datom.Datom) error {
				n += len(ds) + len(more)
				return nil
			})
			return n, err
		}},
	}
	for _, l := range lookups {
		for _, e := range ids {
			st, db, want := coldReader(t, url)
			n, err := l.read(db, e)
			if err != nil {
				t.Fatal(err)
			}
			if n != benchPerEntity+1 {
				t.Fatalf("%s(%d): %d datoms, want %d", l.name, e, n, benchPerEntity+1)
			}
			if s := st.Stats(); s.Gets+s.HeadReads != want {
				t.Fatalf("%s(%d): %d GETs, want %d", l.name, e, s.Gets+s.HeadReads, want)
			}
			st.Close()
		}
	}
}

// importMergingCommits imports n datoms (importDatoms) into a new mem
// bucket and returns its URL, the sampled ids, and a writer on it that
// merges each commit's novelty into the trees (TailBytes 1), so that the
// changes a test makes next reach the stored leaves at once.
func importMergingCommits(t *testing.T, name string, n int) (string, *Writer, []datom.ID) {
	t.Helper()
	ctx := context.Background()
	url := fmt.Sprintf("mem://%s-%d", name, rand.Int64())
	w, err := Create(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := importDatoms(ctx, w, n)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w, err = Open(ctx, url, &Options{TailBytes: 1}); err != nil {
		t.Fatal(err)
	}
	return url, w, ids
}

// coldReader opens the database at url on a fresh store (an empty cache)
// and returns the GETs an entity lookup may cost in all: the head read
// (which inlines the commit), the log tail if the head names one, and one
// node per level of EAVT (at least 3, for a test of descents).
func coldReader(t *testing.T, url string) (*konserve.Store, *reader.DB, int64) {
	t.Helper()
	ctx := context.Background()
	st, err := konserve.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	db, err := reader.OpenStore(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := db.Head().Commit.Root("eavt")
	if root.Depth < 3 {
		t.Fatalf("EAVT of depth %d: the test needs a deeper tree", root.Depth)
	}
	want := int64(1 + root.Depth)
	if !db.Head().Commit.Tail.IsZero() {
		want++
	}
	return st, db, want
}

// TestColdLookupAfterChurn: after many small commits that give random
// existing entities more datoms, merged into the trees at each commit
// (TailBytes 1) until leaves overflow and split, a cold lookup of an
// entity still reads one leaf, but for the few entities that sizes force
// across two: updates keep groups whole (pss: groupEnd, and overflow
// splits cut again with a neighbour).
func TestColdLookupAfterChurn(t *testing.T) {
	ctx := context.Background()
	url, w, _ := importMergingCommits(t, "coldchurn", 50_000)
	defer w.Close()
	const extra = 5 // attributes an entity may gain
	var schema []any
	for j := range extra {
		schema = append(schema, edn.Map{
			{Key: edn.Keyword("db/ident"), Val: edn.Keyword(fmt.Sprintf("b/x%d", j))},
			{Key: edn.Keyword("db/valueType"), Val: edn.Keyword("db.type/long")},
			{Key: edn.Keyword("db/cardinality"), Val: edn.Keyword("db.cardinality/one")},
		})
	}
	if _, err := w.Transact(ctx, schema); err != nil {
		t.Fatal(err)
	}
	// Every entity of the import, by its :b/id (the import numbers them
	// 0 … n-1).
	ents := 50_000 / benchPerEntity
	ids := make([]datom.ID, ents)
	db := w.DB()
	idAttr := db.Schema().AttrByIdent(kwID).ID
	if err := db.Datoms(ctx, datom.AVET, []any{idAttr}, func(d datom.Datom) bool {
		ids[d.V.(int64)] = d.E
		return true
	}); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 8))
	gained := make([]int, ents)
	for range 600 { // commits of 50 datoms: 30,000 datoms in all
		var forms []any
		for len(forms) < 50 {
			i := r.IntN(ents)
			if gained[i] == extra {
				continue
			}
			forms = append(forms, edn.Vector{edn.Keyword("db/add"), ids[i], edn.Keyword(fmt.Sprintf("b/x%d", gained[i])), int64(i)})
			gained[i]++
		}
		if _, err := w.Transact(ctx, forms); err != nil {
			t.Fatal(err)
		}
	}
	over := 0 // lookups that read a second leaf
	for i := 0; i < ents; i += 7 {
		st, db, want := coldReader(t, url)
		n := 0
		if err := db.Datoms(ctx, datom.EAVT, []any{ids[i]}, func(datom.Datom) bool { n++; return true }); err != nil {
			t.Fatal(err)
		}
		if n != benchPerEntity+gained[i] {
			t.Fatalf("entity %d: %d datoms, want %d", i, n, benchPerEntity+gained[i])
		}
		if s := st.Stats(); s.Gets+s.HeadReads > want {
			over++
		}
		st.Close()
	}
	lookups := (ents + 6) / 7
	t.Logf("%d of %d cold lookups read a second leaf", over, lookups)
	if over*50 > lookups {
		t.Errorf("%d of %d cold lookups read a second leaf, want under 2%%", over, lookups)
	}
}
