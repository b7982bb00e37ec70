package datom

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/accretedb/accrete/edn"
)

// refKey is a reference implementation of the index orders: the fields in
// index order, each as a value key, then Added.
func refKey(idx Index, d Datom) []byte {
	var fields []any
	switch idx {
	case EAVT:
		fields = []any{d.E, d.A, d.V, d.Tx}
	case AEVT:
		fields = []any{d.A, d.E, d.V, d.Tx}
	case AVET:
		fields = []any{d.A, d.V, d.E, d.Tx}
	case VAET:
		fields = []any{d.V, d.A, d.E, d.Tx}
	case TEAV:
		fields = []any{d.Tx, d.E, d.A, d.V}
	}
	var k []byte
	for _, f := range fields {
		k = AppendValueKey(k, f)
	}
	return AppendValueKey(k, d.Added)
}

func TestComparators(t *testing.T) {
	r := newRand(t)
	ds := make([]Datom, 400)
	for i := range ds {
		ds[i] = randDatom(r)
		if i > 0 && r.IntN(3) == 0 { // share a prefix with the previous datom
			ds[i].E, ds[i].A = ds[i-1].E, ds[i-1].A
			if r.IntN(2) == 0 {
				ds[i].V = ds[i-1].V
			}
		}
	}
	for _, idx := range []Index{EAVT, AEVT, AVET, VAET, TEAV} {
		cmp := Comparator(idx)
		keys := make([][]byte, len(ds))
		for i, d := range ds {
			keys[i] = refKey(idx, d)
		}
		for i := range ds {
			for j := range ds {
				if got, want := cmp(ds[i], ds[j]), bytes.Compare(keys[i], keys[j]); got != want {
					t.Fatalf("%s(%+v, %+v) = %d, want %d", idx, ds[i], ds[j], got, want)
				}
			}
		}
	}
	if Comparator(Index(99)) != nil {
		t.Errorf("Comparator(99) != nil")
	}
}

func TestCompareEAVTOrder(t *testing.T) {
	ds := []Datom{
		{E: 2, A: 1, V: "a", Tx: 5, Added: true},
		{E: 1, A: 2, V: "a", Tx: 1, Added: true},
		{E: 1, A: 1, V: "b", Tx: 1, Added: true},
		{E: 1, A: 1, V: "a", Tx: 9, Added: false},
		{E: 1, A: 1, V: "a", Tx: 9, Added: true},
		{E: 1, A: 1, V: "a", Tx: 3, Added: true},
	}
	slices.SortFunc(ds, CompareEAVT)
	var got []string
	for _, d := range ds {
		got = append(got, fmt.Sprintf("%d %d %v %d %v", d.E, d.A, d.V, d.Tx, d.Added))
	}
	want := []string{"1 1 a 3 true", "1 1 a 9 false", "1 1 a 9 true", "1 1 b 1 true", "1 2 a 1 true", "2 1 a 5 true"}
	if !slices.Equal(got, want) {
		t.Errorf("EAVT order:\n got %q\nwant %q", got, want)
	}
}

func ExampleCompareValues() {
	vals := []any{"b", edn.Keyword("a/b"), int64(10), "a", true, int64(-1), edn.Keyword("b")}
	slices.SortFunc(vals, CompareValues)
	fmt.Println(vals)
	// Output: [true -1 10 a b :b :a/b]
}

func ExampleSchema_Apply() {
	s, _ := Bootstrap(false)
	attr := MakeID(PartDB, DBReserved)
	s2, err := s.Apply([]Datom{
		{E: attr, A: DBIdent, V: edn.Keyword("person/email"), Tx: TxID(1), Added: true},
		{E: attr, A: DBValueType, V: TypeEntity(TypeString), Tx: TxID(1), Added: true},
		{E: attr, A: DBCardinality, V: DBCardinalityOne, Tx: TxID(1), Added: true},
		{E: attr, A: DBUnique, V: DBUniqueIdentity, Tx: TxID(1), Added: true},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	a := s2.AttrByIdent("person/email")
	fmt.Println(a.ID == attr, a.ValueType, a.Cardinality, a.Unique, a.Indexed())
	_, err = s2.Apply([]Datom{{E: attr, A: DBValueType, V: TypeEntity(TypeLong), Tx: TxID(2), Added: true}})
	fmt.Println(err)
	// Output:
	// true string one identity true
	// datom: invalid schema change: attribute :person/email: :db/valueType cannot change (from string to long)
}
