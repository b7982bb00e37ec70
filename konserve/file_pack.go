package konserve

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zeebo/blake3"
	"golang.org/x/sync/errgroup"
)

// Packs: a bulk store's nodes written as one file.
//
// A background merge stores about 250 nodes, and an import thousands. As
// files of their own each costs a create, a link and an unlink; on this
// project's machines creating a file costs 75–950 µs of system CPU (ext4
// inode and directory-entry allocation), against 5 µs to append 4 KiB to
// an open file, so under a stream of small transactions the merges' file
// creations were 40% of the writer process's CPU (BenchmarkGroupCommit).
// PutNodesBulk on the file backend therefore writes its nodes into one
// pack file under ".packs/" (F4: the backend's own, never a key):
//
//	"ACCPACK1" | count uint32 | count × (hash [32] | offset uint64 | length uint32),
//	sorted by hash | BLAKE3-256 of everything before it | node bytes
//
// named by the BLAKE3 hex of all its bytes plus ".pack". Node keys stay
// what they are everywhere else: Get, List, Delete and DeleteIfOlder of
// "nodes/xx/<hash>" find the node as a file of its own or in a pack, and a
// node may be in both, or in several packs (each copy holds the same bytes;
// Store checks them against the hash on every read).
//
//	F5 A pack file is always complete and never changes: it is written to a
//	   temporary file in ".packs/", fsynced, and linked to its name, and
//	   the directory is fsynced before PutNodesBulk returns. Garbage
//	   collection removes nodes from a pack by writing a new pack of the
//	   rest (with the old one's modification time), linking and syncing it,
//	   and only then removing the old one, all under ".packs/.gc.lock"
//	   taken exclusively; a crash leaves both (copies of the same nodes).
//
// Age for garbage collection (G6) is the pack file's modification time: a
// pack put again (the same bytes) is freshened under the lock taken shared,
// and a node stored again goes into a new pack or file, which is fresh.
//
// Every process keeps an index of the packs it has seen (hash → packs). A
// node not found in it or as a file makes the process list ".packs/" again,
// unless the directory's modification time is unchanged and was over a
// second older than the previous listing (a change made after that listing
// would have given the directory a later time, however coarse the clock).
// A pack removed since it was indexed is noticed when opening it fails, and
// the index is listed again.

const (
	// packDirName is the directory of pack files under the root (F4).
	packDirName = ".packs"
	// packSuffix ends every pack file's name.
	packSuffix = ".pack"
	// packMagic begins every pack file.
	packMagic = "ACCPACK1"
	// packEntrySize is one index entry: hash, offset, length.
	packEntrySize = 32 + 8 + 4
	// packHeaderSize is the magic and the entry count.
	packHeaderSize = len(packMagic) + 4
	// maxPackBytes bounds one pack's node bytes: a bulk store larger than
	// this (an import) writes several packs, so a rewrite by garbage
	// collection never copies more than this.
	maxPackBytes = 8 << 20
)

// packIndex is the index of one pack file: its entries sorted by hash.
type packIndex struct {
	name   string // file name in the pack directory
	hashes []Hash
	offs   []uint64
	lens   []uint32
}

// find returns the position of h in the index.
func (p *packIndex) find(h Hash) (int, bool) {
	return slices.BinarySearchFunc(p.hashes, h, func(a, b Hash) int { return bytes.Compare(a[:], b[:]) })
}

// encodePack lays out a pack of the given nodes (hashes distinct), sorted
// by hash, and returns its bytes and index.
func encodePack(hs []Hash, datas [][]byte) ([]byte, *packIndex) {
	order := make([]int, len(hs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return bytes.Compare(hs[a][:], hs[b][:]) })
	idxEnd := packHeaderSize + len(hs)*packEntrySize
	dataStart := idxEnd + 32
	total := dataStart
	for _, d := range datas {
		total += len(d)
	}
	buf := make([]byte, dataStart, total)
	copy(buf, packMagic)
	binary.LittleEndian.PutUint32(buf[len(packMagic):], uint32(len(hs)))
	pi := &packIndex{hashes: make([]Hash, len(hs)), offs: make([]uint64, len(hs)), lens: make([]uint32, len(hs))}
	off := uint64(dataStart)
	for k, i := range order {
		e := buf[packHeaderSize+k*packEntrySize:]
		copy(e, hs[i][:])
		binary.LittleEndian.PutUint64(e[32:], off)
		binary.LittleEndian.PutUint32(e[40:], uint32(len(datas[i])))
		pi.hashes[k], pi.offs[k], pi.lens[k] = hs[i], off, uint32(len(datas[i]))
		off += uint64(len(datas[i]))
	}
	sum := blake3.Sum256(buf[:idxEnd])
	copy(buf[idxEnd:], sum[:])
	for _, i := range order {
		buf = append(buf, datas[i]...)
	}
	sum = blake3.Sum256(buf)
	pi.name = hex.EncodeToString(sum[:]) + packSuffix
	return buf, pi
}

