package konserve_test

import (
	"testing"

	"github.com/accretedb/accrete/internal/blobtest"
	"github.com/accretedb/accrete/internal/testenv"
	"github.com/accretedb/accrete/konserve"
)

// Tests against Azurite, started by scripts/test.sh.

func TestAzureConformance(t *testing.T) {
	testenv.AzureURL(t)
	blobtest.RunConformanceWith(t, func(t *testing.T) konserve.Backend {
		return openBackend(t, testenv.AzureURL(t))
	}, serverConformance)
}

func TestAzureCrossProcessCAS(t *testing.T) {
	runCrossProcessCAS(t, testenv.AzureURL(t), 4, 10, 5)
}

func TestAzureSwapCreateRace(t *testing.T) {
	testSwapCreateRace(t, testenv.AzureURL(t), 10, 8)
}
