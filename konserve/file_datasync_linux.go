package konserve

import (
	"errors"
	"syscall"
)

// datasyncRetry makes fd's data durable without its modification time:
// a head slot written in place changes nothing else, so fdatasync(2)
// commits no journal transaction, only the data.
func datasyncRetry(fd int) error {
	for {
		err := syscall.Fdatasync(fd)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
