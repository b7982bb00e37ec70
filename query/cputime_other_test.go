//go:build !unix

package query

import "testing"

// cpuMeter is a no-op where getrusage is not available.
type cpuMeter struct{}

func startCPU(b *testing.B) *cpuMeter { return &cpuMeter{} }

func (m *cpuMeter) report(b *testing.B) {}
