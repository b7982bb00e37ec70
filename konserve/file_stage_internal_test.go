package konserve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// stagedCommits makes n commits on head key of st the way a writer does:
// each stores a log tail that extends the previous one and a commit record
// that the head inlines. It returns every object, in order.
func stagedCommits(t *testing.T, st *Store, key string, v Version, from, n int) (Version, [][]byte) {
	t.Helper()
	ctx := context.Background()
	var objs [][]byte
	tail := []byte("TAIL")
	for i := 0; i < from; i++ {
		tail = fmt.Appendf(tail, "<tx %d %s>", i, bytes.Repeat([]byte{'a' + byte(i%26)}, 40))
	}
	for i := from; i < from+n; i++ {
		tail = fmt.Appendf(tail, "<tx %d %s>", i, bytes.Repeat([]byte{'a' + byte(i%26)}, 40))
		commit := fmt.Appendf(nil, "commit %d naming %s", i, HashOf(tail))
		head := fmt.Appendf(nil, "head {%s} nonce %d", commit, i)
		nodes := [][]byte{bytes.Clone(tail), commit}
		_, nv, err := st.PutNodesSwapHead(ctx, nodes, key, v, head)
		if err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
		v = nv
		objs = append(objs, nodes...)
	}
	return v, objs
}

// ringHead creates headKey on st with head, then swaps it once more, so
// that it is a ring file whatever its first write made, and returns its
// version.
func ringHead(t *testing.T, st *Store, head string) Version {
	t.Helper()
	ctx := context.Background()
	v, err := st.SwapHead(ctx, headKey, "", []byte(head))
	if err != nil {
		t.Fatal(err)
	}
	if v, err = st.SwapHead(ctx, headKey, v, []byte(head+" in a ring")); err != nil {
		t.Fatal(err)
	}
	return v
}

func fileBackendOf(t *testing.T, st *Store) *fileBackend {
	t.Helper()
	fb, ok := st.Backend().(*fileBackend)
	if !ok {
		t.Fatalf("backend %T is not the file backend", st.Backend())
	}
	return fb
}

func nodeFileExists(t *testing.T, dir string, data []byte) bool {
	t.Helper()
	_, err := os.Stat(filepath.Join(dir, filepath.FromSlash(nodeKey(HashOf(data)))))
	return err == nil
}

