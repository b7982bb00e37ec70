package konserve_test

import (
	"context"
	"testing"

	"github.com/accretedb/accrete/internal/blobtest"
	"github.com/accretedb/accrete/konserve"
)

// openFileStore opens a Store on a fresh file:// directory, closed at the
// end of the test.
func openFileStore(t testing.TB, opts *konserve.Options) (*konserve.Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := konserve.Open(context.Background(), "file://"+dir, opts)
	if err != nil {
		t.Fatalf("Open(file://%s): %v", dir, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, dir
}

func newFileBackend(t *testing.T) konserve.Backend {
	dir := t.TempDir()
	s, err := konserve.Open(context.Background(), "file://"+dir, nil)
	if err != nil {
		t.Fatalf("Open(file://%s): %v", dir, err)
	}
	return s.Backend()
}

func TestFileConformance(t *testing.T) {
	blobtest.RunConformance(t, newFileBackend)
}

// TestFaultyConformance checks that Faulty with no faults armed is
// transparent, so tests using it exercise the real backend contract.
func TestFaultyConformance(t *testing.T) {
	blobtest.RunConformance(t, func(t *testing.T) konserve.Backend {
		return blobtest.NewFaulty(newFileBackend(t))
	})
}
