package konserve

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Staged commits on the file backend.
//
// A commit stores its new objects (the log tail node and the commit record)
// and then swaps its branch head. Making a new file durable costs a file
// fsync, a link and a directory fsync: on ext4 two journal commits, each of
// which waits for whatever else the journal holds (a background merge's
// hundreds of new nodes). Then the head's slot write and its fdatasync
// follow, a third flush. A head file of the ring format instead carries the
// commit's objects in the same slot as the head (PutNodesSwapHead): one
// pwrite and one fdatasync of blocks the file already has, which commits
// no journal, make both the objects and the head durable at once. The
// objects are then written as ordinary files in the background, and a slot
// is written again only after the objects it stages are durable files, so
// an object named by a head is always in the head file's ring or in its
// own file (and checked against its hash wherever it is read). One
// goroutine writes them, taking whatever commits queued up meanwhile as
// one bulk write (putFilesBulk: two syncfs(2) for the lot, rather than
// a file and a directory fsync per object): BenchmarkCommitLatency's
// median went from 936–1,161 µs (one batch of fsyncs per commit) to
// 704–727 µs, and its CPU per commit from 1,340–1,770 µs to 932–1,009 µs,
// alternated in one run. Without any background write (unsafe, measured
// once as the floor) the median was 504 µs.
//
// Staged objects cost few bytes in the slot: a commit record is found
// inside the head (which inlines it) and staged as a range of it, and a log
// tail that extends the tail this process staged or stored with the
// previous swap of the same key is staged as that tail's key plus the new
// bytes. Objects that do not fit the slot are stored as files first, as
// without staging.
//
// Who reads a staged object: Store.GetNode, on a node that has no file,
// looks in the rings of the heads the Store has read or swapped, then in
// every other head file (skipping nodes/), then at the file again (its
// slot may have been reused after the object was flushed). A process that
// swaps a head first makes durable everything the other heads it has read
// stage (creating a branch from another's commit names that commit's
// objects from another head file), and every process flushes the whole ring
// of a key at its first swap of it (a crashed writer's staged objects
// become files at the next writer's or garbage collector's first swap) and
// before it deletes or regrows the file. Store.Settle does the same for
// every head a Store knows and also clears the past slots: garbage
// collection calls it before it sweeps (a slot must not name an object the
// sweep deletes), excision after it commits (purged bytes must not stay in
// a past slot), and a Writer when it closes.

// staged entry kinds
const (
	stageFull   = 0 // the object's bytes
	stageConcat = 1 // another object's bytes, then these
	stageInHead = 2 // a range of the slot's head
)

// stagedEntry is one object a slot stages.
type stagedEntry struct {
	key    string
	kind   byte
	data   []byte // stageFull: the bytes; stageConcat: the suffix
	prefix string // stageConcat: the key of the object that comes first
	off, n int    // stageInHead
}

// maxConcatDepth bounds the chain of concatenations one read follows: each
// link is an earlier slot of a ring or a file, so a longer chain is damage.
const maxConcatDepth = 2 * maxRingSlots

// encodePayload returns a ring slot's bytes: the head, then the staged
// entries.
func encodePayload(head []byte, es []stagedEntry) []byte {
	n := len(head) + 16
	for _, e := range es {
		n += len(e.key) + len(e.prefix) + len(e.data) + 24
	}
	b := make([]byte, 0, n)
	b = binary.AppendUvarint(b, uint64(len(head)))
	b = append(b, head...)
	b = binary.AppendUvarint(b, uint64(len(es)))
	for _, e := range es {
		b = binary.AppendUvarint(b, uint64(len(e.key)))
		b = append(b, e.key...)
		b = append(b, e.kind)
		switch e.kind {
		case stageFull:
			b = binary.AppendUvarint(b, uint64(len(e.data)))
			b = append(b, e.data...)
		case stageConcat:
			b = binary.AppendUvarint(b, uint64(len(e.prefix)))
			b = append(b, e.prefix...)
			b = binary.AppendUvarint(b, uint64(len(e.data)))
			b = append(b, e.data...)
		case stageInHead:
			b = binary.AppendUvarint(b, uint64(e.off))
			b = binary.AppendUvarint(b, uint64(e.n))
		}
	}
	return b
}

