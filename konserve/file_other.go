//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package konserve

import (
	"fmt"
	"runtime"
)

// flockPath is unavailable on this platform: without flock(2) the file
// backend cannot make head swaps atomic across processes, so it refuses them
// rather than pretend.
func flockPath(path string, create bool) (unlock func() error, err error) {
	return nil, fmt.Errorf("lock %s: flock is not available on %s: %w", path, runtime.GOOS, ErrUnsupportedURL)
}
