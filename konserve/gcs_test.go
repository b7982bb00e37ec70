package konserve_test

import (
	"testing"

	"github.com/accretedb/accrete/internal/blobtest"
	"github.com/accretedb/accrete/internal/testenv"
	"github.com/accretedb/accrete/konserve"
)

// Tests against fake-gcs-server, started by scripts/test.sh.

func TestGCSConformance(t *testing.T) {
	testenv.GCSURL(t)
	blobtest.RunConformanceWith(t, func(t *testing.T) konserve.Backend {
		return openBackend(t, testenv.GCSURL(t))
	}, serverConformance)
}

func TestGCSCrossProcessCAS(t *testing.T) {
	runCrossProcessCAS(t, testenv.GCSURL(t), 4, 10, 5)
}

func TestGCSSwapCreateRace(t *testing.T) {
	testSwapCreateRace(t, testenv.GCSURL(t), 10, 8)
}
