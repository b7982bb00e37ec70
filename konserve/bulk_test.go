package konserve

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPutNodesBulk: bulk-stored nodes read back verified, leave no
// temporary files, and storing them again is a no-op; a node file cut
// short (a crash before the bulk sync) is replaced by the next store of
// that node, through the bulk path and the ordinary one alike.
func TestPutNodesBulk(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := Open(ctx, "file://"+dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var datas [][]byte
	for i := range 300 {
		datas = append(datas, []byte(fmt.Sprintf("node %d %s", i, strings.Repeat("x", i))))
	}
	hs, bs, err := st.PutNodesBulk(ctx, datas, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bs.Objects != len(datas) || bs.Syncs != 1 {
		t.Fatalf("stats %+v, want %d objects and one sync", bs, len(datas))
	}
	for i, h := range hs {
		got, err := st.GetNode(ctx, h)
		if err != nil || !bytes.Equal(got, datas[i]) {
			t.Fatalf("node %d: %q, %v", i, got, err)
		}
	}
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".tmp") {
			t.Errorf("temporary file left: %s", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.PutNodesBulk(ctx, datas, hs); err != nil {
		t.Fatalf("storing again: %v", err)
	}
	// Wrong precomputed hashes are refused by count.
	if _, _, err := st.PutNodesBulk(ctx, datas, hs[:1]); err == nil {
		t.Fatal("PutNodesBulk accepted 1 hash for 300 nodes")
	}
	// Cut two node files short, as a crash before the sync may.
	for _, k := range []int{3, 7} {
		p := filepath.Join(dir, filepath.FromSlash(nodeKey(hs[k])))
		if err := os.WriteFile(p, datas[k][:2], 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := st.GetNode(ctx, hs[k]); err == nil {
			t.Fatalf("node %d cut short still reads", k)
		}
	}
	if _, _, err := st.PutNodesBulk(ctx, [][]byte{datas[3]}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutNodes(ctx, [][]byte{datas[7]}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []int{3, 7} {
		if got, err := st.GetNode(ctx, hs[k]); err != nil || !bytes.Equal(got, datas[k]) {
			t.Fatalf("node %d after re-store: %q, %v", k, got, err)
		}
	}
	// A key that is not a node keeps its first bytes (create-only).
	b := st.Backend()
	if err := b.PutImmutable(ctx, "misc/a", []byte("first")); err != nil {
		t.Fatal(err)
	}
	if err := b.PutImmutable(ctx, "misc/a", []byte("second")); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.Get(ctx, "misc/a"); string(got) != "first" {
		t.Fatalf("create-only key rewritten: %q", got)
	}
}

// TestPutNodesBulkMem: on a backend without a bulk path, PutNodesBulk is
// PutNodes.
func TestPutNodesBulkMem(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, "mem://bulk-"+t.Name(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	hs, bs, err := st.PutNodesBulk(ctx, [][]byte{[]byte("a"), []byte("b")}, nil)
	if err != nil || bs.Syncs != 0 || len(hs) != 2 {
		t.Fatalf("hs %v stats %+v err %v", hs, bs, err)
	}
	if got, err := st.GetNode(ctx, hs[1]); err != nil || string(got) != "b" {
		t.Fatalf("GetNode: %q %v", got, err)
	}
}
