package konserve

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestEnsureDirs: ensureDirs creates every missing directory (and missing
// parents), remembers them, is a no-op the second time, and refuses a path
// outside the root without remembering anything of the call.
func TestEnsureDirs(t *testing.T) {
	root := t.TempDir()
	b, err := newFileBackend(root)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for i := 0; i < 40; i++ {
		dirs = append(dirs, filepath.Join(b.root, "nodes", fmt.Sprintf("%02x", i)))
	}
	dirs = append(dirs, dirs[3]) // a duplicate
	if err := b.ensureDirs(dirs); err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			t.Fatalf("%s: %v, want a directory", d, err)
		}
		if _, ok := b.dirs.Load(d); !ok {
			t.Errorf("%s is not remembered", d)
		}
	}
	// Known directories are not created again: one removed behind the
	// backend's back stays removed (as for ensureDir; puts recreate it).
	if err := os.Remove(dirs[0]); err != nil {
		t.Fatal(err)
	}
	if err := b.ensureDirs(dirs[:1]); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dirs[0]); !os.IsNotExist(err) {
		t.Errorf("a remembered directory was created again: %v", err)
	}
	fresh := filepath.Join(b.root, "nodes", "ff")
	outside := filepath.Join(filepath.Dir(b.root), "elsewhere")
	if err := b.ensureDirs([]string{fresh, outside}); err == nil {
		t.Fatal("a directory outside the root was accepted")
	}
	if _, ok := b.dirs.Load(fresh); ok {
		t.Error("a failed call remembered a directory it made")
	}
	if _, err := os.Stat(outside); !os.IsNotExist(err) {
		t.Errorf("a directory outside the root was created: %v", err)
	}
}