// errBadPack marks a file in the pack directory that is not a well-formed
// pack.
var errBadPack = errors.New("not a well-formed pack")

// decodePackIndex reads the index at the start of a pack of size bytes
// through r. It checks the magic, the index's checksum, the order of the
// hashes and that every node lies inside the file.
func decodePackIndex(r io.ReaderAt, size int64) (*packIndex, error) {
	var hdr [packHeaderSize]byte
	if size < int64(packHeaderSize+32) {
		return nil, fmt.Errorf("%w: %d bytes is too short", errBadPack, size)
	}
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		return nil, err
	}
	if string(hdr[:len(packMagic)]) != packMagic {
		return nil, fmt.Errorf("%w: bad magic", errBadPack)
	}
	n := int64(binary.LittleEndian.Uint32(hdr[len(packMagic):]))
	idxEnd := int64(packHeaderSize) + n*packEntrySize
	if idxEnd+32 > size {
		return nil, fmt.Errorf("%w: %d entries do not fit in %d bytes", errBadPack, n, size)
	}
	buf := make([]byte, idxEnd+32)
	if _, err := r.ReadAt(buf, 0); err != nil {
		return nil, err
	}
	if sum := blake3.Sum256(buf[:idxEnd]); !bytes.Equal(sum[:], buf[idxEnd:]) {
		return nil, fmt.Errorf("%w: index checksum mismatch", errBadPack)
	}
	pi := &packIndex{hashes: make([]Hash, n), offs: make([]uint64, n), lens: make([]uint32, n)}
	for k := range pi.hashes {
		e := buf[packHeaderSize+k*packEntrySize:]
		copy(pi.hashes[k][:], e)
		pi.offs[k] = binary.LittleEndian.Uint64(e[32:])
		pi.lens[k] = binary.LittleEndian.Uint32(e[40:])
		if pi.offs[k] < uint64(idxEnd+32) || pi.offs[k] > uint64(size) || uint64(pi.lens[k]) > uint64(size)-pi.offs[k] {
			return nil, fmt.Errorf("%w: entry %d lies outside the file", errBadPack, k)
		}
		if k > 0 && bytes.Compare(pi.hashes[k-1][:], pi.hashes[k][:]) >= 0 {
			return nil, fmt.Errorf("%w: entries out of order at %d", errBadPack, k)
		}
	}
	return pi, nil
}

// packSet is a process's index of the pack directory.
type packSet struct {
	dir string

	mu     sync.RWMutex
	packs  map[string]*packIndex // by file name
	byHash map[Hash][]*packIndex
	// dirMod is the pack directory's modification time when it was last
	// listed, and statAt when that was read; listed says whether it was.
	dirMod, statAt time.Time
	listed         bool
}

func newPackSet(root string) *packSet {
	return &packSet{dir: filepath.Join(root, packDirName), packs: map[string]*packIndex{}, byHash: map[Hash][]*packIndex{}}
}

// addLocked indexes pack pi. The caller holds mu.
func (s *packSet) addLocked(pi *packIndex) {
	if _, ok := s.packs[pi.name]; ok {
		return
	}
	s.packs[pi.name] = pi
	for _, h := range pi.hashes {
		s.byHash[h] = append(s.byHash[h], pi)
	}
}

// add indexes a pack this process has just written.
func (s *packSet) add(pi *packIndex) {
	s.mu.Lock()
	s.addLocked(pi)
	s.mu.Unlock()
}

// removeLocked forgets pack name. The caller holds mu.
func (s *packSet) removeLocked(name string) {
	pi, ok := s.packs[name]
	if !ok {
		return
	}
	delete(s.packs, name)
	for _, h := range pi.hashes {
		ps := slices.DeleteFunc(s.byHash[h], func(q *packIndex) bool { return q == pi })
		if len(ps) == 0 {
			delete(s.byHash, h)
		} else {
			s.byHash[h] = ps
		}
	}
}