// TestStagedCommitsCrash: a writer makes commits whose objects are staged in
// the head's slots and dies before any is written as a file (the
// background writes never run). Every object of every commit stays
// readable: from the ring (whole, as a range of its head, or as the
// previous tail plus new bytes), or as a file for those whose slot was
// reused (a slot is written again only after its objects are files). A
// new process reads them whether or not it has read the head; its first
// swap makes them all files and clears the older slots.
func TestStagedCommitsCrash(t *testing.T) {
	ctx := context.Background()
	st, dir := openHeadStore(t)
	v := ringHead(t, st, "head 0")
	fileBackendOf(t, st).holdFlushes = true
	const n = 2*ringSlots + 1
	v, objs := stagedCommits(t, st, headKey, v, 0, n)
	p := filepath.Join(dir, filepath.FromSlash(headKey))
	cur, err := readHeadFileAll(p, true)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[byte]int{}
	for _, sv := range cur.all {
		for _, e := range sv.staged {
			kinds[e.kind]++
		}
	}
	if kinds[stageConcat] == 0 || kinds[stageInHead] == 0 {
		t.Fatalf("staged entry kinds %v: want tails as concatenations and commits as ranges of the head", kinds)
	}
	// The newest commits' objects are only in the ring.
	last := objs[len(objs)-2:]
	for _, o := range last {
		if nodeFileExists(t, dir, o) {
			t.Fatalf("object %.20q is a file although no background write ran", o)
		}
	}
	// The process dies: st is abandoned.

	for _, readHead := range []bool{true, false} {
		st2, err := Open(ctx, "file://"+dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if readHead {
			if got, gv, err := st2.ReadHead(ctx, headKey); err != nil || gv != v {
				t.Fatalf("head after the crash = %q (%q), %v; want version %q", got, gv, err, v)
			}
		}
		for i, o := range objs {
			got, err := st2.GetNode(ctx, HashOf(o))
			if err != nil || !bytes.Equal(got, o) {
				t.Fatalf("read head %v: object %d (%.20q): %v", readHead, i, o, err)
			}
		}
		st2.Close()
	}

	st3, err := Open(ctx, "file://"+dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st3.Close()
	_, gv, err := st3.ReadHead(ctx, headKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st3.SwapHead(ctx, headKey, gv, []byte("head after recovery")); err != nil {
		t.Fatal(err)
	}
	for i, o := range objs {
		if !nodeFileExists(t, dir, o) {
			t.Fatalf("object %d (%.20q) is not a file after the next process's first swap", i, o)
		}
	}
	cur, err = readHeadFileAll(p, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(cur.all) != 2 || string(cur.data) != "head after recovery" {
		t.Fatalf("after recovery the ring holds %d intact slots, head %q; want 2 (the recovered head and the new one)", len(cur.all), cur.data)
	}
}

// TestStagedObjectsOfOtherHeads: a process that read one head and swaps
// another (creating a branch from the first's commit) first makes the
// objects the first head stages into files, so the new head never names
// an object only another head file holds; deleting a head does the same.
func TestStagedObjectsOfOtherHeads(t *testing.T) {
	ctx := context.Background()
	for _, how := range []string{"branch", "delete"} {
		t.Run(how, func(t *testing.T) {
			st, dir := openHeadStore(t)
			v := ringHead(t, st, "head 0")
			fileBackendOf(t, st).holdFlushes = true
			_, objs := stagedCommits(t, st, headKey, v, 0, 2)
			for _, o := range objs {
				if nodeFileExists(t, dir, o) {
					t.Fatalf("object %.20q is a file already", o)
				}
			}
			st2, err := Open(ctx, "file://"+dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer st2.Close()
			head, _, err := st2.ReadHead(ctx, headKey)
			if err != nil {
				t.Fatal(err)
			}
			switch how {
			case "branch":
				if _, err := st2.SwapHead(ctx, "branches/b/HEAD", "", head); err != nil {
					t.Fatal(err)
				}
			case "delete":
				if err := st2.DeleteHead(ctx, headKey); err != nil {
					t.Fatal(err)
				}
			}
			// The newest commit's objects; older ones may be files
			// because their slots were reused.
			for _, o := range objs[len(objs)-2:] {
				if !nodeFileExists(t, dir, o) {
					t.Fatalf("%s: object %.20q of the other head is not a file", how, o)
				}
			}
		})
	}
}

// TestStagedSettleScrubs: Settle leaves nothing of past slots in the head
// file, not even bytes past the end of a shorter payload written later
// over a longer one (excision relies on it).
func TestStagedSettleScrubs(t *testing.T) {
	ctx := context.Background()
	st, dir := openHeadStore(t)
	v, err := st.SwapHead(ctx, headKey, "", []byte("head 0"))
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("SECRET-VALUE-1234")
	big := append(bytes.Repeat([]byte("x"), 3000), secret...)
	for i := range 2 * ringSlots {
		var nodes [][]byte
		if i == 1 {
			nodes = [][]byte{big}
		} else {
			nodes = [][]byte{fmt.Appendf(nil, "small node %d", i)}
		}
		if _, v, err = st.PutNodesSwapHead(ctx, nodes, headKey, v, fmt.Appendf(nil, "head %d", i+1)); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, filepath.FromSlash(headKey))
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, secret) {
		t.Fatal("the staged bytes are not in the head file: the test proves nothing")
	}
	if err := st.Settle(ctx); err != nil {
		t.Fatal(err)
	}
	if raw, err = os.ReadFile(p); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, secret) {
		t.Fatal("Settle left a past slot's bytes in the head file")
	}
	if got, gv, err := st.ReadHead(ctx, headKey); err != nil || gv != v {
		t.Fatalf("head after Settle = %q (%q), %v", got, gv, err)
	}
	if !nodeFileExists(t, dir, big) {
		t.Fatal("the staged node is not a file after Settle")
	}
}

// TestStagedGetMissing: a node that is neither a file nor staged anywhere
// is ErrNodeMissing, after the fallback looked.
func TestStagedGetMissing(t *testing.T) {
	ctx := context.Background()
	st, _ := openHeadStore(t)
	if _, err := st.SwapHead(ctx, headKey, "", []byte("head 0")); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetNode(ctx, HashOf([]byte("nothing"))); !errors.Is(err, ErrNodeMissing) {
		t.Fatalf("GetNode of an absent node: %v, want ErrNodeMissing", err)
	}
}

// FuzzDecodePayload: decoding arbitrary bytes as a ring slot's payload
// never panics, and whatever it accepts encodes back to the same bytes.
func FuzzDecodePayload(f *testing.F) {
	f.Add(encodePayload([]byte("head"), nil))
	f.Add(encodePayload([]byte("head with a commit inside"), []stagedEntry{
		{key: nodeKey(HashOf([]byte("a"))), kind: stageFull, data: []byte("a")},
		{key: nodeKey(HashOf([]byte("ab"))), kind: stageConcat, prefix: nodeKey(HashOf([]byte("a"))), data: []byte("b")},
		{key: nodeKey(HashOf([]byte("commit"))), kind: stageInHead, off: 12, n: 6},
	}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, p []byte) {
		head, es, err := decodePayload(p)
		if err != nil {
			return
		}
		for _, e := range es {
			if e.kind == stageInHead && e.off+e.n > len(head) {
				t.Fatalf("entry %s: range [%d,%d) past a head of %d bytes", e.key, e.off, e.off+e.n, len(head))
			}
		}
		if again := encodePayload(head, es); !bytes.Equal(again, p) {
			t.Fatalf("re-encoded payload differs:\n%q\n%q", again, p)
		}
	})
}

// TestStagedRecreatedHead: a head deleted and made again starts its slot
// sequence over. A process that staged objects under the old file must not
// take the new file's slots, staged by another process that died, for
// slots whose objects it wrote itself.
func TestStagedRecreatedHead(t *testing.T) {
	ctx := context.Background()
	a, dir := openHeadStore(t)
	v := ringHead(t, a, "old 0")
	stagedCommits(t, a, headKey, v, 0, ringSlots)
	if err := a.Settle(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteHead(ctx, headKey); err != nil {
		t.Fatal(err)
	}
	b, err := Open(ctx, "file://"+dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	vb := ringHead(t, b, "new 0")
	fileBackendOf(t, b).holdFlushes = true
	vb, objs := stagedCommits(t, b, headKey, vb, 100, 2)
	// b dies. a swaps on, past every slot.
	for i := range ringSlots + 1 {
		if vb, err = a.SwapHead(ctx, headKey, vb, fmt.Appendf(nil, "a %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i, o := range objs {
		if !nodeFileExists(t, dir, o) {
			t.Fatalf("object %d (%.20q) staged in the new file was lost when its slot was reused", i, o)
		}
	}
}
