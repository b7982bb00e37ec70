package ops

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/accretedb/accrete/branch"
	"github.com/accretedb/accrete/konserve"
)

// nodePath is where the file backend keeps node h under dir as a file of
// its own.
func nodePath(dir string, h konserve.Hash) string {
	s := h.String()
	return filepath.Join(dir, "nodes", s[:2], s)
}

// flipNodeByte flips a byte in the middle of node h's stored bytes, in its
// own file or in the pack that holds it (merges and imports write packs).
func flipNodeByte(t *testing.T, st *konserve.Store, dir string, h konserve.Hash) {
	t.Helper()
	data, err := st.GetNode(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	packs, err := filepath.Glob(filepath.Join(dir, ".packs", "*.pack"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range append([]string{nodePath(dir, h)}, packs...) {
		raw, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if i := bytes.Index(raw, data); i >= 0 {
			raw[i+len(data)/2] ^= 0x01
			if err := os.WriteFile(p, raw, 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("node %s is in no file under %s", h, dir)
}

func TestVerifyFindsFlippedByteAndDeletedNode(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	url := "file://" + dir
	st := openStore(t, url)
	buildDB(t, st, 30)
	clean, err := Verify(ctx, openStore(t, url), VerifyOptions{})
	if err != nil || !clean.OK() {
		t.Fatalf("verify of a fresh database: %+v, %v", clean, err)
	}
	if want := int64(len(reachable(t, st))); clean.Nodes != want {
		t.Errorf("verify read %d nodes, want %d (every reachable node)", clean.Nodes, want)
	}

	h, err := branch.Read(ctx, st, branch.Default)
	if err != nil {
		t.Fatal(err)
	}
	eavt, _ := h.Commit.Root("eavt")
	aevt, _ := h.Commit.Root("aevt")
	// Flip one byte of the EAVT root: the bytes no longer hash to its name.
	flipNodeByte(t, st, dir, eavt.Addr)
	// Delete a node deep in AEVT: a leaf reached through the root's first child.
	leaf := firstLeaf(t, st, aevt.Addr)
	if err := st.DeleteNode(ctx, leaf); err != nil {
		t.Fatal(err)
	}

	rep, err := Verify(ctx, openStore(t, url), VerifyOptions{})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if !slices.Equal(rep.Corrupt, []konserve.Hash{eavt.Addr}) {
		t.Errorf("corrupt = %v, want [%s]", rep.Corrupt, eavt.Addr)
	}
	if !slices.Equal(rep.Missing, []konserve.Hash{leaf}) {
		t.Errorf("missing = %v, want [%s]", rep.Missing, leaf)
	}
	if rep.OK() {
		t.Errorf("report OK despite damage")
	}
	// Only one branch asked for, by name.
	one, err := Verify(ctx, openStore(t, url), VerifyOptions{Branches: []string{branch.Default}})
	if err != nil || one.Branches != 1 || len(one.Corrupt) != 1 || len(one.Missing) != 1 {
		t.Errorf("verify of main: %+v, %v", one, err)
	}
}

// firstLeaf descends from root through first children to a leaf.
func firstLeaf(t *testing.T, st *konserve.Store, root konserve.Hash) konserve.Hash {
	t.Helper()
	h := root
	for {
		data, err := st.GetNode(context.Background(), h)
		if err != nil {
			t.Fatal(err)
		}
		level, kids, err := children(data, false)
		if err != nil {
			t.Fatal(err)
		}
		if level == 0 {
			return h
		}
		h = kids[0]
	}
}
