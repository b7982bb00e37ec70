package ops

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
	"golang.org/x/sync/errgroup"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/node"
)

// DefaultParallelism bounds concurrent bucket requests when an options
// struct leaves Parallelism at 0.
const DefaultParallelism = 16

// kind says what an address names, which decides how it is read.
type kind uint8

const (
	kindTree kind = iota // an index tree node of unknown level
	kindLeaf             // a tree node known to be a leaf (its parent has level 1)
	kindTail             // a log tail node: names nothing
)

// item is one address to visit.
type item struct {
	h konserve.Hash
	k kind
}

// codecs maps every datom index codec ID to its codec, so a tree node is
// decoded by the codec its own header names and ops needs no list of tree
// names.
var codecs = func() map[string]*datom.IndexCodec {
	m := map[string]*datom.IndexCodec{}
	for _, idx := range []datom.Index{datom.EAVT, datom.AEVT, datom.AVET, datom.VAET, datom.TEAV} {
		c := datom.Codec(idx)
		m[c.ID()] = c
	}
	return m
}()

// header reads the codec ID and level at the front of an encoded tree node
// (layout in package node's doc) without decoding its keys.
func header(data []byte) (codecID string, level int, err error) {
	if len(data) == 0 || !node.KnownFormat(data[0]) {
		return "", 0, fmt.Errorf("%w: bad format version", ErrUnknownNode)
	}
	dec := msgpack.NewDecoder(bytes.NewReader(data[1:]))
	if codecID, err = dec.DecodeString(); err != nil {
		return "", 0, fmt.Errorf("%w: codec id: %v", ErrUnknownNode, err)
	}
	if level, err = dec.DecodeInt(); err != nil || level < 0 || level > node.MaxLevel {
		return "", 0, fmt.Errorf("%w: level: %v", ErrUnknownNode, err)
	}
	return codecID, level, nil
}

// children returns the level of tree node data and, for a branch node, its
// children. With full set, a leaf is decoded too, so that a malformed leaf
// is reported (Verify); otherwise leaves are not decoded (GC, Sync).
func children(data []byte, full bool) (level int, kids []konserve.Hash, err error) {
	id, level, err := header(data)
	if err != nil {
		return 0, nil, err
	}
	codec, ok := codecs[id]
	if !ok {
		return 0, nil, fmt.Errorf("%w: key codec %q", ErrUnknownNode, id)
	}
	if level == 0 && !full {
		return 0, nil, nil
	}
	n, err := node.Decode[datom.Datom](data, codec)
	if err != nil {
		return 0, nil, err
	}
	kids = make([]konserve.Hash, len(n.Children))
	for i, c := range n.Children {
		kids[i] = konserve.Hash(c)
	}
	return n.Level, kids, nil
}

// commitItems returns what commit c names besides its parents: its tree
// roots and its tail.
func commitItems(c *branch.Commit) []item {
	out := make([]item, 0, len(c.Roots)+1)
	for _, r := range c.Roots {
		if !r.Addr.IsZero() {
			out = append(out, item{h: r.Addr, k: kindTree})
		}
	}
	if !c.Tail.IsZero() {
		out = append(out, item{h: c.Tail, k: kindTail})
	}
	return out
}

// hashSet is a set of addresses safe for concurrent use.
type hashSet struct {
	mu sync.Mutex
	m  map[konserve.Hash]struct{}
}

func newHashSet() *hashSet { return &hashSet{m: make(map[konserve.Hash]struct{})} }

// add adds h and reports whether it was new.
func (s *hashSet) add(h konserve.Hash) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[h]; ok {
		return false
	}
	s.m[h] = struct{}{}
	return true
}

func (s *hashSet) has(h konserve.Hash) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.m[h]
	return ok
}

// walkStats counts what a walk did.
type walkStats struct {
	visited int64 // addresses newly added to the seen set
	fetched int64 // nodes read from the bucket
	bytes   int64 // bytes read
}

// walk visits every address reachable from items that seen does not hold
// yet, level by level, reading each level with at most par requests at a
// time, and adds each to seen. Leaves are not read unless fetchLeaves. Each
// node read is passed to onNode (which may be nil) with its bytes and, for a
// tree node, its level; onNode runs concurrently. A read or decode error is
// passed to onErr: returning nil skips that node's subtree, returning an
// error aborts the walk with it.
func walk(ctx context.Context, st *konserve.Store, par int, seen *hashSet, items []item, fetchLeaves, fullDecode bool,
	onNode func(it item, data []byte) error, onErr func(it item, err error) error) (walkStats, error) {
	var ws walkStats
	var mu sync.Mutex
	frontier := make([]item, 0, len(items))
	for _, it := range items {
		if seen.add(it.h) {
			ws.visited++
			frontier = append(frontier, it)
		}
	}
	for len(frontier) > 0 {
		var next []item
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(par)
		for _, it := range frontier {
			if it.k == kindLeaf && !fetchLeaves {
				continue
			}
			g.Go(func() error {
				data, err := st.GetNode(gctx, it.h)
				if err != nil {
					if gctx.Err() != nil {
						return gctx.Err()
					}
					return onErr(it, err)
				}
				mu.Lock()
				ws.fetched++
				ws.bytes += int64(len(data))
				mu.Unlock()
				if onNode != nil {
					if err := onNode(it, data); err != nil {
						return err
					}
				}
				if it.k == kindTail {
					return nil
				}
				level, kids, err := children(data, fullDecode)
				if err != nil {
					return onErr(it, fmt.Errorf("ops: node %s: %w", it.h, err))
				}
				k := kindTree
				if level == 1 {
					k = kindLeaf
				}
				mu.Lock()
				defer mu.Unlock()
				for _, c := range kids {
					if seen.add(c) {
						ws.visited++
						next = append(next, item{h: c, k: k})
					}
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return ws, err
		}
		frontier = next
	}
	return ws, nil
}

func orDefault(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}
