//go:build linux

package konserve

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"

	"golang.org/x/sys/unix"
)

// syncFilesBulk makes the bytes of the files just written under root
// durable: one syncfs(2) of the file system holding root. It returns the
// number of syncs issued.
func syncFilesBulk(root string, _ []string) (int, error) {
	return 1, syncfs(root)
}

// syncDirsBulk makes durable the renames just made under root: a second
// syncfs(2) rather than an fsync of each directory. Measured for 512 nodes
// of 16 KiB in ~222 directories (ext4, shared 2-core VM, 10 calls each):
// 90–127 ms per call with syncfs against 159–224 ms with one fsync per
// directory (16 in parallel), and 1 system call instead of ~666.
func syncDirsBulk(root string, _ []string, _ int) (int, error) {
	return 1, syncfs(root)
}

// syncfs syncs the file system holding root.
func syncfs(root string) error {
	fd, err := openRetry(root, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: root, Err: err}
	}
	defer syscall.Close(fd)
	for {
		err := unix.Syncfs(fd)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EINTR) {
			return fmt.Errorf("syncfs %s: %w", root, err)
		}
	}
}
