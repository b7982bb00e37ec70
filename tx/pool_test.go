package tx

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestResetLeavesNothing checks the pool invariant release relies on: after
// reset, a txn holds no reference into a transaction (every field is zero)
// but for the scratch it keeps, which is empty and cleared, and the scalars
// newTxn sets on every call. It runs transactions that touch every piece of
// state (tempids past the map threshold, upserts, retractions, schema-on-read
// installs, composite tuples, a failing transaction) through one txn.
func TestResetLeavesNothing(t *testing.T) {
	db := newTestDB(t)
	db.mustTx(t, `[{:db/id "a" :person/name "Ann" :person/ssn 1 :person/aliases ["x" "y"]}
	               {:db/id "r" :reg/course "c" :reg/student "s"}]`)
	var many strings.Builder
	many.WriteString("[")
	for i := range 40 {
		fmt.Fprintf(&many, `[:db/add "t%d" :person/name "n%d"] [:db/add "t%d" :person/aliases "a%d"] `, i, i, i, i)
	}
	many.WriteString("]")
	ann := db.entid(t, "person/ssn", int64(1))
	cases := []string{
		`[[:db/add "x" :person/name "X"]]`,
		`[{:person/ssn 1 :person/age 40 :person/aliases ["z"]}]`,
		fmt.Sprintf(`[[:db.fn/retractEntity %d]]`, ann),
		fmt.Sprintf(`[[:db/retract %d :person/aliases "x"] [:db/retract %d :person/name]]`, ann, ann),
		`[{:reg/course "c2" :reg/student "s2"}]`,
		many.String(),
		`[[:db/add "y" :person/ssn 1] [:db/add "z" :person/ssn 1] [:db/add "y" :person/name "A"] [:db/add "z" :person/name "B"]]`,
		`[[:db/add "q" :no/such 1]]`,
	}
	sor := newMemDB(t, true)
	for i, text := range cases {
		for _, snap := range []*memDB{db, sor} {
			if snap == sor && i != 0 && i != 5 {
				continue
			}
			data := parseTx(t, text)
			if snap == sor {
				data = parseTx(t, strings.ReplaceAll(text, ":person/", ":p/"))
			}
			x, err := newTxn(context.Background(), snap, snap.input(), &noOptions)
			if err != nil {
				t.Fatal(err)
			}
			_ = x.run(data, new(Result)) // some cases fail on purpose
			x.reset()
			checkReset(t, fmt.Sprintf("case %d", i), x)
		}
	}
}

func checkReset(t *testing.T, text string, x *txn) {
	t.Helper()
	// collectFn and firstFn are made once per txn and refer to it only.
	set := map[string]bool{"maxDepth": true, "txID": true, "nextUser": true, "nextDB": true, "cur": true, "cardOneBuf": true, "collectFn": true, "firstFn": true}
	// Scratch slices hold no reference once cleared.
	scratch := map[string]bool{"ops": true, "temps": true, "adds": true, "retracts": true, "scanBuf": true}
	v := reflect.ValueOf(x).Elem()
	for i := range v.NumField() {
		name, f := v.Type().Field(i).Name, v.Field(i)
		switch {
		case set[name]:
		case name == "deferred": // ints: only empty
			if f.Len() != 0 {
				t.Errorf("%s: after reset, len(deferred) = %d, want 0", text, f.Len())
			}
		case name == "seen":
			if n := f.FieldByName("small").Len(); n != 0 {
				t.Errorf("%s: after reset, len(seen.small) = %d, want 0", text, n)
			}
			if !f.FieldByName("m").IsZero() {
				t.Errorf("%s: after reset, seen.m is not nil", text)
			}
		case name == "in":
			if !f.FieldByName("TxInstant").IsZero() {
				t.Errorf("%s: after reset, in.TxInstant = %v, want zero", text, f.FieldByName("TxInstant"))
			}
		case scratch[name]:
			checkScratch(t, text, name, f)
		case name == "addIdx" || name == "retIdx" || name == "avIdx":
			for _, sub := range []string{"small", "m"} {
				if !f.FieldByName(sub).IsZero() {
					t.Errorf("%s: after reset, %s.%s is not nil", text, name, sub)
				}
			}
			checkScratch(t, text, name+".spare", f.FieldByName("spare"))
			if n := f.FieldByName("kbuf").Len(); n != 0 {
				t.Errorf("%s: after reset, len(%s.kbuf) = %d, want 0", text, name, n)
			}
		default:
			if !f.IsZero() {
				t.Errorf("%s: after reset, %s = %v, want zero", text, name, f)
			}
		}
	}
}

// checkScratch checks that slice f is empty and zero up to its capacity.
func checkScratch(t *testing.T, text, name string, f reflect.Value) {
	t.Helper()
	if f.Len() != 0 {
		t.Errorf("%s: after reset, len(%s) = %d, want 0", text, name, f.Len())
	}
	full := f.Slice(0, f.Cap())
	for j := range full.Len() {
		if !full.Index(j).IsZero() {
			t.Errorf("%s: after reset, %s[%d] = %v, want zero", text, name, j, full.Index(j))
			return
		}
	}
}
