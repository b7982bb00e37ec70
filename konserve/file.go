package konserve

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/zeebo/blake3"
	"golang.org/x/sync/errgroup"
)

// The file backend stores each key as one file under a root directory. It is
// konserve's own code rather than gocloud's fileblob because fileblob's
// create-only write is a stat-then-rename under a per-writer mutex (several
// winners when processes race) and never fsyncs.
//
// Invariants (F1–F4), relied on by Store and checked by the tests:
//
//	F1 A key's file is always complete: bytes are written to a temporary file
//	   in the same directory, fsynced, and only then linked (immutable keys)
//	   or renamed (a mutable key's file, when it is created or regrown) to
//	   the key's name. A bulk store of files (putFilesBulk) syncs its
//	   temporary files together, with one syncfs(2), before renaming any
//	   into place (see bulk.go): it never writes under a key's name either.
//	   A bulk store of nodes writes a pack instead (F5, file_pack.go). The
//	   one write in place is a swap's, into the spare slot of a mutable
//	   key's file, and a slot is only read back if its checksum holds
//	   (file_head.go).
//	F2 When PutImmutable or Swap returns nil, the bytes and the file's
//	   directory entry are durable (fsync, or fdatasync of a slot), and so is
//	   every directory the backend created on the way.
//	F3 Swap compares and replaces under an exclusive flock(2) of the key's
//	   lock file, so swaps are atomic across goroutines and processes.
//	F4 Names beginning with "." are the backend's own (temporary and lock
//	   files, the pack directory ".packs"): keys may not contain such
//	   segments, and List skips them (it reports packed nodes by their
//	   node keys).
//
// A head's Version is the BLAKE3 hex of its bytes, never a modification time
// (mtime has coarse granularity and can repeat). Like S3's MD5 ETags, it
// relies on heads never repeating their bytes.

func init() {
	registerScheme("file", openFileURL)
}

// openFileURL opens "file:///abs/path" (host empty or "localhost").
func openFileURL(_ context.Context, u *url.URL) (Backend, error) {
	if u.Host != "" && u.Host != "localhost" {
		return nil, fmt.Errorf("konserve: open %s: file URLs name a local path, not host %q: %w", u.Redacted(), u.Host, ErrUnsupportedURL)
	}
	if u.Opaque != "" || !filepath.IsAbs(filepath.FromSlash(u.Path)) {
		return nil, fmt.Errorf("konserve: open %s: want file:///absolute/path: %w", u.Redacted(), ErrUnsupportedURL)
	}
	if len(u.Query()) != 0 {
		return nil, fmt.Errorf("konserve: open %s: file URLs take no parameters: %w", u.Redacted(), ErrUnsupportedURL)
	}
	return newFileBackend(filepath.Clean(filepath.FromSlash(u.Path)))
}

// fileBackend implements Backend on a local directory. It is safe for
// concurrent use, and its writes are safe against other processes using the
// same directory through this code on the same host (flock is not reliable
// on network file systems).
type fileBackend struct {
	root string
	// dirs holds directories known to exist with a durable entry in their
	// parent, so that each is created and its parent synced once per process.
	dirs sync.Map // string -> struct{}
	// rings holds this process's state of each ring head file it has
	// swapped (file_stage.go), by path.
	rings sync.Map // string -> *ring
	// flushWG counts background writes of staged objects, which one
	// goroutine at a time (runFlusher) takes from fqueue.
	flushWG   sync.WaitGroup
	fq        sync.Mutex
	fqueue    []*stageFlush
	fqRunning bool
	// holdFlushes (tests only) skips the background writes of staged
	// objects, as if the process died right after each swap.
	holdFlushes bool
	// packs indexes the pack files bulk stores write (file_pack.go).
	packs *packSet
}

var (
	_ Backend            = (*fileBackend)(nil)
	_ ConditionalDeleter = (*fileBackend)(nil)
	_ TempSweeper        = (*fileBackend)(nil)
)

