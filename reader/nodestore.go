package reader

import (
	"context"

	"github.com/accretedb/accrete/datom"
	"github.com/accretedb/accrete/konserve"
	"github.com/accretedb/accrete/node"
	"github.com/accretedb/accrete/pss"
)

// nodeStore adapts a konserve.Store to pss.NodeStore for one index: nodes
// are fetched, verified and decoded through the store's byte-bounded cache,
// so every database value opened from one Store shares one cache.
type nodeStore struct {
	st     *konserve.Store
	codec  *datom.IndexCodec
	decode konserve.DecodeFunc
}

var (
	_ pss.NodeStore[datom.Datom]   = (*nodeStore)(nil)
	_ pss.BatchLoader[datom.Datom] = (*nodeStore)(nil)
	_ pss.BatchStorer[datom.Datom] = (*nodeStore)(nil)
	_ pss.CacheReader[datom.Datom] = (*nodeStore)(nil)
)

// Cached implements pss.CacheReader through the store's node cache.
func (s *nodeStore) Cached(addr node.Address) (*node.Node[datom.Datom], bool) {
	v, ok := s.st.CachedNode(konserve.Hash(addr))
	if !ok {
		return nil, false
	}
	n, ok := v.(*node.Node[datom.Datom])
	return n, ok
}

func newNodeStore(st *konserve.Store, idx datom.Index) *nodeStore {
	ns := &nodeStore{st: st, codec: datom.Codec(idx)}
	ns.decode = func(data []byte) (any, int64, error) {
		n, err := node.Decode[datom.Datom](data, ns.codec)
		if err != nil {
			return nil, 0, err
		}
		// Decoded datoms take about three times their encoded size.
		return n, int64(len(data)) * 3, nil
	}
	return ns
}

// Load implements pss.NodeStore.
func (s *nodeStore) Load(ctx context.Context, addr node.Address) (*node.Node[datom.Datom], error) {
	v, err := s.st.LoadNode(ctx, konserve.Hash(addr), s.decode)
	if err != nil {
		return nil, err
	}
	return v.(*node.Node[datom.Datom]), nil
}

// LoadMany implements pss.BatchLoader.
func (s *nodeStore) LoadMany(ctx context.Context, addrs []node.Address) ([]*node.Node[datom.Datom], error) {
	// A warm scan finds every node in the cache: serve it from there,
	// without the parallel loader's goroutine group.
	out := make([]*node.Node[datom.Datom], len(addrs))
	for i, a := range addrs {
		v, ok := s.st.CachedNode(konserve.Hash(a))
		if !ok {
			return s.loadMany(ctx, addrs)
		}
		out[i] = v.(*node.Node[datom.Datom])
	}
	return out, nil
}

// loadMany loads addrs through the store's parallel loader.
func (s *nodeStore) loadMany(ctx context.Context, addrs []node.Address) ([]*node.Node[datom.Datom], error) {
	hs := make([]konserve.Hash, len(addrs))
	for i, a := range addrs {
		hs[i] = konserve.Hash(a)
	}
	vs, err := s.st.LoadNodes(ctx, hs, s.decode)
	if err != nil {
		return nil, err
	}
	out := make([]*node.Node[datom.Datom], len(vs))
	for i, v := range vs {
		out[i] = v.(*node.Node[datom.Datom])
	}
	return out, nil
}

// Store implements pss.NodeStore.
func (s *nodeStore) Store(ctx context.Context, e pss.Encoded[datom.Datom]) error {
	_, err := s.st.PutNode(ctx, e.Data)
	return err
}

// StoreMany implements pss.BatchStorer through konserve's batched put.
func (s *nodeStore) StoreMany(ctx context.Context, es []pss.Encoded[datom.Datom]) error {
	datas := make([][]byte, len(es))
	for i, e := range es {
		datas[i] = e.Data
	}
	_, err := s.st.PutNodes(ctx, datas)
	return err
}
