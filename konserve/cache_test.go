package konserve

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func TestNodeCacheNil(t *testing.T) {
	c := newNodeCache(-1)
	if c != nil {
		t.Fatalf("newNodeCache(-1) = %v, want nil (disabled)", c)
	}
	c.add(Hash{1}, "v", 10)
	if v, ok := c.get(Hash{1}); ok {
		t.Errorf("disabled cache returned %v", v)
	}
	c.remove(Hash{1})
	if b, n := c.usage(); b != 0 || n != 0 {
		t.Errorf("disabled cache usage = %d, %d; want 0, 0", b, n)
	}
}

func TestNodeCacheReplaceKeepsAccounting(t *testing.T) {
	c := newNodeCache(10_000)
	c.add(Hash{1}, "a", 100)
	c.add(Hash{1}, "b", 300)
	if b, n := c.usage(); b != 300+entryOverhead || n != 1 {
		t.Errorf("after replacing an entry usage = %d bytes, %d entries; want %d, 1", b, n, 300+entryOverhead)
	}
	if v, ok := c.get(Hash{1}); !ok || v != "b" {
		t.Errorf("get = %v, %v; want b, true", v, ok)
	}
	c.remove(Hash{1})
	if b, n := c.usage(); b != 0 || n != 0 {
		t.Errorf("after remove usage = %d, %d; want 0, 0", b, n)
	}
}

// TestNodeCacheModel compares the cache with a model LRU (a slice, most
// recent last) under random operations and sizes.
func TestNodeCacheModel(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))
	const bound = 5000
	c := newNodeCache(bound)
	type ent struct {
		h    Hash
		size int64
	}
	var model []ent // least recently used first
	find := func(h Hash) int {
		for i, e := range model {
			if e.h == h {
				return i
			}
		}
		return -1
	}
	total := func() (s int64) {
		for _, e := range model {
			s += e.size
		}
		return s
	}
	for step := range 5000 {
		h := Hash{byte(r.IntN(40))}
		switch r.IntN(3) {
		case 0, 1:
			size := r.Int64N(2000)
			c.add(h, fmt.Sprint(h[0]), size)
			if i := find(h); i >= 0 {
				model = append(model[:i], model[i+1:]...)
			}
			if size+entryOverhead <= bound {
				model = append(model, ent{h, size + entryOverhead})
				for total() > bound {
					model = model[1:]
				}
			}
		case 2:
			_, ok := c.get(h)
			i := find(h)
			if ok != (i >= 0) {
				t.Fatalf("seed %d step %d: get(%d) present = %v, model says %v", seed, step, h[0], ok, i >= 0)
			}
			if i >= 0 {
				e := model[i]
				model = append(append(model[:i], model[i+1:]...), e)
			}
		}
		if b, n := c.usage(); b != total() || n != int64(len(model)) || b > bound {
			t.Fatalf("seed %d step %d: usage %d bytes %d entries, model %d bytes %d entries (bound %d)", seed, step, b, n, total(), len(model), bound)
		}
	}
}
