package konserve

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sync/errgroup"
)

// Bulk writes: many immutable objects made durable with a constant number
// of file-system syncs instead of one or two per object.
//
// PutNodes on the file backend fsyncs every file and each touched
// directory: right for a commit of a few nodes, ruinous for a bulk import
// of tens of thousands (each fsync is a disk flush). PutNodesBulk keeps
// invariant F1 (a key's file is always complete) with two syncs of the
// whole file system in all:
//
//  1. every object is written to a temporary file, unsynced;
//  2. one sync makes all their bytes durable;
//  3. each temporary file is linked create-only to its key (an existing key
//     is left alone and freshened, as PutImmutable does), then removed;
//  4. one more sync makes the new directory entries durable.
//
// A crash before step 4 leaves some keys linked and some not, each linked
// one complete (its bytes were durable before its name existed), and
// temporary files that GC-free tools may remove (names starting with ".").
// Nothing names the objects until PutNodesBulk returns and the caller moves
// a head, so a partial batch is orphans, never a missing node.

// bulkPutter is implemented by backends that make a large batch of
// create-only writes durable more cheaply than batchPutter. Its contract is
// PutImmutable's for every key, holding when the call returns nil.
type bulkPutter interface {
	putImmutableBulk(ctx context.Context, keys []string, datas [][]byte, limit int) error
}

// BulkStats counts what PutNodesBulk did, for benchmarks: objects written
// and file-system syncs issued (file backend; 0 elsewhere).
type BulkStats struct {
	Objects int
	Syncs   int
}

// PutNodesBulk stores every element of datas as PutNode does and returns
// their addresses in order. It is for large batches (a bulk import): on the
// file backend it costs two file-system syncs in all rather than one or
// more per node; elsewhere it is PutNodes. When it returns nil every node is
// durable; on error some may be stored (orphans, never half-visible).
func (s *Store) PutNodesBulk(ctx context.Context, datas [][]byte) ([]Hash, BulkStats, error) {
	bp, ok := s.b.(bulkPutter)
	if !ok {
		hs, err := s.PutNodes(ctx, datas)
		return hs, BulkStats{Objects: len(datas)}, err
	}
	hs := make([]Hash, len(datas))
	keys := make([]string, len(datas))
	var total int64
	for i, d := range datas {
		hs[i] = HashOf(d)
		keys[i] = nodeKey(hs[i])
		total += int64(len(d))
	}
	if len(datas) == 0 {
		return hs, BulkStats{}, nil
	}
	s.c.puts.Add(int64(len(datas)))
	s.c.bytesWritten.Add(total)
	if err := bp.putImmutableBulk(ctx, keys, datas, s.parallelism); err != nil {
		return nil, BulkStats{}, fmt.Errorf("konserve: put nodes (bulk): %w", err)
	}
	return hs, BulkStats{Objects: len(datas), Syncs: 2}, nil
}

// putImmutableBulk implements bulkPutter (see the steps above).
func (b *fileBackend) putImmutableBulk(ctx context.Context, keys []string, datas [][]byte, limit int) error {
	paths := make([]string, len(keys))
	for i, key := range keys {
		p, err := b.path("put", key)
		if err != nil {
			return err
		}
		paths[i] = p
		if err := b.ensureDir(filepath.Dir(p)); err != nil {
			return fmt.Errorf("konserve: file: put %s: %w", key, err)
		}
	}
	tmps := make([]string, len(keys)) // "" where the key exists already
	defer func() {
		for _, t := range tmps {
			if t != "" {
				_ = os.Remove(t) // best effort: only after a failure
			}
		}
	}()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for i, p := range paths {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return fmt.Errorf("konserve: file: put %s: %w", keys[i], err)
			}
			if _, err := os.Lstat(p); err == nil {
				if err := touch(p); err != nil {
					return fmt.Errorf("konserve: file: put %s: %w", keys[i], err)
				}
				return nil
			}
			t, err := writeTempNoSync(filepath.Dir(p), datas[i])
			if err != nil {
				return fmt.Errorf("konserve: file: put %s: %w", keys[i], err)
			}
			tmps[i] = t
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := syncTree(b.root, tmps, false); err != nil {
		return fmt.Errorf("konserve: file: put batch: %w", err)
	}
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(limit)
	dirs := map[string]struct{}{}
	for i, p := range paths {
		if tmps[i] == "" {
			continue
		}
		dirs[filepath.Dir(p)] = struct{}{}
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return fmt.Errorf("konserve: file: put %s: %w", keys[i], err)
			}
			lerr := os.Link(tmps[i], p)
			if lerr != nil && !errors.Is(lerr, fs.ErrExist) {
				return fmt.Errorf("konserve: file: put %s: link into place: %w", keys[i], lerr)
			}
			if err := os.Remove(tmps[i]); err != nil {
				return fmt.Errorf("konserve: file: put %s: remove temporary file: %w", keys[i], err)
			}
			tmps[i] = ""
			if lerr != nil {
				return touch(p)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	dirList := make([]string, 0, len(dirs))
	for d := range dirs {
		dirList = append(dirList, d)
	}
	if err := syncTree(b.root, dirList, true); err != nil {
		return fmt.Errorf("konserve: file: put batch: %w", err)
	}
	return nil
}

// writeTempNoSync writes data to a new temporary file in dir without
// syncing it; the caller syncs before linking it anywhere (F1).
func writeTempNoSync(dir string, data []byte) (string, error) {
	for range 8 {
		name := filepath.Join(dir, fmt.Sprintf(".tmp-%d-%016x", os.Getpid(), rand.Uint64()))
		err := createFile(name, data)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			_ = os.Remove(name) // best effort: the write error is what matters
			return "", fmt.Errorf("write temporary file: %w", err)
		}
		return name, nil
	}
	return "", fmt.Errorf("create temporary file in %s: names keep colliding", dir)
}

// createFile creates name exclusively and writes data, without syncing.
func createFile(name string, data []byte) error {
	fd, err := openRetry(name, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		return &fs.PathError{Op: "create", Path: name, Err: err}
	}
	for rest := data; len(rest) > 0 && err == nil; {
		var n int
		n, err = syscall.Write(fd, rest)
		switch {
		case errors.Is(err, syscall.EINTR):
			err = nil
		case err == nil && n == 0:
			err = syscall.EIO
		case err == nil:
			rest = rest[n:]
		}
	}
	if cerr := syscall.Close(fd); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return &fs.PathError{Op: "write", Path: name, Err: err}
	}
	return nil
}
