package konserve_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/accretedb/accrete/internal/blobtest"
	"github.com/accretedb/accrete/konserve"
)

// tempFiles returns the backend's temporary files under dir (F4: "."
// names other than lock files).
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), ".tmp-") {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// PutNodesSwapHead has the outcomes of PutNodes followed by SwapHead, on
// the file backend (whose heads are swapped in place, in slots) and on a
// wrapped mem backend: the nodes are stored,
// the head moves from the right version only, a lost compare leaves the
// head and no temporary file behind.
func TestPutNodesSwapHead(t *testing.T) {
	ctx := context.Background()
	for _, kind := range []string{"file", "wrapped-mem"} {
		t.Run(kind, func(t *testing.T) {
			var s *konserve.Store
			dir := ""
			if kind == "file" {
				s, dir = openFileStore(t, nil)
			} else {
				mem, err := konserve.Open(ctx, memURL("stage-"+t.Name()), nil)
				if err != nil {
					t.Fatal(err)
				}
				s = konserve.New(blobtest.NewFaulty(mem.Backend()), nil)
				t.Cleanup(func() { s.Close() })
			}
			const key = "branches/main/HEAD"
			var v konserve.Version
			for i := range 5 {
				nodes := [][]byte{fmt.Appendf(nil, "tail %d", i), fmt.Appendf(nil, "commit %d", i)}
				head := fmt.Appendf(nil, "head %d", i)
				hs, nv, err := s.PutNodesSwapHead(ctx, nodes, key, v, head)
				if err != nil {
					t.Fatalf("round %d: PutNodesSwapHead: %v", i, err)
				}
				if len(hs) != len(nodes) {
					t.Fatalf("round %d: %d addresses for %d nodes", i, len(hs), len(nodes))
				}
				for k, h := range hs {
					got, err := s.GetNode(ctx, h)
					if err != nil || !bytes.Equal(got, nodes[k]) {
						t.Fatalf("round %d: node %d = %q, %v; want %q", i, k, got, err, nodes[k])
					}
				}
				got, gv, err := s.ReadHead(ctx, key)
				if err != nil || !bytes.Equal(got, head) || gv != nv {
					t.Fatalf("round %d: head = %q (%q), %v; want %q (%q)", i, got, gv, err, head, nv)
				}
				// A stale version loses: the head stays, nothing is left over.
				_, _, err = s.PutNodesSwapHead(ctx, [][]byte{fmt.Appendf(nil, "stale %d", i)}, key, v, fmt.Appendf(nil, "stale head %d", i))
				if !errors.Is(err, konserve.ErrConflict) {
					t.Fatalf("round %d: stale swap error = %v, want ErrConflict", i, err)
				}
				if got, _, _ := s.ReadHead(ctx, key); !bytes.Equal(got, head) {
					t.Fatalf("round %d: head after a lost swap = %q, want %q", i, got, head)
				}
				v = nv
			}
			if err := s.Settle(ctx); err != nil {
				t.Fatal(err)
			}
			if dir != "" {
				if tmps := tempFiles(t, dir); len(tmps) != 0 {
					t.Fatalf("temporary files left: %v", tmps)
				}
			}
		})
	}
}

// A node that cannot be stored as a file: PutNodesSwapHead stages it in
// the head's slot, so the commit succeeds and the node is readable; the
// slot is not written again while the node is not a file (the swap that
// would reuse it fails and leaves the head), and once the node can be
// stored the ring moves on. No temporary file is left.
func TestPutNodesSwapHeadNodeFailure(t *testing.T) {
	ctx := context.Background()
	s, dir := openFileStore(t, nil)
	const key = "branches/main/HEAD"
	v, err := s.SwapHead(ctx, key, "", []byte("head 0"))
	if err != nil {
		t.Fatal(err)
	}
	// One plain swap makes the file a ring.
	if v, err = s.SwapHead(ctx, key, v, []byte("head 0b")); err != nil {
		t.Fatal(err)
	}
	node := []byte("a node whose directory is a file")
	h := konserve.HashOf(node)
	// nodes/<2 hex> as a plain file: the node cannot be created.
	blocker := filepath.Join(dir, "nodes", h.String()[:2])
	if err := os.MkdirAll(filepath.Dir(blocker), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, v, err = s.PutNodesSwapHead(ctx, [][]byte{node}, key, v, []byte("head 1")); err != nil {
		t.Fatalf("PutNodesSwapHead staging the node: %v", err)
	}
	if got, err := s.GetNode(ctx, h); err != nil || !bytes.Equal(got, node) {
		t.Fatalf("staged node = %q, %v", got, err)
	}
	if err := s.Settle(ctx); err == nil {
		t.Fatal("Settle: the node's file could not be written, and Settle says nothing")
	}
	// Each further swap writes the next slot; the one that comes back to
	// the node's slot must fail and leave the head where it was.
	var failed bool
	for i := 2; i < 10 && !failed; i++ {
		head := fmt.Appendf(nil, "head %d", i)
		nv, err := s.SwapHead(ctx, key, v, head)
		if err != nil {
			failed = true
			got, gv, rerr := s.ReadHead(ctx, key)
			if rerr != nil || gv != v {
				t.Fatalf("head after the failed swap = %q (%q), %v; want version %q", got, gv, rerr, v)
			}
			break
		}
		v = nv
	}
	if !failed {
		t.Fatal("the ring reused the node's slot while the node was not a file")
	}
	if got, err := s.GetNode(ctx, h); err != nil || !bytes.Equal(got, node) {
		t.Fatalf("staged node after the failed swap = %q, %v", got, err)
	}
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	for i := 10; i < 20; i++ {
		nv, err := s.SwapHead(ctx, key, v, fmt.Appendf(nil, "head %d", i))
		if err != nil {
			t.Fatalf("swap %d once the node can be stored: %v", i, err)
		}
		v = nv
	}
	if _, err := os.Stat(filepath.Join(dir, "nodes", h.String()[:2], h.String())); err != nil {
		t.Fatalf("the staged node is not a file after its slot was reused: %v", err)
	}
	if tmps := tempFiles(t, dir); len(tmps) != 0 {
		t.Fatalf("temporary files left: %v", tmps)
	}
}

// BenchmarkCommitRoundFile is a small commit's storage on the file
// backend: two new nodes (log tail, commit record) and a head swap, as
// PutNodes then SwapHead (sequential) or PutNodesSwapHead (staged: the
// head's file is written and synced beside the nodes).
func BenchmarkCommitRoundFile(b *testing.B) {
	for _, mode := range []string{"sequential", "staged"} {
		b.Run(mode, func(b *testing.B) {
			ctx := context.Background()
			s, _ := openFileStore(b, nil)
			const key = "branches/main/HEAD"
			var v konserve.Version
			i := 0
			for b.Loop() {
				nodes := [][]byte{benchNode(i, 0), benchNode(i, 1)[:1024]}
				head := benchNode(i, 2)[:512]
				var err error
				if mode == "staged" {
					_, v, err = s.PutNodesSwapHead(ctx, nodes, key, v, head)
				} else {
					if _, err = s.PutNodes(ctx, nodes); err == nil {
						v, err = s.SwapHead(ctx, key, v, head)
					}
				}
				if err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
