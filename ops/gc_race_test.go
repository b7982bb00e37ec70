package ops

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accretedb/accrete/internal/blobtest"
	"github.com/accretedb/accrete/konserve"
)

// plainBackend hides every optional capability of the backend it embeds
// (ConditionalDeleter in particular), as a third-party backend would.
type plainBackend struct{ konserve.Backend }

// TestGCKeepsNodeStoredAgainDuringSweep is the interleaving behind GC's
// rule G6, made deterministic: an old node nothing names is listed as
// garbage; then, between the listing and its deletion, a writer stores the
// same bytes again (a tree returning to an earlier state, or a background
// merge rebuilding a leaf) and is about to name the node in a head. The
// hook runs at the very delete request for that node. GC must keep it.
// With a backend that cannot delete conditionally, GC falls back to a
// plain delete and the node is lost: the control case shows the test
// exercises the race.
func TestGCKeepsNodeStoredAgainDuringSweep(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		kind   string
		plain  bool // hide ConditionalDeleter: the unfixed behaviour
		packed bool // stored with PutNodesBulk: in a pack on file
	}{{"mem", false, false}, {"file", false, false}, {"file", false, true}, {"mem", true, false}} {
		name := c.kind
		if c.plain {
			name += "/plain-delete"
		}
		if c.packed {
			name += "/packed"
		}
		put := func(st *konserve.Store, data []byte) (konserve.Hash, error) {
			if c.packed {
				hs, _, err := st.PutNodesBulk(ctx, [][]byte{data}, nil)
				if err != nil {
					return konserve.Hash{}, err
				}
				return hs[0], nil
			}
			return st.PutNode(ctx, data)
		}
		t.Run(name, func(t *testing.T) {
			url := scratchURL(t)
			if c.kind == "file" {
				url = "file://" + t.TempDir()
			}
			st := openStore(t, url)
			buildDB(t, st, 6)
			x := []byte("an old node that no commit names")
			xh, err := put(st, x)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(30 * time.Millisecond)
			mid := time.Now()
			time.Sleep(30 * time.Millisecond)
			grace := time.Hour
			now := func() time.Time { return mid.Add(grace) } // cutoff: mid

			inner, err := konserve.Open(ctx, url, nil)
			if err != nil {
				t.Fatal(err)
			}
			var b konserve.Backend = inner.Backend()
			if c.plain {
				b = plainBackend{b}
			}
			f := blobtest.NewFaulty(b)
			gst := konserve.New(f, &konserve.Options{CacheBytes: -1})
			t.Cleanup(func() { gst.Close() })
			writerSt := openStore(t, url)
			var fired atomic.Bool
			f.SetHook(func(op blobtest.Op, key string) {
				if op == blobtest.OpDelete && strings.HasSuffix(key, xh.String()) && !fired.Swap(true) {
					// The writer: stores x again, which freshens it.
					if _, err := put(writerSt, x); err != nil {
						t.Errorf("writer's put: %v", err)
					}
				}
			})
			rep, err := GC(ctx, gst, GCOptions{Grace: grace, Now: now, Parallelism: 1})
			if err != nil {
				t.Fatal(err)
			}
			if !fired.Load() {
				t.Fatalf("GC never tried to delete the old node: %+v", rep)
			}
			has, err := openStore(t, url).HasNode(ctx, xh)
			if err != nil {
				t.Fatal(err)
			}
			if c.plain {
				if has {
					t.Fatalf("plain delete kept the node stored again after the listing: the test no longer reaches the race")
				}
				return
			}
			if !has {
				t.Fatalf("GC deleted a node a writer stored again after GC listed it (report %+v)", rep)
			}
			if rep.Refreshed != 1 || rep.Swept == 0 {
				t.Errorf("report %+v: want Refreshed 1 and other garbage swept", rep)
			}
			// Once the writer's freshening is older than the cutoff too,
			// the next GC collects it (nothing names it after all).
			rep, err = GC(ctx, openStore(t, url), GCOptions{Grace: grace, Now: func() time.Time { return time.Now().Add(2 * grace) }})
			if err != nil {
				t.Fatal(err)
			}
			if has, _ := openStore(t, url).HasNode(ctx, xh); has {
				t.Errorf("second GC kept the unreferenced node: %+v", rep)
			}
		})
	}
}

// TestGCSweepsCrashLeftTempFiles: temporary files a crashed writer left
// in a file bucket go once they are older than the grace (G7); younger
// ones, which may be a write in progress, stay, and the database answers
// as before.
func TestGCSweepsCrashLeftTempFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	url := "file://" + dir
	buildDB(t, openStore(t, url), 5)
	want := snapshotURL(t, url)
	nodeDirs, err := filepath.Glob(filepath.Join(dir, "nodes", "*"))
	if err != nil || len(nodeDirs) == 0 {
		t.Fatalf("no node directories: %v", err)
	}
	oldTmp := filepath.Join(nodeDirs[0], ".tmp-4242-000000000000dead")
	newTmp := filepath.Join(nodeDirs[len(nodeDirs)-1], ".tmp-4242-000000000000beef")
	for _, p := range []string{oldTmp, newTmp} {
		if err := os.WriteFile(p, []byte("cut off by a crash"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	longAgo := time.Now().Add(-3 * time.Hour)
	if err := os.Chtimes(oldTmp, longAgo, longAgo); err != nil {
		t.Fatal(err)
	}
	grace := time.Hour
	dry, err := GC(ctx, openStore(t, url), GCOptions{Grace: grace, DryRun: true})
	if err != nil || dry.TempFiles != 1 {
		t.Fatalf("dry run: %+v, %v; want 1 temporary file", dry, err)
	}
	rep, err := GC(ctx, openStore(t, url), GCOptions{Grace: grace})
	if err != nil {
		t.Fatal(err)
	}
	if rep.TempFiles != 1 || rep.TempBytes != int64(len("cut off by a crash")) {
		t.Errorf("report %+v: want 1 temporary file of %d bytes", rep, len("cut off by a crash"))
	}
	if _, err := os.Stat(oldTmp); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("old temporary file: %v, want it gone", err)
	}
	if _, err := os.Stat(newTmp); err != nil {
		t.Errorf("young temporary file: %v, want it kept", err)
	}
	if got := snapshotURL(t, url); got != want {
		t.Errorf("database answers differently after gc")
	}
}
