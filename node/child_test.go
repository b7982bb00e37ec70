package node

import (
	"runtime"
	"testing"
)

// TestChildMemo checks that a recorded child reads back, that slots out of
// range or never recorded read nil, and that the memo does not keep a child
// alive: once nothing else holds it, it is collected and Child says nil.
func TestChildMemo(t *testing.T) {
	parent := &Node[int]{Level: 1, Keys: []int{1, 2}, Children: make([]Address, 2), Counts: []uint64{1, 1}}
	if parent.Child(0) != nil || parent.Child(-1) != nil || parent.Child(5) != nil {
		t.Fatal("Child of an empty memo is not nil")
	}
	kept := &Node[int]{Keys: []int{2}}
	parent.SetChild(1, kept)
	parent.SetChild(7, kept) // out of range: ignored
	if got := parent.Child(1); got != kept {
		t.Fatalf("Child(1) = %p, want %p", got, kept)
	}
	if parent.Child(0) != nil {
		t.Fatal("Child(0) was never recorded but is not nil")
	}
	func() {
		dropped := &Node[int]{Keys: make([]int, 1<<10)}
		parent.SetChild(0, dropped)
		if parent.Child(0) != dropped {
			t.Fatal("Child(0) does not read back")
		}
	}()
	for i := 0; i < 10 && parent.Child(0) != nil; i++ {
		runtime.GC()
	}
	if parent.Child(0) != nil {
		t.Fatal("the memo kept an unreferenced child alive")
	}
	if parent.Child(1) != kept {
		t.Fatal("a child still referenced was dropped")
	}
	runtime.KeepAlive(kept)
}
