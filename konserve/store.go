package konserve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"
)

// Sentinel errors introduced by Store (the Backend-level ones are in
// errors.go).
var (
	// ErrUnknownOutcome is returned by SwapHead when the backend's answer
	// was ambiguous (a transport error, or a conflict that may come from a
	// retried request) and re-reading the head failed too: the swap may or
	// may not have taken effect. The caller must re-read the head before
	// deciding anything, and must not delete what the head may name.
	ErrUnknownOutcome = errors.New("konserve: outcome of head swap unknown")

	// ErrInvalidKey is returned for a key a Store or backend refuses: a head
	// key under "nodes/", an empty key, or (file backend) a key that could
	// escape the root or collide with the backend's own files.
	ErrInvalidKey = errors.New("konserve: invalid key")

	// ErrInvalidHash is returned by ParseHash for text that is not 64 hex
	// digits.
	ErrInvalidHash = errors.New("konserve: invalid hash")

	// ErrInvalidOptions is returned by Options.Validate and Open for
	// out-of-range options.
	ErrInvalidOptions = errors.New("konserve: invalid options")
)

// Defaults for zero Options fields.
const (
	DefaultCacheBytes  = 256 << 20
	DefaultParallelism = 16
)

// Options configure a Store. The zero value (and a nil *Options) means
// defaults. Options are read once, by Open or New; changing them afterwards
// has no effect.
type Options struct {
	// CacheBytes bounds the decoded-node cache in bytes, as counted by the
	// sizes DecodeFunc reports (plus a small per-entry overhead). 0 means
	// DefaultCacheBytes; a negative value disables the cache (concurrent
	// loads of one node are still collapsed).
	CacheBytes int64

	// Parallelism bounds the concurrent backend requests of one batch call
	// (PutNodes, LoadNodes). 0 means DefaultParallelism.
	Parallelism int
}

// Validate reports out-of-range options, wrapping ErrInvalidOptions. A nil
// *Options is valid.
func (o *Options) Validate() error {
	if o == nil {
		return nil
	}
	if o.Parallelism < 0 {
		return fmt.Errorf("konserve: options: parallelism %d is negative: %w", o.Parallelism, ErrInvalidOptions)
	}
	return nil
}

// withDefaults returns a copy of o with zero fields replaced by defaults.
// Out-of-range values (which New cannot report) are replaced too.
func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.CacheBytes == 0 {
		r.CacheBytes = DefaultCacheBytes
	}
	if r.Parallelism <= 0 {
		r.Parallelism = DefaultParallelism
	}
	return r
}

// batchPutter is implemented by backends that can make a batch of
// create-only writes durable more cheaply than one by one (the file backend
// syncs each touched directory once). Its contract is PutImmutable's for
// every key, holding when the call returns nil.
type batchPutter interface {
	putImmutableBatch(ctx context.Context, keys []string, datas [][]byte, limit int) error
}

// DecodeFunc turns a node's verified bytes into the value LoadNode caches.
// size is the value's approximate memory footprint in bytes, which the
// cache's byte bound counts. A DecodeFunc must not retain data beyond the
// call unless it owns it: the Store does not reuse the slice, so retaining it
// is safe, but counting it in size is then the honest thing to do.
type DecodeFunc func(data []byte) (value any, size int64, err error)

// Store is a content-addressed node store plus a few mutable heads, over one
// Backend. It is safe for concurrent use by many goroutines. Values returned
// by LoadNode are shared by every caller and the cache: treat them as
// immutable. Byte slices returned by GetNode and ReadHead belong to the
// caller.
type Store struct {
	b           Backend
	cache       *nodeCache
	flight      singleflight.Group
	parallelism int
	c           counters

	closeOnce sync.Once
	closeErr  error

	// heads records the head keys this Store has read or swapped: a
	// backend that stages objects in head files (the file backend) looks
	// there first for a node that has no object of its own.
	heads sync.Map // string -> struct{}
}

// noteHead records that key was read or swapped.
func (s *Store) noteHead(key string) {
	if _, ok := s.heads.Load(key); !ok {
		s.heads.Store(key, struct{}{})
	}
}

// headKeys returns the keys noteHead recorded.
func (s *Store) headKeys() []string {
	var ks []string
	s.heads.Range(func(k, _ any) bool {
		ks = append(ks, k.(string))
		return true
	})
	return ks
}

