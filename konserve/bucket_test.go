package konserve_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/accretedb/accrete/internal/blobtest"
	"github.com/accretedb/accrete/konserve"
)

// memRuns numbers the named mem:// buckets this test binary opens: a named
// bucket lives as long as the process, so a test rerun under -count would
// otherwise find the keys of its last run.
var memRuns atomic.Int64

// memURL returns "mem://" and name, made unique to this call.
func memURL(name string) string { return fmt.Sprintf("mem://run%d-%s", memRuns.Add(1), name) }

// openBackend opens the Backend for rawURL through konserve.Open.
// The caller (or RunConformance) closes it.
func openBackend(t testing.TB, rawURL string) konserve.Backend {
	t.Helper()
	s, err := konserve.Open(context.Background(), rawURL, nil)
	if err != nil {
		t.Fatalf("Open(%s): %v", rawURL, err)
	}
	return s.Backend()
}

func TestMemConformance(t *testing.T) {
	blobtest.RunConformance(t, func(t *testing.T) konserve.Backend {
		return openBackend(t, "mem://")
	})
}

// TestMemNamedConformance runs the suite on named buckets, each subtest
// under its own prefix, so shared-registry code paths are covered too.
func TestMemNamedConformance(t *testing.T) {
	blobtest.RunConformance(t, func(t *testing.T) konserve.Backend {
		return openBackend(t, memURL("conformance/"+sanitizeName(t.Name())))
	})
}

func sanitizeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	return string(b)
}

// TestMemNamedShared: two Opens of one mem://name share data and swap
// versions; mem:// without a name is private.
func TestMemNamedShared(t *testing.T) {
	ctx := context.Background()
	u := memURL("shared-test")
	a := openBackend(t, u)
	b := openBackend(t, u)
	defer a.Close()
	defer b.Close()
	if err := a.PutImmutable(ctx, "nodes/x", []byte("bytes")); err != nil {
		t.Fatalf("PutImmutable: %v", err)
	}
	got, err := b.Get(ctx, "nodes/x")
	if err != nil || string(got) != "bytes" {
		t.Fatalf("second Open Get = %q, %v; want %q, nil", got, err, "bytes")
	}
	v1, err := a.Swap(ctx, "branches/main/HEAD", "", []byte("h1"))
	if err != nil {
		t.Fatalf("Swap: %v", err)
	}
	if _, err := b.Swap(ctx, "branches/main/HEAD", "", []byte("h1 again")); !errors.Is(err, konserve.ErrConflict) {
		t.Errorf("create-swap through second Open = %v, want ErrConflict", err)
	}
	v2, err := b.Swap(ctx, "branches/main/HEAD", v1, []byte("h2"))
	if err != nil {
		t.Fatalf("Swap through second Open from first Open's version: %v", err)
	}
	if _, err := a.Swap(ctx, "branches/main/HEAD", v1, []byte("h3")); !errors.Is(err, konserve.ErrConflict) {
		t.Errorf("stale swap through first Open = %v, want ErrConflict", err)
	}
	data, v, err := a.ReadVersioned(ctx, "branches/main/HEAD")
	if err != nil || string(data) != "h2" || v != v2 {
		t.Errorf("ReadVersioned = %q, %q, %v; want %q, %q, nil", data, v, err, "h2", v2)
	}
	// Closing one Open must not empty the shared bucket for the other.
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got, err := b.Get(ctx, "nodes/x"); err != nil || string(got) != "bytes" {
		t.Errorf("Get after the other Open closed = %q, %v; want %q, nil", got, err, "bytes")
	}

	p := openBackend(t, "mem://")
	defer p.Close()
	if _, err := p.Get(ctx, "nodes/x"); !errors.Is(err, konserve.ErrNotFound) {
		t.Errorf("private mem:// Get = %v, want ErrNotFound", err)
	}
}

// TestMemVersionNeverRepeats: writing the same bytes again, or deleting and
// recreating a head, gives a new version, so a stale swap cannot succeed
// (no ABA), unlike S3 where the ETag is the MD5 of the bytes.
func TestMemVersionNeverRepeats(t *testing.T) {
	ctx := context.Background()
	b := openBackend(t, "mem://")
	defer b.Close()
	const key = "branches/aba/HEAD"
	v1, err := b.Swap(ctx, key, "", []byte("same"))
	if err != nil {
		t.Fatal(err)
	}
	v2, err := b.Swap(ctx, key, v1, []byte("same"))
	if err != nil {
		t.Fatal(err)
	}
	if v1 == v2 {
		t.Errorf("rewriting the same bytes kept version %q", v1)
	}
	if err := b.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	v3, err := b.Swap(ctx, key, "", []byte("same"))
	if err != nil {
		t.Fatal(err)
	}
	if v3 == v1 || v3 == v2 {
		t.Errorf("recreated head got old version %q (v1 %q, v2 %q)", v3, v1, v2)
	}
	if _, err := b.Swap(ctx, key, v1, []byte("x")); !errors.Is(err, konserve.ErrConflict) {
		t.Errorf("swap from a version of a deleted incarnation = %v, want ErrConflict", err)
	}
}

// TestPrefixIsolation: databases under different prefixes of one bucket do
// not see each other, and List returns keys without the prefix.
func TestPrefixIsolation(t *testing.T) {
	u := memURL("prefix-test")
	testPrefixIsolation(t, u+"/db1", u+"/db2")
}

