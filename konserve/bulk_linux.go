//go:build linux

package konserve

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"

	"golang.org/x/sys/unix"
)

// syncTree makes durable everything written under root: with syncfs(2),
// one call for the whole file system holding root (files, or directory
// entries when dirs is set, which this platform need not tell apart).
func syncTree(root string, _ []string, _ bool) error {
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
