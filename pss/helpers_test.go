package pss

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"slices"
	"testing"
	"time"

	"github.com/accretedb/accrete/node"
)

var seedFlag = flag.Uint64("seed", 0, "seed for random tests (0: time-based)")

func testSeed(t testing.TB) uint64 {
	s := *seedFlag
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -seed=%d)", s, s)
	return s
}

func intOpts(width int, store NodeStore[int64]) Options[int64] {
	return Options[int64]{Compare: cmp.Compare[int64], Width: width, Codec: node.Int64Codec{}, Store: store}
}

// checked registers s.Check to run when the test ends (bbolt btesting style)
// and returns s.
func checked[K any](t testing.TB, s Set[K]) Set[K] {
	t.Helper()
	t.Cleanup(func() {
		if err := s.Check(context.Background()); err != nil {
			t.Errorf("Check at cleanup: %v", err)
		}
	})
	return s
}

func mustCheck[K any](t testing.TB, s Set[K]) {
	t.Helper()
	if err := s.Check(context.Background()); err != nil {
		t.Fatalf("Check: %v", err)
	}
}

// collect returns all keys by forward iteration.
func collect[K any](t testing.TB, s Set[K]) []K {
	t.Helper()
	got, err := s.Slice(context.Background(), nil, nil)
	if err != nil {
		t.Fatalf("Slice: %v", err)
	}
	return got
}

func seq(lo, hi int64) []int64 {
	out := make([]int64, 0, hi-lo)
	for k := lo; k < hi; k++ {
		out = append(out, k)
	}
	return out
}

func equalKeys(a, b []int64) bool { return slices.Equal(a, b) }

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// findKey returns the find function (as for Set.SeekRunFunc) that
// locates the first key >= k.
func findKey(k int64) func(ks []int64) int {
	return func(ks []int64) int {
		i, _ := slices.BinarySearch(ks, k)
		return i
	}
}

// storedRoot builds keys into a set of the given width, flushes it to
// store and returns its root address.
func storedRoot(t testing.TB, keys []int64, width int, store NodeStore[int64]) node.Address {
	t.Helper()
	ctx := context.Background()
	s, err := Build(ctx, keys, intOpts(width, store))
	if err != nil {
		t.Fatal(err)
	}
	root, _, err := s.Flush(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return root
}