func newFileBackend(root string) (*fileBackend, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("konserve: file: create root %s: %w", root, err)
	}
	b := &fileBackend{root: root, packs: newPackSet(root)}
	b.dirs.Store(root, struct{}{})
	return b, nil
}

// path maps a key to its file, rejecting keys that could escape the root or
// collide with the backend's own files (F4).
func (b *fileBackend) path(op, key string) (string, error) {
	if err := checkFileKey(key); err != nil {
		return "", fmt.Errorf("konserve: file: %s %q: %w", op, key, err)
	}
	return filepath.Join(b.root, filepath.FromSlash(key)), nil
}

// checkFileKey reports whether key is a relative, slash-separated path whose
// segments are non-empty and do not begin with ".". Backslashes and NUL are
// refused too, so a key names the same file on every platform.
func checkFileKey(key string) error {
	if key == "" {
		return fmt.Errorf("empty key: %w", ErrInvalidKey)
	}
	if strings.ContainsAny(key, "\\\x00") {
		return fmt.Errorf("backslash or NUL in key: %w", ErrInvalidKey)
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" || seg[0] == '.' {
			return fmt.Errorf("segment %q is empty or begins with '.': %w", seg, ErrInvalidKey)
		}
	}
	return nil
}

// ensureDir creates dir (and missing parents) and makes its entry durable
// by syncing the parent. It does the work once per directory per process.
// A directory that already existed also gets its parent synced once, since
// another process may have created it without syncing yet.
func (b *fileBackend) ensureDir(dir string) error { return b.ensureDirs([]string{dir}) }

// ensureDirs is ensureDir for many directories: it creates each missing one
// (and missing parents), then syncs each parent once, rather than once per
// directory. A new bucket's first bulk store creates up to 256 node
// directories under one parent: one at a time, their syncs took 50–120 ms
// here.
func (b *fileBackend) ensureDirs(dirs []string) error {
	var made []string
	parents := map[string]struct{}{}
	for _, dir := range dirs {
		if _, ok := b.dirs.Load(dir); ok {
			continue
		}
		parent := filepath.Dir(dir)
		if parent == dir || !strings.HasPrefix(dir, b.root) {
			return fmt.Errorf("directory %s is outside root %s", dir, b.root)
		}
		if err := b.ensureDir(parent); err != nil {
			return err
		}
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("create directory: %w", err)
		}
		made = append(made, dir)
		parents[parent] = struct{}{}
	}
	for p := range parents {
		if err := syncDir(p); err != nil {
			return err
		}
	}
	for _, d := range made {
		b.dirs.Store(d, struct{}{})
	}
	return nil
}

// syncDir fsyncs a directory, making the entries added to or removed from it
// durable.
func syncDir(dir string) error {
	if err := fsyncDir(dir); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// writeTemp writes data to a new temporary file in dir, fsyncs it if sync
// (bulk stores sync many files at once instead), closes it, and returns its
// path (F1). The caller links or renames it into place.
func writeTemp(dir string, data []byte, sync bool) (string, error) {
	for range 8 {
		name := filepath.Join(dir, fmt.Sprintf("%s%d-%016x", tempPrefix, os.Getpid(), rand.Uint64()))
		created, err := createFile(name, data, sync)
		if !created && errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			if created {
				_ = os.Remove(name) // best effort: the write error is what matters
			}
			return "", fmt.Errorf("write temporary file: %w", err)
		}
		return name, nil
	}
	return "", fmt.Errorf("create temporary file in %s: names keep colliding", dir)
}

