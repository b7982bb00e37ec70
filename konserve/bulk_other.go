//go:build !linux

package konserve

import (
	"os"

	"golang.org/x/sync/errgroup"
)

// syncTree makes the given files (or, with dirs set, directories) durable,
// one fsync each, in parallel: platforms without syncfs(2).
func syncTree(_ string, paths []string, dirs bool) error {
	var g errgroup.Group
	g.SetLimit(DefaultParallelism)
	for _, p := range paths {
		if p == "" {
			continue
		}
		g.Go(func() error {
			if dirs {
				return syncDir(p)
			}
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
	return g.Wait()
}
