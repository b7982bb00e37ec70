package konserve

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sync/errgroup"
)

// Bulk writes: many immutable objects made durable with one sync of the
// whole file system instead of one or two fsyncs per object.
//
// PutNodes on the file backend writes each object to a synced temporary
// file and links it into place, then syncs each touched directory: right
// for a commit of a few nodes, ruinous for a bulk import of thousands
// (each fsync is a disk flush, each file three directory operations).
// PutNodesBulk creates each object under its key directly, unsynced, and
// then makes them all durable with one syncfs(2) (one fsync per file and
// directory on platforms without it). Until that sync a crash can leave a
// key's file partial, so invariant F1 becomes, for bulk-written keys: a
// key's file is complete, or no head names it and the next store of the
// key replaces it. Every store of an existing key therefore checks the
// bytes on disk against the bytes it would write and fsyncs them before
// reporting success (reuseExisting), so a head is only ever moved over
// nodes whose complete bytes are durable. Nothing names a bulk batch's
// objects until PutNodesBulk returns and the caller moves a head.

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
// file backend it costs one file-system sync in all rather than one or
// more per node; elsewhere it is PutNodes. When it returns nil every node is
// durable; on error some may be stored (orphans, never half-visible).
//
// hs, if not nil, holds HashOf of each element of datas, computed by the
// caller (a tree flush hashes every node it encodes): it saves hashing
// every byte a second time. A wrong hash would store bytes under another
// node's address, so only pass hashes made by HashOf (or node.AddressOf,
// the same BLAKE3) of exactly these bytes.
func (s *Store) PutNodesBulk(ctx context.Context, datas [][]byte, hs []Hash) ([]Hash, BulkStats, error) {
	if hs != nil && len(hs) != len(datas) {
		return nil, BulkStats{}, fmt.Errorf("konserve: put nodes (bulk): %d hashes for %d nodes", len(hs), len(datas))
	}
	bp, ok := s.b.(bulkPutter)
	if !ok {
		hs, err := s.PutNodes(ctx, datas)
		return hs, BulkStats{Objects: len(datas)}, err
	}
	if hs == nil {
		hs = make([]Hash, len(datas))
		for i, d := range datas {
			hs[i] = HashOf(d)
		}
	}
	keys := make([]string, len(datas))
	var total int64
	for i, d := range datas {
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
	return hs, BulkStats{Objects: len(datas), Syncs: 1}, nil
}

// putImmutableBulk implements bulkPutter (see above).
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
	created := make([]string, len(keys)) // files this call created, to sync
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for i, p := range paths {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return fmt.Errorf("konserve: file: put %s: %w", keys[i], err)
			}
			err := createFile(p, datas[i])
			if errors.Is(err, fs.ErrExist) {
				err = reuseExisting(keys[i], p, datas[i])
			} else if err == nil {
				created[i] = p
			}
			if err != nil {
				return fmt.Errorf("konserve: file: put %s: %w", keys[i], err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	dirs := map[string]struct{}{}
	for _, p := range created {
		if p != "" {
			dirs[filepath.Dir(p)] = struct{}{}
		}
	}
	dirList := make([]string, 0, len(dirs))
	for d := range dirs {
		dirList = append(dirList, d)
	}
	if err := syncTree(b.root, created, dirList); err != nil {
		return fmt.Errorf("konserve: file: put batch: %w", err)
	}
	return nil
}

// reuseExisting makes the existing file p stand for the immutable object
// key with bytes data. A node key names its bytes' hash: if the file hashes
// to it, it is complete and is fsynced (its bulk writer may not have synced
// yet) and freshened; otherwise (a bulk write cut short by a crash) it is
// replaced by a synced copy of data, renamed over it. Any other key keeps
// its first bytes (create-only) and is only freshened.
func reuseExisting(key, p string, data []byte) error {
	h, isNode := parseNodeKey(key)
	if !isNode {
		return touch(p)
	}
	cur, err := os.ReadFile(p)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read existing object: %w", err)
	}
	if err == nil && HashOf(cur) == h {
		if err := fsyncFile(p); err != nil {
			return err
		}
		return touch(p)
	}
	tmp, err := writeTemp(filepath.Dir(p), data)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		_ = os.Remove(tmp) // the rename error is what matters
		return fmt.Errorf("replace incomplete object: %w", err)
	}
	return syncDir(filepath.Dir(p))
}

// fsyncFile fsyncs the existing file p.
func fsyncFile(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("sync existing object: %w", err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync existing object: %w", err)
	}
	return nil
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
