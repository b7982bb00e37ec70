package konserve

import (
	"sync"
	"sync/atomic"
)

// entryOverhead is added to every cached value's reported size to account
// for the map slot, list links and key, so that a cache of many tiny nodes
// still respects its byte bound roughly.
const entryOverhead = 96

// nodeCache is a cache of decoded nodes bounded by the sum of their sizes in
// bytes (as reported by the DecodeFunc, plus entryOverhead), evicting with
// the second-chance (CLOCK) approximation of LRU: a hit only sets the
// entry's referenced flag, under a read lock, so that concurrent scans of
// warm trees do not serialise on moving entries in a list; eviction takes
// the oldest entry, and one that was referenced since it was last
// considered is moved to the front with its flag cleared instead of being
// dropped. A nil *nodeCache is a valid, always-empty cache.
//
// Only verified, decoded nodes are cached: nodes are immutable, so an entry
// never goes stale; heads are never cached.
type nodeCache struct {
	mu    sync.RWMutex
	m     map[Hash]*cacheEntry
	head  cacheEntry // sentinel of the list: head.next newest, head.prev oldest
	bytes int64      // total size of the entries
	bound int64
}

type cacheEntry struct {
	h          Hash
	value      any
	size       int64 // including entryOverhead
	referenced atomic.Bool
	prev, next *cacheEntry
}

// newNodeCache returns a cache holding at most bound bytes, or nil (no
// cache) if bound <= 0.
func newNodeCache(bound int64) *nodeCache {
	if bound <= 0 {
		return nil
	}
	c := &nodeCache{bound: bound, m: map[Hash]*cacheEntry{}}
	c.head.next, c.head.prev = &c.head, &c.head
	return c
}

// get returns the cached value of h and marks it referenced.
func (c *nodeCache) get(h Hash) (any, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.RLock()
	e, ok := c.m[h]
	var v any
	if ok {
		v = e.value
		if !e.referenced.Load() {
			e.referenced.Store(true)
		}
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
	if old, ok := c.m[h]; ok {
		c.unlink(old)
	}
	e := &cacheEntry{h: h, value: value, size: size}
	c.m[h] = e
	c.bytes += size
	c.pushFront(e)
	// Each referenced entry gets one second chance per pass, so this ends
	// within two passes over the list.
	for c.bytes > c.bound {
		old := c.head.prev
		if old == e {
			// Every other entry had its second chance and went in front
			// of e: the oldest of them goes.
			old = e.prev
		}
		if old.referenced.Load() {
			old.referenced.Store(false)
			c.detach(old)
			c.pushFront(old)
			continue
		}
		c.unlink(old)
	}
}

// remove drops h from the cache (after a DeleteNode).
func (c *nodeCache) remove(h Hash) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[h]; ok {
		c.unlink(e)
	}
}

// usage returns the bytes and entries currently held.
func (c *nodeCache) usage() (bytes, entries int64) {
	if c == nil {
		return 0, 0
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.bytes, int64(len(c.m))
}

// unlink removes e from the list, the map and the byte count.
func (c *nodeCache) unlink(e *cacheEntry) {
	c.detach(e)
	delete(c.m, e.h)
	c.bytes -= e.size
}

func (c *nodeCache) detach(e *cacheEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (c *nodeCache) pushFront(e *cacheEntry) {
	e.prev, e.next = &c.head, c.head.next
	c.head.next.prev = e
	c.head.next = e
}
