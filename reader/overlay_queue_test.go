package reader

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"weak"

	"github.com/accretedb/accrete/datom"
)

// TestOverlayQueueLetsGo checks that the queue of additions does not keep
// the overlay sets of old values alive: a chain that reads each value
// before the next With (as upserts do) applies a queue entry per value,
// and the sets an entry made must go with its value, not live on in the
// tail that every later value holds.
func TestOverlayQueueLetsGo(t *testing.T) {
	ctx := context.Background()
	db, err := NewEmpty(ctx, nil, true, 4)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := db.With(ctx, `[{:db/ident :q/n :db/valueType :db.type/long :db/cardinality :db.cardinality/many}]`, nil)
	if err != nil {
		t.Fatal(err)
	}
	db = rep.DBAfter
	read := func(db *DB) {
		t.Helper()
		if err := db.Datoms(ctx, datom.EAVT, nil, func(datom.Datom) bool { return true }); err != nil {
			t.Fatal(err)
		}
	}
	with := func(i int) {
		t.Helper()
		rep, err := db.With(ctx, fmt.Sprintf(`[{:db/id "x" :q/n %d}]`, i), nil)
		if err != nil {
			t.Fatal(err)
		}
		db = rep.DBAfter
	}
	// Unread Withs until one queues (the schema's transactions read the
	// value, which makes the chain change its sets at once for a while).
	i := 0
	for ; db.ov.addq == nil; i++ {
		if i == 2*directSpan {
			t.Fatalf("%d assertion-only transactions on an unread chain queued nothing", i)
		}
		with(i)
	}
	read(db)
	early := weak.Make(db.ov.addq.sets.Load())
	if early.Value() == nil {
		t.Fatal("reading the value applied no queue")
	}
	for ; i < 300; i++ {
		with(i)
		read(db)
	}
	for range 3 {
		runtime.GC()
	}
	if early.Value() != nil {
		t.Fatal("the sets the first queue entry made are still alive 300 values later")
	}
	// And the chain still holds every datom.
	n := 0
	a, _ := db.Schema().Entid("q/n")
	if err := db.Datoms(ctx, datom.AEVT, []any{a}, func(datom.Datom) bool { n++; return true }); err != nil {
		t.Fatal(err)
	}
	if n != 300 {
		t.Fatalf("%d :q/n datoms, want 300", n)
	}
}