// Get implements Backend.
func (b *fileBackend) Get(ctx context.Context, key string) ([]byte, error) {
	p, err := b.path("get", key)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("konserve: file: get %s: %w", key, err)
	}
	h, isNode := parseNodeKey(key)
	if isNode {
		// Most nodes written by merges and imports are packed.
		data, found, err := b.packs.read(h)
		if err != nil {
			return nil, fmt.Errorf("konserve: file: get %s: %w", key, err)
		}
		if found {
			return data, nil
		}
	}
	data, err := os.ReadFile(p)
	if err != nil && isNode && errors.Is(err, fs.ErrNotExist) {
		// Maybe in a pack another process wrote, or one a collection
		// rewrote, since this process last listed them (the index was
		// asked above).
		data, found, perr := b.getRelisted(h)
		if perr != nil {
			return nil, fmt.Errorf("konserve: file: get %s: %w", key, perr)
		}
		if found {
			return data, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("konserve: file: get %s: %w", key, classifyFileErr(err))
	}
	if bytes.HasPrefix(data, headMagic) || bytes.HasPrefix(data, headMagic2) {
		// A swapped key: its bytes are its current slot's.
		h, err := parseHeadFile(data)
		if errors.Is(err, errTornHead) {
			h, err = readHeadFile(p) // caught a swap half-done: read again
		}
		if err != nil {
			return nil, fmt.Errorf("konserve: file: get %s: %w", key, classifyFileErr(err))
		}
		return h.data, nil
	}
	return data, nil
}

// classifyFileErr maps "no such file" to ErrNotFound, keeping the OS error
// in the chain. A file where a directory was expected, and a directory
// where a file was expected (a key that is only a prefix of other keys), are
// not objects either, as in a bucket.
func classifyFileErr(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EISDIR) {
		return fmt.Errorf("%w (%w)", ErrNotFound, err)
	}
	return err
}

// PutImmutable implements Backend: temp file, fsync, link(2) (an existing
// key is success), fsync of the directory.
func (b *fileBackend) PutImmutable(ctx context.Context, key string, data []byte) error {
	p, err := b.path("put", key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("konserve: file: put %s: %w", key, err)
	}
	if err := b.putFile(p, data); err != nil {
		return fmt.Errorf("konserve: file: put %s: %w", key, err)
	}
	if err := syncDir(filepath.Dir(p)); err != nil {
		return fmt.Errorf("konserve: file: put %s: %w", key, err)
	}
	return nil
}

// putFile creates p with data unless it exists, without syncing p's
// directory: the caller does that (once per batch in putImmutableBatch). An
// existing p is left alone but freshened (its modification time set to now,
// see freshen), and its directory is still synced by the caller, because
// the process that linked it may not have synced yet.
//
// A garbage collector may delete p at any moment, but only an old p and
// only under the directory's exclusive lock (DeleteIfOlder), so p is
// either freshened while it still exists (and the collector, which looks
// at the time under the lock, keeps it) or found gone and created again.
func (b *fileBackend) putFile(p string, data []byte) error {
	dir := filepath.Dir(p)
	if err := b.ensureDir(dir); err != nil {
		return err
	}
	for range maxPutAttempts {
		if _, err := os.Lstat(p); err == nil {
			err := freshen(p)
			if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			continue // collected between the stat and the lock: create it
		}
		tmp, err := writeTemp(dir, data, true)
		if errors.Is(err, fs.ErrNotExist) {
			// The directory was removed behind our back (by hand, or by
			// another tool): forget it, recreate it and try once more.
			b.dirs.Delete(dir)
			if err := b.ensureDir(dir); err != nil {
				return err
			}
			tmp, err = writeTemp(dir, data, true)
		}
		if err != nil {
			return err
		}
		lerr := os.Link(tmp, p)
		rerr := os.Remove(tmp)
		if lerr != nil && !errors.Is(lerr, fs.ErrExist) {
			return fmt.Errorf("link into place: %w", lerr)
		}
		if rerr != nil {
			return fmt.Errorf("remove temporary file: %w", rerr)
		}
		if lerr == nil {
			return nil
		}
		if err := freshen(p); !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return fmt.Errorf("put %s: the file kept vanishing (%d attempts)", filepath.Base(p), maxPutAttempts)
}

// maxPutAttempts bounds how often putFile creates a file that a garbage
// collector keeps deleting between its existence check and its freshening
// (each round needs a collection of that very object in between).
const maxPutAttempts = 8

// gcLockName is the lock file in each directory that orders DeleteIfOlder
// against freshen (F4: its name begins with ".").
const gcLockName = ".gc.lock"

// freshen marks the existing immutable object at p as written now, under
// its directory's shared lock. Garbage collection deletes only unreachable
// objects older than its grace period, and only after checking their time
// under the exclusive lock (DeleteIfOlder); a writer that stores a node
// identical to an old unreachable one is about to make it reachable again,
// so its age must restart (as Git freshens a loose object it would have
// written). It returns an error wrapping fs.ErrNotExist if p is gone: the
// caller creates it again.
func freshen(p string) (err error) {
	unlock, err := dirLock(filepath.Dir(p), true)
	if err != nil {
		return err
	}
	defer func() {
		if uerr := unlock(); err == nil && uerr != nil {
			err = uerr
		}
	}()
	now := time.Now()
	if err := os.Chtimes(p, now, now); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("freshen %s: %w", filepath.Base(p), fs.ErrNotExist)
		}
		return fmt.Errorf("freshen %s: %w", filepath.Base(p), err)
	}
	return nil
}

