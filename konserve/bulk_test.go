package konserve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPutNodesBulk: bulk-stored nodes read back verified, leave no
// temporary files, and storing them again succeeds and freshens their
// modification time (GC's grace period); a create-only key that is not a
// node keeps its first bytes.
func TestPutNodesBulk(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := Open(ctx, "file://"+dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	datas := bulkTestNodes(300)
	hs, bs, err := st.PutNodesBulk(ctx, datas, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bs.Objects != len(datas) || bs.Syncs < 2 {
		t.Fatalf("stats %+v, want %d objects and at least two syncs", bs, len(datas))
	}
	for i, h := range hs {
		got, err := st.GetNode(ctx, h)
		if err != nil || !bytes.Equal(got, datas[i]) {
			t.Fatalf("node %d: %q, %v", i, got, err)
		}
	}
	if tmps := bulkTempFiles(t, dir); len(tmps) != 0 {
		t.Fatalf("temporary files left: %v", tmps)
	}
	// The nodes went into one pack, not 300 files.
	packs := packFiles(t, dir)
	if len(packs) != 1 {
		t.Fatalf("%d pack files, want 1", len(packs))
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "nodes", "*", "*")); len(files) != 0 {
		t.Fatalf("%d node files besides the pack", len(files))
	}
	// Age the pack, store everything again: it is young again.
	old := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(packs[0], old, old); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.PutNodesBulk(ctx, datas, hs); err != nil {
		t.Fatalf("storing again: %v", err)
	}
	fi, err := os.Stat(packs[0])
	if err != nil {
		t.Fatal(err)
	}
	if fi.ModTime().Before(time.Now().Add(-time.Hour)) {
		t.Fatalf("pack not freshened by a bulk re-store: mtime %v", fi.ModTime())
	}
	for _, k := range []int{3, 7} {
		if got, err := st.GetNode(ctx, hs[k]); err != nil || !bytes.Equal(got, datas[k]) {
			t.Fatalf("node %d after re-store: %q, %v", k, got, err)
		}
	}
	if tmps := bulkTempFiles(t, dir); len(tmps) != 0 {
		t.Fatalf("temporary files left after re-store: %v", tmps)
	}
	// Wrong precomputed hashes are refused by count.
	if _, _, err := st.PutNodesBulk(ctx, datas, hs[:1]); err == nil {
		t.Fatal("PutNodesBulk accepted 1 hash for 300 nodes")
	}
	// A key that is not a node keeps its first bytes (create-only), through
	// the ordinary path and the bulk one.
	b := st.Backend()
	if err := b.PutImmutable(ctx, "misc/a", []byte("first")); err != nil {
		t.Fatal(err)
	}
	if err := b.PutImmutable(ctx, "misc/a", []byte("second")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.(bulkPutter).putImmutableBulk(ctx, []string{"misc/a", "misc/b"}, [][]byte{[]byte("third"), []byte("b")}, 4); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.Get(ctx, "misc/a"); string(got) != "first" {
		t.Fatalf("create-only key rewritten: %q", got)
	}
	if got, _ := b.Get(ctx, "misc/b"); string(got) != "b" {
		t.Fatalf("bulk create-only key: %q", got)
	}
}

// TestPutNodesBulkCrash: a bulk store that dies after writing (and even
// syncing) its objects but before renaming them leaves no key behind: the
// nodes are absent (GetNode, HasNode, List), never present and partial, so
// a sync or a later store cannot take a cut-short file for the node. Left
// over temporary files, complete or cut short, do not stop the next store
// of the same bytes, by either path.
func TestPutNodesBulkCrash(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := Open(ctx, "file://"+dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	datas := bulkTestNodes(64)
	errCrash := errors.New("simulated crash")
	var left []string
	bulkHookSynced = func(tmps []string) error {
		left = append([]string(nil), tmps...)
		return errCrash
	}
	t.Cleanup(func() { bulkHookSynced = nil })
	if _, _, err := st.PutNodesBulk(ctx, datas, nil); !errors.Is(err, errCrash) {
		t.Fatalf("PutNodesBulk: %v, want the simulated crash", err)
	}
	bulkHookSynced = nil
	// One temporary file: the pack's.
	if got := bulkTempFiles(t, dir); len(got) != 1 || len(left) != 1 {
		t.Fatalf("%d temporary files on disk, %d reported, want 1", len(got), len(left))
	}
	// Cut it short, as a crash before the sync may.
	if err := os.Truncate(left[0], 100); err != nil {
		t.Fatal(err)
	}
	if p := packFiles(t, dir); len(p) != 0 {
		t.Fatalf("pack files after the crash: %v", p)
	}
	hs := make([]Hash, len(datas))
	for i, d := range datas {
		hs[i] = HashOf(d)
		if _, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(nodeKey(hs[i])))); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("node %d: key file exists after the crash (%v)", i, err)
		}
		if ok, err := st.HasNode(ctx, hs[i]); ok || err != nil {
			t.Fatalf("node %d: HasNode = %v, %v after the crash", i, ok, err)
		}
		if _, err := st.GetNode(ctx, hs[i]); !errors.Is(err, ErrNodeMissing) {
			t.Fatalf("node %d: GetNode: %v, want ErrNodeMissing", i, err)
		}
	}
	err = st.Backend().List(ctx, "", func(oi ObjectInfo) error {
		return fmt.Errorf("List shows %s after the crash", oi.Key)
	})
	if err != nil {
		t.Fatal(err)
	}
	// Store again: node 0 alone through the ordinary path, then all in bulk.
	if _, err := st.PutNode(ctx, datas[0]); err != nil {
		t.Fatal(err)
	}
	got, bs, err := st.PutNodesBulk(ctx, datas, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bs.Objects != len(datas) {
		t.Fatalf("stats %+v", bs)
	}
	for i, h := range got {
		if h != hs[i] {
			t.Fatalf("node %d: address %v, want %v", i, h, hs[i])
		}
		if ok, err := st.HasNode(ctx, h); !ok || err != nil {
			t.Fatalf("node %d: HasNode = %v, %v after the re-store", i, ok, err)
		}
		if b, err := st.GetNode(ctx, h); err != nil || !bytes.Equal(b, datas[i]) {
			t.Fatalf("node %d after the re-store: %q, %v", i, b, err)
		}
	}
}

// packFiles lists the pack files under dir.
func packFiles(t *testing.T, dir string) []string {
	t.Helper()
	ps, err := filepath.Glob(filepath.Join(dir, packDirName, "*"+packSuffix))
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// bulkTestNodes returns n distinct node payloads of varied sizes.
func bulkTestNodes(n int) [][]byte {
	datas := make([][]byte, n)
	for i := range datas {
		datas[i] = []byte(fmt.Sprintf("node %d %s", i, strings.Repeat("x", i)))
	}
	return datas
}

// bulkTempFiles lists the backend's temporary files under dir.
func bulkTempFiles(t *testing.T, dir string) []string {
	t.Helper()
	var tmps []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".tmp") {
			tmps = append(tmps, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return tmps
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
