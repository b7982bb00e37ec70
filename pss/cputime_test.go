//go:build unix

package pss

import "syscall"

// cpuTime returns the process's user and system CPU time in nanoseconds:
// benchmarks report it beside wall time, which other processes skew.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