// decodePayload parses a ring slot's bytes. The results alias p.
func decodePayload(p []byte) (head []byte, es []stagedEntry, err error) {
	bad := func(what string) error { return fmt.Errorf("head slot: %s: %w", what, ErrCorrupt) }
	chunk := func(what string) ([]byte, error) {
		n, k := uvarint(p)
		if k <= 0 || n > uint64(len(p)-k) {
			return nil, bad(what)
		}
		c := p[k : k+int(n) : k+int(n)]
		p = p[k+int(n):]
		return c, nil
	}
	if head, err = chunk("head length"); err != nil {
		return nil, nil, err
	}
	count, k := uvarint(p)
	if k <= 0 || count > uint64(len(p)) {
		return nil, nil, bad("entry count")
	}
	p = p[k:]
	for i := uint64(0); i < count; i++ {
		key, err := chunk("entry key")
		if err != nil {
			return nil, nil, err
		}
		if _, ok := parseNodeKey(string(key)); !ok {
			return nil, nil, bad(fmt.Sprintf("entry %d: %q is not a node key", i, key))
		}
		if len(p) == 0 {
			return nil, nil, bad("entry kind")
		}
		e := stagedEntry{key: string(key), kind: p[0]}
		p = p[1:]
		switch e.kind {
		case stageFull:
			if e.data, err = chunk("entry bytes"); err != nil {
				return nil, nil, err
			}
		case stageConcat:
			pk, err := chunk("entry prefix key")
			if err != nil {
				return nil, nil, err
			}
			if _, ok := parseNodeKey(string(pk)); !ok || string(pk) == e.key {
				return nil, nil, bad(fmt.Sprintf("entry %d: prefix %q", i, pk))
			}
			e.prefix = string(pk)
			if e.data, err = chunk("entry suffix"); err != nil {
				return nil, nil, err
			}
		case stageInHead:
			off, k1 := uvarint(p)
			if k1 <= 0 {
				return nil, nil, bad("entry offset")
			}
			n, k2 := uvarint(p[k1:])
			if k2 <= 0 || off > uint64(len(head)) || n > uint64(len(head))-off {
				return nil, nil, bad("entry range")
			}
			p = p[k1+k2:]
			e.off, e.n = int(off), int(n)
		default:
			return nil, nil, bad(fmt.Sprintf("entry kind %d", e.kind))
		}
		es = append(es, e)
	}
	if len(p) != 0 {
		return nil, nil, bad("trailing bytes")
	}
	return head, es, nil
}

// uvarint is binary.Uvarint that also refuses an encoding longer than
// needed, so that a payload has one encoding.
func uvarint(p []byte) (uint64, int) {
	v, k := binary.Uvarint(p)
	if k > 0 && k != len(binary.AppendUvarint(nil, v)) {
		return 0, -1
	}
	return v, k
}

// ring is this process's state of one head file's ring.
type ring struct {
	// mu orders this process's swaps of the key (the flock orders them
	// against other processes').
	mu sync.Mutex
	// settled: this process has made every object of every slot durable
	// once, at its first swap of the key.
	settled bool
	// fmu guards flushes: the background writes of the objects staged by
	// this process's swaps, by slot sequence number.
	fmu     sync.Mutex
	flushes map[uint64]*stageFlush
	// last is the objects of this process's last successful swap of the
	// key and the head Version it made, for concatenation.
	last  []stagedObject
	lastV Version
}

// stagedObject is an object with its key.
type stagedObject struct {
	key  string
	data []byte
}

// stageFlush is one slot's objects being written as files.
type stageFlush struct {
	done chan struct{}
	err  error
	objs []stagedObject
}