// getObject reads node key from the backend, or from the heads that stage
// it (stagingBackend) when it has no object of its own: the heads this
// Store has read or swapped, and if anyHead every head.
func (s *Store) getObject(ctx context.Context, key string, anyHead bool) ([]byte, error) {
	data, err := s.b.Get(ctx, key)
	if err != nil && errors.Is(err, ErrNotFound) {
		if sb, ok := s.b.(stagingBackend); ok {
			return sb.getStaged(ctx, key, s.headKeys(), anyHead)
		}
	}
	return data, err
}

// Open opens the store at rawURL:
//
//	file:///abs/path                    local directory (this package's file backend)
//	mem://name                          in-process bucket
//	s3://bucket/prefix?region=…&endpoint=…
//	gs://bucket/prefix, azblob://container/prefix
//
// Only schemes whose backend is compiled in are accepted; any other URL
// gives ErrUnsupportedURL. The Store owns the backend and closes it in Close.
func Open(ctx context.Context, rawURL string, opts *Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("konserve: open: parse url: %w (%w)", ErrUnsupportedURL, err)
	}
	open, ok := lookupScheme(u.Scheme)
	if !ok {
		return nil, fmt.Errorf("konserve: open %s: scheme %q: %w", u.Redacted(), u.Scheme, ErrUnsupportedURL)
	}
	b, err := open(ctx, u)
	if err != nil {
		return nil, err
	}
	return New(b, opts), nil
}

// New returns a Store over b, for tests, fault injection and backends
// configured in code. Out-of-range options are replaced by defaults (call
// opts.Validate first to reject them instead). The Store closes b in Close.
func New(b Backend, opts *Options) *Store {
	o := opts.withDefaults()
	return &Store{
		b:           b,
		cache:       newNodeCache(o.CacheBytes),
		parallelism: o.Parallelism,
	}
}

// Backend returns the Backend the Store wraps.
func (s *Store) Backend() Backend { return s.b }

// Close closes the backend. Calling it more than once returns the first
// result. Close does not wait for calls in progress; the caller must not
// start new ones.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if err := s.b.Close(); err != nil {
			s.closeErr = fmt.Errorf("konserve: close: %w", err)
		}
	})
	return s.closeErr
}

// Stats returns a snapshot of the Store's counters.
func (s *Store) Stats() Stats {
	cb, cn := s.cache.usage()
	return Stats{
		Gets:         s.c.gets.Load(),
		BytesRead:    s.c.bytesRead.Load(),
		Puts:         s.c.puts.Load(),
		BytesWritten: s.c.bytesWritten.Load(),
		CacheHits:    s.c.cacheHits.Load(),
		CacheMisses:  s.c.cacheMisses.Load(),
		HeadReads:    s.c.headReads.Load(),
		HeadSwaps:    s.c.headSwaps.Load(),
		CachedBytes:  cb,
		CachedNodes:  cn,
	}
}

// PutNode stores data under its address, nodes/<2 hex>/<64 hex>, and
// returns the address. The write is create-only: storing a node that exists
// is a successful no-op. When PutNode returns nil the node is durable and
// visible to every reader, so a head written afterwards may name it.
func (s *Store) PutNode(ctx context.Context, data []byte) (Hash, error) {
	h := HashOf(data)
	key := nodeKey(h)
	s.c.puts.Add(1)
	s.c.bytesWritten.Add(int64(len(data)))
	if err := s.b.PutImmutable(ctx, key, data); err != nil {
		return Hash{}, fmt.Errorf("konserve: put node %s: %w", key, err)
	}
	return h, nil
}

