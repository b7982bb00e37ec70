//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package konserve

// datasyncRetry is fsync(2) where the syscall package has no fdatasync.
func datasyncRetry(fd int) error { return fsyncRetry(fd) }