// reset forgets what this process knows of the file's slots, when the file
// is replaced by a new one (whose sequence numbers may repeat the old
// one's) or removed. The caller holds r.mu, and every flush of the old
// file has completed.
func (r *ring) reset() {
	r.fmu.Lock()
	r.flushes = map[uint64]*stageFlush{}
	r.fmu.Unlock()
	r.last, r.lastV, r.settled = nil, "", false
}

func (b *fileBackend) ringOf(p string) *ring {
	if r, ok := b.rings.Load(p); ok {
		return r.(*ring)
	}
	r, _ := b.rings.LoadOrStore(p, &ring{flushes: map[uint64]*stageFlush{}})
	return r.(*ring)
}

// errNotStaged is swapStaged's answer when it did not stage (the key has
// no ring file yet, or the objects do not fit a slot): nothing was
// written, and the caller stores the objects first and swaps without them.
var errNotStaged = errors.New("konserve: file: not staged")

// stagingBackend is implemented by backends that can make objects durable
// in the same write as a head swap (the file backend's rings).
type stagingBackend interface {
	// swapStaged is Swap of key from old to head that also stages objs
	// (keys and bytes) durably with it, or returns errNotStaged having
	// written nothing. others are the heads the caller has read: what
	// they stage is made durable before the swap.
	// It also reports the bytes the staging added to the slot.
	swapStaged(ctx context.Context, key string, old Version, head []byte, objs []stagedObject, others []string) (Version, int, error)
	// getStaged returns the bytes of node key from the rings of heads
	// (and, if anyHead, of any head), or an error wrapping ErrNotFound.
	getStaged(ctx context.Context, key string, heads []string, anyHead bool) ([]byte, error)
}

var _ stagingBackend = (*fileBackend)(nil)

// swapStaged implements stagingBackend.
func (b *fileBackend) swapStaged(ctx context.Context, key string, old Version, head []byte, objs []stagedObject, others []string) (Version, int, error) {
	p, err := b.path("swap", key)
	if err != nil {
		return "", 0, err
	}
	if err := ctx.Err(); err != nil {
		return "", 0, fmt.Errorf("konserve: file: swap %s: %w", key, err)
	}
	if err := b.ensureDir(filepath.Dir(p)); err != nil {
		return "", 0, fmt.Errorf("konserve: file: swap %s: %w", key, err)
	}
	if err := b.settleOthers(ctx, key, others); err != nil {
		return "", 0, fmt.Errorf("konserve: file: swap %s: %w", key, err)
	}
	nv, n, err := b.swapLocked(p, old, head, objs)
	if err != nil {
		if errors.Is(err, errNotStaged) {
			return "", 0, err
		}
		return "", 0, fmt.Errorf("konserve: file: swap %s: %w", key, err)
	}
	return nv, n, nil
}

// startFlush writes the objects of the slot of sequence seq as files in
// the background, and forgets the flushes of slots since reused.
func (b *fileBackend) startFlush(r *ring, seq uint64, slots int, objs []stagedObject) {
	if b.holdFlushes {
		return
	}
	fl := &stageFlush{done: make(chan struct{}), objs: objs}
	r.fmu.Lock()
	r.flushes[seq] = fl
	for s, old := range r.flushes {
		if s+uint64(slots) <= seq {
			select {
			case <-old.done:
				delete(r.flushes, s)
			default:
			}
		}
	}
	r.fmu.Unlock()
	b.flushWG.Add(1)
	b.fq.Lock()
	b.fqueue = append(b.fqueue, fl)
	start := !b.fqRunning
	b.fqRunning = true
	b.fq.Unlock()
	if start {
		go b.runFlusher()
	}
}

