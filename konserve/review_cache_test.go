package konserve

import (
	"sync"
	"sync/atomic"
	"testing"
)

// TestReviewNodeCacheFrontRemoveIsFinal: while readers hammer hashes that
// share front slots (so slow-path gets keep re-filling those slots), a
// hash the writer removed (and nobody re-adds) must miss at once and from
// then on, in every goroutine; and every hit returns the value added under
// its own hash, never a slot neighbour's.
func TestReviewNodeCacheFrontRemoveIsFinal(t *testing.T) {
	c := newNodeCache(1 << 20)
	const n = 256
	hs := make([]Hash, n)
	for i := range hs {
		hs[i] = Hash{byte(i % 4), 0, byte(i / 4), 1} // 4 slots, 64 hashes each
		c.add(hs[i], i, 10)
	}
	var removed [n]atomic.Bool
	var stop atomic.Bool
	var wg sync.WaitGroup
	for g := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := g; !stop.Load(); k++ {
				i := (k * 7) % n
				gone := removed[i].Load() // read before the get
				v, ok := c.get(hs[i])
				if ok && v.(int) != i {
					t.Errorf("get %d = %v", i, v)
					return
				}
				if ok && gone {
					t.Errorf("get %d hit after its removal completed", i)
					return
				}
			}
		}()
	}
	for i := range n {
		c.remove(hs[i])
		removed[i].Store(true)
		if _, ok := c.get(hs[i]); ok {
			t.Errorf("get %d hit right after remove", i)
		}
	}
	stop.Store(true)
	wg.Wait()
	if b, e := c.usage(); b != 0 || e != 0 {
		t.Fatalf("usage after removing all = %d bytes, %d entries", b, e)
	}
	for i := range c.front {
		if c.front[i].Load() != nil {
			t.Fatalf("front slot %d still holds an entry after every removal", i)
		}
	}
}

// TestReviewNodeCacheFrontEvictionBound: with a byte bound of a few
// entries, after many adds and gets (concurrently), the front holds only
// entries that the LRU still holds, so the bound also bounds what the
// front keeps alive.
func TestReviewNodeCacheFrontEvictionBound(t *testing.T) {
	c := newNodeCache(10 * (100 + entryOverhead))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 4000 {
				h := Hash{byte(i % 97), byte(g), byte(i % 13)}
				if i%3 == 0 {
					c.add(h, h, 100)
				} else if v, ok := c.get(h); ok && v.(Hash) != h {
					t.Errorf("get %x = %x", h[:3], v)
					return
				}
			}
		}()
	}
	wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.front {
		e := c.front[i].Load()
		if e == nil {
			continue
		}
		if got, ok := c.lru.Peek(e.h); !ok || got != e {
			t.Fatalf("front slot %d holds %x, which the LRU does not hold", i, e.h[:3])
		}
	}
	if c.bytes > c.bound {
		t.Fatalf("bytes %d over bound %d", c.bytes, c.bound)
	}
}
