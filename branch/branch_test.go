package branch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/accretedb/accrete/konserve"
)

func memStore(t *testing.T) *konserve.Store {
	t.Helper()
	st, err := konserve.Open(context.Background(), "mem://", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func sampleCommit(seq uint64, parent konserve.Hash) *Commit {
	c := &Commit{Format: FormatVersion, DBID: "db1", Branch: Default, Seq: seq,
		Roots:  []Root{{Name: "eavt", Addr: konserve.HashOf([]byte("x")), Count: 3, Depth: 1}},
		BasisT: int64(seq), NextUser: 10, NextDB: 5, TxTs: []int64{int64(seq)}, WallTime: 1234}
	if !parent.IsZero() {
		c.Parents = []konserve.Hash{parent}
	}
	return c
}

func TestCommitRoundTrip(t *testing.T) {
	c := sampleCommit(7, konserve.HashOf([]byte("p")))
	c.Schema = []byte{1, 2, 3}
	b1, err := EncodeCommit(c)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := EncodeCommit(c)
	if string(b1) != string(b2) {
		t.Fatal("encoding is not deterministic")
	}
	got, err := DecodeCommit(b1)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, c)
	}
	if r, ok := got.Root("eavt"); !ok || r.Count != 3 {
		t.Fatalf("Root(eavt) = %+v, %v", r, ok)
	}
	if _, err := DecodeCommit(b1[:len(b1)-3]); !errors.Is(err, ErrFormat) {
		t.Fatalf("truncated commit: err = %v, want ErrFormat", err)
	}
	// Statistics round-trip, each count as a two-element array; a commit
	// without them (as before accrete kept them) has no "stats" key at
	// all, so its encoding and address did not change.
	if bytes.Contains(b1, []byte("stats")) {
		t.Fatal("a commit without statistics encodes a stats key")
	}
	c.Stats = &Stats{Attrs: []AttrCount{{A: 10, N: 3}, {A: 72057594037927937, N: 1 << 40}}}
	bs, err := EncodeCommit(c)
	if err != nil {
		t.Fatal(err)
	}
	if got, err = DecodeCommit(bs); err != nil || !reflect.DeepEqual(got.Stats, c.Stats) {
		t.Fatalf("statistics round trip: %+v, %v; want %+v", got.Stats, err, c.Stats)
	}
	if !bytes.Contains(bs, []byte{0x92, 10, 3}) {
		t.Fatalf("AttrCount{10, 3} is not encoded as the array [10 3]: % x", bs)
	}
	c.Stats = &Stats{}
	if bs, _ = EncodeCommit(c); !bytes.Contains(bs, []byte("stats")) {
		t.Fatal("empty statistics (an empty tree) are not encoded")
	}
	if got, err = DecodeCommit(bs); err != nil || got.Stats == nil {
		t.Fatalf("empty statistics decode as %+v, %v", got.Stats, err)
	}
	c.Stats = nil
	c.Format = 99
	b3, _ := EncodeCommit(c)
	if _, err := DecodeCommit(b3); !errors.Is(err, ErrFormat) {
		t.Fatalf("future format: err = %v, want ErrFormat", err)
	}
}