// runFlusher writes queued staged objects as files until the queue is
// empty: whatever queued up while one write was in progress goes in the
// next, as one bulk write (two file-system syncs for all of them, see
// putFilesBulk), so that commits made while the file system is busy
// share their syncs.
func (b *fileBackend) runFlusher() {
	for {
		b.fq.Lock()
		batch := b.fqueue
		b.fqueue = nil
		if len(batch) == 0 {
			b.fqRunning = false
			b.fq.Unlock()
			return
		}
		b.fq.Unlock()
		var keys []string
		var datas [][]byte
		seen := map[string]bool{}
		for _, fl := range batch {
			for _, o := range fl.objs {
				if !seen[o.key] {
					seen[o.key] = true
					keys, datas = append(keys, o.key), append(datas, o.data)
				}
			}
		}
		// Files of their own, not a pack: flushSlot and settling check
		// a staged object's presence by its file.
		_, err := b.putFilesBulk(context.Background(), keys, datas, max(len(keys), 1))
		for _, fl := range batch {
			fl.err = err
			close(fl.done)
			b.flushWG.Done()
		}
	}
}

// waitFlushes waits for this process's background writes of staged
// objects.
func (b *fileBackend) waitFlushes() { b.flushWG.Wait() }

// settle waits for this process's background writes of staged objects,
// then settles the ring of every head in heads (settleLocked).
func (b *fileBackend) settle(ctx context.Context, heads []string) error {
	done := make(chan struct{})
	go func() { b.waitFlushes(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	for _, key := range heads {
		if err := b.settleRing(ctx, key); err != nil {
			return err
		}
	}
	return nil
}

// settleRing is settleLocked on the head file of key, under its locks.
func (b *fileBackend) settleRing(ctx context.Context, key string) (err error) {
	p, err := b.path("settle", key)
	if err != nil {
		return err
	}
	r := b.ringOf(p)
	r.mu.Lock()
	defer r.mu.Unlock()
	unlock, err := flockPath(lockPath(p), false)
	if err != nil || unlock == nil {
		return err // no lock file: the key was never swapped here
	}
	defer func() {
		if uerr := unlock(); err == nil && uerr != nil {
			err = uerr
		}
	}()
	cur, err := readHeadFileAll(p, true)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("settle head %s: %w", key, err)
	}
	if !cur.ring {
		return nil
	}
	if err := b.settleLocked(ctx, r, p, cur); err != nil {
		return fmt.Errorf("settle head %s: %w", key, err)
	}
	return nil
}

// settleLocked makes every object the ring file cur at p stages a durable
// file, then clears every slot but the current one: their heads are past,
// and their objects, once unreachable, may be deleted by a garbage
// collector (which settles every ring before it sweeps) or must be gone
// after a purge, so the ring must not serve them after that. The caller
// holds the key's locks. A crashed writer's staged objects become files
// at the next process's first swap of the key this way.
func (b *fileBackend) settleLocked(ctx context.Context, r *ring, p string, cur slottedHead) error {
	for _, v := range cur.all {
		if err := b.flushSlot(ctx, r, p, cur, v); err != nil {
			return err
		}
	}
	var old []int
	for i := range cur.slots {
		if i != cur.slot {
			old = append(old, i)
		}
	}
	if err := clearSlots(p, cur, old); err != nil {
		return err
	}
	r.settled = true
	return nil
}

// settleOthers makes durable every object the rings of heads other than
// key stage.
func (b *fileBackend) settleOthers(ctx context.Context, key string, heads []string) error {
	for _, h := range heads {
		if h == key {
			continue
		}
		p, err := b.path("swap", h)
		if err != nil {
			continue
		}
		cur, err := readHeadFileAll(p, true)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("settle head %s: %w", h, err)
		}
		if !cur.ring {
			continue
		}
		r := b.ringOf(p)
		for _, v := range cur.all {
			if err := b.flushSlot(ctx, r, p, cur, v); err != nil {
				return fmt.Errorf("settle head %s: %w", h, err)
			}
		}
	}
	return nil
}

