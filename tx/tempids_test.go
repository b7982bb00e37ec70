package tx

import (
	"fmt"
	"maps"
	"testing"

	"github.com/accretedb/accrete/datom"
)

// TestTempIDsModel checks tables of every size around the index threshold
// against a map: lookups of present, absent and foreign keys, the
// transaction's entry, Len, All's order and Map.
func TestTempIDsModel(t *testing.T) {
	for n := 0; n <= 3*smallIndex; n++ {
		for _, txID := range []datom.ID{0, datom.MakeID(datom.PartTx, 7)} {
			var ents []TempID
			model := map[any]datom.ID{}
			for i := range n {
				var k any = fmt.Sprintf("t%d", i)
				if i%3 == 1 {
					k = int64(-1 - i)
				}
				id := datom.MakeID(datom.PartUser, int64(100+i))
				ents = append(ents, TempID{Key: k, ID: id})
				model[k] = id
			}
			if txID != 0 {
				model[TxTempID] = txID
			}
			tab := NewTempIDs(ents, txID)
			checkLookups(t, fmt.Sprintf("n=%d tx=%d", n, txID), tab, model, "nope")
			if txID == 0 {
				if id, ok := tab.Lookup(TxTempID); ok || id != 0 {
					t.Fatalf("n=%d: Lookup(datomic.tx) = %d, %v in a table without the transaction", n, id, ok)
				}
			}
			var keys []any
			for k, id := range tab.All() {
				if model[k] != id {
					t.Fatalf("n=%d: All yields %v %d, want %d", n, k, id, model[k])
				}
				keys = append(keys, k)
			}
			for i, e := range ents {
				if keys[i] != e.Key {
					t.Fatalf("n=%d: All's key %d is %v, want %v (the table's order)", n, i, keys[i], e.Key)
				}
			}
			if txID != 0 && keys[len(keys)-1] != TxTempID {
				t.Fatalf("n=%d: All ends with %v, want %s", n, keys[len(keys)-1], TxTempID)
			}
			if !maps.Equal(tab.Map(), model) {
				t.Fatalf("n=%d: Map %v, want %v", n, tab.Map(), model)
			}
			if got, want := tab.String(), fmt.Sprint(model); got != want {
				t.Fatalf("n=%d: String %s, want %s", n, got, want)
			}
		}
	}
}

// checkLookups checks tab's Len, Lookup and ID against model, and that
// absent keys are not found: the given strings, integers of both signs and
// keys of other types (one not comparable, which a map lookup would panic
// on).
func checkLookups(t *testing.T, label string, tab TempIDs, model map[any]datom.ID, absent ...any) {
	t.Helper()
	if got := tab.Len(); got != len(model) {
		t.Fatalf("%s: Len %d, want %d", label, got, len(model))
	}
	for k, want := range model {
		if got, ok := tab.Lookup(k); !ok || got != want {
			t.Fatalf("%s: Lookup(%v) = %d, %v, want %d", label, k, got, ok, want)
		}
		if got := tab.ID(k); got != want {
			t.Fatalf("%s: ID(%v) = %d, want %d", label, k, got, want)
		}
	}
	for _, k := range append(absent, int64(-1000), int64(5), 1.5, []any{"t0"}, map[string]int{}, nil) {
		if id, ok := tab.Lookup(k); ok || id != 0 {
			t.Fatalf("%s: Lookup(%v) = %d, %v, want absent", label, k, id, ok)
		}
	}
}

// TestTempIDsFirstWins: a key given twice resolves to its first entry,
// whether the table is scanned or indexed.
func TestTempIDsFirstWins(t *testing.T) {
	for _, n := range []int{2, 2 * smallIndex} {
		ents := []TempID{{Key: "a", ID: 1}}
		for i := 1; i < n-1; i++ {
			ents = append(ents, TempID{Key: fmt.Sprint(i), ID: datom.ID(10 + i)})
		}
		ents = append(ents, TempID{Key: "a", ID: 2})
		if got := NewTempIDs(ents, 0).ID("a"); got != 1 {
			t.Errorf("%d entries: ID(a) = %d, want the first entry's 1", n, got)
		}
	}
}

