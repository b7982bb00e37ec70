package konserve

import "sync/atomic"

// Stats is a snapshot of a Store's counters since it was created. Serverless
// cost is requests, so the counters count backend requests, not calls: a
// LoadNode served from the cache counts a CacheHit and no Get.
type Stats struct {
	Gets         int64 // node GET requests sent to the backend (GetNode, cache misses of LoadNode)
	BytesRead    int64 // node bytes received by those GETs
	Puts         int64 // node PUT requests sent (PutNode, PutNodes; a write of an existing node counts)
	BytesWritten int64 // node bytes sent by those PUTs
	CacheHits    int64 // LoadNode calls answered from the decoded-node cache
	CacheMisses  int64 // LoadNode calls that were not (collapsed concurrent loads each count one miss)
	HeadReads    int64 // head reads sent (ReadHead, ReadHeadIfChanged, and SwapHead's re-reads)
	HeadSwaps    int64 // head swap requests sent (SwapHead)
	CachedBytes  int64 // bytes currently held by the cache, as counted by the DecodeFunc sizes
	CachedNodes  int64 // nodes currently held by the cache
}

// counters are the live, atomically updated counters behind Stats.
type counters struct {
	gets, bytesRead, puts, bytesWritten atomic.Int64
	cacheHits, cacheMisses              atomic.Int64
	headReads, headSwaps                atomic.Int64
}
