package konserve

import (
	"math"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// entryOverhead is added to every cached value's reported size to account
// for the LRU's map slot, list element and key, so that a cache of many tiny
// nodes still respects its byte bound roughly.
const entryOverhead = 96

// nodeCache is an LRU of decoded nodes bounded by the sum of their sizes in
// bytes (as reported by the DecodeFunc, plus entryOverhead). simplelru is not
// safe for concurrent use and counts entries, not bytes, so nodeCache guards
// it with a mutex and evicts the oldest entries while the byte total exceeds
// the bound. A nil *nodeCache is a valid, always-empty cache.
//
// Only verified, decoded nodes are cached: nodes are immutable, so an entry
// never goes stale; heads are never cached.
type nodeCache struct {
	mu    sync.Mutex
	lru   *simplelru.LRU[Hash, cacheEntry]
	bytes int64 // total size of the entries in lru
	bound int64
}

type cacheEntry struct {
	value any
	size  int64 // including entryOverhead
}

// newNodeCache returns a cache holding at most bound bytes, or nil (no
// cache) if bound <= 0.
func newNodeCache(bound int64) *nodeCache {
	if bound <= 0 {
		return nil
	}
	c := &nodeCache{bound: bound}
	// The entry-count bound is effectively unlimited; the byte bound is
	// enforced in add. NewLRU only fails for a non-positive size.
	lru, err := simplelru.NewLRU[Hash, cacheEntry](math.MaxInt, func(_ Hash, e cacheEntry) {
		c.bytes -= e.size
	})
	if err != nil {
		panic("konserve: simplelru.NewLRU with positive size failed: " + err.Error())
	}
	c.lru = lru
	return c
}

// get returns the cached value of h and marks it most recently used.
func (c *nodeCache) get(h Hash) (any, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.lru.Get(h)
	return e.value, ok
}

// add caches value under h, counting size bytes, then evicts the least
// recently used entries until the total is within the bound. A value larger
// than the whole bound is not cached. A negative size is treated as zero.
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
	c.lru.Remove(h) // replacing an entry must release its bytes through onEvict
	c.lru.Add(h, cacheEntry{value: value, size: size})
	c.bytes += size
	for c.bytes > c.bound {
		if _, _, ok := c.lru.RemoveOldest(); !ok {
			break
		}
	}
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
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes, int64(c.lru.Len())
}
