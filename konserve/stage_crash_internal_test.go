package konserve

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStagedSwapCrash kills a staged commit (PutNodesSwapHead on the file
// backend) at each point between its storage operations, by running its
// steps by hand and abandoning the store there, then reopens the bucket
// as the next process would. Whatever the point, the head reads as the
// old or the new bytes, every node the new head names is present when the
// head is new, the next writer's swap succeeds from what it reads, and the
// staged file left behind is only a temporary file, which SweepTemp
// removes (garbage collection runs it).
func TestStagedSwapCrash(t *testing.T) {
	ctx := context.Background()
	const key = "branches/main/HEAD"
	points := []string{
		"staged",         // head file written and synced; no node yet
		"half-nodes",     // staged, one of two nodes durable
		"nodes",          // staged and every node durable; no swap
		"renamed",        // renamed over the key; directory not synced
		"swapped",        // the whole swap done
		"cancelled-swap", // swap called with a cancelled context
	}
	for _, point := range points {
		t.Run(point, func(t *testing.T) {
			dir := t.TempDir()
			url := "file://" + dir
			st, err := Open(ctx, url, nil)
			if err != nil {
				t.Fatal(err)
			}
			v0, err := st.SwapHead(ctx, key, "", []byte("head 0"))
			if err != nil {
				t.Fatal(err)
			}
			nodes := [][]byte{[]byte("tail node " + point), []byte("commit record " + point)}
			fb := st.Backend().(*fileBackend)

			sh, err := fb.stageHead(ctx, key, []byte("head 1"))
			if err != nil {
				t.Fatal(err)
			}
			fsh := sh.(*fileStagedHead)
			switch point {
			case "staged":
			case "half-nodes":
				if _, err := st.PutNodes(ctx, nodes[:1]); err != nil {
					t.Fatal(err)
				}
			case "nodes":
				if _, err := st.PutNodes(ctx, nodes); err != nil {
					t.Fatal(err)
				}
			case "renamed":
				if _, err := st.PutNodes(ctx, nodes); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(fsh.tmp, fsh.p); err != nil {
					t.Fatal(err)
				}
			case "swapped":
				if _, err := st.PutNodes(ctx, nodes); err != nil {
					t.Fatal(err)
				}
				if _, err := sh.swap(ctx, v0); err != nil {
					t.Fatal(err)
				}
			case "cancelled-swap":
				if _, err := st.PutNodes(ctx, nodes); err != nil {
					t.Fatal(err)
				}
				cctx, cancel := context.WithCancel(ctx)
				cancel()
				if _, err := sh.swap(cctx, v0); err == nil {
					t.Fatal("swap with a cancelled context succeeded")
				}
			}
			// The process dies here: st is abandoned, not closed.

			st2, err := Open(ctx, url, nil)
			if err != nil {
				t.Fatalf("reopen after a crash at %s: %v", point, err)
			}
			defer st2.Close()
			got, v, err := st2.ReadHead(ctx, key)
			if err != nil {
				t.Fatalf("read head after a crash at %s: %v", point, err)
			}
			switch string(got) {
			case "head 0":
				if point == "swapped" || point == "renamed" {
					t.Fatalf("crash at %s: head is old after the rename", point)
				}
			case "head 1":
				if point != "swapped" && point != "renamed" {
					t.Fatalf("crash at %s: head moved before the swap", point)
				}
				for _, n := range nodes {
					if _, err := st2.GetNode(ctx, HashOf(n)); err != nil {
						t.Fatalf("crash at %s: head is new but node %q is missing: %v", point, n, err)
					}
				}
			default:
				t.Fatalf("crash at %s: head reads %q", point, got)
			}
			// The next writer proceeds from what it read.
			if _, err := st2.SwapHead(ctx, key, v, []byte("head 2")); err != nil {
				t.Fatalf("crash at %s: next swap: %v", point, err)
			}
			if got, _, err := st2.ReadHead(ctx, key); err != nil || string(got) != "head 2" {
				t.Fatalf("crash at %s: head after the next swap = %q, %v", point, got, err)
			}
			// A staged file left behind is a temporary file, swept by GC.
			left := stagedTemps(t, dir)
			wantLeft := point == "staged" || point == "half-nodes" || point == "nodes"
			if wantLeft != (len(left) > 0) {
				t.Fatalf("crash at %s: temporary files %v (want some: %v)", point, left, wantLeft)
			}
			if _, _, err := st2.SweepTemp(ctx, time.Now().Add(time.Second), false); err != nil {
				t.Fatal(err)
			}
			if left := stagedTemps(t, dir); len(left) != 0 {
				t.Fatalf("crash at %s: SweepTemp left %v", point, left)
			}
		})
	}
}

// stagedTemps lists the temporary files under dir.
func stagedTemps(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), tempPrefix) {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(fmt.Errorf("walk %s: %w", dir, err))
	}
	return out
}
