package konserve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestPackModel runs random bulk stores, single stores and deletions
// (conditional, with cutoffs in the past and the future, batched, and
// unconditional) through one store, against a model of which nodes are
// present, and checks after each step that both that store and a second
// one on the same directory (another process's view, with its own pack
// index) read exactly the present nodes with their bytes, and that List
// shows each present node once and nothing else.
func TestPackModel(t *testing.T) {
	ctx := context.Background()
	for seed := range uint64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			a, dir := openHeadStore(t)
			bst, err := Open(ctx, "file://"+dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer bst.Close()
			rng := rand.New(rand.NewPCG(seed, 7))
			universe := make([][]byte, 120)
			hs := make([]Hash, len(universe))
			for i := range universe {
				universe[i] = fmt.Appendf(nil, "node %d %s", i, bytes.Repeat([]byte{byte('a' + i%26)}, rng.IntN(300)))
				hs[i] = HashOf(universe[i])
			}
			present := make([]bool, len(universe))
			subset := func(max int) []int {
				n := 1 + rng.IntN(max)
				var out []int
				for range n {
					out = append(out, rng.IntN(len(universe)))
				}
				return out
			}
			future := time.Now().Add(time.Hour)
			past := time.Now().Add(-time.Hour)
			for step := range 60 {
				what := rng.IntN(6)
				switch what {
				case 0, 1: // bulk store (a pack)
					var datas [][]byte
					for _, i := range subset(40) {
						datas = append(datas, universe[i])
						present[i] = true
					}
					if _, _, err := a.PutNodesBulk(ctx, datas, nil); err != nil {
						t.Fatalf("step %d: bulk: %v", step, err)
					}
				case 2: // a node of its own
					i := rng.IntN(len(universe))
					if _, err := a.PutNode(ctx, universe[i]); err != nil {
						t.Fatal(err)
					}
					present[i] = true
				case 3, 4: // a batch of conditional deletes
					idx := subset(30)
					slices.Sort(idx)
					idx = slices.Compact(idx)
					var batch []Hash
					for _, i := range idx {
						batch = append(batch, hs[i])
					}
					before := future
					if what == 4 {
						before = past
					}
					got, err := a.DeleteNodesIfOlder(ctx, batch, before, 4)
					if err != nil {
						t.Fatalf("step %d: delete: %v", step, err)
					}
					for k, i := range idx {
						want := present[i] && before.Equal(future)
						if got[k] != want {
							t.Fatalf("step %d: delete of node %d (present %v, cutoff in the future %v) = %v", step, i, present[i], before.Equal(future), got[k])
						}
						if want {
							present[i] = false
						}
					}
				case 5: // an unconditional delete
					i := rng.IntN(len(universe))
					if err := a.DeleteNode(ctx, hs[i]); err != nil {
						t.Fatal(err)
					}
					present[i] = false
				}
				for _, st := range []*Store{a, bst} {
					for i, h := range hs {
						got, err := st.Backend().Get(ctx, nodeKey(h))
						switch {
						case present[i] && (err != nil || !bytes.Equal(got, universe[i])):
							t.Fatalf("step %d: node %d present, read %q, %v", step, i, got, err)
						case !present[i] && !errors.Is(err, ErrNotFound):
							t.Fatalf("step %d: node %d absent, read %q, %v", step, i, got, err)
						}
					}
					listed := map[Hash]int{}
					err := st.ListNodes(ctx, func(h Hash, info ObjectInfo) error {
						listed[h]++
						return nil
					})
					if err != nil {
						t.Fatal(err)
					}
					for i, h := range hs {
						if n := listed[h]; (present[i] && n != 1) || (!present[i] && n != 0) {
							t.Fatalf("step %d: node %d (present %v) listed %d times", step, i, present[i], n)
						}
					}
				}
			}
			if tmps := bulkTempFiles(t, dir); len(tmps) != 0 {
				t.Fatalf("temporary files left: %v", tmps)
			}
		})
	}
}

