package tx

import (
	"context"
	"reflect"
	"testing"
)

// ApplyTo fills the caller's Result as Apply returns it, and leaves it
// alone when the transaction fails.
func TestApplyTo(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	for _, text := range []string{
		`[[:db/add "x" :person/name "X"]]`,
		`[{:person/ssn 1 :person/age 40 :person/aliases ["z"]}]`,
		`[[:db/add "q" :no/such 1]]`,
	} {
		want, werr := Apply(ctx, db, parseTx(t, text), db.input(), nil)
		var got Result
		gerr := ApplyTo(ctx, db, parseTx(t, text), db.input(), nil, &got)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("%s: Apply error %v, ApplyTo error %v", text, werr, gerr)
		}
		if werr != nil {
			if !reflect.DeepEqual(got, Result{}) {
				t.Fatalf("%s: failed ApplyTo wrote %+v", text, got)
			}
			continue
		}
		if !reflect.DeepEqual(got, *want) {
			t.Fatalf("%s: ApplyTo gave %+v, Apply %+v", text, got, *want)
		}
	}
}
