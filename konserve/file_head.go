package konserve

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/zeebo/blake3"
)

// Slotted head files.
//
// A mutable key (a branch head) is stored on the file backend as a file of
// slots, as LMDB keeps two meta pages: the current bytes are in one slot,
// and Swap writes the new bytes into the next slot in place, with one
// pwrite and one fdatasync, under the key's flock. Each slot carries a
// sequence number and a BLAKE3 checksum of its contents; the key's bytes
// are those of the intact slot with the highest sequence number. A write
// torn by a crash, or caught half-done by a reader (readers take no lock),
// fails its checksum, so the previous head is what the key holds until
// the new slot is complete.
//
// Why not a temporary file renamed over the key, as DESIGN-NOTES suggests
// and as this backend did before: that costs a file fsync, a rename and a
// directory fsync, two journal commits of ext4 on every head swap. The slot
// write changes no metadata the file needs (the file keeps its size and
// blocks; fdatasync skips the modification time), so it is one data flush.
// Measured here (ext4 on virtio), a microbenchmark of a commit's I/O (two
// nodes, then the head) took a median of 1.9 ms with the renamed head and
// 1.3 ms with the slotted one; writer's BenchmarkCommitLatency p50 went from
// 1.63–1.70 ms to 1.32–1.36 ms.
//
// Two formats. The first (headMagic) has two slots, and a slot's bytes are
// the head. The second (headMagic2), which every new or regrown file has,
// is a ring of ringSlots slots of at least minRingSlot bytes, and a slot's
// bytes are a payload: the head, then the objects the swap stages with it
// (file_stage.go), so that a commit's objects and its head are durable in
// one write. Slots are written in turn; a slot is written again only once
// the objects it stages are files of their own.
//
// A slotted file is created, and regrown when a head outgrows its slots,
// the old way (complete temporary file, fsync, rename, directory fsync:
// F1), so the header and slot size never change in place. A file without
// the header (written by an older version of this backend) is one whole
// head; its first swap rewrites it as a ring, as it does a file of the
// first format.
//
// Layout (little endian), every part aligned to headBlock bytes so that
// writing one slot never rewrites a disk sector of another:
//
//	[0, headBlock)                          magic, slot size (u32), slot count (u32, ring only)
//	[headBlock+i*slot, headBlock+(i+1)*slot) slot i
//
// A slot is seq (8) | n (4) | zero (4) | BLAKE3(seq | n | bytes) (32) |
// bytes (n); in a ring, bytes = uvarint(len head) head uvarint(count)
// entry*, each entry naming a node key and its bytes (whole, a range of
// the head, or another node's bytes followed by a suffix).

// headMagic begins every slotted head file of the first format (two slots,
// a slot's bytes are the head). headMagic2 begins the second (a ring of
// slots, a slot's bytes are a payload: the head and the objects it stages,
// see file_stage.go). No node, commit or head record begins with a zero
// byte followed by either.
var (
	headMagic  = []byte("\x00ACCRETE-HEAD-SLOTS-1\n")
	headMagic2 = []byte("\x00ACCRETE-HEAD-SLOTS-2\n")
)

const (
	headBlock   = 4096
	slotHdrSize = 48
	// ringSlots is the number of slots of a new head file. Each slot can
	// stage a commit's objects until they are durable files; more slots
	// give the background flush more commits of slack before a swap has
	// to wait for it.
	ringSlots = 4
	// maxRingSlots bounds the slot count a header may claim.
	maxRingSlots = 64
	// minRingSlot is the smallest slot of a new file: room for a head and
	// the log-tail growth of a group commit of a few hundred small
	// transactions.
	minRingSlot = 128 << 10
)

// errTornHead is parseHeadFile's answer when no slot is intact: a reader
// caught the writer's pwrite of one slot while the others were being
// written too (it rereads), or the file is damaged.
var errTornHead = errors.New("no intact slot")

// slottedHead is what a head file holds.
type slottedHead struct {
	data     []byte // the head's bytes
	payload  []byte // the current slot's bytes (the head, and in a ring what it stages)
	seq      uint64
	slot     int // the slot data is in; -1 in a file without slots
	slotSize int // 0 in a file without slots
	slots    int // the number of slots: 2 in the first format
	ring     bool
	// staged lists what the current slot stages (ring files only).
	staged []stagedEntry
	// all holds every intact slot, when the reader asked for them.
	all []slotView
}

// slotView is one intact slot of a ring file.
type slotView struct {
	slot    int
	seq     uint64
	head    []byte
	payload []byte
	staged  []stagedEntry
}

