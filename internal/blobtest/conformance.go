package blobtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/accretedb/accrete/konserve"
)

// ConformanceOptions tune RunConformance for slow backends (a remote
// bucket). The zero value runs the full suite.
type ConformanceOptions struct {
	// Rounds of racing swaps (default 20) and goroutines per round
	// (default 8).
	Rounds, Racers int
	// Increments per goroutine in the CAS counter test (default 25).
	Increments int
}

// RunConformance runs the Backend contract tests (the comments in
// konserve/backend.go) against backends made by newBackend, one fresh
// backend per subtest; newBackend should register its own cleanup.
// RunConformance closes each backend at the end of its subtest.
func RunConformance(t *testing.T, newBackend func(t *testing.T) konserve.Backend) {
	RunConformanceWith(t, newBackend, ConformanceOptions{})
}

// RunConformanceWith is RunConformance with options.
func RunConformanceWith(t *testing.T, newBackend func(t *testing.T) konserve.Backend, o ConformanceOptions) {
	if o.Rounds <= 0 {
		o.Rounds = 20
	}
	if o.Racers <= 0 {
		o.Racers = 8
	}
	if o.Increments <= 0 {
		o.Increments = 25
	}
	tests := []struct {
		name string
		fn   func(*testing.T, konserve.Backend)
	}{
		{"PutGet", testPutGet},
		{"PutImmutableCreateOnly", testPutImmutableCreateOnly},
		{"PutImmutableConcurrent", testPutImmutableConcurrent},
		{"NotFound", testNotFound},
		{"SwapCreateReplaceConflict", testSwap},
		{"SwapRace", func(t *testing.T, b konserve.Backend) { testSwapRace(t, b, o.Rounds, o.Racers) }},
		{"SwapCounter", func(t *testing.T, b konserve.Backend) { testSwapCounter(t, b, o.Racers, o.Increments) }},
		{"List", testList},
		{"Delete", testDelete},
		{"ConditionalRead", testConditionalRead},
		{"DeleteIfOlder", testDeleteIfOlder},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t)
			t.Cleanup(func() {
				if err := b.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, b)
		})
	}
}

func testPutGet(t *testing.T, b konserve.Backend) {
	ctx := context.Background()
	objs := map[string][]byte{
		"nodes/ab/abcdef":      []byte("node bytes"),
		"nodes/00/empty":       {},
		"commits/c1":           bytes.Repeat([]byte{0, 1, 2, 255}, 4096),
		"deep/a/b/c/d/e/f/obj": []byte("deep"),
	}
	for k, v := range objs {
		if err := b.PutImmutable(ctx, k, v); err != nil {
			t.Fatalf("PutImmutable(%q): %v", k, err)
		}
	}
	for k, want := range objs {
		got, err := b.Get(ctx, k)
		if err != nil {
			t.Fatalf("Get(%q): %v", k, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("Get(%q) = %d bytes %.16x…, want %d bytes %.16x…", k, len(got), got, len(want), want)
		}
	}
}

func testPutImmutableCreateOnly(t *testing.T, b konserve.Backend) {
	ctx := context.Background()
	const key = "nodes/11/create-only"
	first, second := []byte("first"), []byte("second, different")
	if err := b.PutImmutable(ctx, key, first); err != nil {
		t.Fatalf("first PutImmutable: %v", err)
	}
	if err := b.PutImmutable(ctx, key, first); err != nil {
		t.Fatalf("repeated PutImmutable of the same bytes = %v, want nil", err)
	}
	if err := b.PutImmutable(ctx, key, second); err != nil {
		t.Fatalf("PutImmutable over an existing key = %v, want nil (no-op)", err)
	}
	got, err := b.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if !bytes.Equal(got, first) {
		t.Errorf("after create-only rewrite Get = %q, want the first bytes %q", got, first)
	}
}

func testPutImmutableConcurrent(t *testing.T, b konserve.Backend) {
	ctx := context.Background()
	const key, n = "nodes/22/concurrent", 16
	data := bytes.Repeat([]byte("same bytes "), 512)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = b.PutImmutable(ctx, key, data) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("racing PutImmutable #%d = %v, want nil", i, err)
		}
	}
	got, err := b.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("after racing puts Get returned %d bytes, want the %d put", len(got), len(data))
	}
}

