//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package konserve

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
)

// flockPath takes an exclusive flock(2) on the lock file at path, creating it
// when create is set. flock locks belong to the open file description, so
// they exclude other goroutines of this process (each opens its own
// descriptor) as well as other processes. It returns (nil, nil) when create
// is false and the lock file does not exist. The returned function releases
// the lock; closing the descriptor is what releases it, so a crashed process
// never leaves a key locked.
//
// flock blocks without observing a context: the critical sections it guards
// are a read, a write and two fsyncs.
func flockPath(path string, create bool) (unlock func() error, err error) {
	flags := syscall.O_RDWR | syscall.O_CLOEXEC
	if create {
		flags |= syscall.O_CREAT
	}
	var fd int
	for {
		fd, err = syscall.Open(path, flags, 0o644)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		if !create && errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("open lock file %s: %w", path, err)
	}
	for {
		err = syscall.Flock(fd, syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		_ = syscall.Close(fd) // the flock error is the one to report
		return nil, fmt.Errorf("flock %s: %w", path, err)
	}
	return func() error {
		if err := syscall.Close(fd); err != nil {
			return fmt.Errorf("unlock %s: %w", path, err)
		}
		return nil
	}, nil
}
