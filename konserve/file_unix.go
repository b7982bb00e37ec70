//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package konserve

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
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
	return flockMode(path, create, syscall.LOCK_EX)
}

// dirLock takes the lock that orders garbage collection's conditional
// deletes against writers freshening an existing object in dir (see
// fileBackend.DeleteIfOlder): shared for writers, which do not exclude
// one another, exclusive for the deleter. The lock file (".gc.lock", F4)
// is created on first use and never removed.
func dirLock(dir string, shared bool) (unlock func() error, err error) {
	how := syscall.LOCK_EX
	if shared {
		how = syscall.LOCK_SH
	}
	return flockMode(filepath.Join(dir, gcLockName), true, how)
}

// flockMode is flockPath with the flock(2) operation given (LOCK_EX or
// LOCK_SH).
func flockMode(path string, create bool, how int) (unlock func() error, err error) {
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
		err = syscall.Flock(fd, how)
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

// createFile creates name exclusively, writes data, fsyncs it if sync (bulk
// stores sync many files at once instead) and closes
// it. created reports whether the file exists afterwards (for cleanup). It
// uses raw system calls: an os.File would register the descriptor with the
// poller and cost several extra calls per file, on the commit path.
func createFile(name string, data []byte, sync bool) (created bool, err error) {
	fd, err := openRetry(name, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		return false, &fs.PathError{Op: "create", Path: name, Err: err}
	}
	err = pwriteAll(fd, data, 0)
	op := "write"
	if err == nil && sync {
		op, err = "fsync", fsyncRetry(fd)
	}
	if cerr := syscall.Close(fd); err == nil && cerr != nil {
		op, err = "close", cerr
	}
	if err != nil {
		return true, &fs.PathError{Op: op, Path: name, Err: err}
	}
	return true, nil
}

// fsyncDir fsyncs the directory dir, making entries added to or removed
// from it durable.
func fsyncDir(dir string) error {
	fd, err := openRetry(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	err = fsyncRetry(fd)
	if cerr := syscall.Close(fd); err == nil && cerr != nil {
		return &fs.PathError{Op: "close", Path: dir, Err: cerr}
	}
	if err != nil {
		return &fs.PathError{Op: "fsync", Path: dir, Err: err}
	}
	return nil
}

func openRetry(path string, flags int, perm uint32) (int, error) {
	for {
		fd, err := syscall.Open(path, flags, perm)
		if !errors.Is(err, syscall.EINTR) {
			return fd, err
		}
	}
}

func fsyncRetry(fd int) error {
	for {
		err := syscall.Fsync(fd)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// writeSlot writes data into slot of the head file at p as its seq-th
// state and makes it durable. The caller holds the key's lock and has
// checked that data fits.
func writeSlot(p string, h slottedHead, slot int, seq uint64, data []byte) error {
	buf := appendSlot(make([]byte, 0, slotHdrSize+len(data)), seq, data)
	return patchFile(p, func(fd int) (bool, error) {
		return true, pwriteAll(fd, buf, int64(headBlock+slot*h.slotSize))
	})
}

// clearSlots zeroes slots of the head file at p (none of them the current
// one) whole, and the current slot past its bytes, so that no slot holds a
// past state or any old bytes (an earlier, longer payload leaves its end
// behind a shorter one), and makes that durable. It writes only where
// there is something to zero. The caller holds the key's lock.
func clearSlots(p string, h slottedHead, slots []int) error {
	buf := make([]byte, h.slotSize)
	zero := make([]byte, h.slotSize)
	return patchFile(p, func(fd int) (wrote bool, err error) {
		for _, s := range append(slots, h.slot) {
			off := int64(headBlock + s*h.slotSize)
			skip := 0
			if s == h.slot {
				skip = slotHdrSize + len(h.payload)
			}
			n, rerr := syscall.Pread(fd, buf[skip:], off+int64(skip))
			if rerr != nil || n <= 0 {
				continue // past the end of a short file: nothing there
			}
			if bytes.Equal(buf[skip:skip+n], zero[skip:skip+n]) {
				continue
			}
			if err := pwriteAll(fd, zero[skip:skip+n], off+int64(skip)); err != nil {
				return wrote, err
			}
			wrote = true
		}
		return wrote, nil
	})
}

// patchFile opens the head file at p, lets write make its in-place
// writes, and fdatasyncs the file if write reports that it wrote
// anything.
func patchFile(p string, write func(fd int) (wrote bool, err error)) error {
	fd, err := openRetry(p, syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: p, Err: err}
	}
	op := "write"
	wrote, err := write(fd)
	if err == nil && wrote {
		op, err = "fdatasync", datasyncRetry(fd)
	}
	if cerr := syscall.Close(fd); err == nil && cerr != nil {
		op, err = "close", cerr
	}
	if err != nil {
		return &fs.PathError{Op: op, Path: p, Err: err}
	}
	return nil
}

// pwriteAll writes all of buf at offset off of fd, retrying interrupted and
// short writes.
func pwriteAll(fd int, buf []byte, off int64) error {
	for len(buf) > 0 {
		n, err := syscall.Pwrite(fd, buf, off)
		switch {
		case errors.Is(err, syscall.EINTR):
		case err != nil:
			return err
		case n == 0:
			return syscall.EIO
		default:
			buf, off = buf[n:], off+int64(n)
		}
	}
	return nil
}
