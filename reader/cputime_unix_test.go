//go:build unix

package reader_test

import "syscall"

// cpuTime returns the process's user+system CPU time in nanoseconds, so
// the With benchmarks can report a cost that does not depend on how busy
// the machine is (the wall clock does). It includes the garbage
// collector's background work, which is part of what a With costs.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