// PutNodes stores every element of datas as PutNode does, at most
// Parallelism at a time, and returns their addresses in order. When it
// returns nil every node is durable; on error some may have been written
// (they are orphans for garbage collection, never half-visible).
func (s *Store) PutNodes(ctx context.Context, datas [][]byte) ([]Hash, error) {
	hs := make([]Hash, len(datas))
	keys := make([]string, len(datas))
	var total int64
	for i, d := range datas {
		hs[i] = HashOf(d)
		keys[i] = nodeKey(hs[i])
		total += int64(len(d))
	}
	if len(datas) == 0 {
		return hs, nil
	}
	s.c.puts.Add(int64(len(datas)))
	s.c.bytesWritten.Add(total)
	if bp, ok := s.b.(batchPutter); ok {
		if err := bp.putImmutableBatch(ctx, keys, datas, s.parallelism); err != nil {
			return nil, fmt.Errorf("konserve: put nodes: %w", err)
		}
		return hs, nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.parallelism)
	for i := range datas {
		g.Go(func() error {
			if err := s.b.PutImmutable(gctx, keys[i], datas[i]); err != nil {
				return fmt.Errorf("konserve: put node %s: %w", keys[i], err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return hs, nil
}

// GetNode returns the bytes of node h, verified against h. A node that is
// not stored gives an error wrapping ErrNodeMissing; bytes that do not hash
// to h give an error wrapping ErrCorrupt. Both name the key.
func (s *Store) GetNode(ctx context.Context, h Hash) ([]byte, error) {
	key := nodeKey(h)
	s.c.gets.Add(1)
	data, err := s.getObject(ctx, key, true)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("konserve: get node %s: %w", key, ErrNodeMissing)
		}
		return nil, fmt.Errorf("konserve: get node %s: %w", key, err)
	}
	s.c.bytesRead.Add(int64(len(data)))
	if got := HashOf(data); got != h {
		return nil, fmt.Errorf("konserve: get node %s: bytes hash to %s: %w", key, got, ErrCorrupt)
	}
	return data, nil
}

// HasNode reports whether node h is stored. It reads the node (backends
// have no portable cheap existence check) but neither verifies nor caches
// it; a cached node answers true without a request.
func (s *Store) HasNode(ctx context.Context, h Hash) (bool, error) {
	if _, ok := s.cache.get(h); ok {
		return true, nil
	}
	key := nodeKey(h)
	s.c.gets.Add(1)
	// Only the heads this Store knows are searched: a sync asks about
	// every node it may copy, most of them absent, and a node staged in
	// an unknown head file that reads as absent is only copied again.
	data, err := s.getObject(ctx, key, false)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return false, nil
		}
		return false, fmt.Errorf("konserve: has node %s: %w", key, err)
	}
	s.c.bytesRead.Add(int64(len(data)))
	return true, nil
}

// LoadNode returns node h decoded by decode, from the cache when possible.
// Concurrent loads of one address share a single backend read and decode;
// a caller whose ctx ends stops waiting, while the shared load continues for
// the others. The cache is keyed by address alone, so every caller of one
// Store must decode a given address to an equivalent value (in practice: one
// DecodeFunc per Store). Decode errors are wrapped with the key and are not
// cached.
func (s *Store) LoadNode(ctx context.Context, h Hash, decode DecodeFunc) (any, error) {
	if v, ok := s.cache.get(h); ok {
		s.c.cacheHits.Add(1)
		return v, nil
	}
	return s.loadMiss(ctx, h, decode)
}

// loadMiss is LoadNode's miss path, kept apart so that the closure that
// captures h does not make every cache hit allocate (h would escape).
func (s *Store) loadMiss(ctx context.Context, h Hash, decode DecodeFunc) (any, error) {
	s.c.cacheMisses.Add(1)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("konserve: load node %s: %w", nodeKey(h), err)
	}
	ch := s.flight.DoChan(string(h[:]), func() (any, error) {
		// Another load may have filled the cache between our miss and
		// becoming the leader.
		if v, ok := s.cache.get(h); ok {
			return v, nil
		}
		// The shared load must not fail because the leader's caller gave
		// up while others still wait.
		data, err := s.GetNode(context.WithoutCancel(ctx), h)
		if err != nil {
			return nil, err
		}
		v, size, err := decode(data)
		if err != nil {
			return nil, fmt.Errorf("konserve: decode node %s: %w", nodeKey(h), err)
		}
		s.cache.add(h, v, size)
		return v, nil
	})
	select {
	case r := <-ch:
		return r.Val, r.Err
	case <-ctx.Done():
		return nil, fmt.Errorf("konserve: load node %s: %w", nodeKey(h), ctx.Err())
	}
}

