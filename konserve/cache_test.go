package konserve

import (
	"fmt"
	"math/rand/v2"
	"sync"
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

// TestNodeCacheModel compares the cache with a model of second-chance
// eviction (a slice, newest last, with referenced flags) under random
// operations and sizes: the same entries, the same bytes, never over the
// bound.
func TestNodeCacheModel(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))
	const bound = 5000
	c := newNodeCache(bound)
	type ent struct {
		h    Hash
		size int64
		ref  bool
	}
	var model []ent // oldest first
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
		switch r.IntN(4) {
		case 0, 1:
			size := r.Int64N(2000)
			c.add(h, fmt.Sprint(h[0], step), size)
			if i := find(h); i >= 0 {
				model = append(model[:i], model[i+1:]...)
			}
			if size+entryOverhead <= bound {
				for total()+size+entryOverhead > bound {
					if model[0].ref {
						e := model[0]
						e.ref = false
						model = append(model[1:], e)
						continue
					}
					model = model[1:]
				}
				model = append(model, ent{h: h, size: size + entryOverhead})
			}
		case 2:
			v, ok := c.get(h)
			i := find(h)
			if ok != (i >= 0) {
				t.Fatalf("seed %d step %d: get(%d) present = %v, model says %v", seed, step, h[0], ok, i >= 0)
			}
			if i >= 0 {
				model[i].ref = true
				if s, _ := v.(string); len(s) == 0 || s[:len(fmt.Sprint(h[0]))] != fmt.Sprint(h[0]) {
					t.Fatalf("seed %d step %d: get(%d) = %v", seed, step, h[0], v)
				}
			}
		case 3:
			c.remove(h)
			if i := find(h); i >= 0 {
				model = append(model[:i], model[i+1:]...)
			}
		}
		if b, n := c.usage(); b != total() || n != int64(len(model)) || b > bound {
			t.Fatalf("seed %d step %d: usage %d bytes %d entries, model %d bytes %d entries (bound %d)", seed, step, b, n, total(), len(model), bound)
		}
		for _, e := range model {
			if !c.lru.Contains(e.h) {
				t.Fatalf("seed %d step %d: model holds %d, cache does not", seed, step, e.h[0])
			}
		}
	}
}

// TestNodeCacheConcurrent runs gets, adds and removes from several
// goroutines (for the race detector) and checks the accounting after.
func TestNodeCacheConcurrent(t *testing.T) {
	c := newNodeCache(20_000)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range 2000 {
				h := Hash{byte(r.IntN(64))}
				switch r.IntN(4) {
				case 0:
					c.add(h, g, r.Int64N(1000))
				case 1:
					c.remove(h)
				default:
					c.get(h)
				}
			}
		}()
	}
	wg.Wait()
	b, n := c.usage()
	var sum int64
	for _, e := range c.lru.Values() {
		sum += e.size
	}
	if b != sum || n != int64(c.lru.Len()) || b > 20_000 {
		t.Fatalf("after concurrent use: usage %d bytes %d entries, entries sum to %d (%d)", b, n, sum, c.lru.Len())
	}
}
