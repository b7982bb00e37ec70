package writer

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/edn"
	"github.com/accretedb/accrete/reader"
)

func TestSmoke(t *testing.T) {
	ctx := context.Background()
	url := "file://" + t.TempDir()
	w, err := Create(ctx, url, &Options{TailBytes: 300, Width: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	_, err = w.Transact(ctx, `[{:db/ident :person/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
	                           {:db/ident :person/age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]`)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 30; i++ {
		rep, err := w.Transact(ctx, []any{edn.Map{{Key: edn.Keyword("person/name"), Val: "p" + string(rune('a'+i%26)) + string(rune('a'+i/26))}, {Key: edn.Keyword("person/age"), Val: int64(i)}}})
		if err != nil {
			t.Fatal(err)
		}
		_ = rep
	}
	db, err := reader.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	age, _ := db.Schema().Entid("person/age")
	n := 0
	err = db.Datoms(ctx, datom.AEVT, []any{age}, func(d datom.Datom) bool { n++; return true })
	if err != nil || n != 30 {
		t.Fatalf("AEVT age datoms = %d, %v; want 30", n, err)
	}
	// Update one person's age, check history and as-of.
	rep, err := w.Transact(ctx, `[{:person/name "paa" :person/age 100}]`)
	if err != nil {
		t.Fatal(err)
	}
	db2, err := reader.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	var vals []any
	db2.Datoms(ctx, datom.AVET, []any{mustEntid(t, db2, "person/name"), "paa"}, func(d datom.Datom) bool {
		db2.Datoms(ctx, datom.EAVT, []any{d.E, age}, func(d datom.Datom) bool { vals = append(vals, d.V); return true })
		return false
	})
	if len(vals) != 1 || vals[0] != int64(100) {
		t.Fatalf("age now = %v, want [100]", vals)
	}
	old := db2.AsOf(rep.T - 1)
	vals = nil
	e := rep.TempIDs
	_ = e
	old.Datoms(ctx, datom.AEVT, []any{age}, func(d datom.Datom) bool {
		if d.V == int64(100) {
			vals = append(vals, d.V)
		}
		return true
	})
	if len(vals) != 0 {
		t.Fatalf("as-of sees the future: %v", vals)
	}
	h := 0
	db2.History().Datoms(ctx, datom.AEVT, []any{age}, func(d datom.Datom) bool { h++; return true })
	if h != 32 {
		t.Fatalf("history age datoms = %d, want 32", h)
	}
}

func mustEntid(t *testing.T, db *reader.DB, kw string) datom.ID {
	id, ok := db.Schema().Entid(edn.Keyword(kw))
	if !ok {
		t.Fatalf("no ident %s", kw)
	}
	return id
}

// TestTxInstantMonotonic: the clock stepping back does not make
// :db/txInstant go back, and an explicit earlier instant is refused.
func TestTxInstantMonotonic(t *testing.T) {
	ctx := context.Background()
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	w, err := Create(ctx, "mem://", &Options{Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Transact(ctx, `[{:db/ident :x/n :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]`); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(-time.Hour) // the clock steps back
	rep, err := w.Transact(ctx, `[{:x/n 1}]`)
	if err != nil {
		t.Fatal(err)
	}
	var inst time.Time
	rep.DBAfter.Datoms(ctx, datom.EAVT, []any{rep.TxID, datom.DBTxInstant}, func(d datom.Datom) bool {
		inst = d.V.(time.Time)
		return false
	})
	if want := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC); !inst.Equal(want) {
		t.Fatalf("txInstant after a clock step back = %v, want %v", inst, want)
	}
	_, err = w.Transact(ctx, `[{:x/n 2} {:db/id "datomic.tx" :db/txInstant #inst "2020-01-01T00:00:00Z"}]`)
	if !errors.Is(err, reader.ErrTimeConflict) {
		t.Fatalf("explicit earlier txInstant: %v, want ErrTimeConflict", err)
	}
}