// DeleteIfOlder implements ConditionalDeleter: under the exclusive lock of
// the key's directory (which freshen takes shared) it removes the file
// only if its modification time is before before. A writer freshening the
// object either did so before (the time is recent: kept) or finds it gone
// afterwards and creates it again; a crash in between leaves the lock
// released and the file either present or deleted as an old one. A node's
// copies in packs are removed the same way, under the pack directory's
// lock (file_pack.go).
func (b *fileBackend) DeleteIfOlder(ctx context.Context, key string, before time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("konserve: file: delete %s: %w", key, err)
	}
	deleted, err := b.deleteMany(ctx, []string{key}, before, false, 1)
	if err != nil {
		return false, err
	}
	return deleted[0], nil
}

// deleteLooseIfOlder removes key's own file at p if it is older than
// before (or if all), under the exclusive lock of its directory.
func (b *fileBackend) deleteLooseIfOlder(ctx context.Context, key, p string, before time.Time, all bool) (_ looseState, err error) {
	if err := ctx.Err(); err != nil {
		return looseAbsent, fmt.Errorf("konserve: file: delete %s: %w", key, err)
	}
	dir := filepath.Dir(p)
	if _, err := os.Lstat(dir); err != nil {
		return looseAbsent, nil // no directory, no object
	}
	unlock, err := dirLock(dir, false)
	if err != nil {
		return looseAbsent, fmt.Errorf("konserve: file: delete %s: %w", key, err)
	}
	defer func() {
		if uerr := unlock(); err == nil && uerr != nil {
			err = fmt.Errorf("konserve: file: delete %s: %w", key, uerr)
		}
	}()
	fi, err := os.Lstat(p)
	switch {
	case err != nil && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)):
		return looseAbsent, nil
	case err != nil:
		return looseAbsent, fmt.Errorf("konserve: file: delete %s: %w", key, err)
	case !fi.Mode().IsRegular():
		return looseAbsent, nil
	case !all && !fi.ModTime().Before(before):
		return looseKept, nil
	}
	if err := os.Remove(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return looseAbsent, nil
		}
		return looseAbsent, fmt.Errorf("konserve: file: delete %s: %w", key, err)
	}
	if err := syncDir(dir); err != nil {
		return looseRemoved, fmt.Errorf("konserve: file: delete %s: %w", key, err)
	}
	return looseRemoved, nil
}

