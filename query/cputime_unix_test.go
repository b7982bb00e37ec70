//go:build unix

package query

import (
	"syscall"
	"testing"
	"time"
)

// processCPU returns the user+system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuMeter reports CPU nanoseconds per operation ("cpu-ns/op") next to
// wall time: the benchmark machines are shared, and wall time there
// measures the neighbours as much as the code. Run with -cpu 1 so that the
// figure is one goroutine's work plus the collector's.
type cpuMeter struct{ start time.Duration }

func startCPU(b *testing.B) *cpuMeter {
	b.Helper()
	return &cpuMeter{start: processCPU()}
}

func (m *cpuMeter) report(b *testing.B) {
	b.Helper()
	if b.N > 0 {
		b.ReportMetric(float64(processCPU()-m.start)/float64(b.N), "cpu-ns/op")
	}
}
