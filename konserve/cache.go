package konserve

import (
	"math"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// entryOverhead is added to every cached value's reported size to account
// for the map slot, list links and key, so that a cache of many tiny nodes
// still respects its byte bound roughly.
const entryOverhead = 96

// nodeCache is a cache of decoded nodes bounded by the sum of their sizes in
// bytes (as reported by the DecodeFunc, plus entryOverhead), evicting with
// the second-chance (CLOCK) approximation of LRU on top of golang-lru's
// simplelru: a hit only Peeks (which leaves the recency list alone) and
// sets the entry's referenced flag, under a read lock, so that concurrent
// scans of warm trees do not serialise on moving entries in a list;
// eviction takes the oldest entry, and one that was referenced since it was
// last considered is moved to the front with its flag cleared instead of
// being dropped. A nil *nodeCache is a valid, always-empty cache.
//
// Only verified, decoded nodes are cached: nodes are immutable, so an entry
// never goes stale; heads are never cached.
type nodeCache struct {
	mu    sync.RWMutex
	lru   *simplelru.LRU[Hash, *cacheEntry] // count-unbounded: bytes bound it
	bytes int64                             // total size of the entries
	bound int64
	// front is a lock-free, direct-mapped index of entries recently hit,
	// by the first bytes of their hash: a hit there costs an atomic load
	// and a hash comparison instead of the read lock and a map lookup (a
	// point lookup in a warm tree hits the same few branch nodes every
	// time). It holds only entries of lru: an entry leaving lru is
	// cleared from it under mu, so it never keeps a node alive past the
	// byte bound.
	front [frontSize]atomic.Pointer[cacheEntry]
}

// frontSize is the number of slots of nodeCache.front (a power of two).
const frontSize = 4096

func frontSlot(h Hash) int { return (int(h[0]) | int(h[1])<<8) & (frontSize - 1) }

type cacheEntry struct {
	h          Hash
	value      any
	size       int64 // including entryOverhead
	referenced atomic.Bool
}

// newNodeCache returns a cache holding at most bound bytes, or nil (no
// cache) if bound <= 0.
func newNodeCache(bound int64) *nodeCache {
	if bound <= 0 {
		return nil
	}
	c := &nodeCache{bound: bound}
	// Every removal, by eviction or Remove, goes through the callback, so
	// the byte count cannot drift from the entries held. The count bound
	// is never reached: the byte bound evicts first.
	l, err := simplelru.NewLRU[Hash, *cacheEntry](math.MaxInt, func(_ Hash, e *cacheEntry) {
		c.bytes -= e.size
		c.front[frontSlot(e.h)].CompareAndSwap(e, nil)
	})
	if err != nil {
		return nil // unreachable: the size is positive
	}
	c.lru = l
	return c
}

// get returns the cached value of h and marks it referenced.
func (c *nodeCache) get(h Hash) (any, bool) {
	if c == nil {
		return nil, false
	}
	slot := &c.front[frontSlot(h)]
	if e := slot.Load(); e != nil && e.h == h {
		if !e.referenced.Load() {
			e.referenced.Store(true)
		}
		return e.value, true
	}
	c.mu.RLock()
	e, ok := c.lru.Peek(h)
	var v any
	if ok {
		v = e.value
		if !e.referenced.Load() {
			e.referenced.Store(true)
		}
		// Under the read lock, e cannot leave lru (removal takes the
		// write lock and clears its slot afterwards).
		slot.Store(e)
	}
	c.mu.RUnlock()
	return v, ok
}

// add caches value under h, counting size bytes, then evicts until the
// total is within the bound. A value larger than the whole bound is not
// cached. A negative size is treated as zero. Replacing an entry makes it
// the newest, unreferenced.
func (c *nodeCache) add(h Hash, value any, size int64) {
	if c == nil {
		return
	}
	size = max(size, 0) + entryOverhead
	if size > c.bound {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Remove(h)
	// Make room before adding, so the new entry is never its own victim.
	// Each referenced entry gets one second chance per pass, so this ends
	// within two passes over the list (size <= bound: at worst, empty).
	for c.bytes+size > c.bound {
		k, old, ok := c.lru.GetOldest()
		if !ok {
			break
		}
		if old.referenced.Load() {
			old.referenced.Store(false)
			c.lru.Get(k) // moves it to the front
			continue
		}
		c.lru.RemoveOldest()
	}
	c.lru.Add(h, &cacheEntry{h: h, value: value, size: size})
	c.bytes += size
}

// remove drops h from the cache (after a DeleteNode).
func (c *nodeCache) remove(h Hash) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Remove(h)
}

// usage returns the bytes and entries currently held.
func (c *nodeCache) usage() (bytes, entries int64) {
	if c == nil {
		return 0, 0
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.bytes, int64(c.lru.Len())
}

// CachedNode returns the decoded node h if the node cache holds it, and
// never does I/O. A caller that loads many nodes at once (a scan's
// prefetch of sibling leaves) tries it first, so that a warm cache is
// served without LoadNodes' goroutine group and its allocations.
func (s *Store) CachedNode(h Hash) (any, bool) {
	v, ok := s.cache.get(h)
	if ok {
		s.c.cacheHits.Add(1)
	}
	return v, ok
}