// LoadNodes loads every address in hs as LoadNode does, at most Parallelism
// backend reads at a time, and returns the values in the order of hs. It is
// meant for prefetching the next level of a range scan.
func (s *Store) LoadNodes(ctx context.Context, hs []Hash, decode DecodeFunc) ([]any, error) {
	vs := make([]any, len(hs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.parallelism)
	for i, h := range hs {
		if v, ok := s.cache.get(h); ok {
			s.c.cacheHits.Add(1)
			vs[i] = v
			continue
		}
		g.Go(func() error {
			v, err := s.LoadNode(gctx, h, decode)
			vs[i] = v
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return vs, nil
}

// DeleteNode removes node h from the backend and the cache. It is for the
// garbage collector only: deleting a node some head still names breaks that
// database value. Deleting a missing node is not an error.
func (s *Store) DeleteNode(ctx context.Context, h Hash) error {
	key := nodeKey(h)
	s.cache.remove(h)
	if err := s.b.Delete(ctx, key); err != nil {
		return fmt.Errorf("konserve: delete node %s: %w", key, err)
	}
	s.cache.remove(h) // a load racing with the delete may have re-filled it
	return nil
}

// DeleteNodeIfOlder removes node h only if it is stored and was last
// written (or freshened by PutNode) before before, and reports whether it
// did. It is for the garbage collector: with a backend implementing
// ConditionalDeleter (all of konserve's) the check and the delete are one
// step against PutNode's freshening, so a node a writer has just stored
// again is kept even if it was listed as old. Other backends get a plain
// Delete, as DeleteNode.
func (s *Store) DeleteNodeIfOlder(ctx context.Context, h Hash, before time.Time) (bool, error) {
	key := nodeKey(h)
	cd, ok := s.b.(ConditionalDeleter)
	if !ok {
		if err := s.DeleteNode(ctx, h); err != nil {
			return false, err
		}
		return true, nil
	}
	deleted, err := cd.DeleteIfOlder(ctx, key, before)
	if err != nil {
		return false, fmt.Errorf("konserve: delete node %s: %w", key, err)
	}
	if deleted {
		s.cache.remove(h)
	}
	return deleted, nil
}

// DeleteNodesIfOlder is DeleteNodeIfOlder for each of hs, with at most
// limit deletions in flight (the Store's parallelism if limit <= 0), and
// reports per node whether it deleted it. Backends implementing
// BatchConditionalDeleter (file) do the batch in one call; on error some
// nodes may be deleted and others not.
func (s *Store) DeleteNodesIfOlder(ctx context.Context, hs []Hash, before time.Time, limit int) ([]bool, error) {
	if limit <= 0 {
		limit = s.parallelism
	}
	out := make([]bool, len(hs))
	if bd, ok := s.b.(BatchConditionalDeleter); ok {
		keys := make([]string, len(hs))
		for i, h := range hs {
			keys[i] = nodeKey(h)
		}
		deleted, err := bd.DeleteManyIfOlder(ctx, keys, before, limit)
		// A node some copy of which went may be gone even if another
		// was kept or an error came: forget them all.
		for _, h := range hs {
			s.cache.remove(h)
		}
		if err != nil {
			return nil, fmt.Errorf("konserve: delete %d nodes: %w", len(hs), err)
		}
		return deleted, nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for i, h := range hs {
		g.Go(func() error {
			d, err := s.DeleteNodeIfOlder(gctx, h, before)
			out[i] = d
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// SweepTemp removes the temporary objects a crashed writer left in the
// backend (see TempSweeper) that were last modified before before, or
// only counts them if dryRun. Backends without temporary objects report
// nothing.
func (s *Store) SweepTemp(ctx context.Context, before time.Time, dryRun bool) (files, bytes int64, err error) {
	ts, ok := s.b.(TempSweeper)
	if !ok {
		return 0, 0, nil
	}
	files, bytes, err = ts.SweepTemp(ctx, before, dryRun)
	if err != nil {
		return files, bytes, fmt.Errorf("konserve: sweep temporary files: %w", err)
	}
	return files, bytes, nil
}

// ListNodes calls fn for every stored node, in no particular order, and
// stops at the first error fn returns (returned wrapped). Objects under
// "nodes/" whose key is not a well-formed node key are skipped.
func (s *Store) ListNodes(ctx context.Context, fn func(h Hash, info ObjectInfo) error) error {
	err := s.b.List(ctx, nodePrefix, func(info ObjectInfo) error {
		h, ok := parseNodeKey(info.Key)
		if !ok {
			return nil
		}
		return fn(h, info)
	})
	if err != nil {
		return fmt.Errorf("konserve: list nodes: %w", err)
	}
	return nil
}

// checkHeadKey refuses keys that are not head keys.
func checkHeadKey(op, key string) error {
	if key == "" || isNodeKey(key) {
		return fmt.Errorf("konserve: %s %q: head keys must be non-empty and outside %q: %w", op, key, nodePrefix, ErrInvalidKey)
	}
	return nil
}

// ReadHead returns the bytes of the head key and their Version. A missing
// head gives an error wrapping ErrNotFound. Heads are never cached.
func (s *Store) ReadHead(ctx context.Context, key string) ([]byte, Version, error) {
	if err := checkHeadKey("read head", key); err != nil {
		return nil, "", err
	}
	s.c.headReads.Add(1)
	s.noteHead(key)
	data, v, err := s.b.ReadVersioned(ctx, key)
	if err != nil {
		return nil, "", fmt.Errorf("konserve: read head %s: %w", key, err)
	}
	return data, v, nil
}

// ReadHeadIfChanged is the cheap poll for watchers. If the head's version is
// still v it returns changed=false, no data and nv=v; otherwise the new bytes
// and version with changed=true. A head that is still absent when v is ""
// is unchanged; a head that disappeared since v gives ErrNotFound. Backends
// implementing ConditionalReader answer "unchanged" without sending bytes;
// others are read in full and compared.
func (s *Store) ReadHeadIfChanged(ctx context.Context, key string, v Version) (data []byte, nv Version, changed bool, err error) {
	if err := checkHeadKey("poll head", key); err != nil {
		return nil, "", false, err
	}
	s.c.headReads.Add(1)
	s.noteHead(key)
	if cr, ok := s.b.(ConditionalReader); ok {
		data, nv, changed, err = cr.ReadVersionedIfChanged(ctx, key, v)
	} else {
		data, nv, err = s.b.ReadVersioned(ctx, key)
		changed = err == nil && nv != v
	}
	if err != nil {
		if v == "" && errors.Is(err, ErrNotFound) {
			return nil, "", false, nil
		}
		return nil, "", false, fmt.Errorf("konserve: poll head %s: %w", key, err)
	}
	if !changed {
		return nil, v, false, nil
	}
	return data, nv, true, nil
}

// SwapHead replaces head key with data if its version is still old ("" means
// create only if absent) and returns the new version.
//
// Every head's bytes MUST be unique over the key's history (accrete heads
// carry a rising sequence number and their parent's address). SwapHead
// relies on it to resolve ambiguous answers: whenever Backend.Swap fails —
// a conflict may come from a retried request whose first attempt won, and
// any other error leaves the outcome unknown — SwapHead re-reads the key,
// and if it holds exactly data, the swap was ours and SwapHead succeeds with
// the version read. Outcomes:
//
//   - nil: the head held data when SwapHead returned (it may have moved on
//     since);
//   - ErrConflict: the head does not hold data; another writer's head is
//     current. After an ambiguous answer our swap may have landed and been
//     superseded already, so a writer must look for its head in the new
//     head's parent chain before re-applying anything;
//   - ErrUnknownOutcome: the swap failed ambiguously and the re-read failed
//     too;
//   - any other error: the swap did not take effect and the head is still
//     old (or absent); retrying the same swap is safe. This includes errors
//     refusing the key before any request.
func (s *Store) SwapHead(ctx context.Context, key string, old Version, data []byte) (Version, error) {
	if err := checkHeadKey("swap head", key); err != nil {
		return "", err
	}
	s.c.headSwaps.Add(1)
	var nv Version
	var swapErr error
	if sb, ok := s.b.(stagingBackend); ok {
		// Through the staging path without objects, so that what the
		// other heads this Store read stage is durable before this head
		// may name it.
		nv, _, swapErr = sb.swapStaged(ctx, key, old, data, nil, s.headKeys())
	} else {
		nv, swapErr = s.b.Swap(ctx, key, old, data)
	}
	s.noteHead(key)
	return s.resolveSwap(ctx, key, old, data, nv, swapErr)
}

// resolveSwap turns the backend's answer to a swap of key from old to data
// into SwapHead's outcome, re-reading the key when the answer is an error.
func (s *Store) resolveSwap(ctx context.Context, key string, old Version, data []byte, nv Version, swapErr error) (Version, error) {
	if swapErr == nil {
		return nv, nil
	}
	s.c.headReads.Add(1)
	cur, curV, readErr := s.b.ReadVersioned(ctx, key)
	switch {
	case readErr == nil && bytes.Equal(cur, data):
		return curV, nil
	case readErr == nil && curV == old:
		// Nobody moved the head and ours is not there: the swap did not
		// take effect; the backend's error says why (retry the same swap).
		return "", fmt.Errorf("konserve: swap head %s: %w", key, swapErr)
	case readErr == nil:
		return "", fmt.Errorf("konserve: swap head %s: %w", key, ErrConflict)
	case errors.Is(readErr, ErrNotFound):
		// Our bytes are not there: whatever happened, the swap did not
		// take effect. Report what the backend said.
		return "", fmt.Errorf("konserve: swap head %s: %w", key, swapErr)
	default:
		return "", fmt.Errorf("konserve: swap head %s: %w (swap: %v; re-read: %w)", key, ErrUnknownOutcome, swapErr, readErr)
	}
}

// PutNodesSwapHead is PutNodes(nodes) followed, once it has succeeded, by
// SwapHead(key, old, head): the head moves only after every node is
// durable, and the outcomes are those of the two calls (an error from
// PutNodes means the head was not touched). On the file backend the nodes
// are staged in the head's slot instead, durable in the same write as the
// head, and stored as their own files in the background (file_stage.go);
// GetNode reads them either way.
func (s *Store) PutNodesSwapHead(ctx context.Context, nodes [][]byte, key string, old Version, head []byte) ([]Hash, Version, error) {
	if err := checkHeadKey("swap head", key); err != nil {
		return nil, "", err
	}
	if sb, ok := s.b.(stagingBackend); ok && len(nodes) > 0 {
		objs := make([]stagedObject, len(nodes))
		addrs := make([]Hash, len(nodes))
		var total int64
		for i, d := range nodes {
			addrs[i] = HashOf(d)
			objs[i] = stagedObject{key: nodeKey(addrs[i]), data: d}
			total += int64(len(d))
		}
		s.c.headSwaps.Add(1)
		nv, staged, err := sb.swapStaged(ctx, key, old, head, objs, s.headKeys())
		if !errors.Is(err, errNotStaged) {
			s.noteHead(key)
			if err == nil {
				// The objects are written twice: in the slot (staged
				// bytes) and as their files (in the background).
				s.c.puts.Add(int64(len(nodes)))
				s.c.bytesWritten.Add(total + int64(staged))
			}
			v, err := s.resolveSwap(ctx, key, old, head, nv, err)
			return addrs, v, err
		}
		s.c.headSwaps.Add(-1)
	}
	addrs, err := s.PutNodes(ctx, nodes)
	if err != nil {
		return nil, "", err
	}
	v, err := s.SwapHead(ctx, key, old, head)
	return addrs, v, err
}

// Settle makes every object staged in the slots of the heads this Store
// has read or swapped (the file backend stages a commit's objects in its
// head file, see file_stage.go) a stored object of its own, waiting for
// the background writes of this Store's own, and clears those heads'
// older slots. A staged object is durable and readable through GetNode
// from the moment its head swap returns, so readers never need this;
// garbage collection settles before it sweeps (an object deleted as
// unreachable must not stay readable from an old slot), excision after it
// rewrites (purged bytes must not stay in an old slot), and a Writer when
// it closes (the bucket stops changing). Other backends have nothing to
// settle.
func (s *Store) Settle(ctx context.Context) error {
	st, ok := s.b.(interface {
		settle(context.Context, []string) error
	})
	if !ok {
		return nil
	}
	if err := st.settle(ctx, s.headKeys()); err != nil {
		return fmt.Errorf("konserve: settle: %w", err)
	}
	return nil
}

// DeleteHead removes head key. Deleting a missing head is not an error.
func (s *Store) DeleteHead(ctx context.Context, key string) error {
	if err := checkHeadKey("delete head", key); err != nil {
		return err
	}
	if err := s.b.Delete(ctx, key); err != nil {
		return fmt.Errorf("konserve: delete head %s: %w", key, err)
	}
	return nil
}

// ListHeads returns the keys of the heads whose key starts with prefix
// (e.g. "branches/"), in no particular order. Node keys are never returned.
func (s *Store) ListHeads(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	err := s.b.List(ctx, prefix, func(info ObjectInfo) error {
		if !isNodeKey(info.Key) {
			keys = append(keys, info.Key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("konserve: list heads %q: %w", prefix, err)
	}
	return keys, nil
}
