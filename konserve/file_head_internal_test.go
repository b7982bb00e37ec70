package konserve

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestHeadSlotCrash stops a commit on the file backend (nodes, then the
// head's slot write) at each point between and inside its storage
// operations, by doing its steps by hand and abandoning the store there,
// then reopens the bucket as the next process would. Whatever the point,
// the head reads as the old or the new bytes, every node the new head
// names is present when the head is new, and the next writer's swap
// succeeds from what it read. A slot write cut anywhere short (a crash
// tearing it) leaves the old head.
func TestHeadSlotCrash(t *testing.T) {
	ctx := context.Background()
	newHead := []byte("head 1: " + strings.Repeat("x", 300))
	// The payload stages a range of the head, so that it ends in a byte
	// that is not zero (the unwritten rest of a slot is zeros).
	slot := appendSlot(nil, 2, encodePayload(newHead, []stagedEntry{{key: nodeKey(HashOf(newHead[:7])), kind: stageInHead, off: 0, n: 7}}))
	type point struct {
		name    string
		nodes   int // how many of the two nodes are durable
		slotLen int // bytes of the new slot written (-1: none)
		wantNew bool
	}
	points := []point{
		{"no-nodes", 0, -1, false},
		{"half-nodes", 1, -1, false},
		{"nodes", 2, -1, false},
		{"slot-seq-only", 2, 8, false},
		{"slot-header", 2, slotHdrSize, false},
		{"slot-half", 2, slotHdrSize + len(newHead)/2, false},
		{"slot-all-but-one", 2, len(slot) - 1, false},
		{"slot-whole", 2, len(slot), true},
	}
	for _, pt := range points {
		t.Run(pt.name, func(t *testing.T) {
			dir := t.TempDir()
			url := "file://" + dir
			st, err := Open(ctx, url, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.SwapHead(ctx, headKey, "", []byte("head 0")); err != nil {
				t.Fatal(err)
			}
			nodes := [][]byte{[]byte("tail node " + pt.name), []byte("commit record " + pt.name)}
			if _, err := st.PutNodes(ctx, nodes[:pt.nodes]); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, filepath.FromSlash(headKey))
			if pt.slotLen >= 0 {
				cur, err := readHeadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				f, err := os.OpenFile(p, os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.WriteAt(slot[:pt.slotLen], int64(headBlock+((cur.slot+1)%cur.slots)*cur.slotSize)); err != nil {
					t.Fatal(err)
				}
				if err := f.Close(); err != nil {
					t.Fatal(err)
				}
			}
			// The process dies here: st is abandoned, not closed.

			st2, err := Open(ctx, url, nil)
			if err != nil {
				t.Fatalf("reopen after a crash at %s: %v", pt.name, err)
			}
			defer st2.Close()
			got, v, err := st2.ReadHead(ctx, headKey)
			if err != nil {
				t.Fatalf("read head after a crash at %s: %v", pt.name, err)
			}
			switch {
			case string(got) == "head 0":
				if pt.wantNew {
					t.Fatalf("crash at %s: head is old after its slot was written whole", pt.name)
				}
			case bytes.Equal(got, newHead):
				if !pt.wantNew {
					t.Fatalf("crash at %s: head moved before its slot was whole", pt.name)
				}
				for _, n := range nodes {
					if _, err := st2.GetNode(ctx, HashOf(n)); err != nil {
						t.Fatalf("crash at %s: head is new but node %q is missing: %v", pt.name, n, err)
					}
				}
			default:
				t.Fatalf("crash at %s: head reads %q", pt.name, got)
			}
			// The next writer proceeds from what it read, over the torn
			// slot if there is one.
			if _, err := st2.SwapHead(ctx, headKey, v, []byte("head 2")); err != nil {
				t.Fatalf("crash at %s: next swap: %v", pt.name, err)
			}
			if got, _, err := st2.ReadHead(ctx, headKey); err != nil || string(got) != "head 2" {
				t.Fatalf("crash at %s: head after the next swap = %q, %v", pt.name, got, err)
			}
			if _, err := st2.SwapHead(ctx, headKey, v, []byte("head 3")); !errors.Is(err, ErrConflict) {
				t.Fatalf("crash at %s: a swap from the replaced version: %v, want ErrConflict", pt.name, err)
			}
		})
	}
}

// TestHeadSlotRegrowCrash: a head that outgrows its slots is written as a
// new file; a crash before the rename leaves the old head and a temporary
// file that SweepTemp removes.
func TestHeadSlotRegrowCrash(t *testing.T) {
	ctx := context.Background()
	st, dir := openHeadStore(t)
	v0, err := st.SwapHead(ctx, headKey, "", []byte("head 0"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, filepath.FromSlash(headKey))
	cur, err := readHeadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("b"), cur.slotSize) // cannot fit a slot
	// The regrow's first step, then the crash.
	if _, err := writeTemp(filepath.Dir(p), newHeadFile(cur.seq+1, big), true); err != nil {
		t.Fatal(err)
	}
	st2, err := Open(ctx, "file://"+dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	if got, v, err := st2.ReadHead(ctx, headKey); err != nil || string(got) != "head 0" || v != v0 {
		t.Fatalf("after a crash before the rename: %q, %v, %v", got, v, err)
	}
	if left := tempFiles(t, dir); len(left) != 1 {
		t.Fatalf("temporary files %v, want one", left)
	}
	if _, _, err := st2.SweepTemp(ctx, time.Now().Add(time.Second), false); err != nil {
		t.Fatal(err)
	}
	if left := tempFiles(t, dir); len(left) != 0 {
		t.Fatalf("SweepTemp left %v", left)
	}
	// The regrow itself, then swaps in place in the bigger slots.
	v1, err := st2.SwapHead(ctx, headKey, v0, big)
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := st2.ReadHead(ctx, headKey); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("after the regrow: %d bytes, %v", len(got), err)
	}
	if cur2, err := readHeadFile(p); err != nil || cur2.slotSize <= cur.slotSize || cur2.seq != cur.seq+1 {
		t.Fatalf("regrown file: slot size %d (was %d), seq %d (was %d), %v", cur2.slotSize, cur.slotSize, cur2.seq, cur.seq, err)
	}
	if _, err := st2.SwapHead(ctx, headKey, v1, []byte("head 2")); err != nil {
		t.Fatal(err)
	}
	if got, _, err := st2.ReadHead(ctx, headKey); err != nil || string(got) != "head 2" {
		t.Fatalf("after a swap in the regrown file: %q, %v", got, err)
	}
}

// TestHeadFileWithoutSlots: a head written whole by an older version of the
// backend reads as its bytes, swaps from their version (becoming a slotted
// file), and refuses a swap from any other.
func TestHeadFileWithoutSlots(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := filepath.Join(dir, filepath.FromSlash(headKey))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("legacy head"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := Open(ctx, "file://"+dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, v, err := st.ReadHead(ctx, headKey)
	if err != nil || string(got) != "legacy head" || v != fileVersion([]byte("legacy head")) {
		t.Fatalf("legacy head: %q, %v, %v", got, v, err)
	}
	if _, err := st.SwapHead(ctx, headKey, fileVersion([]byte("other")), []byte("x")); !errors.Is(err, ErrConflict) {
		t.Fatalf("swap from a wrong version: %v", err)
	}
	if _, err := st.SwapHead(ctx, headKey, v, []byte("head 1")); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(p)
	if err != nil || !bytes.HasPrefix(raw, headMagic2) {
		t.Fatalf("after a swap the file has no ring: %v", err)
	}
	if got, err := st.Backend().Get(ctx, headKey); err != nil || string(got) != "head 1" {
		t.Fatalf("Get of a slotted key = %q, %v", got, err)
	}
}

// TestHeadFileDamaged: a slotted file whose slots both fail their checksum
// (or whose header is cut) is damage, reported as ErrCorrupt, not a head.
func TestHeadFileDamaged(t *testing.T) {
	ctx := context.Background()
	st, dir := openHeadStore(t)
	v, err := st.SwapHead(ctx, headKey, "", []byte("head 0"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.SwapHead(ctx, headKey, v, []byte("head 1")); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, filepath.FromSlash(headKey))
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	size := (len(raw) - headBlock) / ringSlots
	for i := range ringSlots {
		raw[headBlock+i*size+slotHdrSize] ^= 0xff
	}
	if err := os.WriteFile(p, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.ReadHead(ctx, headKey); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("both slots damaged: %v, want ErrCorrupt", err)
	}
	if _, err := st.SwapHead(ctx, headKey, v, []byte("head 2")); err == nil || errors.Is(err, ErrConflict) {
		t.Fatalf("swap over a damaged head: %v, want an error other than a conflict", err)
	}
	if err := os.WriteFile(p, raw[:len(headMagic)+2], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.ReadHead(ctx, headKey); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("cut header: %v, want ErrCorrupt", err)
	}
}

// TestHeadSlotReadersDuringSwaps: readers that take no lock, reading while
// a writer swaps in place as fast as it can, only ever see whole heads
// whose Version is theirs, in order.
func TestHeadSlotReadersDuringSwaps(t *testing.T) {
	ctx := context.Background()
	st, _ := openHeadStore(t)
	head := func(i int) []byte {
		return fmt.Appendf(nil, "head %06d %s", i, strings.Repeat(string(rune('a'+i%26)), 1000+i%700))
	}
	v, err := st.SwapHead(ctx, headKey, "", head(0))
	if err != nil {
		t.Fatal(err)
	}
	const swaps = 300
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 4)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := -1
			for {
				select {
				case <-stop:
					return
				default:
				}
				data, rv, err := st.Backend().ReadVersioned(ctx, headKey)
				if err != nil {
					errs <- err
					return
				}
				var i int
				if _, err := fmt.Sscanf(string(data), "head %06d", &i); err != nil || !bytes.Equal(data, head(i)) || rv != fileVersion(data) || i < last {
					errs <- fmt.Errorf("read %.20q (after head %d): not a whole head, or out of order", data, last)
					return
				}
				last = i
			}
		}()
	}
	for i := 1; i <= swaps; i++ {
		if v, err = st.SwapHead(ctx, headKey, v, head(i)); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// headKey is the key the head tests swap.
const headKey = "branches/main/HEAD"

// openHeadStore opens a file store in a new directory.
func openHeadStore(t *testing.T) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	st, err := Open(context.Background(), "file://"+dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, dir
}

// tempFiles lists the temporary files under dir.
func tempFiles(t *testing.T, dir string) []string {
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

// FuzzParseHeadFile: parsing arbitrary bytes as a head file never panics,
// and whatever it accepts from a slotted file is the bytes of an intact
// slot.
func FuzzParseHeadFile(f *testing.F) {
	f.Add(newHeadFile(1, encodePayload([]byte("head"), nil)))
	f.Add(newHeadFile(7, encodePayload([]byte("head with a commit inside"), []stagedEntry{
		{key: nodeKey(HashOf([]byte("a"))), kind: stageFull, data: []byte("a")},
		{key: nodeKey(HashOf([]byte("ab"))), kind: stageConcat, prefix: nodeKey(HashOf([]byte("a"))), data: []byte("b")},
		{key: nodeKey(HashOf([]byte("commit"))), kind: stageInHead, off: 12, n: 6},
	})))
	f.Add([]byte("plain head"))
	f.Add(append(append([]byte{}, headMagic...), 0, 16, 0, 0))
	f.Add(append(append([]byte{}, headMagic2...), 0, 16, 0, 0, 4, 0, 0, 0))
	f.Fuzz(func(t *testing.T, file []byte) {
		h, err := parseHeadFile(file)
		if err != nil || h.slot < 0 {
			return
		}
		off := headBlock + h.slot*h.slotSize
		n := int(binary.LittleEndian.Uint32(file[off+8:]))
		payload := file[off+slotHdrSize : off+slotHdrSize+n]
		if slotSum(h.seq, payload) != [32]byte(file[off+16:off+48]) {
			t.Fatalf("accepted slot %d does not check", h.slot)
		}
		want := payload
		if h.ring {
			head, _, err := decodePayload(payload)
			if err != nil {
				t.Fatalf("accepted slot %d does not parse: %v", h.slot, err)
			}
			want = head
		}
		if !bytes.Equal(want, h.data) {
			t.Fatalf("accepted slot %d: head %q, want %q", h.slot, h.data, want)
		}
	})
}
