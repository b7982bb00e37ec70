package konserve

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sync/errgroup"
)

// Bulk writes: many immutable objects made durable with two syncs instead
// of one or two fsyncs per object.
//
// On the file backend a bulk store of nodes is one pack file (file_pack.go):
// temporary file, fsync, link, directory fsync. What follows describes the
// path for objects that are files of their own (putFilesBulk), which the
// background writer of staged commit objects uses (file_stage.go).
//
// PutNodes on the file backend writes each object to a synced temporary
// file and links it into place, then syncs each touched directory: right
// for a commit of a few nodes, ruinous for a bulk import of thousands
// (each fsync is a disk flush). PutNodesBulk keeps invariant F1 (a key's
// file is always complete) at a lower price:
//
//  1. each object is written to a temporary file ("."-prefixed, F4) in its
//     key's directory, unsynced;
//  2. one syncfs(2) makes all their bytes durable (one fsync per file on
//     platforms without it);
//  3. each temporary file is linked onto its key and removed: atomic, so a
//     key's name only ever points at complete, durable bytes. A key that
//     exists already holds the same bytes (a node key names their hash) and
//     is only freshened, as PutImmutable does, for GC's grace period (and
//     under the lock that GC's conditional delete respects);
//  4. one more syncfs(2) makes the renames durable (one fsync per
//     directory elsewhere).
//
// A crash before step 3 leaves only temporary files, which no reader sees
// (List, Get and HasNode look at keys only); a crash during steps 3–4
// leaves each key absent or complete. Nothing names a batch's objects
// until PutNodesBulk returns and the caller moves a head.
//
// For step 4 a second syncfs measured cheaper than an fsync of each touched
// directory (see syncDirsBulk in bulk_linux.go).

// bulkPutter is implemented by backends that make a large batch of
// create-only writes durable more cheaply than batchPutter. Its contract is
// PutImmutable's for every key, holding when the call returns nil. It
// reports how many file-system syncs it issued.
type bulkPutter interface {
	putImmutableBulk(ctx context.Context, keys []string, datas [][]byte, limit int) (syncs int, err error)
}

// BulkStats counts what PutNodesBulk did, for benchmarks: objects written
// and file-system syncs issued (syncfs calls and file or directory fsyncs;
// file backend only, 0 elsewhere).
type BulkStats struct {
	Objects int
	Syncs   int
}

// PutNodesBulk stores every element of datas as PutNode does and returns
// their addresses in order. It is for large batches (a bulk import): on the
// file backend it costs two file-system syncs in all rather than one or
// more per node; elsewhere it is PutNodes. When it returns nil every node is
// durable; on error some may be stored (complete orphans, never partial).
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
	syncs, err := bp.putImmutableBulk(ctx, keys, datas, s.parallelism)
	if err != nil {
		return nil, BulkStats{}, fmt.Errorf("konserve: put nodes (bulk): %w", err)
	}
	return hs, BulkStats{Objects: len(datas), Syncs: syncs}, nil
}

// bulkHookSynced, when set (by tests), runs after the temporary files of a
// bulk store are synced and before any is renamed onto its key. An error
// from it ends the call on the spot, leaving the temporary files behind as
// a crash at that point would.
var bulkHookSynced func(tmps []string) error

// putImmutableBulk implements bulkPutter. Node keys go into packs
// (file_pack.go); any other key is a file of its own.
func (b *fileBackend) putImmutableBulk(ctx context.Context, keys []string, datas [][]byte, limit int) (syncs int, err error) {
	hs := make([]Hash, len(keys))
	packable := true
	for i, key := range keys {
		h, ok := parseNodeKey(key)
		if !ok {
			packable = false
			break
		}
		hs[i] = h
	}
	if packable {
		return b.putPacks(ctx, hs, datas)
	}
	return b.putFilesBulk(ctx, keys, datas, limit)
}