// flushSlot makes the objects slot v stages durable files, waiting for this
// process's own background write of them if there is one.
func (b *fileBackend) flushSlot(ctx context.Context, r *ring, p string, cur slottedHead, v slotView) error {
	if len(v.staged) == 0 {
		return nil
	}
	r.fmu.Lock()
	fl := r.flushes[v.seq]
	r.fmu.Unlock()
	if fl != nil {
		select {
		case <-fl.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if fl.err == nil {
			return nil
		}
	}
	objs := make([]stagedObject, 0, len(v.staged))
	dirs := map[string]bool{}
	for _, e := range v.staged {
		fp, err := b.path("put", e.key)
		if err != nil {
			return err
		}
		if _, err := os.Lstat(fp); err == nil {
			// Written already (by the process that staged it, which may
			// have died before syncing its directory). Its bytes are
			// not needed, and may no longer be resolvable: the prefix of
			// a concatenation is deleted by garbage collection once
			// nothing names it.
			dirs[filepath.Dir(fp)] = true
			continue
		}
		if h, ok := parseNodeKey(e.key); ok {
			if _, found, err := b.getPacked(h); err != nil {
				return err
			} else if found {
				continue // in a pack (a sync wrote it), durable already
			}
		}
		data, err := b.resolveStaged(ctx, e, v.head, cur, 0)
		if err != nil {
			return err
		}
		objs = append(objs, stagedObject{key: e.key, data: data})
	}
	for dir := range dirs {
		if err := syncDir(dir); err != nil {
			return err
		}
	}
	if err := b.storeObjects(ctx, objs); err != nil {
		return err
	}
	if fl != nil {
		// Settle should not report a write that has since succeeded.
		ok := &stageFlush{done: make(chan struct{})}
		close(ok.done)
		r.fmu.Lock()
		r.flushes[v.seq] = ok
		r.fmu.Unlock()
	}
	return nil
}

// storeObjects writes objs, read back from a slot, as files, each checked
// against its key's hash.
func (b *fileBackend) storeObjects(ctx context.Context, objs []stagedObject) error {
	keys := make([]string, len(objs))
	datas := make([][]byte, len(objs))
	for i, o := range objs {
		h, ok := parseNodeKey(o.key)
		if !ok || HashOf(o.data) != h {
			return fmt.Errorf("staged object %s: bytes do not match its key: %w", o.key, ErrCorrupt)
		}
		keys[i], datas[i] = o.key, o.data
	}
	return b.putImmutableBatch(ctx, keys, datas, max(len(keys), 1))
}

// resolveStaged returns the bytes of entry e of a slot whose head is head,
// in the ring file cur.
func (b *fileBackend) resolveStaged(ctx context.Context, e stagedEntry, head []byte, cur slottedHead, depth int) ([]byte, error) {
	switch e.kind {
	case stageFull:
		return e.data, nil
	case stageInHead:
		return head[e.off : e.off+e.n], nil
	}
	if depth > maxConcatDepth {
		return nil, fmt.Errorf("staged object %s: concatenation chain too long: %w", e.key, ErrCorrupt)
	}
	pre, err := b.readObject(ctx, e.prefix, cur, depth+1)
	if err != nil {
		return nil, fmt.Errorf("staged object %s: %w", e.key, err)
	}
	out := make([]byte, 0, len(pre)+len(e.data))
	return append(append(out, pre...), e.data...), nil
}

// readObject returns node key from its file or from the ring cur.
func (b *fileBackend) readObject(ctx context.Context, key string, cur slottedHead, depth int) ([]byte, error) {
	p, err := b.path("get", key)
	if err != nil {
		return nil, err
	}
	data, err := b.readNodeFile(p, key)
	if err == nil {
		return data, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, v := range cur.all {
		for _, e := range v.staged {
			if e.key == key {
				return b.resolveStaged(ctx, e, v.head, cur, depth)
			}
		}
	}
	// Flushed and its slot reused since cur was read.
	data, err = b.readNodeFile(p, key)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, classifyFileErr(err))
	}
	return data, nil
}