// refresh lists the pack directory again unless it cannot have changed
// since the last listing (or always, if force), indexing new packs and
// forgetting removed ones. It reports whether the index changed.
func (s *packSet) refresh(force bool) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	statAt := time.Now()
	fi, err := os.Stat(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		changed := len(s.packs) > 0
		for name := range s.packs {
			s.removeLocked(name)
		}
		return changed, nil
	}
	if err != nil {
		return false, fmt.Errorf("list packs: %w", err)
	}
	mod := fi.ModTime()
	if !force && s.listed && mod.Equal(s.dirMod) && mod.Before(s.statAt.Add(-time.Second)) {
		return false, nil
	}
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("list packs: %w", err)
	}
	changed := false
	seen := make(map[string]bool, len(ents))
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, packSuffix) || !e.Type().IsRegular() {
			continue
		}
		seen[name] = true
		if _, ok := s.packs[name]; ok {
			continue
		}
		pi, err := loadPackIndex(filepath.Join(s.dir, name))
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errBadPack) {
			// Gone since the listing, or not a pack (damage): its nodes
			// read as missing, which Verify reports.
			continue
		}
		if err != nil {
			return changed, fmt.Errorf("read pack %s: %w", name, err)
		}
		pi.name = name
		s.addLocked(pi)
		changed = true
	}
	for name := range s.packs {
		if !seen[name] {
			s.removeLocked(name)
			changed = true
		}
	}
	s.dirMod, s.statAt, s.listed = mod, statAt, true
	return changed, nil
}

// loadPackIndex reads the index of the pack file at path.
func loadPackIndex(path string) (*packIndex, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return decodePackIndex(f, fi.Size())
}

// lookup returns the packs indexed as holding h.
func (s *packSet) lookup(h Hash) []*packIndex {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.byHash[h])
}

// read returns node h's bytes from the first indexed pack that still
// exists and holds it; found is false if none does.
func (s *packSet) read(h Hash) (data []byte, found bool, err error) {
	for _, pi := range s.lookup(h) {
		data, err := readPacked(filepath.Join(s.dir, pi.name), pi, h)
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed by a collection since it was indexed
		}
		if err != nil {
			return nil, false, err
		}
		return data, true, nil
	}
	return nil, false, nil
}

// readPacked reads node h from the pack file at path, indexed by pi.
func readPacked(path string, pi *packIndex, h Hash) ([]byte, error) {
	i, ok := pi.find(h)
	if !ok {
		return nil, fs.ErrNotExist
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data := make([]byte, pi.lens[i])
	n, err := f.ReadAt(data, int64(pi.offs[i]))
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read pack %s: %w", pi.name, err)
	}
	// A pack cut short since it was indexed yields what is left, which
	// does not hash to the node's address: Store reports ErrCorrupt.
	return data[:n], nil
}

// getPacked finds node h in a pack, listing the pack directory again if
// the index does not know h (or knows only removed packs) and the
// directory may have changed. found is false if no pack holds h.
func (b *fileBackend) getPacked(h Hash) ([]byte, bool, error) {
	data, found, err := b.packs.read(h)
	if found || err != nil {
		return data, found, err
	}
	return b.getRelisted(h)
}

// getRelisted is getPacked after the index failed to find h: it lists the
// pack directory again, if it may have changed, and looks once more.
func (b *fileBackend) getRelisted(h Hash) ([]byte, bool, error) {
	changed, err := b.packs.refresh(false)
	if err != nil || !changed {
		return nil, false, err
	}
	return b.packs.read(h)
}

// putPacks implements putImmutableBulk for node keys: the nodes go into
// packs of at most maxPackBytes, each written as F5 says. It returns the
// number of syncs issued (two per pack).
func (b *fileBackend) putPacks(ctx context.Context, hs []Hash, datas [][]byte) (syncs int, err error) {
	dir := b.packs.dir
	if err := b.ensureDir(dir); err != nil {
		return 0, fmt.Errorf("konserve: file: put pack: %w", err)
	}
	// Distinct hashes only: a batch may hold one node twice.
	seen := make(map[Hash]bool, len(hs))
	var chunkH []Hash
	var chunkD [][]byte
	size := 0
	flush := func() error {
		if len(chunkH) == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("konserve: file: put pack: %w", err)
		}
		n, err := b.writePack(chunkH, chunkD, time.Time{})
		syncs += n
		chunkH, chunkD, size = nil, nil, 0
		return err
	}
	for i, h := range hs {
		if seen[h] {
			continue
		}
		seen[h] = true
		if size > 0 && size+len(datas[i]) > maxPackBytes {
			if err := flush(); err != nil {
				return syncs, err
			}
		}
		chunkH, chunkD = append(chunkH, h), append(chunkD, datas[i])
		size += len(datas[i])
	}
	return syncs, flush()
}