// TestTempIDsAllStops: All stops when its caller breaks out, before the
// transaction's entry too.
func TestTempIDsAllStops(t *testing.T) {
	tab := NewTempIDs([]TempID{{Key: "a", ID: 1}, {Key: "b", ID: 2}}, 99)
	n := 0
	for range tab.All() {
		n++
		break
	}
	if n != 1 {
		t.Fatalf("All went on after break: %d entries", n)
	}
	n = 0
	for k := range tab.All() {
		n++
		if k == "b" {
			break
		}
	}
	if n != 2 {
		t.Fatalf("All yielded %d entries up to b, want 2", n)
	}
}

// TestResultTempIDs: a transaction's table names its string and integer
// tempids, in the order the data named them, and the transaction.
func TestResultTempIDs(t *testing.T) {
	db := newTestDB(t)
	r := db.mustTx(t, `[{:db/id "b" :person/name "B"} {:db/id -3 :person/name "C"} {:db/id "a" :person/name "A" :person/friend "b"}]`)
	var keys []any
	for k := range r.TempIDs.All() {
		keys = append(keys, k)
	}
	if want := []any{"b", int64(-3), "a", TxTempID}; fmt.Sprint(keys) != fmt.Sprint(want) {
		t.Fatalf("keys %v, want %v", keys, want)
	}
	if r.TempIDs.ID(TxTempID) != r.TxID || r.TempIDs.ID("a") == r.TempIDs.ID("b") || r.TempIDs.ID(int64(-3)) == 0 {
		t.Fatalf("table %v, tx %d", r.TempIDs.Map(), r.TxID)
	}
}

// TestImportTempIDs checks an import's table against its map: lookups of
// present, absent and foreign keys, the transaction's entry, Len, All in
// the order of the entities' ids (the order an import first named them),
// Map, and All stopping early.
func TestImportTempIDs(t *testing.T) {
	for _, n := range []int{0, 1, 5, 200} {
		for _, txID := range []datom.ID{0, datom.MakeID(datom.PartTx, 7)} {
			m := map[int64]datom.ID{}
			model := map[any]datom.ID{}
			for i := range n {
				// Ids allocated in an order other than the keys'.
				k, id := int64(-1-(i*7)%n), datom.MakeID(datom.PartUser, int64(100+i))
				m[k] = id
				model[k] = id
			}
			if txID != 0 {
				model[TxTempID] = txID
			}
			tab := NewImportTempIDs(m, txID)
			checkLookups(t, fmt.Sprintf("import n=%d tx=%d", n, txID), tab, model, "nope", "t0")
			var prev datom.ID
			var keys []any
			for k, id := range tab.All() {
				if model[k] != id {
					t.Fatalf("n=%d: All yields %v %d, want %d", n, k, id, model[k])
				}
				if k != TxTempID && id <= prev {
					t.Fatalf("n=%d: All yields id %d after %d, want ascending ids", n, id, prev)
				}
				prev = id
				keys = append(keys, k)
			}
			if len(keys) != len(model) {
				t.Fatalf("n=%d: All yields %d tempids, want %d", n, len(keys), len(model))
			}
			if txID != 0 && keys[len(keys)-1] != TxTempID {
				t.Fatalf("n=%d: All ends with %v, want %s", n, keys[len(keys)-1], TxTempID)
			}
			if !maps.Equal(tab.Map(), model) {
				t.Fatalf("n=%d: Map %v, want %v", n, tab.Map(), model)
			}
			if n > 2 {
				seen := 0
				for range tab.All() {
					if seen++; seen == 2 {
						break
					}
				}
			}
		}
	}
}
