package writer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/internal/blobtest"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/reader"
	"github.com/accretedb/accrete/tx"
)

const importSchema = `[
 {:db/ident :i/key   :db/valueType :db.type/string  :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :i/n     :db/valueType :db.type/long    :db/cardinality :db.cardinality/one :db/index true}
 {:db/ident :i/tag   :db/valueType :db.type/keyword :db/cardinality :db.cardinality/many}
 {:db/ident :i/ref   :db/valueType :db.type/ref     :db/cardinality :db.cardinality/one}
]`

type importAttrs struct{ key, n, tag, ref datom.ID }

func importSetup(t *testing.T, url string) (*Writer, importAttrs) {
	t.Helper()
	ctx := context.Background()
	w, err := Create(ctx, url, &Options{Width: 4, BulkWidth: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	mustTx(t, w, importSchema)
	s := w.DB().Schema()
	id := func(kw string) datom.ID {
		a, ok := s.Entid(edn.Keyword(kw))
		if !ok {
			t.Fatalf("no attribute %s", kw)
		}
		return a
	}
	return w, importAttrs{id("i/key"), id("i/n"), id("i/tag"), id("i/ref")}
}

// importBatch makes n entities with tempids -1…-n (keys prefixed by
// prefix), each with a key, a number, 0–2 tags and, for most, a ref to an
// earlier entity of the batch or to old, an existing entity.
func importBatch(r *rand.Rand, at importAttrs, prefix string, n int, old datom.ID) []datom.Datom {
	var ds []datom.Datom
	for i := 1; i <= n; i++ {
		e := -int64(i)
		ds = append(ds,
			datom.Datom{E: e, A: at.key, V: prefix + strconv.Itoa(i)},
			datom.Datom{E: e, A: at.n, V: int64(r.IntN(50))})
		for k := range r.IntN(3) {
			ds = append(ds, datom.Datom{E: e, A: at.tag, V: edn.Keyword("t/" + strconv.Itoa(k))})
		}
		switch {
		case i > 1 && r.IntN(3) > 0:
			ds = append(ds, datom.Datom{E: e, A: at.ref, V: -int64(1 + r.IntN(i-1))})
		case old != 0:
			ds = append(ds, datom.Datom{E: e, A: at.ref, V: old})
		}
	}
	r.Shuffle(len(ds), func(i, j int) { ds[i], ds[j] = ds[j], ds[i] })
	return ds
}

// expectEntities checks every imported entity against the input through
// EAVT, AVET (the unique key) and VAET, on db.
func expectEntities(t *testing.T, db *reader.DB, ds []datom.Datom, ids tx.TempIDs, at importAttrs, txID datom.ID) {
	t.Helper()
	ctx := context.Background()
	want := map[datom.ID][]string{}
	for _, d := range ds {
		v := d.V
		if n, ok := v.(int64); ok && d.A == at.ref && n < 0 {
			v = ids.ID(n)
		}
		e := ids.ID(d.E)
		want[e] = append(want[e], fmt.Sprint(d.A, v))
	}
	for e, w := range want {
		var got []string
		err := db.Datoms(ctx, datom.EAVT, []any{e}, func(d datom.Datom) bool {
			if d.Tx != txID {
				t.Errorf("entity %d: datom %v has tx %d, want %d", e, d, d.Tx, txID)
			}
			got = append(got, fmt.Sprint(d.A, d.V))
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Fatalf("entity %d: got %v, want %v", e, got, w)
		}
	}
	for _, d := range ds {
		if d.A != at.key {
			continue
		}
		n := 0
		err := db.Datoms(ctx, datom.AVET, []any{at.key, d.V}, func(x datom.Datom) bool {
			if x.E != ids.ID(d.E) {
				t.Errorf("AVET %v: entity %d, want %d", d.V, x.E, ids.ID(d.E))
			}
			n++
			return true
		})
		if err != nil || n != 1 {
			t.Fatalf("AVET lookup of %v: %d datoms, err %v", d.V, n, err)
		}
	}
	refs := 0
	for _, d := range ds {
		if d.A == at.ref {
			refs++
		}
	}
	n := 0
	if err := db.Datoms(ctx, datom.VAET, nil, func(x datom.Datom) bool {
		if x.Tx == txID {
			n++
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if n != refs {
		t.Fatalf("VAET holds %d refs of the import, want %d", n, refs)
	}
}

// TestImport: two bulk imports (the first builds the trees, the second,
// smaller than the trees, updates them), a normal transaction on top, and
// the whole database reopened cold from the bucket.
func TestImport(t *testing.T) {
	ctx := context.Background()
	url := "file://" + t.TempDir()
	w, at := importSetup(t, url)
	r := rand.New(rand.NewPCG(7, 9))
	ds1 := importBatch(r, at, "a", 300, 0)
	rep1, err := w.Import(ctx, ds1)
	if err != nil {
		t.Fatal(err)
	}
	if rep1.Nodes == 0 || rep1.DBAfter.Head() == nil || rep1.DBAfter.BasisT() != rep1.T {
		t.Fatalf("import 1: %d nodes, head %v, basis %d t %d", rep1.Nodes, rep1.DBAfter.Head(), rep1.DBAfter.BasisT(), rep1.T)
	}
	expectEntities(t, rep1.DBAfter, ds1, rep1.TempIDs, at, rep1.TxID)
	if got := rep1.TempIDs.ID(tx.TxTempID); got != rep1.TxID {
		t.Fatalf("import 1: datomic.tx resolves to %d, want the transaction %d", got, rep1.TxID)
	}
	old := rep1.TempIDs.ID(int64(-1))
	ds2 := importBatch(r, at, "b", 40, old)
	rep2, err := w.Import(ctx, ds2)
	if err != nil {
		t.Fatal(err)
	}
	expectEntities(t, rep2.DBAfter, ds2, rep2.TempIDs, at, rep2.TxID)
	// A transaction on top: upsert through the unique key and retract an
	// imported value; then the imported transaction is still in the log.
	rep3 := mustTx(t, w, `[{:i/key "a1" :i/n 1000} [:db/retract [:i/key "b2"] :i/n `+fmt.Sprint(valueOf(t, rep2.DBAfter, rep2.TempIDs.ID(int64(-2)), at.n))+`]]`)
	if rep3.TempIDs.Len() > 1 {
		t.Fatalf("upsert made new entities: %v", rep3.TempIDs)
	}
	db, err := reader.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := valueOf(t, db, old, at.n); got != int64(1000) {
		t.Fatalf("a1's :i/n after upsert = %v, want 1000", got)
	}
	if got := valueOf(t, db, rep2.TempIDs.ID(int64(-2)), at.n); got != nil {
		t.Fatalf("b2's :i/n after retraction = %v, want none", got)
	}
	expectEntities(t, db.AsOf(rep2.T), ds2, rep2.TempIDs, at, rep2.TxID)
	expectEntities(t, db.AsOf(rep1.T), ds1, rep1.TempIDs, at, rep1.TxID)
	n := 0
	if err := db.TxRange(ctx, rep1.T, rep1.T+1, func(ti reader.TxInfo) bool {
		n += len(ti.Datoms)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if n != len(rep1.TxData) {
		t.Fatalf("log of the import: %d datoms, want %d", n, len(rep1.TxData))
	}
}

func valueOf(t *testing.T, db *reader.DB, e, a datom.ID) any {
	t.Helper()
	var v any
	if err := db.Datoms(context.Background(), datom.EAVT, []any{e, a}, func(d datom.Datom) bool { v = d.V; return false }); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestImportInvalid: every kind of bad input fails whole, with an error
// naming it, and leaves the head where it was.
func TestImportInvalid(t *testing.T) {
	ctx := context.Background()
	w, at := importSetup(t, "mem://import-invalid-"+strconv.FormatInt(rand.Int64(), 36))
	if _, err := w.Import(ctx, []datom.Datom{{E: -1, A: at.key, V: "taken"}}); err != nil {
		t.Fatal(err)
	}
	ok := datom.Datom{E: -1, A: at.key, V: "fine"}
	cases := []struct {
		name string
		ds   []datom.Datom
		want error
	}{
		{"existing entity", []datom.Datom{ok, {E: 5, A: at.n, V: int64(1)}}, tx.ErrInvalidEntity},
		{"unknown attribute", []datom.Datom{ok, {E: -2, A: 999999, V: int64(1)}}, tx.ErrUnknownAttribute},
		{"schema attribute", []datom.Datom{ok, {E: -2, A: datom.DBDoc, V: "x"}}, tx.ErrSchema},
		{"wrong type", []datom.Datom{ok, {E: -1, A: at.n, V: "seven"}}, tx.ErrWrongType},
		{"two values, cardinality one", []datom.Datom{ok, {E: -1, A: at.n, V: int64(1)}, {E: -1, A: at.n, V: int64(2)}}, tx.ErrCardinalityConflict},
		{"unique twice in the batch", []datom.Datom{ok, {E: -2, A: at.key, V: "fine"}}, tx.ErrUniqueConflict},
		{"unique already used", []datom.Datom{{E: -1, A: at.key, V: "taken"}}, tx.ErrUniqueConflict},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			head := w.DB().Head()
			_, err := w.Import(ctx, c.ds)
			if !errors.Is(err, reader.ErrBulk) || !errors.Is(err, c.want) {
				t.Fatalf("error %v, want one wrapping ErrBulk and %v", err, c.want)
			}
			if got := w.DB().Head(); got.Addr != head.Addr {
				t.Fatalf("head moved from %s to %s", head.Addr, got.Addr)
			}
		})
	}
}

// TestCrashImport: a bulk import crashed at each of its storage operations
// leaves the head old or new, every node it names present, and the
// content the head's.
func TestCrashImport(t *testing.T) {
	ctx := context.Background()
	tmpl := newMapBackend()
	crashTemplate(t, tmpl, 1)
	before, err := readState(ctx, tmpl)
	if err != nil {
		t.Fatal(err)
	}
	run := func(f *blobtest.Faulty, arm func()) error {
		st := konserve.New(f, nil)
		w, err := OpenStore(ctx, st, &Options{Width: 4, BulkWidth: 4, Now: crashClock, MaxRetries: 2})
		if err != nil {
			t.Fatalf("open writer on an unfaulted bucket: %v", err)
		}
		defer w.Close()
		s := w.DB().Schema()
		name, _ := s.Entid("c/name")
		n, _ := s.Entid("c/n")
		tag, _ := s.Entid("c/tag")
		var ds []datom.Datom
		for i := 1; i <= 15; i++ {
			ds = append(ds, datom.Datom{E: -int64(i), A: name, V: "bulk" + strconv.Itoa(i)},
				datom.Datom{E: -int64(i), A: n, V: int64(i)}, datom.Datom{E: -int64(i), A: tag, V: edn.Keyword("k")})
		}
		f.Reset()
		if arm != nil {
			arm()
		}
		_, err = w.Import(ctx, ds)
		return err
	}
	clean := blobtest.NewFaulty(tmpl.clone())
	if err := run(clean, nil); err != nil {
		t.Fatal(err)
	}
	ops := clean.Count(blobtest.OpAny)
	after, err := readState(ctx, clean.Inner())
	if err != nil {
		t.Fatal(err)
	}
	outcomes := map[string]int{}
	for k := int64(1); k <= ops; k++ {
		f := blobtest.NewFaulty(tmpl.clone())
		txErr := run(f, func() { f.CrashAt(blobtest.OpAny, k) })
		got, err := readState(ctx, f.Inner())
		if err != nil {
			t.Fatalf("crash at operation %d: database does not open or a node is missing: %v", k, err)
		}
		switch {
		case got.seq == before.seq && slices.Equal(got.dump, before.dump) && txErr != nil:
			outcomes["old"]++
		case got.seq == after.seq && slices.Equal(got.dump, after.dump):
			outcomes["new"]++
		default:
			t.Fatalf("crash at operation %d: head seq %d (old %d, new %d), error %v: neither state", k, got.seq, before.seq, after.seq, txErr)
		}
	}
	t.Logf("%d operations; outcomes %v", ops, outcomes)
	// The swap lands but its reply is lost: the import is acknowledged
	// once and the head is the new one.
	f := blobtest.NewFaulty(tmpl.clone())
	if err := run(f, func() { f.LoseReplyAt(blobtest.OpSwap, 1) }); err != nil {
		t.Fatalf("import after a lost swap reply: %v", err)
	}
	if got, err := readState(ctx, f.Inner()); err != nil || got.seq != after.seq || !slices.Equal(got.dump, after.dump) {
		t.Fatalf("after a lost swap reply: seq %d (want %d), err %v", got.seq, after.seq, err)
	}
}
