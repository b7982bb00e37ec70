//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package konserve

import (
	"fmt"
	"os"
	"runtime"
	"sync"
)

// flockPath is unavailable on this platform: without flock(2) the file
// backend cannot make head swaps atomic across processes, so it refuses them
// rather than pretend.
func flockPath(path string, create bool) (unlock func() error, err error) {
	return nil, fmt.Errorf("lock %s: flock is not available on %s: %w", path, runtime.GOOS, ErrUnsupportedURL)
}

// dirLocks stands in for flock(2) where it is unavailable: it orders
// garbage collection's conditional deletes against freshening writers of
// this process only.
var dirLocks sync.RWMutex

// dirLock takes the lock that orders garbage collection's conditional
// deletes against writers freshening an existing object in dir: shared
// for writers, exclusive for the deleter. Without flock(2) it excludes
// goroutines of this process only.
func dirLock(_ string, shared bool) (unlock func() error, err error) {
	if shared {
		dirLocks.RLock()
		return func() error { dirLocks.RUnlock(); return nil }, nil
	}
	dirLocks.Lock()
	return func() error { dirLocks.Unlock(); return nil }, nil
}

// createFile creates name exclusively, writes data, fsyncs it if sync (bulk
// stores sync many files at once instead) and closes
// it. created reports whether the file exists afterwards (for cleanup).
func createFile(name string, data []byte, sync bool) (created bool, err error) {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return false, err
	}
	_, err = f.Write(data)
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return true, err
}

// fsyncDir fsyncs the directory dir where the platform allows it.
func fsyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// clearSlots zeroes slots of the head file at p (none of them the current
// one) whole, and the current slot past its bytes, so that no slot holds a
// past state or any old bytes, and makes that durable. The caller holds
// the key's lock.
func clearSlots(p string, h slottedHead, slots []int) error {
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	zero := make([]byte, h.slotSize)
	for _, s := range append(slots, h.slot) {
		skip := 0
		if s == h.slot {
			skip = slotHdrSize + len(h.payload)
		}
		if _, err = f.WriteAt(zero[skip:], int64(headBlock+s*h.slotSize+skip)); err != nil {
			break
		}
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeSlot writes data into slot of the head file at p as its seq-th
// state and makes it durable. The caller holds the key's lock and has
// checked that data fits.
func writeSlot(p string, h slottedHead, slot int, seq uint64, data []byte) error {
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(appendSlot(nil, seq, data), int64(headBlock+slot*h.slotSize))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
