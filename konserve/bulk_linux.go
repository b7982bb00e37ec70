//go:build linux

package konserve

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"
)

// syncFilesBulk makes the bytes of the files just written under root
// durable: one syncfs(2) of the file system holding root. It returns the
// number of syncs issued.
func syncFilesBulk(root string, _ []string) (int, error) {
	return 1, syncfs(root)
}

// bulkDirSyncfs selects syncfs over per-directory fsync (measuring only).
var bulkDirSyncfs = true

// syncDirsBulk makes durable the renames just made in dirs, under root.
func syncDirsBulk(root string, dirs []string, limit int) (int, error) {
	if bulkDirSyncfs {
		return 1, syncfs(root)
	}
	var g errgroup.Group
	g.SetLimit(limit)
	for _, d := range dirs {
		g.Go(func() error { return syncDir(d) })
	}
	return len(dirs), g.Wait()
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