// readNodeFile reads the object at p (key's file) or, for a node that has
// no file of its own, its copy in a pack (a sync stores nodes in packs).
func (b *fileBackend) readNodeFile(p, key string) ([]byte, error) {
	data, err := os.ReadFile(p)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return data, err
	}
	if h, ok := parseNodeKey(key); ok {
		if pdata, found, perr := b.getPacked(h); perr != nil {
			return nil, perr
		} else if found {
			return pdata, nil
		}
	}
	return nil, err
}

// getStaged implements stagingBackend.
func (b *fileBackend) getStaged(ctx context.Context, key string, heads []string, anyHead bool) ([]byte, error) {
	seen := map[string]bool{}
	look := func(h string) ([]byte, bool, error) {
		if seen[h] {
			return nil, false, nil
		}
		seen[h] = true
		p, err := b.path("get", h)
		if err != nil {
			return nil, false, nil
		}
		cur, err := readHeadFileAll(p, true)
		if err != nil || !cur.ring {
			return nil, false, nil // gone, or not a ring: stages nothing
		}
		for _, v := range cur.all {
			for _, e := range v.staged {
				if e.key == key {
					data, err := b.resolveStaged(ctx, e, v.head, cur, 0)
					return data, err == nil, err
				}
			}
		}
		return nil, false, nil
	}
	for _, h := range heads {
		if data, ok, err := look(h); ok || err != nil {
			return data, err
		}
	}
	if anyHead {
		var found []byte
		var ferr error
		errFound := errors.New("found")
		err := b.walkHeads(ctx, func(h string) error {
			data, ok, err := look(h)
			if ok || err != nil {
				found, ferr = data, err
				return errFound
			}
			return nil
		})
		if err != nil && !errors.Is(err, errFound) {
			return nil, err
		}
		if found != nil || ferr != nil {
			return found, ferr
		}
	}
	// Flushed, and its slot reused, since the caller missed the file.
	p, err := b.path("get", key)
	if err != nil {
		return nil, err
	}
	data, err := b.readNodeFile(p, key)
	if err != nil {
		return nil, fmt.Errorf("konserve: file: get %s: %w", key, classifyFileErr(err))
	}
	return data, nil
}

// walkHeads calls fn with the key of every ring head file, skipping the
// node tree (nodes are never head files) and the backend's own files.
func (b *fileBackend) walkHeads(ctx context.Context, fn func(key string) error) error {
	return b.walkKeys(ctx, b.root, func(_, key string, d fs.DirEntry) error {
		if strings.HasPrefix(d.Name(), ".") || key+"/" == nodePrefix {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil || !slottedSize(info.Size()) {
			return nil
		}
		return fn(key)
	})
}

// stageEntries returns the entries that stage objs with head: a range of
// the head where an object is inside it, the previous swap's object plus a
// suffix where an object extends one, else the whole bytes.
func stageEntries(head []byte, objs []stagedObject, prev []stagedObject) []stagedEntry {
	es := make([]stagedEntry, 0, len(objs))
	for _, o := range objs {
		if i := bytes.Index(head, o.data); i >= 0 && len(o.data) > 0 {
			es = append(es, stagedEntry{key: o.key, kind: stageInHead, off: i, n: len(o.data)})
			continue
		}
		best := -1
		for j, q := range prev {
			if q.key != o.key && len(q.data) < len(o.data) && bytes.HasPrefix(o.data, q.data) && (best < 0 || len(q.data) > len(prev[best].data)) {
				best = j
			}
		}
		if best >= 0 {
			es = append(es, stagedEntry{key: o.key, kind: stageConcat, prefix: prev[best].key, data: o.data[len(prev[best].data):]})
			continue
		}
		es = append(es, stagedEntry{key: o.key, kind: stageFull, data: o.data})
	}
	return es
}
