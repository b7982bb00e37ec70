package reader_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/reader"
)

// A transaction's additions that are one run of its datoms are the overlay
// batches themselves (not copies): a reindex that appends to AVET's batch
// must copy rather than write into the transaction's datoms, and every
// report's TxData stays as it was. The chain is read back through every
// index after each step, against the datoms the reports asserted.
func TestWithSharedBatches(t *testing.T) {
	ctx := context.Background()
	db, err := reader.NewEmpty(ctx, nil, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := db.With(ctx, `[{:db/ident :s/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
	 {:db/ident :s/ref :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}]`, nil)
	if err != nil {
		t.Fatal(err)
	}
	db = rep.DBAfter
	name, _ := db.Schema().Entid(edn.Keyword("s/name"))
	var reps []*reader.Report
	var snaps [][]datom.Datom
	var names, refs []datom.Datom
	with := func(data any) *reader.Report {
		t.Helper()
		r, err := db.With(ctx, data, nil)
		if err != nil {
			t.Fatal(err)
		}
		db = r.DBAfter
		reps = append(reps, r)
		snaps = append(snaps, slices.Clone(r.TxData))
		for _, d := range r.TxData {
			switch {
			case d.A == name && d.Added:
				names = append(names, d)
			case d.Added && datom.Part(d.E) == datom.PartUser && d.A != name:
				refs = append(refs, d)
			}
		}
		return r
	}
	check := func(step string) {
		t.Helper()
		for i, r := range reps {
			if !slices.EqualFunc(r.TxData, snaps[i], func(a, b datom.Datom) bool { return datom.CompareEAVT(a, b) == 0 }) {
				t.Fatalf("%s: report %d: TxData changed: %v, was %v", step, i, r.TxData, snaps[i])
			}
		}
		var got []datom.Datom
		if err := db.Datoms(ctx, datom.AEVT, []any{name}, func(d datom.Datom) bool { got = append(got, d); return true }); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(names) {
			t.Fatalf("%s: AEVT holds %d names, want %d", step, len(got), len(names))
		}
		got = got[:0]
		if err := db.Datoms(ctx, datom.VAET, nil, func(d datom.Datom) bool {
			if datom.Part(d.E) == datom.PartUser {
				got = append(got, d)
			}
			return true
		}); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(refs) {
			t.Fatalf("%s: VAET holds %d user refs, want %d", step, len(got), len(refs))
		}
	}
	for i := range 200 {
		with(fmt.Sprintf(`[[:db/add "p" :s/name "n%03d"]]`, i))
		if i%7 == 3 {
			with(fmt.Sprintf(`[[:db/add "q" :s/ref %d]]`, names[len(names)-1].E))
		}
		if i%50 == 0 {
			check(fmt.Sprint("step ", i))
		}
	}
	check("before reindex")
	// Indexing :s/name reindexes AVET in the transaction that asserts it.
	with(`[[:db/add :s/name :db/index true]]`)
	check("after reindex")
	var avet []datom.Datom
	if err := db.Datoms(ctx, datom.AVET, []any{name}, func(d datom.Datom) bool { avet = append(avet, d); return true }); err != nil {
		t.Fatal(err)
	}
	if len(avet) != len(names) {
		t.Fatalf("AVET holds %d names after reindex, want %d", len(avet), len(names))
	}
	for i := 1; i < len(avet); i++ {
		if datom.CompareAVET(avet[i-1], avet[i]) >= 0 {
			t.Fatalf("AVET out of order at %d: %v, %v", i, avet[i-1], avet[i])
		}
	}
	with(`[[:db/add "r" :s/name "last"]]`)
	check("after")
}
