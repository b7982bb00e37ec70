//go:build !linux

package konserve

import (
	"os"

	"golang.org/x/sync/errgroup"
)

// syncTree makes files and then the directories holding them durable, one
// fsync each, in parallel: platforms without syncfs(2).
func syncTree(_ string, files, dirs []string) error {
	var g errgroup.Group
	g.SetLimit(DefaultParallelism)
	for _, p := range files {
		if p == "" {
			continue
		}
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
	if err := g.Wait(); err != nil {
		return err
	}
	for _, d := range dirs {
		g.Go(func() error { return syncDir(d) })
	}
	return g.Wait()
}