func TestAdvanceAndConflict(t *testing.T) {
	ctx := context.Background()
	st := memStore(t)
	if _, err := Read(ctx, st, "main"); !errors.Is(err, ErrNoBranch) {
		t.Fatalf("Read of missing branch: %v, want ErrNoBranch", err)
	}
	h1, err := Advance(ctx, st, "main", nil, sampleCommit(1, konserve.Hash{}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Advance(ctx, st, "main", nil, sampleCommit(1, konserve.Hash{})); !errors.Is(err, ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	h2, err := Advance(ctx, st, "main", h1, sampleCommit(2, h1.Addr))
	if err != nil {
		t.Fatal(err)
	}
	// A stale head loses, whatever its commit.
	_, err = Advance(ctx, st, "main", h1, sampleCommit(2, h1.Addr))
	if !errors.Is(err, ErrConflict) || !errors.Is(err, konserve.ErrConflict) {
		t.Fatalf("stale advance: %v, want ErrConflict", err)
	}
	got, err := Read(ctx, st, "main")
	if err != nil {
		t.Fatal(err)
	}
	if got.Addr != h2.Addr || got.Commit.Seq != 2 {
		t.Fatalf("head = %s seq %d, want %s seq 2", got.Addr, got.Commit.Seq, h2.Addr)
	}
	var seqs []uint64
	err = Walk(ctx, st, got.Addr, func(_ konserve.Hash, c *Commit) (bool, error) {
		seqs = append(seqs, c.Seq)
		return true, nil
	})
	if err != nil || !reflect.DeepEqual(seqs, []uint64{2, 1}) {
		t.Fatalf("Walk = %v, %v; want [2 1]", seqs, err)
	}
	if h, err := ReadIfChanged(ctx, st, "main", got.Version); err != nil || h != nil {
		t.Fatalf("ReadIfChanged unchanged = %v, %v; want nil, nil", h, err)
	}
	if h, err := ReadIfChanged(ctx, st, "main", h1.Version); err != nil || h == nil || h.Addr != h2.Addr {
		t.Fatalf("ReadIfChanged changed = %v, %v", h, err)
	}
}

func TestBranches(t *testing.T) {
	ctx := context.Background()
	st := memStore(t)
	h1, err := Advance(ctx, st, "main", nil, sampleCommit(1, konserve.Hash{}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Create(ctx, st, "feature-1", h1.Addr); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(ctx, st, "feature-1", h1.Addr); !errors.Is(err, ErrExists) {
		t.Fatalf("re-create: %v, want ErrExists", err)
	}
	for _, bad := range []string{"", "../x", "a/b", "-x", "a..b"} {
		if _, err := Create(ctx, st, bad, h1.Addr); !errors.Is(err, ErrBadName) {
			t.Errorf("Create(%q): %v, want ErrBadName", bad, err)
		}
	}
	if _, err := Create(ctx, st, "ghost", konserve.HashOf([]byte("nothing"))); !errors.Is(err, konserve.ErrNodeMissing) {
		t.Fatalf("Create from a missing commit: %v, want ErrNodeMissing", err)
	}
	names, err := List(ctx, st)
	if err != nil || !reflect.DeepEqual(names, []string{"feature-1", "main"}) {
		t.Fatalf("List = %v, %v", names, err)
	}
	if err := Delete(ctx, st, "feature-1"); err != nil {
		t.Fatal(err)
	}
	if err := Delete(ctx, st, "feature-1"); !errors.Is(err, ErrNoBranch) {
		t.Fatalf("second Delete: %v, want ErrNoBranch", err)
	}
	// Re-creating a deleted branch at the same commit gives a head with
	// different bytes (H3), so a swap holding the old version must fail.
	old, err := Create(ctx, st, "again", h1.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := Delete(ctx, st, "again"); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(ctx, st, "again", h1.Addr); err != nil {
		t.Fatal(err)
	}
	if _, err := Advance(ctx, st, "again", old, sampleCommit(2, h1.Addr)); !errors.Is(err, ErrConflict) {
		t.Fatalf("swap from a recycled head: %v, want ErrConflict", err)
	}
}

// TestRacingAdvance: many goroutines advance one branch from the same head;
// exactly one wins each round.
func TestRacingAdvance(t *testing.T) {
	ctx := context.Background()
	st := memStore(t)
	h, err := Advance(ctx, st, "main", nil, sampleCommit(1, konserve.Hash{}))
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 20; round++ {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var winners []*Head
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				c := sampleCommit(h.Commit.Seq+1, h.Addr)
				c.Writer = fmt.Sprint("w", g)
				nh, err := Advance(ctx, st, "main", h, c)
				if err == nil {
					mu.Lock()
					winners = append(winners, nh)
					mu.Unlock()
				} else if !errors.Is(err, ErrConflict) {
					t.Errorf("round %d: %v", round, err)
				}
			}(g)
		}
		wg.Wait()
		if len(winners) != 1 {
			t.Fatalf("round %d: %d winners, want 1", round, len(winners))
		}
		h = winners[0]
	}
}

func FuzzDecodeCommit(f *testing.F) {
	b, _ := EncodeCommit(sampleCommit(3, konserve.HashOf([]byte("p"))))
	f.Add(b)
	withStats := sampleCommit(4, konserve.HashOf([]byte("p")))
	withStats.Stats = &Stats{Attrs: []AttrCount{{A: 10, N: 3}, {A: 11, N: 7}}}
	b, _ = EncodeCommit(withStats)
	f.Add(b)
	f.Add([]byte("ACC1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeCommit(data)
		if err != nil {
			return
		}
		b, err := EncodeCommit(c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeCommit(b); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
	})
}

func FuzzDecodeHead(f *testing.F) {
	body, _ := EncodeCommit(sampleCommit(3, konserve.Hash{}))
	h, _ := encodeHead(konserve.HashOf(body), body)
	f.Add(h)
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _, _ = DecodeHead(data) // must not panic
	})
}
