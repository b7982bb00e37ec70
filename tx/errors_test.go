package tx

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/accretedb/accrete/datom"
)

func TestInvalidTransactions(t *testing.T) {
	db := newTestDB(t)
	r := db.mustTx(t, `[{:db/id "a" :person/name "A" :person/email "a@x" :person/ssn 1 :person/aliases "q"}
	                    {:db/id "b" :person/name "B"}]`)
	a, b := r.TempIDs.ID("a"), r.TempIDs.ID("b")
	tests := []struct {
		name  string
		data  string
		want  error
		index int
		text  string // in the error message
	}{
		{"unknown attribute", `[[:db/add "x" :nope/x 1]]`, ErrUnknownAttribute, 0, ":nope/x"},
		{"unknown attribute in map", `[{:person/name "x"} {:nope/x 1}]`, ErrUnknownAttribute, 1, "{:nope/x 1}"},
		{"reverse of non-ref", `[{:person/_name "x"}]`, ErrUnknownAttribute, 0, ":person/_name"},
		{"attribute not a keyword", `[[:db/add "x" "person/name" 1]]`, ErrUnknownAttribute, 0, ""},
		{"wrong type in map", `[{:person/name 42}]`, ErrWrongType, 0, "{:person/name 42}"},
		{"wrong type in list", `[[:db/add "x" :person/age "old"]]`, ErrWrongType, 0, `[:db/add "x" :person/age "old"]`},
		{"nil value", `[[:db/add "x" :person/name nil]]`, ErrWrongType, 0, ""},
		{"unique value taken", `[{:person/name "z"} {:person/email "a@x"}]`, ErrUniqueConflict, 1, "a@x"},
		{"unique value twice in tx", `[{:person/email "n@x"} {:person/email "n@x"}]`, ErrUniqueConflict, 1, "n@x"},
		{"identity taken by explicit entity", fmt.Sprintf(`[[:db/add %d :person/ssn 1]]`, b), ErrUniqueConflict, 0, ""},
		{"cardinality conflict", `[[:db/add "x" :person/name "p"] [:db/add "x" :person/name "q"]]`, ErrCardinalityConflict, 1, ""},
		{"cardinality conflict via map", `[{:db/id "x" :person/name "p"} {:db/id "x" :person/name "q"}]`, ErrCardinalityConflict, 1, ""},
		{"cardinality conflict via upsert", fmt.Sprintf(`[{:db/id "x" :person/ssn 1 :person/age 1} [:db/add %d :person/age 2]]`, a), ErrCardinalityConflict, 1, ""},
		{"tempid only a value", `[[:db/add "x" :person/friend "ghost"] [:db/add "x" :person/name "X"]]`, ErrTempID, 0, `"ghost"`},
		{"tempid entity of retraction", `[[:db/retract "x" :person/name "X"]]`, ErrTempID, 0, ""},
		{"tempid in retractEntity", `[[:db/retractEntity "x"]]`, ErrTempID, 0, ""},
		{"empty nested map", `[{:person/name "x" :person/address {}}]`, ErrTempID, 0, ""},
		{"lookup ref missing", `[[:db/add [:person/email "none"] :person/name "x"]]`, ErrLookupRef, 0, "none"},
		{"lookup ref not unique", `[[:db/add [:person/name "A"] :person/age 1]]`, ErrLookupRef, 0, ""},
		{"lookup ref as value", `[[:db/add "x" :person/friend [:person/ssn 99]]]`, ErrLookupRef, 0, ""},
		{"lookup ref malformed", `[[:db/add [:person/ssn] :person/age 1]]`, ErrLookupRef, 0, ""},
		{"entity id not allocated", fmt.Sprintf(`[[:db/add %d :person/name "x"]]`, datom.MakeID(datom.PartUser, 1000)), ErrInvalidEntity, 0, ""},
		{"entity id bad partition", fmt.Sprintf(`[[:db/add %d :person/name "x"]]`, datom.MakeID(7, 1)), ErrInvalidEntity, 0, ""},
		{"future transaction", fmt.Sprintf(`[[:db/add %d :person/name "x"]]`, datom.TxID(1000)), ErrInvalidEntity, 0, ""},
		{"unknown ident", `[[:db/add :no/such :person/name "x"]]`, ErrInvalidEntity, 0, ":no/such"},
		{"entity not an id", `[[:db/add 1.5 :person/name "x"]]`, ErrInvalidEntity, 0, ""},
		{"short add", `[[:db/add "x" :person/name]]`, ErrInvalidForm, 0, ""},
		{"not a form", `[{:person/name "x"} "just a string"]`, ErrInvalidForm, 1, ""},
		{"empty list", `[[]]`, ErrInvalidForm, 0, ""},
		{"list without op", `[[1 2 3]]`, ErrInvalidForm, 0, ""},
		{"unknown function", `[[:no/fn 1]]`, ErrInvalidForm, 0, ":no/fn"},
		{"nested map not component", `[{:person/friend {:person/name "n"}}]`, ErrInvalidForm, 0, ""},
		{"cas on many", fmt.Sprintf(`[[:db/cas %d :person/aliases "q" "r"]]`, a), ErrInvalidForm, 0, ""},
		{"assert and retract", fmt.Sprintf(`[[:db/add %d :person/aliases "r"] [:db/retract %d :person/aliases "r"]]`, a, a), ErrConflict, 1, ""},
		{"cas mismatch", fmt.Sprintf(`[[:db/cas %d :person/name "Z" "Y"]]`, a), ErrCAS, 0, `"Z"`},
		{"schema invalid", `[{:db/ident :x/y :db/valueType :db.type/string}]`, ErrSchema, -1, ""},
		{"built-in entity", `[{:db/id :db/ident :db/doc "mine"}]`, ErrSchema, -1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := parseTx(t, tt.data)
			r, err := Apply(context.Background(), db, data, db.input(), nil)
			if r != nil {
				t.Errorf("got a result with the error: %v", r.Datoms)
			}
			wantErr(t, err, tt.want, tt.index)
			if tt.text != "" && !strings.Contains(err.Error(), tt.text) {
				t.Errorf("error %q does not mention %q", err, tt.text)
			}
			var e *Error
			if errors.As(err, &e) && e.Index >= 0 && e.Form == nil {
				t.Errorf("error %v names no form", err)
			}
		})
	}
}