// putFilesBulk stores each object as a file of its own (the steps are
// described above).
func (b *fileBackend) putFilesBulk(ctx context.Context, keys []string, datas [][]byte, limit int) (syncs int, err error) {
	paths := make([]string, len(keys))
	dirs := map[string]struct{}{}
	var dirList []string
	for i, key := range keys {
		p, err := b.path("put", key)
		if err != nil {
			return 0, err
		}
		paths[i] = p
		dir := filepath.Dir(p)
		if _, ok := dirs[dir]; !ok {
			dirs[dir] = struct{}{}
			dirList = append(dirList, dir)
		}
	}
	if err := b.ensureDirs(dirList); err != nil {
		return 0, fmt.Errorf("konserve: file: put batch: %w", err)
	}
	tmps := make([]string, len(keys)) // temporary files not (yet) renamed
	defer func() {
		if err == nil {
			return
		}
		for _, t := range tmps {
			if t != "" {
				_ = os.Remove(t) // best effort: err is what matters
			}
		}
	}()

	// 1. Write every object to a temporary file, unsynced.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for i, p := range paths {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return fmt.Errorf("konserve: file: put %s: %w", keys[i], err)
			}
			tmp, err := b.createTempBulk(filepath.Dir(p), datas[i])
			if err != nil {
				return fmt.Errorf("konserve: file: put %s: %w", keys[i], err)
			}
			tmps[i] = tmp
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}

	// 2. Make their bytes durable.
	n, err := syncFilesBulk(b.root, tmps)
	syncs += n
	if err != nil {
		return syncs, fmt.Errorf("konserve: file: put batch: %w", err)
	}
	if bulkHookSynced != nil {
		if err := bulkHookSynced(tmps); err != nil {
			tmps = nil // a crash cleans up nothing
			return syncs, err
		}
	}

	// 3. Link each onto its key.
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for i, p := range paths {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return fmt.Errorf("konserve: file: put %s: %w", keys[i], err)
			}
			if err := placeBulk(tmps[i], p); err != nil {
				return fmt.Errorf("konserve: file: put %s: %w", keys[i], err)
			}
			tmps[i] = ""
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return syncs, err
	}

	// 4. Make the renames durable.
	n, err = syncDirsBulk(b.root, dirList, limit)
	syncs += n
	if err != nil {
		return syncs, fmt.Errorf("konserve: file: put batch: %w", err)
	}
	return syncs, nil
}

// placeBulk links the synced temporary file tmp into place at the key's
// path p, create-only, and removes tmp. An existing p holds the same bytes
// (content addressing; any other key is create-only anyway) and is only
// freshened, as in putFile. A link creates p only where it is absent, so
// it needs no lock against garbage collection's DeleteIfOlder (a rename
// over p would: the collector could remove the fresh file after looking at
// the old one's time); only freshening an existing p takes the directory's
// shared lock, and a p the collector removed meanwhile is linked again.
func placeBulk(tmp, p string) (err error) {
	defer func() {
		if rerr := os.Remove(tmp); err == nil && rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = fmt.Errorf("remove temporary file: %w", rerr)
		}
	}()
	for range maxPutAttempts {
		lerr := os.Link(tmp, p)
		if lerr == nil {
			return nil
		}
		if !errors.Is(lerr, fs.ErrExist) {
			return fmt.Errorf("link into place: %w", lerr)
		}
		if err := freshen(p); !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return fmt.Errorf("put %s: the file kept vanishing (%d attempts)", filepath.Base(p), maxPutAttempts)
}

// createTempBulk writes data to a new temporary file in dir (F4), without
// syncing, and returns its path. A directory removed behind the backend's
// back is recreated once, as in putFile.
func (b *fileBackend) createTempBulk(dir string, data []byte) (string, error) {
	name, err := writeTemp(dir, data, false)
	if errors.Is(err, fs.ErrNotExist) {
		b.dirs.Delete(dir)
		if err := b.ensureDir(dir); err != nil {
			return "", err
		}
		name, err = writeTemp(dir, data, false)
	}
	return name, err
}