// writePack writes one pack of the given nodes (F5) and indexes it. A
// non-zero mtime is given to the new file (a rewrite keeps its original's
// age). A pack that exists already (the same bytes) is freshened, unless
// mtime is set. It returns the number of syncs issued.
func (b *fileBackend) writePack(hs []Hash, datas [][]byte, mtime time.Time) (syncs int, err error) {
	dir := b.packs.dir
	buf, pi := encodePack(hs, datas)
	p := filepath.Join(dir, pi.name)
	tmp, err := b.createTempPack(dir, buf)
	if err != nil {
		return 0, fmt.Errorf("konserve: file: put pack %s: %w", pi.name, err)
	}
	syncs++
	if bulkHookSynced != nil {
		if err := bulkHookSynced([]string{tmp}); err != nil {
			return syncs, err // left behind, as a crash would
		}
	}
	defer func() {
		if rerr := os.Remove(tmp); err == nil && rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = fmt.Errorf("konserve: file: put pack %s: remove temporary file: %w", pi.name, rerr)
		}
	}()
	if !mtime.IsZero() {
		// Losing this to a crash only makes the pack look younger: its
		// nodes are kept longer, never collected early.
		if err := os.Chtimes(tmp, mtime, mtime); err != nil {
			return syncs, fmt.Errorf("konserve: file: put pack %s: %w", pi.name, err)
		}
	}
	linked := false
	for range maxPutAttempts {
		lerr := os.Link(tmp, p)
		if lerr == nil {
			linked = true
			break
		}
		if !errors.Is(lerr, fs.ErrExist) {
			return syncs, fmt.Errorf("konserve: file: put pack %s: link into place: %w", pi.name, lerr)
		}
		if !mtime.IsZero() {
			linked = true // a rewrite's result exists: nothing to freshen
			break
		}
		if err := freshen(p); !errors.Is(err, fs.ErrNotExist) {
			if err != nil {
				return syncs, fmt.Errorf("konserve: file: put pack %s: %w", pi.name, err)
			}
			linked = true
			break
		}
	}
	if !linked {
		return syncs, fmt.Errorf("konserve: file: put pack %s: the file kept vanishing (%d attempts)", pi.name, maxPutAttempts)
	}
	if err := syncDir(dir); err != nil {
		return syncs, fmt.Errorf("konserve: file: put pack %s: %w", pi.name, err)
	}
	syncs++
	b.packs.add(pi)
	return syncs, nil
}

// createTempPack writes a pack's bytes to a synced temporary file in dir,
// recreating dir once if it was removed behind the backend's back.
func (b *fileBackend) createTempPack(dir string, buf []byte) (string, error) {
	tmp, err := writeTemp(dir, buf, true)
	if errors.Is(err, fs.ErrNotExist) {
		b.dirs.Delete(dir)
		if err := b.ensureDir(dir); err != nil {
			return "", err
		}
		tmp, err = writeTemp(dir, buf, true)
	}
	return tmp, err
}