// headHeader is the first block of a slotted head file.
type headHeader struct {
	ring     bool
	slotSize int
	slots    int
}

// parseHeader reads the header at the start of b. ok is false when b is not
// a slotted head file (a plain head of an old version, or an object).
func parseHeader(b []byte) (hh headHeader, ok bool, err error) {
	switch {
	case bytes.HasPrefix(b, headMagic):
		hh.slots = 2
	case bytes.HasPrefix(b, headMagic2):
		hh.ring = true
	default:
		return headHeader{}, false, nil
	}
	n := len(headMagic)
	need := n + 4
	if hh.ring {
		need += 4
	}
	if len(b) < need {
		return headHeader{}, true, fmt.Errorf("head file header cut short (%d bytes): %w", len(b), ErrCorrupt)
	}
	hh.slotSize = int(binary.LittleEndian.Uint32(b[n:]))
	if hh.ring {
		hh.slots = int(binary.LittleEndian.Uint32(b[n+4:]))
		if hh.slots < 2 || hh.slots > maxRingSlots {
			return headHeader{}, true, fmt.Errorf("head file slot count %d: %w", hh.slots, ErrCorrupt)
		}
	}
	if hh.slotSize < slotHdrSize || hh.slotSize%headBlock != 0 || hh.slotSize > maxSlotSize {
		return headHeader{}, true, fmt.Errorf("head file slot size %d: %w", hh.slotSize, ErrCorrupt)
	}
	return hh, true, nil
}

// readAtFunc reads n bytes at off of a head file; short reads give
// io.ErrUnexpectedEOF or io.EOF.
type readAtFunc func(off int64, n int) ([]byte, error)

// parseSlots returns the intact slot with the highest sequence number of a
// slotted file (and, if all, every intact slot of a ring file). It reads
// each slot's header, then the bytes of the best candidates only, so that
// a reader of a large ring reads about one slot.
func parseSlots(hh headHeader, readAt readAtFunc, all bool) (slottedHead, error) {
	type cand struct {
		i   int
		seq uint64
		n   int
		sum [32]byte
	}
	var cands []cand
	for i := range hh.slots {
		off := int64(headBlock) + int64(i)*int64(hh.slotSize)
		s, err := readAt(off, slotHdrSize)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				continue
			}
			return slottedHead{}, err
		}
		n := int(binary.LittleEndian.Uint32(s[8:]))
		if n > hh.slotSize-slotHdrSize {
			continue
		}
		cands = append(cands, cand{i: i, seq: binary.LittleEndian.Uint64(s), n: n, sum: [32]byte(s[16:48])})
	}
	slices.SortFunc(cands, func(a, b cand) int { return cmp.Compare(b.seq, a.seq) })
	best := slottedHead{slot: -1, slotSize: hh.slotSize, slots: hh.slots, ring: hh.ring}
	for _, c := range cands {
		off := int64(headBlock) + int64(c.i)*int64(hh.slotSize) + slotHdrSize
		data, err := readAt(off, c.n)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				continue
			}
			return slottedHead{}, err
		}
		if slotSum(c.seq, data) != c.sum {
			continue
		}
		v := slotView{slot: c.i, seq: c.seq, head: data, payload: data}
		if hh.ring {
			head, staged, err := decodePayload(data)
			if err != nil {
				continue // checks but does not parse: damage, not a state
			}
			v.head, v.staged = head, staged
		}
		if best.slot < 0 {
			best.data, best.payload, best.seq, best.slot, best.staged = v.head, v.payload, v.seq, v.slot, v.staged
			if !all || !hh.ring {
				return best, nil
			}
		}
		best.all = append(best.all, v)
	}
	if best.slot < 0 {
		return slottedHead{}, errTornHead
	}
	return best, nil
}

// parseHeadFile returns the current bytes of a head file held in memory.
func parseHeadFile(file []byte) (slottedHead, error) {
	return parseHeadBytes(file, false)
}

func parseHeadBytes(file []byte, all bool) (slottedHead, error) {
	hh, ok, err := parseHeader(file)
	if err != nil {
		return slottedHead{}, err
	}
	if !ok {
		return slottedHead{data: file, slot: -1}, nil
	}
	return parseSlots(hh, func(off int64, n int) ([]byte, error) {
		if off > int64(len(file)) || int64(n) > int64(len(file))-off {
			return nil, io.ErrUnexpectedEOF
		}
		return file[off : off+int64(n) : off+int64(n)], nil
	}, all)
}

// maxSlotSize bounds a slot, and so a head, at 1 GiB (a head is a commit
// record of a few KiB): a larger size in a header is damage, not a head.
const maxSlotSize = 1 << 30

