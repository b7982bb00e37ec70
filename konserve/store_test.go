package konserve_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/accretedb/accrete/internal/blobtest"
	"github.com/accretedb/accrete/konserve"
)

// decodeString is a DecodeFunc for tests: the node as a *string (a pointer,
// so tests can check that collapsed loads share one value), sized by its
// length.
func decodeString(data []byte) (any, int64, error) {
	s := string(data)
	return &s, int64(len(s)), nil
}

func TestNodeRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, dir := openFileStore(t, nil)
	data := []byte("a node's bytes")
	h, err := s.PutNode(ctx, data)
	if err != nil {
		t.Fatalf("PutNode: %v", err)
	}
	if want := konserve.HashOf(data); h != want {
		t.Fatalf("PutNode returned %s, want HashOf = %s", h, want)
	}
	// The layout is part of the format: nodes/<2 hex>/<64 hex>.
	if _, err := os.Stat(filepath.Join(dir, "nodes", h.String()[:2], h.String())); err != nil {
		t.Errorf("node file not at nodes/<2 hex>/<64 hex>: %v", err)
	}
	got, err := s.GetNode(ctx, h)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("GetNode = %q, %v; want %q, nil", got, err, data)
	}
	if ok, err := s.HasNode(ctx, h); !ok || err != nil {
		t.Errorf("HasNode(stored) = %v, %v; want true, nil", ok, err)
	}
	if _, err := s.PutNode(ctx, data); err != nil {
		t.Errorf("second PutNode of the same bytes = %v, want nil", err)
	}

	datas := [][]byte{[]byte("one"), []byte("two"), []byte("three"), []byte("one")}
	hs, err := s.PutNodes(ctx, datas)
	if err != nil {
		t.Fatalf("PutNodes: %v", err)
	}
	for i, d := range datas {
		if hs[i] != konserve.HashOf(d) {
			t.Errorf("PutNodes[%d] = %s, want %s", i, hs[i], konserve.HashOf(d))
		}
		if got, err := s.GetNode(ctx, hs[i]); err != nil || !bytes.Equal(got, d) {
			t.Errorf("GetNode(PutNodes[%d]) = %q, %v; want %q, nil", i, got, err, d)
		}
	}

	var listed []konserve.Hash
	if err := s.ListNodes(ctx, func(h konserve.Hash, info konserve.ObjectInfo) error {
		listed = append(listed, h)
		return nil
	}); err != nil {
		t.Fatalf("ListNodes: %v", err)
	}
	want := []konserve.Hash{h, hs[0], hs[1], hs[2]}
	cmp := func(a, b konserve.Hash) int { return bytes.Compare(a[:], b[:]) }
	slices.SortFunc(listed, cmp)
	slices.SortFunc(want, cmp)
	if !slices.Equal(listed, want) {
		t.Errorf("ListNodes = %v, want %v", listed, want)
	}

	if err := s.DeleteNode(ctx, h); err != nil {
		t.Fatalf("DeleteNode: %v", err)
	}
	if _, err := s.GetNode(ctx, h); !errors.Is(err, konserve.ErrNodeMissing) {
		t.Errorf("GetNode after DeleteNode error = %v, want ErrNodeMissing", err)
	}
}

func TestGetNodeDetectsFlippedByte(t *testing.T) {
	ctx := context.Background()
	s, dir := openFileStore(t, nil)
	data := bytes.Repeat([]byte("0123456789"), 100)
	h, err := s.PutNode(ctx, data)
	if err != nil {
		t.Fatalf("PutNode: %v", err)
	}
	key := "nodes/" + h.String()[:2] + "/" + h.String()
	path := filepath.Join(dir, filepath.FromSlash(key))
	stored, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, len(stored) / 2, len(stored) - 1} {
		flipped := slices.Clone(stored)
		flipped[i] ^= 0x01
		if err := os.WriteFile(path, flipped, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := s.GetNode(ctx, h)
		if !errors.Is(err, konserve.ErrCorrupt) {
			t.Fatalf("byte %d flipped: GetNode error = %v, want ErrCorrupt", i, err)
		}
		if !strings.Contains(err.Error(), key) {
			t.Errorf("byte %d flipped: error %q does not name the key %s", i, err, key)
		}
		if _, err := s.LoadNode(ctx, h, decodeString); !errors.Is(err, konserve.ErrCorrupt) {
			t.Errorf("byte %d flipped: LoadNode error = %v, want ErrCorrupt", i, err)
		}
	}
	if st := s.Stats(); st.CachedNodes != 0 {
		t.Errorf("a corrupt node was cached: CachedNodes = %d, want 0", st.CachedNodes)
	}
}