// packedInfos returns, for each node held by a pack, its size and the
// latest modification time of the packs holding it, listing the pack
// directory first.
func (b *fileBackend) packedInfos() (map[Hash]ObjectInfo, error) {
	if _, err := b.packs.refresh(true); err != nil {
		return nil, err
	}
	b.packs.mu.RLock()
	packs := make([]*packIndex, 0, len(b.packs.packs))
	for _, pi := range b.packs.packs {
		packs = append(packs, pi)
	}
	b.packs.mu.RUnlock()
	out := map[Hash]ObjectInfo{}
	for _, pi := range packs {
		fi, err := os.Stat(filepath.Join(b.packs.dir, pi.name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for i, h := range pi.hashes {
			info, ok := out[h]
			if !ok || fi.ModTime().After(info.ModTime) {
				out[h] = ObjectInfo{Size: int64(pi.lens[i]), ModTime: fi.ModTime()}
			}
		}
	}
	return out, nil
}

// deletePacked removes the nodes in drop from every pack holding them
// whose modification time is before before (or from all of them if all),
// under the pack directory's exclusive lock (F5). It returns which
// nodes it removed from some pack and which it found in a pack too young
// to touch.
func (b *fileBackend) deletePacked(ctx context.Context, drop map[Hash]bool, before time.Time, all bool) (removed, kept map[Hash]bool, err error) {
	removed, kept = map[Hash]bool{}, map[Hash]bool{}
	if _, err := os.Lstat(b.packs.dir); errors.Is(err, fs.ErrNotExist) {
		return removed, kept, nil
	}
	unlock, err := dirLock(b.packs.dir, false)
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if uerr := unlock(); err == nil && uerr != nil {
			err = uerr
		}
	}()
	if _, err := b.packs.refresh(true); err != nil {
		return nil, nil, err
	}
	affected := map[*packIndex]bool{}
	for h := range drop {
		for _, pi := range b.packs.lookup(h) {
			affected[pi] = true
		}
	}
	for pi := range affected {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		p := filepath.Join(b.packs.dir, pi.name)
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		if !all && !fi.ModTime().Before(before) {
			for _, h := range pi.hashes {
				if drop[h] {
					kept[h] = true
				}
			}
			continue
		}
		if err := b.rewritePackLocked(p, pi, drop, fi.ModTime()); err != nil {
			return nil, nil, fmt.Errorf("rewrite pack %s: %w", pi.name, err)
		}
		for _, h := range pi.hashes {
			if drop[h] {
				removed[h] = true
			}
		}
	}
	return removed, kept, nil
}

// rewritePackLocked replaces the pack at p with one of its nodes not in
// drop, given mtime, or removes it if none are left. The caller holds the
// pack directory's exclusive lock.
func (b *fileBackend) rewritePackLocked(p string, pi *packIndex, drop map[Hash]bool, mtime time.Time) error {
	var hs []Hash
	var datas [][]byte
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	for i, h := range pi.hashes {
		if drop[h] {
			continue
		}
		data := make([]byte, pi.lens[i])
		if _, err := f.ReadAt(data, int64(pi.offs[i])); err != nil {
			return fmt.Errorf("read node %s: %w", h, err)
		}
		hs, datas = append(hs, h), append(datas, data)
	}
	if len(hs) > 0 {
		// The rest is durable under its new name before the old goes.
		if _, err := b.writePack(hs, datas, mtime); err != nil {
			return err
		}
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := syncDir(b.packs.dir); err != nil {
		return err
	}
	b.packs.mu.Lock()
	b.packs.removeLocked(pi.name)
	b.packs.mu.Unlock()
	return nil
}

// looseState is what deleteLooseIfOlder found of a node's own file.
type looseState int

const (
	looseAbsent looseState = iota
	looseRemoved
	looseKept // present and not older than the cutoff
)

// DeleteManyIfOlder implements BatchConditionalDeleter: DeleteIfOlder for
// many keys, with each pack that holds some of them rewritten once.
func (b *fileBackend) DeleteManyIfOlder(ctx context.Context, keys []string, before time.Time, limit int) ([]bool, error) {
	return b.deleteMany(ctx, keys, before, false, limit)
}

// deleteMany removes the keys' own files and packed copies last modified
// before before (every copy if all) and reports, per key, whether it
// removed a copy and left none.
func (b *fileBackend) deleteMany(ctx context.Context, keys []string, before time.Time, all bool, limit int) ([]bool, error) {
	states := make([]looseState, len(keys))
	drop := map[Hash]bool{}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(limit, 1))
	for i, key := range keys {
		p, err := b.path("delete", key)
		if err != nil {
			return nil, err
		}
		if h, ok := parseNodeKey(key); ok {
			drop[h] = true
		}
		g.Go(func() (err error) {
			states[i], err = b.deleteLooseIfOlder(gctx, key, p, before, all)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var removed, kept map[Hash]bool
	if len(drop) > 0 {
		var err error
		if removed, kept, err = b.deletePacked(ctx, drop, before, all); err != nil {
			return nil, fmt.Errorf("konserve: file: delete packed nodes: %w", err)
		}
	}
	out := make([]bool, len(keys))
	for i, key := range keys {
		h, _ := parseNodeKey(key)
		gone := states[i] == looseRemoved || removed[h]
		out[i] = gone && states[i] != looseKept && !kept[h]
	}
	return out, nil
}
