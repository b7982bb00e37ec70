package query

import (
	"math/bits"
	"sync"
)

// Row buffers outlive the evaluation that filled them. A join of a few
// thousand rows allocates a few hundred KiB of []any per query (its steps'
// relations, and the doubling of a scan whose size was guessed), and on a
// reader holding a large node cache each collection cycle those bytes
// trigger traces the whole cache: BenchmarkReads/file/q3 spent about a
// third of its CPU in the collector. Buffers that die inside an
// evaluation are handed to the next one instead, through pools by size
// class (a sync.Pool hands out whatever it holds, so each class holds
// buffers of one power-of-two capacity range).
//
// A pooled buffer is cleared before it is pooled: it must not keep values
// alive, and takers rely on its room being zero.

const (
	// minPoolClass: smaller buffers are cheap to allocate and not pooled.
	minPoolClass = 8 // 256 values
	// maxPoolClass: larger ones are rare, and a pool holding one would
	// keep megabytes alive until the next two collections.
	maxPoolClass = 20 // 1Mi values, 16 MiB
)

var rowPools [maxPoolClass + 1]sync.Pool

// getRows returns an empty buffer with room for at least n values: a
// pooled one if its class has one, a new one otherwise (rounded up to its
// class, so that it can go back to the pool it will be taken from).
func getRows(n int) []any {
	if n <= 0 {
		return nil
	}
	c := bits.Len(uint(n - 1)) // the smallest c with 1<<c >= n
	if c < minPoolClass {
		c = minPoolClass
	}
	if c > maxPoolClass {
		return make([]any, 0, n)
	}
	if p, _ := rowPools[c].Get().(*[]any); p != nil {
		return (*p)[:0]
	}
	return make([]any, 0, 1<<c)
}

// putRows pools b, whose values past len(b) are zero (a relation clears
// what it pops). The caller MUST NOT use b, or any slice of it, after.
func putRows(b []any) {
	c := bits.Len(uint(cap(b))) - 1 // the largest c with 1<<c <= cap(b)
	if c < minPoolClass || c > maxPoolClass {
		return
	}
	clear(b)
	b = b[:0]
	rowPools[c].Put(&b)
}

// joinBuf is scanJoin's scratch: the entity of each input row, and the
// rows in entity order.
type joinBuf struct {
	eids  []int64
	order []int32
}

// joinBufs holds scanJoin's scratch between joins (tens of KiB for a join
// of thousands of rows).
var joinBufs sync.Pool

// takeJoinBuf returns a joinBuf with room for n rows; its eids are not
// zeroed.
func takeJoinBuf(n int) *joinBuf {
	jb, _ := joinBufs.Get().(*joinBuf)
	if jb == nil {
		jb = &joinBuf{}
	}
	if cap(jb.eids) < n {
		jb.eids = make([]int64, n)
		jb.order = make([]int32, 0, n)
	}
	return jb
}