func testPrefixIsolation(t *testing.T, url1, url2 string) {
	t.Helper()
	ctx := context.Background()
	a := openBackend(t, url1)
	b := openBackend(t, url2)
	defer a.Close()
	defer b.Close()
	if err := a.PutImmutable(ctx, "nodes/aa/1", []byte("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Swap(ctx, "branches/main/HEAD", "", []byte("ha")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Swap(ctx, "branches/main/HEAD", "", []byte("hb")); err != nil {
		t.Errorf("create-swap of the same key under another prefix = %v, want nil", err)
	}
	if _, err := b.Get(ctx, "nodes/aa/1"); !errors.Is(err, konserve.ErrNotFound) {
		t.Errorf("Get under another prefix = %v, want ErrNotFound", err)
	}
	var keys []string
	if err := a.List(ctx, "", func(o konserve.ObjectInfo) error { keys = append(keys, o.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	if want := []string{"branches/main/HEAD", "nodes/aa/1"}; !slices.Equal(keys, want) {
		t.Errorf("List = %q, want %q", keys, want)
	}
}

func TestOpenRejectsBadPrefix(t *testing.T) {
	for _, u := range []string{"mem://x/a/../b", "mem://x/./a", "mem://x/a//b", "mem://x/a%23b", "mem://x/a%00"} {
		_, err := konserve.Open(context.Background(), u, nil)
		if !errors.Is(err, konserve.ErrUnsupportedURL) {
			t.Errorf("Open(%q) = %v, want ErrUnsupportedURL", u, err)
		}
	}
}

// testSwapCreateRace: per round, racers create the same fresh head with
// If-None-Match semantics (old ""); exactly one must win, and the head must
// hold the winner's bytes under the winner's version.
func testSwapCreateRace(t *testing.T, rawURL string, rounds, racers int) {
	t.Helper()
	ctx := context.Background()
	b := openBackend(t, rawURL)
	defer b.Close()
	for r := range rounds {
		key := fmt.Sprintf("branches/create-%d/HEAD", r)
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
				v, err := b.Swap(ctx, key, "", fmt.Appendf(nil, "created by %d", i))
				res[i] = result{v, err}
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, rs := range res {
			switch {
			case rs.err == nil && winner >= 0:
				t.Fatalf("round %d: racers %d and %d both created %s", r, winner, i, key)
			case rs.err == nil:
				winner = i
			case !errors.Is(rs.err, konserve.ErrConflict):
				t.Fatalf("round %d racer %d: %v, want nil or ErrConflict", r, i, rs.err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: nobody created %s", r, key)
		}
		data, v, err := b.ReadVersioned(ctx, key)
		if want := fmt.Sprintf("created by %d", winner); err != nil || string(data) != want || v != res[winner].v {
			t.Fatalf("round %d: ReadVersioned = %q, %q, %v; want %q, %q, nil", r, data, v, err, want, res[winner].v)
		}
	}
}

func TestMemSwapCreateRace(t *testing.T) {
	testSwapCreateRace(t, "mem://", 50, 16)
}

// FuzzMemURLPrefix: any URL path either is refused or becomes a prefix
// under which a key round-trips through PutImmutable, Get and List.
func FuzzMemURLPrefix(f *testing.F) {
	for _, s := range []string{"", "db", "a/b/c", "a/../b", "./x", "a//b", "%2e%2e/x", "x?y=1", "é/ü", "a/b/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		ctx := context.Background()
		s, err := konserve.Open(ctx, "mem:///"+p, nil)
		if err != nil {
			return // refused: fine, as long as it did not panic
		}
		b := s.Backend()
		defer b.Close()
		if err := b.PutImmutable(ctx, "nodes/k", []byte("v")); err != nil {
			t.Fatalf("PutImmutable under %q: %v", p, err)
		}
		if got, err := b.Get(ctx, "nodes/k"); err != nil || string(got) != "v" {
			t.Fatalf("Get under %q = %q, %v; want %q, nil", p, got, err, "v")
		}
		var keys []string
		if err := b.List(ctx, "", func(o konserve.ObjectInfo) error { keys = append(keys, o.Key); return nil }); err != nil {
			t.Fatalf("List under %q: %v", p, err)
		}
		if want := []string{"nodes/k"}; !slices.Equal(keys, want) {
			t.Fatalf("List under %q = %q, want %q", p, keys, want)
		}
	})
}

func TestBucketRefusesEscapedKeys(t *testing.T) {
	ctx := context.Background()
	b := openBackend(t, "mem://")
	defer b.Close()
	for _, key := range []string{"a#b", "a%2f", "a?b", `a\b`, "a\x00b", "a/../b", "dir/", "a\"b", "\xff"} {
		if _, err := b.Swap(ctx, key, "", []byte("x")); err == nil {
			t.Errorf("Swap(%q) succeeded, want an error", key)
		}
		if err := b.PutImmutable(ctx, key, []byte("x")); err == nil {
			t.Errorf("PutImmutable(%q) succeeded, want an error", key)
		}
	}
	for _, key := range []string{"nodes/ab/abcdef", "branches/main/HEAD", "branches/feature-x_1.2/HEAD", "commits/é"} {
		if _, err := b.Swap(ctx, key, "", []byte("x")); err != nil {
			t.Errorf("Swap(%q) = %v, want nil", key, err)
		}
	}
}
