package konserve_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/accretedb/accrete/internal/blobtest"
	"github.com/accretedb/accrete/internal/testenv"
	"github.com/accretedb/accrete/konserve"
)

// Tests against versitygw, started by scripts/test.sh. Without it they skip
// (or fail, when ACCRETE_TEST_REQUIRE_SERVERS=1).

// serverConformance is the contract suite sized for a server on loopback:
// every swap is an HTTP round trip.
var serverConformance = blobtest.ConformanceOptions{Rounds: 10, Racers: 8, Increments: 10}

func TestS3Conformance(t *testing.T) {
	testenv.S3URL(t) // skip or fail early, outside the subtests
	blobtest.RunConformanceWith(t, func(t *testing.T) konserve.Backend {
		return openBackend(t, testenv.S3URL(t))
	}, serverConformance)
}

func TestS3CrossProcessCAS(t *testing.T) {
	runCrossProcessCAS(t, testenv.S3URL(t), 4, 20, 10)
}

func TestS3PrefixIsolation(t *testing.T) {
	base := testenv.S3URL(t)
	u1, err := testenv.WithUniquePrefix(base, "a")
	if err != nil {
		t.Fatal(err)
	}
	u2, err := testenv.WithUniquePrefix(base, "b")
	if err != nil {
		t.Fatal(err)
	}
	testPrefixIsolation(t, u1, u2)
}

// TestS3VersionIsETag pins two facts the Store's design relies on: the
// version is the quoted ETag, and a swap that repeats the bytes gets the
// same version again (single-part ETags are content MD5s), which is why a
// head's bytes must never repeat.
func TestS3VersionIsETag(t *testing.T) {
	ctx := context.Background()
	b := openBackend(t, testenv.S3URL(t))
	defer b.Close()
	v1, err := b.Swap(ctx, "branches/etag/HEAD", "", []byte("same bytes"))
	if err != nil {
		t.Fatal(err)
	}
	if s := string(v1); !strings.HasPrefix(s, `"`) || !strings.HasSuffix(s, `"`) {
		t.Errorf("version %q is not a quoted ETag", s)
	}
	v2, err := b.Swap(ctx, "branches/etag/HEAD", v1, []byte("same bytes"))
	if err != nil {
		t.Fatal(err)
	}
	if v2 != v1 {
		t.Errorf("rewriting the same bytes changed the ETag %q -> %q; the ABA note in s3.go is wrong for this server", v1, v2)
	}
	// The key vanished: If-Match answers 404, which is a conflict.
	if err := b.Delete(ctx, "branches/etag/HEAD"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Swap(ctx, "branches/etag/HEAD", v2, []byte("x")); !errors.Is(err, konserve.ErrConflict) {
		t.Errorf("swap of a deleted key = %v, want ErrConflict", err)
	}
}

func TestS3SwapCreateRace(t *testing.T) {
	testSwapCreateRace(t, testenv.S3URL(t), 10, 8)
}
