//go:build !unix

package tx

// cpuTime is unavailable here; benchmarks then report no CPU metric.
func cpuTime() int64 { return 0 }
