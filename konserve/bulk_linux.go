//go:build linux

package konserve

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"

	"golang.org/x/sys/unix"
)

// syncTree makes durable everything written under root, files and
// directory entries alike: one syncfs(2) of the file system holding root.
func syncTree(root string, _, _ []string) error {
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