func TestMissingNode(t *testing.T) {
	ctx := context.Background()
	s, _ := openFileStore(t, nil)
	h := konserve.HashOf([]byte("never stored"))
	_, err := s.GetNode(ctx, h)
	if !errors.Is(err, konserve.ErrNodeMissing) {
		t.Fatalf("GetNode(missing) error = %v, want ErrNodeMissing", err)
	}
	if errors.Is(err, konserve.ErrNotFound) {
		t.Errorf("GetNode(missing) error %v also matches ErrNotFound; a missing node must be distinct from a missing head", err)
	}
	if !strings.Contains(err.Error(), h.String()) {
		t.Errorf("error %q does not name the hash %s", err, h)
	}
	if _, err := s.LoadNode(ctx, h, decodeString); !errors.Is(err, konserve.ErrNodeMissing) {
		t.Errorf("LoadNode(missing) error = %v, want ErrNodeMissing", err)
	}
	if ok, err := s.HasNode(ctx, h); ok || err != nil {
		t.Errorf("HasNode(missing) = %v, %v; want false, nil", ok, err)
	}
	if err := s.DeleteNode(ctx, h); err != nil {
		t.Errorf("DeleteNode(missing) = %v, want nil", err)
	}
}

func TestCacheCounters(t *testing.T) {
	ctx := context.Background()
	s, _ := openFileStore(t, nil)
	h, err := s.PutNode(ctx, []byte("cached"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		v, err := s.LoadNode(ctx, h, decodeString)
		if err != nil {
			t.Fatalf("LoadNode #%d: %v", i, err)
		}
		if got := *v.(*string); got != "cached" {
			t.Fatalf("LoadNode #%d = %q, want %q", i, got, "cached")
		}
	}
	st := s.Stats()
	want := konserve.Stats{Gets: 1, BytesRead: 6, Puts: 1, BytesWritten: 6, CacheHits: 2, CacheMisses: 1, CachedNodes: 1, CachedBytes: st.CachedBytes}
	if st != want {
		t.Errorf("Stats = %+v, want %+v", st, want)
	}
	if st.CachedBytes < 6 {
		t.Errorf("CachedBytes = %d, want at least the node's size 6", st.CachedBytes)
	}
	if err := s.DeleteNode(ctx, h); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.CachedNodes != 0 {
		t.Errorf("after DeleteNode CachedNodes = %d, want 0", st.CachedNodes)
	}
	if _, err := s.LoadNode(ctx, h, decodeString); !errors.Is(err, konserve.ErrNodeMissing) {
		t.Errorf("LoadNode after DeleteNode error = %v, want ErrNodeMissing (evicted, not served stale)", err)
	}
}

func TestCacheDisabled(t *testing.T) {
	ctx := context.Background()
	s, _ := openFileStore(t, &konserve.Options{CacheBytes: -1})
	h, err := s.PutNode(ctx, []byte("uncached"))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := s.LoadNode(ctx, h, decodeString); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.Gets != 3 || st.CacheHits != 0 || st.CachedNodes != 0 {
		t.Errorf("with the cache disabled Stats = %+v, want 3 Gets, 0 hits, 0 cached", st)
	}
}

// gatedBackend blocks node Gets until released and counts them.
type gatedBackend struct {
	konserve.Backend
	gets    atomic.Int64
	entered chan struct{}
	release chan struct{}
}

func (g *gatedBackend) Get(ctx context.Context, key string) ([]byte, error) {
	if g.gets.Add(1) == 1 {
		close(g.entered)
	}
	<-g.release
	return g.Backend.Get(ctx, key)
}

func TestLoadNodeCollapsesConcurrentLoads(t *testing.T) {
	ctx := context.Background()
	fs, _ := openFileStore(t, nil)
	h, err := fs.PutNode(ctx, []byte("shared node"))
	if err != nil {
		t.Fatal(err)
	}
	gb := &gatedBackend{Backend: fs.Backend(), entered: make(chan struct{}), release: make(chan struct{})}
	s := konserve.New(gb, nil)
	var decodes atomic.Int64
	decode := func(data []byte) (any, int64, error) {
		decodes.Add(1)
		return decodeString(data)
	}
	const n = 64
	vals := make([]any, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { vals[i], errs[i] = s.LoadNode(ctx, h, decode) })
	}
	<-gb.entered
	close(gb.release)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("LoadNode #%d: %v", i, errs[i])
		}
		if vals[i] != vals[0] {
			t.Errorf("LoadNode #%d returned a different value (%p) than #0 (%p)", i, vals[i], vals[0])
		}
	}
	if got := gb.gets.Load(); got != 1 {
		t.Errorf("%d concurrent LoadNode calls sent %d backend Gets, want 1", n, got)
	}
	if got := decodes.Load(); got != 1 {
		t.Errorf("%d concurrent LoadNode calls decoded %d times, want 1", n, got)
	}
	if st := s.Stats(); st.CacheHits+st.CacheMisses != n || st.Gets != 1 {
		t.Errorf("Stats = %+v, want hits+misses = %d and Gets = 1", st, n)
	}
}