func slotSum(seq uint64, data []byte) [32]byte {
	h := blake3.New()
	var hdr [12]byte
	binary.LittleEndian.PutUint64(hdr[:], seq)
	binary.LittleEndian.PutUint32(hdr[8:], uint32(len(data)))
	_, _ = h.Write(hdr[:])
	_, _ = h.Write(data)
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// appendSlot appends the slot holding data (a head in the first format, a
// payload in a ring) as its seq-th state.
func appendSlot(b []byte, seq uint64, data []byte) []byte {
	b = binary.LittleEndian.AppendUint64(b, seq)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	b = append(b, 0, 0, 0, 0)
	sum := slotSum(seq, data)
	b = append(b, sum[:]...)
	return append(b, data...)
}

// slotSizeFor is the slot size of a new ring file for payload: room for it
// twice over, so a head that grows slowly (a schema gaining attributes) is
// not rewritten each time, and at least minRingSlot.
func slotSizeFor(payload []byte) int {
	n := max(2*(slotHdrSize+len(payload)), minRingSlot)
	if n > maxSlotSize {
		n = slotHdrSize + len(payload)
	}
	return (n + headBlock - 1) / headBlock * headBlock
}

// newHeadFile returns a whole ring file with payload in slot 0. The other
// slots are written as zeros, so their blocks exist and a later slot write
// allocates nothing (fdatasync then has no metadata to commit).
func newHeadFile(seq uint64, payload []byte) []byte {
	size := slotSizeFor(payload)
	b := make([]byte, headBlock, headBlock+ringSlots*size)
	copy(b, headMagic2)
	binary.LittleEndian.PutUint32(b[len(headMagic2):], uint32(size))
	binary.LittleEndian.PutUint32(b[len(headMagic2)+4:], ringSlots)
	b = appendSlot(b, seq, payload)
	return b[:headBlock+ringSlots*size]
}

// readHeadFile reads and parses the head file at p. A reader that finds no
// intact slot reads again: the writer may have been writing a slot while
// the file was read and, being fast, written the other by the time both
// were looked at. Only a file that stays without an intact slot is damage.
func readHeadFile(p string) (slottedHead, error) { return readHeadFileAll(p, false) }

// readHeadFileAll is readHeadFile that, if all, also returns every intact
// slot of a ring file.
func readHeadFileAll(p string, all bool) (slottedHead, error) {
	for attempt := 0; ; attempt++ {
		h, err := readHeadOnce(p, all)
		if !errors.Is(err, errTornHead) {
			return h, err
		}
		if attempt == 20 {
			return slottedHead{}, fmt.Errorf("head file %s: %w: %w", filepath.Base(p), err, ErrCorrupt)
		}
		time.Sleep(time.Duration(attempt+1) * 100 * time.Microsecond)
	}
}

// readHeadOnce reads the header, then only the slots it needs, with
// positioned reads: a ring file is mostly empty space.
func readHeadOnce(p string, all bool) (slottedHead, error) {
	f, err := os.Open(p)
	if err != nil {
		return slottedHead{}, err
	}
	defer f.Close()
	first := make([]byte, headBlock)
	n, err := io.ReadFull(f, first)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return slottedHead{}, err
	}
	first = first[:n]
	hh, ok, err := parseHeader(first)
	if err != nil {
		return slottedHead{}, err
	}
	if !ok {
		// A plain head of an old version: the whole file is the head.
		rest, err := io.ReadAll(f)
		if err != nil {
			return slottedHead{}, err
		}
		return slottedHead{data: append(first, rest...), slot: -1}, nil
	}
	return parseSlots(hh, func(off int64, n int) ([]byte, error) {
		b := make([]byte, n)
		if _, err := f.ReadAt(b, off); err != nil {
			return nil, err
		}
		return b, nil
	}, all)
}

// slottedSize reports whether a file of size bytes may be a slotted head
// file (a header block and two slots of whole blocks), so that List looks
// into only those files (peekHeadFile).
func slottedSize(size int64) bool {
	return size >= 3*headBlock && size%headBlock == 0
}

// peekHeadFile reads the head file at p if it is slotted, reading only the
// first bytes of a file that is not.
func peekHeadFile(p string) (slottedHead, bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return slottedHead{}, false, err
	}
	magic := make([]byte, len(headMagic))
	_, err = io.ReadFull(f, magic)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || (err == nil && !bytes.Equal(magic, headMagic) && !bytes.Equal(magic, headMagic2)) {
		return slottedHead{}, false, nil
	}
	if err != nil {
		return slottedHead{}, false, err
	}
	h, err := readHeadFile(p)
	return h, err == nil, err
}