// putImmutableBatch implements batchPutter: every file is written and
// fsynced (in parallel, at most limit at a time), then every touched
// directory is synced once. Store.PutNodes uses it so that a commit of n
// nodes costs n file fsyncs plus one per distinct directory, all overlapped.
func (b *fileBackend) putImmutableBatch(ctx context.Context, keys []string, datas [][]byte, limit int) error {
	paths := make([]string, len(keys))
	dirs := make(map[string]struct{}, len(keys))
	for i, key := range keys {
		p, err := b.path("put", key)
		if err != nil {
			return err
		}
		paths[i] = p
		dirs[filepath.Dir(p)] = struct{}{}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for i, p := range paths {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return fmt.Errorf("konserve: file: put %s: %w", keys[i], err)
			}
			if err := b.putFile(p, datas[i]); err != nil {
				return fmt.Errorf("konserve: file: put %s: %w", keys[i], err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	g, _ = errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for dir := range dirs {
		g.Go(func() error {
			if err := syncDir(dir); err != nil {
				return fmt.Errorf("konserve: file: put batch: %w", err)
			}
			return nil
		})
	}
	return g.Wait()
}

// fileVersion is the Version of a mutable file's bytes: their BLAKE3 hex.
func fileVersion(data []byte) Version {
	sum := blake3.Sum256(data)
	return Version(hex.EncodeToString(sum[:]))
}

// lockPath is the lock file guarding the mutable key stored at p (F4).
func lockPath(p string) string {
	return filepath.Join(filepath.Dir(p), "."+filepath.Base(p)+".lock")
}

// ReadVersioned implements Backend. It reads without the lock: a slot is
// intact or fails its checksum, and a rename is atomic, so the bytes read
// are one complete state of the key, and the Version is computed from
// exactly those bytes.
func (b *fileBackend) ReadVersioned(ctx context.Context, key string) ([]byte, Version, error) {
	p, err := b.path("read", key)
	if err != nil {
		return nil, "", err
	}
	if err := ctx.Err(); err != nil {
		return nil, "", fmt.Errorf("konserve: file: read %s: %w", key, err)
	}
	h, err := readHeadFile(p)
	if err != nil {
		return nil, "", fmt.Errorf("konserve: file: read %s: %w", key, classifyFileErr(err))
	}
	return h.data, fileVersion(h.data), nil
}

// Swap implements Backend (F3): under the key's flock it compares the
// Version of the key's current bytes with old and writes data into the
// key's next slot in place, one pwrite and one fdatasync (see
// file_head.go). A key that does not exist yet, that has no ring, or whose
// slots are too small for data is written whole as a new ring file
// instead: temporary file, fsync, rename, directory fsync (F1, F2).
func (b *fileBackend) Swap(ctx context.Context, key string, old Version, data []byte) (Version, error) {
	nv, _, err := b.swapStaged(ctx, key, old, data, nil, nil)
	return nv, err
}

// swapLocked swaps the head file at p from old to data, staging objs in
// its slot if objs is not nil (or returning errNotStaged, having written
// nothing). It also reports the bytes of the staged part of the slot.
func (b *fileBackend) swapLocked(p string, old Version, data []byte, objs []stagedObject) (_ Version, stagedBytes int, err error) {
	if slotHdrSize+len(data) > maxSlotSize {
		return "", 0, fmt.Errorf("a head of %d bytes is larger than a file head can hold (%d)", len(data), maxSlotSize-slotHdrSize)
	}
	staging := objs != nil
	r := b.ringOf(p)
	r.mu.Lock()
	defer r.mu.Unlock()
	unlock, err := flockPath(lockPath(p), true)
	if err != nil {
		return "", 0, err
	}
	defer func() {
		if uerr := unlock(); err == nil && uerr != nil {
			err = uerr
		}
	}()
	cur, err := readHeadFileAll(p, true)
	var curV Version
	switch {
	case err == nil:
		curV = fileVersion(cur.data)
	case errors.Is(err, fs.ErrNotExist):
	default:
		return "", 0, fmt.Errorf("read current state: %w", err)
	}
	if curV != old {
		return "", 0, ErrConflict
	}
	ctx := context.Background()
	seq := cur.seq + 1
	if curV != "" && cur.ring {
		if !r.settled {
			if err := b.settleLocked(ctx, r, p, cur); err != nil {
				return "", 0, err
			}
		}
		target := (cur.slot + 1) % cur.slots
		var entries []stagedEntry
		if staging {
			var prev []stagedObject
			if r.lastV == curV {
				prev = r.last
			}
			entries = stageEntries(data, objs, prev)
		}
		payload := encodePayload(data, entries)
		// What staging added: all but the head's length, the head and an
		// entry count of zero (one byte).
		stagedBytes = len(payload) - len(binary.AppendUvarint(nil, uint64(len(data)))) - len(data) - 1
		if slotHdrSize+len(payload) <= cur.slotSize {
			// The slot's previous objects must be files before it is
			// overwritten.
			for _, v := range cur.all {
				if v.slot == target {
					if err := b.flushSlot(ctx, r, p, cur, v); err != nil {
						return "", 0, err
					}
				}
			}
			if err := writeSlot(p, cur, target, seq, payload); err != nil {
				return "", 0, err
			}
			nv := fileVersion(data)
			r.last, r.lastV = objs, nv
			if staging && len(objs) > 0 {
				b.startFlush(r, seq, cur.slots, objs)
			}
			return nv, stagedBytes, nil
		}
		if staging {
			return "", 0, errNotStaged
		}
		// Regrowing replaces every slot: their objects become files first.
		for _, v := range cur.all {
			if err := b.flushSlot(ctx, r, p, cur, v); err != nil {
				return "", 0, err
			}
		}
	} else if staging {
		return "", 0, errNotStaged
	}
	dir := filepath.Dir(p)
	tmp, err := writeTemp(dir, newHeadFile(seq, encodePayload(data, nil)), true)
	if err != nil {
		return "", 0, err
	}
	if err := os.Rename(tmp, p); err != nil {
		_ = os.Remove(tmp) // best effort: a leftover is swept as a crash's would be
		return "", 0, fmt.Errorf("rename into place: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return "", 0, err
	}
	nv := fileVersion(data)
	r.reset()
	r.lastV, r.settled = nv, true
	return nv, 0, nil
}

// Delete implements Backend. A key that has been swapped is deleted under its
// lock, so a delete never interleaves with a swap's compare and rename; the
// lock file itself stays (removing a lock file others may hold is unsafe).
func (b *fileBackend) Delete(ctx context.Context, key string) (err error) {
	p, err := b.path("delete", key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("konserve: file: delete %s: %w", key, err)
	}
	if isNodeKey(key) {
		// Its own file and every packed copy.
		_, err := b.deleteMany(ctx, []string{key}, time.Time{}, true, 1)
		return err
	}
	var r *ring
	{
		// Ordered as in a swap: this process's ring lock, then the flock.
		r = b.ringOf(p)
		r.mu.Lock()
		defer r.mu.Unlock()
	}
	unlock, err := flockPath(lockPath(p), false)
	if err != nil {
		return fmt.Errorf("konserve: file: delete %s: %w", key, err)
	}
	if unlock != nil {
		defer func() {
			if uerr := unlock(); err == nil && uerr != nil {
				err = fmt.Errorf("konserve: file: delete %s: %w", key, uerr)
			}
		}()
	}
	// A directory is not an object: never remove one (this process
	// remembers which directories exist, see ensureDir).
	if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
		return nil
	}
	// A ring's staged objects may be named by other heads (a branch made
	// from this one's commit): they become files before the ring goes.
	if r != nil {
		if cur, err := readHeadFileAll(p, true); err == nil && cur.ring {
			for _, v := range cur.all {
				if err := b.flushSlot(ctx, r, p, cur, v); err != nil {
					return fmt.Errorf("konserve: file: delete %s: %w", key, err)
				}
			}
		}
		// A file made again under this key starts its sequence numbers
		// over: what this process knows of the old one's slots must not
		// match them.
		r.reset()
	}
	if err := os.Remove(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil
		}
		return fmt.Errorf("konserve: file: delete %s: %w", key, err)
	}
	if err := syncDir(filepath.Dir(p)); err != nil {
		return fmt.Errorf("konserve: file: delete %s: %w", key, err)
	}
	return nil
}

// List implements Backend. It walks only the part of the tree that can hold
// keys with prefix, skips the backend's own files (F4), and ignores files
// that vanish during the walk (a concurrent Delete).
func (b *fileBackend) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	start := b.root
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		if err := checkFileKey(prefix[:i]); err != nil {
			return fmt.Errorf("konserve: file: list %q: %w", prefix, err)
		}
		start = filepath.Join(b.root, filepath.FromSlash(prefix[:i]))
	}
	var packed map[Hash]ObjectInfo
	if strings.HasPrefix(prefix, nodePrefix) || strings.HasPrefix(nodePrefix, prefix) {
		var err error
		if packed, err = b.packedInfos(); err != nil {
			return fmt.Errorf("konserve: file: list %q: %w", prefix, err)
		}
	}
	err := b.walkKeys(ctx, start, func(path, key string, d fs.DirEntry) error {
		if strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if !strings.HasPrefix(key+"/", prefix) && !strings.HasPrefix(prefix, key+"/") {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasPrefix(key, prefix) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if h, ok := parseNodeKey(key); ok {
			if pinfo, ok := packed[h]; ok {
				// Also packed: reported once, below, with the latest time.
				if info.ModTime().After(pinfo.ModTime) {
					pinfo.ModTime = info.ModTime()
					packed[h] = pinfo
				}
				return nil
			}
		}
		size := info.Size()
		if slottedSize(size) {
			// Maybe a swapped key: its size is its current bytes', as
			// with every other backend.
			h, slotted, err := peekHeadFile(path)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				return nil
			case err != nil:
				return err
			case slotted:
				size = int64(len(h.data))
			}
		}
		return fn(ObjectInfo{Key: key, Size: size, ModTime: info.ModTime()})
	})
	if err != nil {
		return fmt.Errorf("konserve: file: list %q: %w", prefix, err)
	}
	for h, info := range packed {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("konserve: file: list %q: %w", prefix, err)
		}
		if info.Key = nodeKey(h); strings.HasPrefix(info.Key, prefix) {
			if err := fn(info); err != nil {
				return fmt.Errorf("konserve: file: list %q: %w", prefix, err)
			}
		}
	}
	return nil
}

