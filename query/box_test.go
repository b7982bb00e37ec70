package query

import (
	"runtime"
	"testing"
)

// TestIntBox checks that boxed ids read back as the int64s they box,
// across block boundaries and garbage collections, and compare and hash
// like any other boxed int64 (map keys, ==).
func TestIntBox(t *testing.T) {
	var b intBox
	vals := []int64{0, 1, 255, 256, -1, 1 << 40, -1 << 62, 17592186045418}
	for i := 0; i < 3*intBoxBlock; i++ {
		vals = append(vals, int64(i)*7919+1000)
	}
	boxed := make([]any, len(vals))
	for i, v := range vals {
		boxed[i] = b.box(v)
	}
	runtime.GC()
	seen := map[any]int{}
	for i, v := range vals {
		x, ok := boxed[i].(int64)
		if !ok || x != v {
			t.Fatalf("box(%d) reads back %#v", v, boxed[i])
		}
		if boxed[i] != any(v) {
			t.Fatalf("box(%d) != any(%d)", v, v)
		}
		seen[boxed[i]]++
	}
	for i, v := range vals {
		if seen[any(v)] == 0 {
			t.Fatalf("value %d (index %d) not found as a map key", v, i)
		}
	}
}