// TestPackDeleteKeepsFresh: a conditional delete removes a node from an
// old pack but keeps a copy in a young pack (a writer stored it again),
// reports that node kept, and keeps the old pack's age for the nodes it
// rewrites (a rewrite must not make unreachable nodes look young, nor
// young ones old).
func TestPackDeleteKeepsFresh(t *testing.T) {
	ctx := context.Background()
	st, dir := openHeadStore(t)
	datas := bulkTestNodes(10)
	hs, _, err := st.PutNodesBulk(ctx, datas, nil)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-48 * time.Hour).Truncate(time.Second)
	packs := packFiles(t, dir)
	if len(packs) != 1 {
		t.Fatalf("packs: %v", packs)
	}
	if err := os.Chtimes(packs[0], old, old); err != nil {
		t.Fatal(err)
	}
	// Node 0 stored again, in a pack of its own with node 9 of a new kind.
	extra := []byte("a node only the young pack holds")
	if _, _, err := st.PutNodesBulk(ctx, [][]byte{datas[0], extra}, nil); err != nil {
		t.Fatal(err)
	}
	cutoff := time.Now().Add(-24 * time.Hour)
	got, err := st.DeleteNodesIfOlder(ctx, []Hash{hs[0], hs[1], hs[2], HashOf(extra)}, cutoff, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{false, true, true, false}; !slices.Equal(got, want) {
		t.Fatalf("deleted %v, want %v", got, want)
	}
	for i, h := range hs {
		ok, err := st.HasNode(ctx, h)
		if err != nil || ok != (i == 0 || i > 2) {
			t.Fatalf("node %d: HasNode %v, %v", i, ok, err)
		}
	}
	// The old pack was rewritten with nodes 0 and 3–9, keeping its age.
	var sawOld bool
	for _, p := range packFiles(t, dir) {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.ModTime().Equal(old) {
			sawOld = true
		}
	}
	if !sawOld || len(packFiles(t, dir)) != 2 {
		t.Fatalf("packs after the delete: %v (one should keep the old time %v)", packFiles(t, dir), old)
	}
	// Listing reports node 0 with the young copy's time.
	err = st.ListNodes(ctx, func(h Hash, info ObjectInfo) error {
		if h == hs[0] && info.ModTime.Before(cutoff) {
			return fmt.Errorf("node 0 listed with the old time %v", info.ModTime)
		}
		if h == hs[5] && !info.ModTime.Equal(old) {
			return fmt.Errorf("node 5 listed with time %v, want %v", info.ModTime, old)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPackRewriteCrash: a collection that dies while rewriting a pack
// (after writing the new pack's temporary file, before linking it) leaves
// the old pack whole: every node still reads, and the next collection
// finishes the job.
func TestPackRewriteCrash(t *testing.T) {
	ctx := context.Background()
	st, dir := openHeadStore(t)
	datas := bulkTestNodes(20)
	hs, _, err := st.PutNodesBulk(ctx, datas, nil)
	if err != nil {
		t.Fatal(err)
	}
	errCrash := errors.New("simulated crash")
	bulkHookSynced = func([]string) error { return errCrash }
	t.Cleanup(func() { bulkHookSynced = nil })
	future := time.Now().Add(time.Hour)
	if _, err := st.DeleteNodesIfOlder(ctx, hs[:5], future, 0); !errors.Is(err, errCrash) {
		t.Fatalf("delete: %v, want the simulated crash", err)
	}
	bulkHookSynced = nil
	other, err := Open(ctx, "file://"+dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for i, h := range hs {
		if got, err := other.GetNode(ctx, h); err != nil || !bytes.Equal(got, datas[i]) {
			t.Fatalf("node %d after the crash: %q, %v", i, got, err)
		}
	}
	got, err := st.DeleteNodesIfOlder(ctx, hs[:5], future, 0)
	if err != nil || !slices.Equal(got, []bool{true, true, true, true, true}) {
		t.Fatalf("delete again: %v, %v", got, err)
	}
	for i, h := range hs {
		if ok, err := other.HasNode(ctx, h); err != nil || ok != (i >= 5) {
			t.Fatalf("node %d: HasNode %v, %v", i, ok, err)
		}
	}
	if n, _, err := st.SweepTemp(ctx, future, false); err != nil || n != 1 {
		t.Fatalf("sweep: %d temporary files, %v; want the crashed rewrite's one", n, err)
	}
}

// TestPackDamaged: a file in the pack directory that is not a pack (cut
// short, or its index damaged) is skipped: its nodes read as missing, not
// as an error or a crash, and the other packs still read. A pack cut short
// after it was indexed yields corrupt bytes for what it lost.
func TestPackDamaged(t *testing.T) {
	ctx := context.Background()
	st, dir := openHeadStore(t)
	a, b := bulkTestNodes(5), [][]byte{[]byte("other 1"), []byte("other 2")}
	ha, _, err := st.PutNodesBulk(ctx, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := packFiles(t, dir)
	hb, _, err := st.PutNodesBulk(ctx, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Damage the first pack's index.
	raw, err := os.ReadFile(before[0])
	if err != nil {
		t.Fatal(err)
	}
	raw[packHeaderSize+3] ^= 0xff
	if err := os.WriteFile(before[0], raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, packDirName, "junk"+packSuffix), []byte("ACCPACK1"), 0o644); err != nil {
		t.Fatal(err)
	}
	other, err := Open(ctx, "file://"+dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for _, h := range ha {
		if _, err := other.GetNode(ctx, h); !errors.Is(err, ErrNodeMissing) {
			t.Fatalf("node of the damaged pack: %v, want ErrNodeMissing", err)
		}
	}
	for i, h := range hb {
		if got, err := other.GetNode(ctx, h); err != nil || !bytes.Equal(got, b[i]) {
			t.Fatalf("node of the intact pack: %q, %v", got, err)
		}
	}
	// A pack cut short after a process indexed it: its last node reads
	// as corrupt (the bytes left do not hash to its address).
	after := packFiles(t, dir)
	var intact string
	for _, p := range after {
		if p != before[0] && filepath.Base(p) != "junk"+packSuffix {
			intact = p
		}
	}
	fi, err := os.Stat(intact)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(intact, fi.Size()-2); err != nil {
		t.Fatal(err)
	}
	var corrupt int
	for _, h := range hb {
		if _, err := other.GetNode(ctx, h); errors.Is(err, ErrCorrupt) {
			corrupt++
		} else if err != nil {
			t.Fatalf("node of the truncated pack: %v, want ErrCorrupt or its bytes", err)
		}
	}
	if corrupt != 1 {
		t.Fatalf("%d nodes of the truncated pack read as corrupt, want 1 (the last)", corrupt)
	}
}

// FuzzPackIndex: decodePackIndex never panics, and an index it accepts
// has its entries in order and inside the file.
func FuzzPackIndex(f *testing.F) {
	good, _ := encodePack([]Hash{HashOf([]byte("a")), HashOf([]byte("b"))}, [][]byte{[]byte("a"), []byte("b")})
	f.Add(good)
	f.Add(good[:40])
	f.Add([]byte(packMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		pi, err := decodePackIndex(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		for i := range pi.hashes {
			if pi.offs[i]+uint64(pi.lens[i]) > uint64(len(data)) {
				t.Fatalf("entry %d outside the data", i)
			}
			if i > 0 && bytes.Compare(pi.hashes[i-1][:], pi.hashes[i][:]) >= 0 {
				t.Fatalf("entries out of order at %d", i)
			}
		}
	})
}
