//go:build unix

package tx

import "syscall"

// cpuTime returns the process's user+system CPU time in nanoseconds, so
// benchmarks can report CPU cost that does not depend on how busy the
// machine is (the wall clock does).
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
