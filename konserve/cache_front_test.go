package konserve

import (
	"sync"
	"testing"
)

// TestNodeCacheFrontForgets checks that an entry served by the lock-free
// front is forgotten there as soon as it leaves the cache: removed,
// replaced or evicted, including when another hash shares its slot.
func TestNodeCacheFrontForgets(t *testing.T) {
	c := newNodeCache(1000)
	a, b := Hash{1, 0, 7}, Hash{1, 0, 8} // the same front slot
	c.add(a, "a", 100)
	for range 2 { // the second get is served by the front
		if v, ok := c.get(a); !ok || v != "a" {
			t.Fatalf("get a = %v, %v; want a, true", v, ok)
		}
	}
	if _, ok := c.get(b); ok {
		t.Fatal("get b hit before b was added")
	}
	c.remove(a)
	if v, ok := c.get(a); ok {
		t.Fatalf("get a after remove = %v, want a miss", v)
	}
	c.add(a, "a1", 100)
	c.get(a)
	c.add(a, "a2", 100) // replaced
	if v, ok := c.get(a); !ok || v != "a2" {
		t.Fatalf("get a after replace = %v, %v; want a2, true", v, ok)
	}
	// Evict a by filling the cache with unreferenced entries.
	c.add(b, "b", 100)
	c.get(b)
	for i := range 20 {
		c.add(Hash{2, byte(i)}, i, 100)
	}
	if v, ok := c.get(a); ok {
		t.Fatalf("get a after eviction = %v, want a miss", v)
	}
	if v, ok := c.get(b); ok {
		t.Fatalf("get b after eviction = %v, want a miss", v)
	}
}

// TestNodeCacheFrontConcurrent runs gets, adds and removes at once (for
// the race detector) and checks that a hit always returns the value added
// under that hash.
func TestNodeCacheFrontConcurrent(t *testing.T) {
	c := newNodeCache(3000)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5000 {
				h := Hash{byte(i % 64), 0, byte(g % 2)}
				switch i % 5 {
				case 0:
					c.add(h, h, 100)
				case 1:
					c.remove(h)
				default:
					if v, ok := c.get(h); ok && v.(Hash) != h {
						t.Errorf("get %x = %x", h[:3], v)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}