// walkKeys walks the tree under start (the root or a directory in it) and
// calls fn with the path and key of every entry below the root. Entries
// that vanish during the walk (a concurrent Delete) are skipped; ctx is
// checked at each entry. fn may return fs.SkipDir for a directory.
func (b *fileBackend) walkKeys(ctx context.Context, start string, fn func(path, key string, d fs.DirEntry) error) error {
	return filepath.WalkDir(start, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if path == b.root {
			return nil
		}
		rel, err := filepath.Rel(b.root, path)
		if err != nil {
			return err
		}
		return fn(path, filepath.ToSlash(rel), d)
	})
}

// tempPrefix begins the name of every temporary file (writeTemp); lock
// files (".gc.lock", ".<key>.lock") do not begin with it.
const tempPrefix = ".tmp-"

// SweepTemp implements TempSweeper: it walks the whole root and removes
// the temporary files (F1, F4) last modified before before, which only a
// crash leaves: PutImmutable, Swap and PutNodesBulk rename or remove their
// own within the call. A temporary file younger than that may be a write
// in progress and is kept. Lock files are never removed (another process
// may hold them).
func (b *fileBackend) SweepTemp(ctx context.Context, before time.Time, dryRun bool) (files, bytes int64, err error) {
	err = b.walkKeys(ctx, b.root, func(path, _ string, d fs.DirEntry) error {
		if d.IsDir() || !strings.HasPrefix(d.Name(), tempPrefix) || !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !info.ModTime().Before(before) {
			return nil
		}
		if !dryRun {
			if err := os.Remove(path); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
		}
		files++
		bytes += info.Size()
		return nil
	})
	if err != nil {
		return files, bytes, fmt.Errorf("konserve: file: sweep temporary files: %w", err)
	}
	return files, bytes, nil
}

// Close implements Backend. It waits for the background writes of staged
// objects; the backend holds no other resources between calls.
func (b *fileBackend) Close() error {
	// Staged objects are durable in their head's slot already; waiting
	// makes them files before the process goes, so that the next process
	// has nothing to settle.
	b.waitFlushes()
	return nil
}
