package reader

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/node"
	"github.com/accretedb/accrete/pss"
)

// The nine index trees of a database. The four current trees hold the
// datoms true now; the four history trees hold what is no longer true (each
// retracted assertion and its retraction), so "now" never wades through the
// past; the log holds every datom ever transacted, in transaction order.
const (
	curEAVT = iota
	curAEVT
	curAVET
	curVAET
	histEAVT
	histAEVT
	histAVET
	histVAET
	logTEAV
	nTrees
)

// nCur is the number of current trees; tree i < nCur has history tree
// i+nCur.
const nCur = 4

var treeNames = [nTrees]string{"eavt", "aevt", "avet", "vaet", "history-eavt", "history-aevt", "history-avet", "history-vaet", "log"}

// treeIndex returns the sort order of tree i.
func treeIndex(i int) datom.Index {
	if i == logTEAV {
		return datom.TEAV
	}
	return datom.Index(i % nCur)
}

// curTree returns the current tree for an index (EAVT … VAET).
func curTree(idx datom.Index) int { return int(idx) }

// lazyTree is one stored index tree, opened on first use so that opening a
// database reads no index node it does not need. It is shared by every
// database value derived from the same commit.
type lazyTree struct {
	mu     sync.Mutex
	loaded bool
	addr   node.Address
	opts   pss.Options[datom.Datom]
	set    pss.Set[datom.Datom]
	// ready is &set once loaded: get's lock-free path, since every point
	// lookup asks for its tree and the set never changes once loaded.
	ready atomic.Pointer[pss.Set[datom.Datom]]
	// finger is the leaf the last point lookup in the tree ended in
	// (pss.Finger): lookups of entities in id order mostly land in it.
	finger pss.Finger[datom.Datom]
	// stats, for a current AEVT tree, count its datoms per attribute
	// (nil: unknown). Set before the tree is shared, never changed.
	stats *attrStats
}

func newLoadedTree(set pss.Set[datom.Datom]) *lazyTree {
	l := &lazyTree{loaded: true, set: set}
	l.ready.Store(&l.set)
	return l
}

// get returns the tree, loading its root on first use. A failed load is not
// remembered, so a cancelled context does not poison the value.
func (l *lazyTree) get(ctx context.Context) (pss.Set[datom.Datom], error) {
	if s := l.ready.Load(); s != nil {
		return *s, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.loaded {
		return l.set, nil
	}
	var s pss.Set[datom.Datom]
	var err error
	if l.addr.IsZero() {
		s, err = pss.New(l.opts)
	} else {
		s, err = pss.Open(ctx, l.addr, l.opts)
	}
	if err != nil {
		return s, fmt.Errorf("reader: open index: %w", err)
	}
	l.set, l.loaded = s, true
	l.ready.Store(&l.set)
	return s, nil
}

// treeOptions returns the pss options of tree i, stored through st (nil for
// an in-memory tree).
func treeOptions(st *konserve.Store, i int, width int) pss.Options[datom.Datom] {
	idx := treeIndex(i)
	// The overlay's sort keys lead with the ids a lookup names (an
	// entity in EAVT, an attribute in AEVT and AVET, a target in VAET):
	// as fences they keep those groups within leaves and let a lookup
	// stop at a leaf's end without fetching the next (pss.Options.Fence).
	o := pss.Options[datom.Datom]{Compare: datom.Comparator(idx), Width: width, Codec: datom.Codec(idx), Fence: overlayKeys[i]}
	if st != nil {
		o.Store = newNodeStore(st, idx)
	}
	return o
}

// overlayWidth is the node width of the in-memory overlay sets: narrower
// than stored trees, because every transaction copies one path per touched
// overlay and nothing of them is ever written.
const overlayWidth = 32

func overlayOptions(i int) pss.Options[datom.Datom] {
	return pss.Options[datom.Datom]{Compare: datom.Comparator(treeIndex(i)), Width: overlayWidth}
}

// maxValue sorts after every value under datom.CompareValues (which orders
// types it does not know after all the ones it does); it is the V of an
// inclusive upper seek bound.
type maxValue struct{}

func (maxValue) String() string { return "\uffff" }

// bounds returns the smallest and largest datoms, in the order of idx, whose
// leading components equal comps.
func bounds(idx datom.Index, comps []any) (lo, hi datom.Datom) {
	lo = datom.Datom{E: math.MinInt64, A: math.MinInt64, V: nil, Tx: math.MinInt64, Added: false}
	hi = datom.Datom{E: math.MaxInt64, A: math.MaxInt64, V: maxValue{}, Tx: math.MaxInt64, Added: true}
	order := componentOrder(idx)
	for i, c := range comps {
		if i >= len(order) {
			break
		}
		switch order[i] {
		case 'e':
			lo.E, hi.E = toID(c), toID(c)
		case 'a':
			lo.A, hi.A = toID(c), toID(c)
		case 'v':
			lo.V, hi.V = c, c
		case 't':
			lo.Tx, hi.Tx = toID(c), toID(c)
		}
	}
	return lo, hi
}

func componentOrder(idx datom.Index) string {
	switch idx {
	case datom.EAVT:
		return "eavt"
	case datom.AEVT:
		return "aevt"
	case datom.AVET:
		return "avet"
	case datom.VAET:
		return "vaet"
	default:
		return "teav"
	}
}

// toID converts an entity component to an ID; ints of other widths are
// accepted, anything else matches nothing.
func toID(c any) datom.ID {
	switch x := c.(type) {
	case int64:
		return x
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x)
		}
	}
	return -1
}

// normalizeComponents converts Go integers to int64 so that a component
// compares equal to the stored value. It copies comps only if it changes one.
func normalizeComponents(idx datom.Index, comps []any) []any {
	order := componentOrder(idx)
	var out []any
	for i, c := range comps {
		if i >= len(order) || order[i] != 'v' {
			continue
		}
		var n int64
		switch x := c.(type) {
		case int:
			n = int64(x)
		case int32:
			n = int64(x)
		default:
			continue
		}
		if out == nil {
			out = append([]any(nil), comps...)
		}
		out[i] = n
	}
	if out == nil {
		return comps
	}
	return out
}
