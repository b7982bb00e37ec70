//go:build !linux

package konserve

import (
	"os"

	"golang.org/x/sync/errgroup"
)

// syncFilesBulk makes the bytes of the files just written durable, one
// fsync each, in parallel: platforms without syncfs(2). It returns the
// number of syncs issued.
func syncFilesBulk(_ string, files []string) (int, error) {
	var g errgroup.Group
	g.SetLimit(DefaultParallelism)
	n := 0
	for _, p := range files {
		if p == "" {
			continue
		}
		n++
		g.Go(func() error {
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			if err != nil {
				return err
			}
			err = f.Sync()
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			return err
		})
	}
	return n, g.Wait()
}

// syncDirsBulk makes durable the renames just made in dirs, one fsync per
// directory, in parallel.
func syncDirsBulk(_ string, dirs []string, limit int) (int, error) {
	var g errgroup.Group
	g.SetLimit(limit)
	for _, d := range dirs {
		g.Go(func() error { return syncDir(d) })
	}
	return len(dirs), g.Wait()
}