func TestLoadNodeCallerCancel(t *testing.T) {
	fs, _ := openFileStore(t, nil)
	h, err := fs.PutNode(context.Background(), []byte("slow node"))
	if err != nil {
		t.Fatal(err)
	}
	gb := &gatedBackend{Backend: fs.Backend(), entered: make(chan struct{}), release: make(chan struct{})}
	s := konserve.New(gb, nil)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := s.LoadNode(ctx, h, decodeString)
		errc <- err
	}()
	<-gb.entered
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("LoadNode after cancel error = %v, want context.Canceled", err)
	}
	// The shared load goes on for others: a second caller gets the node.
	close(gb.release)
	v, err := s.LoadNode(context.Background(), h, decodeString)
	if err != nil || *v.(*string) != "slow node" {
		t.Errorf("LoadNode after an abandoned load = %v, %v; want %q", v, err, "slow node")
	}
}

func TestCacheByteBound(t *testing.T) {
	ctx := context.Background()
	const bound, nodeSize, nodes = 20_000, 1000, 60
	s, _ := openFileStore(t, &konserve.Options{CacheBytes: bound})
	var hs []konserve.Hash
	for i := range nodes {
		h, err := s.PutNode(ctx, fmt.Appendf(nil, "%0*d", nodeSize, i))
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	maxCached := int64(0)
	for _, h := range hs {
		if _, err := s.LoadNode(ctx, h, decodeString); err != nil {
			t.Fatal(err)
		}
		st := s.Stats()
		if st.CachedBytes > bound {
			t.Fatalf("CachedBytes = %d exceeds the bound %d", st.CachedBytes, bound)
		}
		maxCached = max(maxCached, st.CachedNodes)
	}
	// Each entry counts its size plus a fixed overhead below 1000 bytes, so
	// between 10 and 20 nodes of 1000 bytes fit.
	if maxCached < bound/(2*nodeSize) || maxCached >= bound/nodeSize {
		t.Errorf("at most %d nodes cached, want between %d and %d", maxCached, bound/(2*nodeSize), bound/nodeSize-1)
	}
	// LRU order: the newest node is a hit, the oldest was evicted.
	before := s.Stats()
	if _, err := s.LoadNode(ctx, hs[nodes-1], decodeString); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LoadNode(ctx, hs[0], decodeString); err != nil {
		t.Fatal(err)
	}
	after := s.Stats()
	if hits, misses := after.CacheHits-before.CacheHits, after.CacheMisses-before.CacheMisses; hits != 1 || misses != 1 {
		t.Errorf("newest then oldest: %d hits and %d misses, want 1 and 1", hits, misses)
	}
	// A node larger than the whole bound is served but never cached.
	big, err := s.PutNode(ctx, bytes.Repeat([]byte("x"), bound+1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.LoadNode(ctx, big, decodeString); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.CachedBytes > bound {
		t.Errorf("after loading an oversized node CachedBytes = %d > bound %d", st.CachedBytes, bound)
	}
}

func TestLoadNodes(t *testing.T) {
	ctx := context.Background()
	s, _ := openFileStore(t, &konserve.Options{Parallelism: 4})
	var hs []konserve.Hash
	for i := range 40 {
		h, err := s.PutNode(ctx, fmt.Appendf(nil, "node %d", i))
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	if _, err := s.LoadNode(ctx, hs[3], decodeString); err != nil {
		t.Fatal(err)
	}
	vs, err := s.LoadNodes(ctx, hs, decodeString)
	if err != nil {
		t.Fatalf("LoadNodes: %v", err)
	}
	for i, v := range vs {
		if got, want := *v.(*string), fmt.Sprintf("node %d", i); got != want {
			t.Errorf("LoadNodes[%d] = %q, want %q", i, got, want)
		}
	}
	missing := append(slices.Clone(hs[:5]), konserve.HashOf([]byte("absent")))
	if _, err := s.LoadNodes(ctx, missing, decodeString); !errors.Is(err, konserve.ErrNodeMissing) {
		t.Errorf("LoadNodes with an absent node error = %v, want ErrNodeMissing", err)
	}
}

func TestDecodeError(t *testing.T) {
	ctx := context.Background()
	s, _ := openFileStore(t, nil)
	h, err := s.PutNode(ctx, []byte("undecodable"))
	if err != nil {
		t.Fatal(err)
	}
	errBad := errors.New("bad format")
	_, err = s.LoadNode(ctx, h, func([]byte) (any, int64, error) { return nil, 0, errBad })
	if !errors.Is(err, errBad) || !strings.Contains(err.Error(), h.String()) {
		t.Errorf("LoadNode with failing decode error = %v, want it to wrap the decode error and name the node", err)
	}
	if st := s.Stats(); st.CachedNodes != 0 {
		t.Errorf("a failed decode was cached: CachedNodes = %d", st.CachedNodes)
	}
}

func TestHeads(t *testing.T) {
	ctx := context.Background()
	s, _ := openFileStore(t, nil)
	const key = "branches/main/HEAD"
	if _, _, err := s.ReadHead(ctx, key); !errors.Is(err, konserve.ErrNotFound) {
		t.Errorf("ReadHead(missing) error = %v, want ErrNotFound", err)
	}
	if data, nv, changed, err := s.ReadHeadIfChanged(ctx, key, ""); err != nil || changed || data != nil || nv != "" {
		t.Errorf("ReadHeadIfChanged(still absent) = %q, %q, %v, %v; want nil, \"\", false, nil", data, nv, changed, err)
	}
	v1, err := s.SwapHead(ctx, key, "", []byte("seq 1"))
	if err != nil {
		t.Fatalf("SwapHead(create): %v", err)
	}
	data, v, err := s.ReadHead(ctx, key)
	if err != nil || string(data) != "seq 1" || v != v1 {
		t.Errorf("ReadHead = %q, %q, %v; want %q, %q, nil", data, v, err, "seq 1", v1)
	}
	if data, nv, changed, err := s.ReadHeadIfChanged(ctx, key, v1); err != nil || changed || data != nil || nv != v1 {
		t.Errorf("ReadHeadIfChanged(current) = %q, %q, %v, %v; want nil, %q, false, nil", data, nv, changed, err, v1)
	}
	v2, err := s.SwapHead(ctx, key, v1, []byte("seq 2"))
	if err != nil {
		t.Fatalf("SwapHead(v1): %v", err)
	}
	if data, nv, changed, err := s.ReadHeadIfChanged(ctx, key, v1); err != nil || !changed || string(data) != "seq 2" || nv != v2 {
		t.Errorf("ReadHeadIfChanged(stale) = %q, %q, %v, %v; want %q, %q, true, nil", data, nv, changed, err, "seq 2", v2)
	}
	if _, err := s.SwapHead(ctx, key, v1, []byte("seq 2 by someone else")); !errors.Is(err, konserve.ErrConflict) {
		t.Errorf("SwapHead from a stale version error = %v, want ErrConflict", err)
	}
	if _, err := s.SwapHead(ctx, "branches/dev/HEAD", "", []byte("dev 1")); err != nil {
		t.Fatal(err)
	}
	heads, err := s.ListHeads(ctx, "branches/")
	slices.Sort(heads)
	if want := []string{"branches/dev/HEAD", key}; err != nil || !slices.Equal(heads, want) {
		t.Errorf("ListHeads = %q, %v; want %q", heads, err, want)
	}
	if err := s.DeleteHead(ctx, "branches/dev/HEAD"); err != nil {
		t.Fatalf("DeleteHead: %v", err)
	}
	if _, _, _, err := s.ReadHeadIfChanged(ctx, "branches/dev/HEAD", "some-version"); !errors.Is(err, konserve.ErrNotFound) {
		t.Errorf("ReadHeadIfChanged(deleted head) error = %v, want ErrNotFound", err)
	}
	if st := s.Stats(); st.HeadSwaps != 4 || st.Gets != 0 {
		t.Errorf("Stats = %+v, want 4 HeadSwaps and no node Gets", st)
	}
	for _, bad := range []string{"", "nodes/ab/abc", "nodes/"} {
		if _, _, err := s.ReadHead(ctx, bad); !errors.Is(err, konserve.ErrInvalidKey) {
			t.Errorf("ReadHead(%q) error = %v, want ErrInvalidKey", bad, err)
		}
		if _, err := s.SwapHead(ctx, bad, "", []byte("x")); !errors.Is(err, konserve.ErrInvalidKey) {
			t.Errorf("SwapHead(%q) error = %v, want ErrInvalidKey", bad, err)
		}
	}
}

func TestFileKeysStayUnderRoot(t *testing.T) {
	ctx := context.Background()
	s, _ := openFileStore(t, nil)
	for _, key := range []string{"../escape", "branches/../../escape", "/abs", "a//b", "a/./b", "branches/.HEAD.lock", "a\\b", "x/"} {
		if _, err := s.SwapHead(ctx, key, "", []byte("x")); !errors.Is(err, konserve.ErrInvalidKey) {
			t.Errorf("SwapHead(%q) error = %v, want ErrInvalidKey", key, err)
		}
		if _, _, err := s.ReadHead(ctx, key); !errors.Is(err, konserve.ErrInvalidKey) {
			t.Errorf("ReadHead(%q) error = %v, want ErrInvalidKey", key, err)
		}
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	for _, u := range []string{"nosuch://x", "file://host/path", "file:relative", "file:///tmp/x?opt=1", "::"} {
		if s, err := konserve.Open(ctx, u, nil); !errors.Is(err, konserve.ErrUnsupportedURL) {
			t.Errorf("Open(%q) error = %v, want ErrUnsupportedURL", u, err)
			if s != nil {
				_ = s.Close()
			}
		}
	}
	if _, err := konserve.Open(ctx, "file://"+t.TempDir(), &konserve.Options{Parallelism: -1}); !errors.Is(err, konserve.ErrInvalidOptions) {
		t.Errorf("Open with Parallelism -1 error = %v, want ErrInvalidOptions", err)
	}
	// A store reopened on the same directory sees what the first wrote.
	dir := filepath.Join(t.TempDir(), "missing", "parents")
	s1, err := konserve.Open(ctx, "file://"+dir, nil)
	if err != nil {
		t.Fatalf("Open creating parents: %v", err)
	}
	h, err := s1.PutNode(ctx, []byte("persisted"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := konserve.Open(ctx, "file://"+dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got, err := s2.GetNode(ctx, h); err != nil || string(got) != "persisted" {
		t.Errorf("reopened GetNode = %q, %v; want %q", got, err, "persisted")
	}
}

// faultyStore returns a Store over a Faulty over a fresh file backend.
func faultyStore(t *testing.T) (*konserve.Store, *blobtest.Faulty) {
	t.Helper()
	f := blobtest.NewFaulty(newFileBackend(t))
	s := konserve.New(f, nil)
	t.Cleanup(func() { _ = s.Close() })
	return s, f
}

func TestSwapHeadAmbiguity(t *testing.T) {
	ctx := context.Background()
	const key = "branches/main/HEAD"
	setup := func(t *testing.T) (*konserve.Store, *blobtest.Faulty, konserve.Version) {
		s, f := faultyStore(t)
		v, err := s.SwapHead(ctx, key, "", []byte("seq 1"))
		if err != nil {
			t.Fatal(err)
		}
		f.Reset()
		return s, f, v
	}
	checkHead := func(t *testing.T, s *konserve.Store, want string, wantV konserve.Version) {
		t.Helper()
		data, v, err := s.ReadHead(ctx, key)
		if err != nil || string(data) != want || (wantV != "" && v != wantV) {
			t.Errorf("head = %q, %q, %v; want %q, %q", data, v, err, want, wantV)
		}
	}

	t.Run("LostReplyIsSuccess", func(t *testing.T) {
		s, f, v1 := setup(t)
		f.LoseReplyAt(blobtest.OpSwap, 1)
		v2, err := s.SwapHead(ctx, key, v1, []byte("seq 2"))
		if err != nil {
			t.Fatalf("SwapHead with its reply lost = %v, want success (fired: %v)", err, f.Fired())
		}
		if len(f.Fired()) != 1 {
			t.Fatalf("fault did not fire: %v", f.Fired())
		}
		checkHead(t, s, "seq 2", v2)
	})
	t.Run("RetriedConflictIsSuccess", func(t *testing.T) {
		// The swap landed, the SDK retried, the retry got 412.
		s, f, v1 := setup(t)
		f.Inject(blobtest.Fault{Op: blobtest.OpSwap, N: 1, Kind: blobtest.LoseReply, Err: konserve.ErrConflict})
		v2, err := s.SwapHead(ctx, key, v1, []byte("seq 2"))
		if err != nil {
			t.Fatalf("SwapHead whose retry got a conflict = %v, want success", err)
		}
		checkHead(t, s, "seq 2", v2)
	})
	t.Run("RealConflict", func(t *testing.T) {
		s, _, v1 := setup(t)
		if _, err := s.SwapHead(ctx, key, v1, []byte("seq 2 by A")); err != nil {
			t.Fatal(err)
		}
		_, err := s.SwapHead(ctx, key, v1, []byte("seq 2 by B"))
		if !errors.Is(err, konserve.ErrConflict) || errors.Is(err, konserve.ErrUnknownOutcome) {
			t.Fatalf("losing SwapHead error = %v, want ErrConflict only", err)
		}
		checkHead(t, s, "seq 2 by A", "")
	})
	t.Run("FailedBeforeSwapIsRetryable", func(t *testing.T) {
		s, f, v1 := setup(t)
		f.FailAt(blobtest.OpSwap, 1)
		_, err := s.SwapHead(ctx, key, v1, []byte("seq 2"))
		if !errors.Is(err, blobtest.ErrInjected) || errors.Is(err, konserve.ErrConflict) || errors.Is(err, konserve.ErrUnknownOutcome) {
			t.Fatalf("SwapHead that never reached storage error = %v, want the injected error (retryable), not conflict/unknown", err)
		}
		checkHead(t, s, "seq 1", v1)
		if _, err := s.SwapHead(ctx, key, v1, []byte("seq 2")); err != nil {
			t.Errorf("retrying the same swap = %v, want success", err)
		}
	})
	t.Run("UnknownWhenReReadFails", func(t *testing.T) {
		s, f, v1 := setup(t)
		f.Inject(blobtest.Fault{Op: blobtest.OpSwap, N: 1, Kind: blobtest.LoseReply},
			blobtest.Fault{Op: blobtest.OpReadVersioned, N: 1, Kind: blobtest.Fail})
		_, err := s.SwapHead(ctx, key, v1, []byte("seq 2"))
		if !errors.Is(err, konserve.ErrUnknownOutcome) || !errors.Is(err, blobtest.ErrInjected) {
			t.Fatalf("SwapHead with a lost reply and failed re-read error = %v, want ErrUnknownOutcome wrapping the re-read error", err)
		}
		checkHead(t, s, "seq 2", "") // it did land
	})
	t.Run("CrashAtSwap", func(t *testing.T) {
		s, f, v1 := setup(t)
		f.CrashAt(blobtest.OpSwap, 1)
		_, err := s.SwapHead(ctx, key, v1, []byte("seq 2"))
		if !errors.Is(err, konserve.ErrUnknownOutcome) || !errors.Is(err, blobtest.ErrCrashed) {
			t.Fatalf("SwapHead at a crash error = %v, want ErrUnknownOutcome wrapping ErrCrashed", err)
		}
		if !f.Crashed() {
			t.Errorf("Faulty does not report the crash")
		}
		f.Reset()
		checkHead(t, s, "seq 1", v1) // the crash came before the swap
	})
}

func TestFaultyCounting(t *testing.T) {
	ctx := context.Background()
	s, f := faultyStore(t)
	f.CrashAt(blobtest.OpAny, 3)
	if _, err := s.PutNode(ctx, []byte("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutNode(ctx, []byte("b")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutNode(ctx, []byte("c")); !errors.Is(err, blobtest.ErrCrashed) {
		t.Errorf("3rd op error = %v, want ErrCrashed", err)
	}
	if _, err := s.GetNode(ctx, konserve.HashOf([]byte("a"))); !errors.Is(err, blobtest.ErrCrashed) {
		t.Errorf("op after crash error = %v, want ErrCrashed", err)
	}
	if got := f.Count(blobtest.OpPutImmutable); got != 3 {
		t.Errorf("Count(put) = %d, want 3", got)
	}
	if got := f.Count(blobtest.OpAny); got != 4 {
		t.Errorf("Count(any) = %d, want 4", got)
	}
	if ok, err := konserve.New(f.Inner(), nil).HasNode(ctx, konserve.HashOf([]byte("c"))); ok || err != nil {
		t.Errorf("node put at the crash exists = %v, %v; want false (a crash fault prevents the op)", ok, err)
	}
}