func TestContextCanceled(t *testing.T) {
	db := newTestDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Apply(ctx, db, parseTx(t, `[{:person/name "x"}]`), db.input(), nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestSnapshotErrorsPropagate(t *testing.T) {
	db := newTestDB(t)
	a := db.mustTx(t, `[{:db/id "a" :person/name "A"}]`).TempIDs.ID("a")
	boom := errors.New("bucket unreachable")
	_, err := Apply(context.Background(), failingDB{db, boom}, parseTx(t, fmt.Sprintf(`[[:db/add %d :person/name "B"]]`, a)), db.input(), nil)
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want the snapshot's error", err)
	}
}

type failingDB struct {
	*memDB
	err error
}

func (f failingDB) Datoms(context.Context, datom.Index, []any, func(datom.Datom) bool) error {
	return f.err
}

// bareSchemaDB is a Snapshot whose schema was not started by
// datom.Bootstrap: it has no built-in attributes.
type bareSchemaDB struct{ memDB }

func (bareSchemaDB) Schema() *datom.Schema { return &datom.Schema{} }

func TestSchemaWithoutBuiltins(t *testing.T) {
	_, err := Apply(context.Background(), &bareSchemaDB{}, parseTx(t, `[[:db/add "x" :db/doc "d"]]`), Input{T: 1}, nil)
	if err == nil || !strings.Contains(err.Error(), "built-in") {
		t.Fatalf("Apply on a schema without built-ins: got %v, want an error naming the built-ins", err)
	}
}
