package datom

import (
	"fmt"
	"sync"
	"testing"
	"unsafe"

	"github.com/accretedb/accrete/edn"
)

// TestInternSharesBoxes checks that equal short values come back as one
// box, and that interning never changes a value, however the slots collide.
func TestInternSharesBoxes(t *testing.T) {
	a := internString(any(string([]byte("Ivan"))), "Ivan")
	b := internStringBytes([]byte("Ivan"))
	if a != b || !sameBox(a, b) {
		t.Fatalf("two interned %q are not one box", "Ivan")
	}
	k1 := internKeyword(nil, edn.Keyword("sex/male"))
	k2 := internKeywordBytes([]byte("sex/male"))
	if !sameBox(k1, k2) {
		t.Fatalf("two interned keywords are not one box")
	}
	// Many more distinct values than slots: each still reads back equal.
	for i := 0; i < 4*internSlots; i++ {
		s := fmt.Sprintf("v%d", i)
		if got := internString(nil, s); got != any(s) {
			t.Fatalf("internString(%q) = %#v", s, got)
		}
		if got := internStringBytes([]byte(s)); got != any(s) {
			t.Fatalf("internStringBytes(%q) = %#v", s, got)
		}
		if got := internKeywordBytes([]byte(s)); got != any(edn.Keyword(s)) {
			t.Fatalf("internKeywordBytes(%q) = %#v", s, got)
		}
	}
	long := string(make([]byte, internMaxLen+1))
	if got := internStringBytes([]byte(long)); got != any(long) {
		t.Fatalf("long string changed")
	}
	if got := internString(nil, ""); got != any("") {
		t.Fatalf("empty string changed")
	}
}

// TestInternConcurrent runs interning from several goroutines (go test
// -race checks the slots' synchronisation).
func TestInternConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20000; i++ {
				s := fmt.Sprintf("c%d", i%97)
				if got := internStringBytes([]byte(s)); got != any(s) {
					t.Errorf("internStringBytes(%q) = %#v", s, got)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// sameBox reports whether two interface values share their boxed data:
// the data words of the two interfaces are one pointer.
func sameBox(a, b any) bool {
	return (*[2]unsafe.Pointer)(unsafe.Pointer(&a))[1] == (*[2]unsafe.Pointer)(unsafe.Pointer(&b))[1]
}
