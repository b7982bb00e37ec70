package main

import (
	"testing"
	"unsafe"
)

// TestParseEntitiesInterns checks that equal keys and values decode to one
// shared copy, so that the workload kept for the whole run adds few
// objects for the garbage collector to mark while benches run.
func TestParseEntitiesInterns(t *testing.T) {
	es, err := parseEntities([]byte(`[{"name":"Ivan","age":3000},{"name":"Ivan","age":3000},{"name":"Oleg","age":3001}]`))
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 3 {
		t.Fatalf("got %d entities, want 3", len(es))
	}
	a, b, c := es[0].attrs, es[1].attrs, es[2].attrs
	if unsafe.StringData(a[0].name) != unsafe.StringData(b[0].name) {
		t.Error("the key \"name\" is decoded twice")
	}
	// An interface holding a string or an int64 points at its boxed copy:
	// equal values must share it.
	data := func(v any) unsafe.Pointer { return (*[2]unsafe.Pointer)(unsafe.Pointer(&v))[1] }
	if data(a[0].v) != data(b[0].v) {
		t.Error("the value \"Ivan\" is boxed twice")
	}
	if data(a[1].v) != data(b[1].v) {
		t.Error("the value 3000 is boxed twice")
	}
	if a[0].v != "Ivan" || c[0].v != "Oleg" || a[1].v != int64(3000) || c[1].v != int64(3001) {
		t.Errorf("values changed: %v %v %v %v", a[0].v, c[0].v, a[1].v, c[1].v)
	}
}