func testNotFound(t *testing.T, b konserve.Backend) {
	ctx := context.Background()
	if _, err := b.Get(ctx, "nodes/33/missing"); !errors.Is(err, konserve.ErrNotFound) {
		t.Errorf("Get(missing) error = %v, want ErrNotFound", err)
	}
	if _, _, err := b.ReadVersioned(ctx, "branches/missing/HEAD"); !errors.Is(err, konserve.ErrNotFound) {
		t.Errorf("ReadVersioned(missing) error = %v, want ErrNotFound", err)
	}
	if err := b.Delete(ctx, "branches/missing/HEAD"); err != nil {
		t.Errorf("Delete(missing) = %v, want nil", err)
	}
	// A key whose "directory" is an object must still classify as missing.
	if err := b.PutImmutable(ctx, "nodes/44/file", []byte("x")); err != nil {
		t.Fatalf("PutImmutable: %v", err)
	}
	if _, err := b.Get(ctx, "nodes/44/file/child"); !errors.Is(err, konserve.ErrNotFound) {
		t.Errorf("Get(below an object) error = %v, want ErrNotFound", err)
	}
	// A prefix of other keys is not an object either, and deleting it
	// must not disturb them.
	if _, err := b.Get(ctx, "nodes/44"); !errors.Is(err, konserve.ErrNotFound) {
		t.Errorf("Get(a prefix of keys) error = %v, want ErrNotFound", err)
	}
	if _, _, err := b.ReadVersioned(ctx, "nodes/44"); !errors.Is(err, konserve.ErrNotFound) {
		t.Errorf("ReadVersioned(a prefix of keys) error = %v, want ErrNotFound", err)
	}
	if err := b.Delete(ctx, "nodes/44"); err != nil {
		t.Errorf("Delete(a prefix of keys) = %v, want nil", err)
	}
	if err := b.PutImmutable(ctx, "nodes/44/file2", []byte("y")); err != nil {
		t.Errorf("PutImmutable next to a deleted prefix = %v, want nil", err)
	}
	if got, err := b.Get(ctx, "nodes/44/file"); err != nil || string(got) != "x" {
		t.Errorf("Get after Delete of its prefix = %q, %v; want %q, nil", got, err, "x")
	}
}

func testSwap(t *testing.T, b konserve.Backend) {
	ctx := context.Background()
	const key = "branches/main/HEAD"
	v1, err := b.Swap(ctx, key, "", []byte("head 1"))
	if err != nil {
		t.Fatalf("Swap(create): %v", err)
	}
	if v1 == "" {
		t.Fatalf("Swap(create) returned the empty Version")
	}
	data, v, err := b.ReadVersioned(ctx, key)
	if err != nil || string(data) != "head 1" || v != v1 {
		t.Fatalf("ReadVersioned = %q, %q, %v; want %q, %q, nil", data, v, err, "head 1", v1)
	}
	if _, err := b.Swap(ctx, key, "", []byte("head 1b")); !errors.Is(err, konserve.ErrConflict) {
		t.Errorf("Swap(create) over an existing key error = %v, want ErrConflict", err)
	}
	v2, err := b.Swap(ctx, key, v1, []byte("head 2"))
	if err != nil {
		t.Fatalf("Swap(v1 -> head 2): %v", err)
	}
	if v2 == v1 || v2 == "" {
		t.Errorf("Swap returned version %q, want one differing from %q and non-empty", v2, v1)
	}
	if _, err := b.Swap(ctx, key, v1, []byte("head 3 from stale v1")); !errors.Is(err, konserve.ErrConflict) {
		t.Errorf("Swap from stale version error = %v, want ErrConflict", err)
	}
	if _, err := b.Swap(ctx, key, "no-such-version", []byte("head 3 bogus")); !errors.Is(err, konserve.ErrConflict) {
		t.Errorf("Swap from bogus version error = %v, want ErrConflict", err)
	}
	if _, err := b.Swap(ctx, "branches/absent/HEAD", v2, []byte("x")); !errors.Is(err, konserve.ErrConflict) {
		t.Errorf("Swap of a missing key from a non-empty version error = %v, want ErrConflict", err)
	}
	data, v, err = b.ReadVersioned(ctx, key)
	if err != nil || string(data) != "head 2" || v != v2 {
		t.Errorf("after failed swaps ReadVersioned = %q, %q, %v; want %q, %q, nil", data, v, err, "head 2", v2)
	}
}

