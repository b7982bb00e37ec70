package konserve_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/accretedb/accrete/konserve"
)

// Garbage collection's conditional delete against a writer storing the
// same node again (freshening it): whatever the interleaving, once
// PutNode has returned the node must be there, because the writer is about
// to name it in a head.

// gcBackends opens a fresh store of each backend kind that implements
// ConditionalDeleter in this package's tests.
func gcBackends(t *testing.T) map[string]*konserve.Store {
	t.Helper()
	ctx := context.Background()
	out := map[string]*konserve.Store{}
	for kind, url := range map[string]string{"file": "file://" + t.TempDir(), "mem": "mem://"} {
		st, err := konserve.Open(ctx, url, &konserve.Options{CacheBytes: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if _, ok := st.Backend().(konserve.ConditionalDeleter); !ok {
			t.Fatalf("%s backend does not implement ConditionalDeleter", kind)
		}
		out[kind] = st
	}
	return out
}

// stepPast waits until the clock has moved past the time returned, so that
// objects written before the call are older than it and objects written
// after are not, even on a file system with coarse timestamps.
func stepPast() time.Time {
	time.Sleep(30 * time.Millisecond)
	mid := time.Now()
	time.Sleep(30 * time.Millisecond)
	return mid
}

func TestDeleteNodeIfOlder(t *testing.T) {
	ctx := context.Background()
	for kind, st := range gcBackends(t) {
		t.Run(kind, func(t *testing.T) {
			old, err := st.PutNode(ctx, []byte("old node"))
			if err != nil {
				t.Fatal(err)
			}
			again, err := st.PutNode(ctx, []byte("old node, stored again later"))
			if err != nil {
				t.Fatal(err)
			}
			mid := stepPast()
			young, err := st.PutNode(ctx, []byte("young node"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.PutNode(ctx, []byte("old node, stored again later")); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name string
				h    konserve.Hash
				want bool
			}{{"old", old, true}, {"young", young, false}, {"freshened", again, false}, {"missing", konserve.HashOf([]byte("never stored")), false}} {
				deleted, err := st.DeleteNodeIfOlder(ctx, c.h, mid)
				if err != nil || deleted != c.want {
					t.Errorf("%s: DeleteNodeIfOlder = %v, %v; want %v", c.name, deleted, err, c.want)
				}
				has, err := st.HasNode(ctx, c.h)
				if err != nil || has == c.want && c.name != "missing" {
					t.Errorf("%s: stored after the delete = %v (err %v), want %v", c.name, has, err, !c.want)
				}
			}
		})
	}
}

// TestPutNodeRacingConditionalDelete races, for many old nodes at once, a
// writer storing each node again with a collector deleting it if it is
// older than the cutoff. The collector may win (the node is deleted before
// the put, which then creates it again) or lose (the put freshened it
// first), but a put that returned nil always leaves the node stored. Before
// the delete became conditional and the freshening a step with it, a
// delete landing between the put's existence check and its freshening left
// a successful put and no node.
func TestPutNodeRacingConditionalDelete(t *testing.T) {
	ctx := context.Background()
	const n = 300
	for kind, st := range gcBackends(t) {
		t.Run(kind, func(t *testing.T) {
			datas := make([][]byte, n)
			for i := range datas {
				datas[i] = fmt.Appendf(nil, "node %d", i)
			}
			if _, err := st.PutNodes(ctx, datas); err != nil {
				t.Fatal(err)
			}
			cutoff := stepPast()
			var wg sync.WaitGroup
			putErrs := make([]error, n)
			var deleted, kept int
			var mu sync.Mutex
			for i := range datas {
				wg.Add(2)
				go func() {
					defer wg.Done()
					if i%2 == 0 {
						_, putErrs[i] = st.PutNode(ctx, datas[i])
					} else { // the bulk path (file: link after a syncfs)
						_, _, putErrs[i] = st.PutNodesBulk(ctx, [][]byte{datas[i]}, nil)
					}
				}()
				go func() {
					defer wg.Done()
					d, err := st.DeleteNodeIfOlder(ctx, konserve.HashOf(datas[i]), cutoff)
					if err != nil {
						t.Errorf("delete %d: %v", i, err)
					}
					mu.Lock()
					if d {
						deleted++
					} else {
						kept++
					}
					mu.Unlock()
				}()
			}
			wg.Wait()
			for i, err := range putErrs {
				if err != nil {
					t.Fatalf("put %d: %v", i, err)
				}
				if _, err := st.GetNode(ctx, konserve.HashOf(datas[i])); err != nil {
					if errors.Is(err, konserve.ErrNodeMissing) {
						t.Fatalf("node %d: missing after its put succeeded (a collector deleted it after the put freshened it)", i)
					}
					t.Fatal(err)
				}
			}
			t.Logf("%s: collector deleted %d first (the put re-created them), found %d freshened", kind, deleted, kept)
		})
	}
}

// TestSweepTemp: the file backend removes its temporary files older than
// the cutoff (a crash's leftovers), keeps younger ones (a write in
// progress), never touches keys or lock files, and a dry run only counts.
func TestSweepTemp(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := konserve.Open(ctx, "file://"+dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h, err := st.PutNode(ctx, []byte("a node"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.SwapHead(ctx, "branches/main/HEAD", "", []byte("head")); err != nil {
		t.Fatal(err)
	}
	nodeDir := filepath.Join(dir, "nodes", h.String()[:2])
	old := time.Now().Add(-3 * time.Hour)
	plant := func(path string, age time.Time) {
		t.Helper()
		if err := os.WriteFile(path, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, age, age); err != nil {
			t.Fatal(err)
		}
	}
	plant(filepath.Join(nodeDir, ".tmp-1-00000000000000aa"), old)
	plant(filepath.Join(dir, "branches", "main", ".tmp-1-00000000000000bb"), old)
	plant(filepath.Join(nodeDir, ".tmp-1-00000000000000cc"), time.Now()) // a write in progress
	plant(filepath.Join(nodeDir, ".gc.lock"), old)                       // never a temporary file
	cutoff := time.Now().Add(-time.Hour)
	files, bytes, err := st.SweepTemp(ctx, cutoff, true)
	if err != nil || files != 2 || bytes != 14 {
		t.Fatalf("dry run: %d files, %d bytes, %v; want 2, 14", files, bytes, err)
	}
	if _, err := os.Stat(filepath.Join(nodeDir, ".tmp-1-00000000000000aa")); err != nil {
		t.Fatalf("dry run removed a file: %v", err)
	}
	files, _, err = st.SweepTemp(ctx, cutoff, false)
	if err != nil || files != 2 {
		t.Fatalf("sweep: %d files, %v; want 2", files, err)
	}
	for name, want := range map[string]bool{
		filepath.Join(nodeDir, ".tmp-1-00000000000000aa"):                 false,
		filepath.Join(dir, "branches", "main", ".tmp-1-00000000000000bb"): false,
		filepath.Join(nodeDir, ".tmp-1-00000000000000cc"):                 true,
		filepath.Join(nodeDir, ".gc.lock"):                                true,
	} {
		if _, err := os.Stat(name); (err == nil) != want {
			t.Errorf("%s: present = %v, want %v", name, err == nil, want)
		}
	}
	if _, err := st.GetNode(ctx, h); err != nil {
		t.Errorf("node after sweep: %v", err)
	}
	if _, _, err := st.ReadHead(ctx, "branches/main/HEAD"); err != nil {
		t.Errorf("head after sweep: %v", err)
	}
	// mem has no temporary objects.
	mst, err := konserve.Open(ctx, "mem://", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer mst.Close()
	if files, _, err := mst.SweepTemp(ctx, time.Now(), false); files != 0 || err != nil {
		t.Errorf("mem sweep: %d, %v", files, err)
	}
}
