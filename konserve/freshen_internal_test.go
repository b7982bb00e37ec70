package konserve

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestPutImmutableFreshens: storing an existing node again restarts its
// age, so garbage collection's grace period protects a node that a new
// commit is about to name.
func TestPutImmutableFreshens(t *testing.T) {
	ctx := context.Background()
	for _, url := range []string{"file://" + t.TempDir(), "mem://"} {
		st, err := Open(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		h, err := st.PutNode(ctx, []byte("node"))
		if err != nil {
			t.Fatal(err)
		}
		if fb, ok := st.Backend().(*fileBackend); ok {
			old := time.Now().Add(-48 * time.Hour)
			if err := os.Chtimes(filepath.Join(fb.root, filepath.FromSlash(nodeKey(h))), old, old); err != nil {
				t.Fatal(err)
			}
		} else {
			time.Sleep(50 * time.Millisecond)
		}
		before := time.Now()
		if _, err := st.PutNode(ctx, []byte("node")); err != nil {
			t.Fatal(err)
		}
		var mt time.Time
		err = st.ListNodes(ctx, func(hh Hash, info ObjectInfo) error {
			if hh == h {
				mt = info.ModTime
			}
			return nil
		})
		if err != nil || mt.Before(before.Add(-5*time.Millisecond)) {
			t.Fatalf("%s: mod time after a second put = %v (%v), want at least %v", url, mt, err, before)
		}
	}
}