// testSwapRace: per round, racers swap from the same version with distinct
// bytes; exactly one must win and the key must hold the winner's bytes.
func testSwapRace(t *testing.T, b konserve.Backend, rounds, racers int) {
	ctx := context.Background()
	const key = "branches/race/HEAD"
	v, err := b.Swap(ctx, key, "", []byte("round 0"))
	if err != nil {
		t.Fatalf("Swap(create): %v", err)
	}
	for r := 1; r <= rounds; r++ {
		type result struct {
			v   konserve.Version
			err error
		}
		res := make([]result, racers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() {
				<-start
				nv, err := b.Swap(ctx, key, v, fmt.Appendf(nil, "round %d racer %d", r, i))
				res[i] = result{nv, err}
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, rs := range res {
			switch {
			case rs.err == nil && winner >= 0:
				t.Fatalf("round %d: racers %d and %d both won", r, winner, i)
			case rs.err == nil:
				winner = i
			case !errors.Is(rs.err, konserve.ErrConflict):
				t.Fatalf("round %d racer %d: error %v, want nil or ErrConflict", r, i, rs.err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no racer won", r)
		}
		data, cur, err := b.ReadVersioned(ctx, key)
		if err != nil {
			t.Fatalf("round %d: ReadVersioned: %v", r, err)
		}
		if want := fmt.Sprintf("round %d racer %d", r, winner); string(data) != want || cur != res[winner].v {
			t.Fatalf("round %d: key holds %q version %q, want winner's %q version %q", r, data, cur, want, res[winner].v)
		}
		v = cur
	}
}

// testSwapCounter: racers increment a counter by read-modify-swap loops; no
// update may be lost. Each value carries the writer's id so that values
// never repeat (the contract heads rely on).
func testSwapCounter(t *testing.T, b konserve.Backend, racers, increments int) {
	ctx := context.Background()
	const key = "counters/c"
	if _, err := b.Swap(ctx, key, "", []byte("0 init")); err != nil {
		t.Fatalf("Swap(create): %v", err)
	}
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			for j := 0; j < increments; {
				data, v, err := b.ReadVersioned(ctx, key)
				if err != nil {
					errs[i] = err
					return
				}
				var n int
				if _, err := fmt.Sscanf(string(data), "%d", &n); err != nil {
					errs[i] = fmt.Errorf("parse %q: %w", data, err)
					return
				}
				_, err = b.Swap(ctx, key, v, fmt.Appendf(nil, "%d by %d", n+1, i))
				switch {
				case err == nil:
					j++
				case !errors.Is(err, konserve.ErrConflict):
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("racer %d: %v", i, err)
		}
	}
	data, _, err := b.ReadVersioned(ctx, key)
	if err != nil {
		t.Fatalf("ReadVersioned: %v", err)
	}
	var n int
	if _, err := fmt.Sscanf(string(data), "%d", &n); err != nil {
		t.Fatalf("parse %q: %v", data, err)
	}
	if want := racers * increments; n != want {
		t.Errorf("counter = %d, want %d (%d racers × %d increments): updates were lost", n, want, racers, increments)
	}
}

func testList(t *testing.T, b konserve.Backend) {
	ctx := context.Background()
	puts := map[string]string{
		"nodes/aa/n1":      "1",
		"nodes/aa/n2":      "22",
		"nodes/bb/n3":      "333",
		"commits/c1":       "c",
		"branchesX/y":      "not under branches/",
		"branches/a/other": "o",
	}
	for k, v := range puts {
		if err := b.PutImmutable(ctx, k, []byte(v)); err != nil {
			t.Fatalf("PutImmutable(%q): %v", k, err)
		}
	}
	for _, k := range []string{"branches/main/HEAD", "branches/dev/HEAD"} {
		if _, err := b.Swap(ctx, k, "", []byte("head of "+k)); err != nil {
			t.Fatalf("Swap(%q): %v", k, err)
		}
		puts[k] = "head of " + k
	}
	list := func(prefix string) map[string]int64 {
		t.Helper()
		got := map[string]int64{}
		err := b.List(ctx, prefix, func(info konserve.ObjectInfo) error {
			if _, dup := got[info.Key]; dup {
				t.Errorf("List(%q) reported %q twice", prefix, info.Key)
			}
			got[info.Key] = info.Size
			return nil
		})
		if err != nil {
			t.Fatalf("List(%q): %v", prefix, err)
		}
		return got
	}
	for _, prefix := range []string{"", "nodes/", "nodes/aa/", "nodes/a", "branches/", "branches", "commits/c", "zzz/"} {
		want := map[string]int64{}
		for k, v := range puts {
			if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
				want[k] = int64(len(v))
			}
		}
		got := list(prefix)
		if !mapsEqual(got, want) {
			t.Errorf("List(%q) = %v, want %v", prefix, sortedKeys(got), sortedKeys(want))
		}
	}
	stop := errors.New("stop here")
	calls := 0
	err := b.List(ctx, "nodes/", func(konserve.ObjectInfo) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("List with failing fn = %v after %d calls, want an error wrapping fn's after 1 call", err, calls)
	}
}

func testDelete(t *testing.T, b konserve.Backend) {
	ctx := context.Background()
	if err := b.PutImmutable(ctx, "nodes/dd/gone", []byte("x")); err != nil {
		t.Fatalf("PutImmutable: %v", err)
	}
	if err := b.Delete(ctx, "nodes/dd/gone"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := b.Get(ctx, "nodes/dd/gone"); !errors.Is(err, konserve.ErrNotFound) {
		t.Errorf("Get after Delete error = %v, want ErrNotFound", err)
	}
	if err := b.Delete(ctx, "nodes/dd/gone"); err != nil {
		t.Errorf("second Delete = %v, want nil", err)
	}
	const head = "branches/del/HEAD"
	if _, err := b.Swap(ctx, head, "", []byte("h1")); err != nil {
		t.Fatalf("Swap(create): %v", err)
	}
	if err := b.Delete(ctx, head); err != nil {
		t.Fatalf("Delete(head): %v", err)
	}
	if _, _, err := b.ReadVersioned(ctx, head); !errors.Is(err, konserve.ErrNotFound) {
		t.Errorf("ReadVersioned after Delete error = %v, want ErrNotFound", err)
	}
	if _, err := b.Swap(ctx, head, "", []byte("h2")); err != nil {
		t.Errorf("Swap(create) after Delete = %v, want nil", err)
	}
	var listed []string
	if err := b.List(ctx, "", func(info konserve.ObjectInfo) error { listed = append(listed, info.Key); return nil }); err != nil {
		t.Fatalf("List: %v", err)
	}
	if want := []string{head}; !slices.Equal(listed, want) {
		t.Errorf("List after deletes = %q, want %q", listed, want)
	}
}

// testDeleteIfOlder checks konserve.ConditionalDeleter, for backends that
// implement it: an object is deleted only if its modification time is
// before the cutoff, and storing it again freshens it. The cutoffs are an
// hour off the local clock, so a server's clock may differ by less.
func testDeleteIfOlder(t *testing.T, b konserve.Backend) {
	cd, ok := b.(konserve.ConditionalDeleter)
	if !ok {
		t.Skip("backend does not implement ConditionalDeleter")
	}
	ctx := context.Background()
	const key = "nodes/ee/aged"
	if err := b.PutImmutable(ctx, key, []byte("x")); err != nil {
		t.Fatalf("PutImmutable: %v", err)
	}
	if deleted, err := cd.DeleteIfOlder(ctx, key, time.Now().Add(-time.Hour)); err != nil || deleted {
		t.Fatalf("DeleteIfOlder(an hour ago) = %v, %v; want false (the object is new)", deleted, err)
	}
	if _, err := b.Get(ctx, key); err != nil {
		t.Fatalf("Get after a refused DeleteIfOlder: %v", err)
	}
	if deleted, err := cd.DeleteIfOlder(ctx, key, time.Now().Add(time.Hour)); err != nil || !deleted {
		t.Fatalf("DeleteIfOlder(in an hour) = %v, %v; want true", deleted, err)
	}
	if _, err := b.Get(ctx, key); !errors.Is(err, konserve.ErrNotFound) {
		t.Errorf("Get after DeleteIfOlder error = %v, want ErrNotFound", err)
	}
	if deleted, err := cd.DeleteIfOlder(ctx, key, time.Now().Add(time.Hour)); err != nil || deleted {
		t.Errorf("DeleteIfOlder of a missing key = %v, %v; want false, nil", deleted, err)
	}
	// Stored again after deletion: present, and new again.
	if err := b.PutImmutable(ctx, key, []byte("x")); err != nil {
		t.Fatalf("PutImmutable again: %v", err)
	}
	if deleted, err := cd.DeleteIfOlder(ctx, key, time.Now().Add(-time.Hour)); err != nil || deleted {
		t.Errorf("DeleteIfOlder(an hour ago) after a second put = %v, %v; want false", deleted, err)
	}
}

func testConditionalRead(t *testing.T, b konserve.Backend) {
	cr, ok := b.(konserve.ConditionalReader)
	if !ok {
		t.Skipf("%T does not implement konserve.ConditionalReader (optional)", b)
	}
	ctx := context.Background()
	const key = "branches/poll/HEAD"
	if _, _, _, err := cr.ReadVersionedIfChanged(ctx, key, ""); !errors.Is(err, konserve.ErrNotFound) {
		t.Errorf("ReadVersionedIfChanged(missing) error = %v, want ErrNotFound", err)
	}
	v1, err := b.Swap(ctx, key, "", []byte("p1"))
	if err != nil {
		t.Fatalf("Swap: %v", err)
	}
	data, nv, changed, err := cr.ReadVersionedIfChanged(ctx, key, v1)
	if err != nil || changed || data != nil || nv != v1 {
		t.Errorf("ReadVersionedIfChanged(current) = %q, %q, %v, %v; want nil, %q, false, nil", data, nv, changed, err, v1)
	}
	v2, err := b.Swap(ctx, key, v1, []byte("p2"))
	if err != nil {
		t.Fatalf("Swap: %v", err)
	}
	data, nv, changed, err = cr.ReadVersionedIfChanged(ctx, key, v1)
	if err != nil || !changed || string(data) != "p2" || nv != v2 {
		t.Errorf("ReadVersionedIfChanged(stale) = %q, %q, %v, %v; want %q, %q, true, nil", data, nv, changed, err, "p2", v2)
	}
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]int64) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
