package konserve

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/zeebo/blake3"
)

// Slotted head files.
//
// A mutable key (a branch head) is stored on the file backend as a file of
// two slots, as LMDB keeps two meta pages: the current bytes are in one
// slot, and Swap writes the new bytes into the other slot in place, with
// one pwrite and one fdatasync, under the key's flock. Each slot carries a
// sequence number and a BLAKE3 checksum of its contents; the key's bytes
// are those of the intact slot with the higher sequence number. A write
// torn by a crash, or caught half-done by a reader (readers take no lock),
// fails its checksum, so the other slot, the previous head, is what the key
// holds until the new slot is complete.
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
// A slotted file is created, and regrown when a head outgrows its slots,
// the old way (complete temporary file, fsync, rename, directory fsync:
// F1), so the header and slot size never change in place. A file without
// the header (written by an older version of this backend) is one whole
// head; its first swap rewrites it as a slotted file.
//
// Layout (little endian), every part aligned to headBlock bytes so that
// writing one slot never rewrites a disk sector of the other:
//
//	[0, headBlock)                       magic, slot size
//	[headBlock, headBlock+slot)          slot 0
//	[headBlock+slot, headBlock+2*slot)   slot 1
//
// and a slot is seq (8) | n (4) | zero (4) | BLAKE3(seq | n | bytes) (32) |
// bytes (n).

// headMagic begins every slotted head file. No node, commit or head record
// begins with a zero byte followed by it.
var headMagic = []byte("\x00ACCRETE-HEAD-SLOTS-1\n")

const (
	headBlock   = 4096
	slotHdrSize = 48
)

// errTornHead is parseHeadFile's answer when neither slot is intact: a
// reader caught the writer's pwrite of one slot while the other was being
// written too (it rereads), or the file is damaged.
var errTornHead = errors.New("no intact slot")

// slottedHead is what a head file holds.
type slottedHead struct {
	data     []byte
	seq      uint64
	slot     int // the slot data is in; -1 in a file without slots
	slotSize int // 0 in a file without slots
}

// parseHeadFile returns the current bytes of a head file.
func parseHeadFile(file []byte) (slottedHead, error) {
	if !bytes.HasPrefix(file, headMagic) {
		return slottedHead{data: file, slot: -1}, nil
	}
	if len(file) < len(headMagic)+4 {
		return slottedHead{}, fmt.Errorf("head file header cut short (%d bytes): %w", len(file), ErrCorrupt)
	}
	size := int(binary.LittleEndian.Uint32(file[len(headMagic):]))
	if size < slotHdrSize || size%headBlock != 0 || size > maxSlotSize {
		return slottedHead{}, fmt.Errorf("head file slot size %d: %w", size, ErrCorrupt)
	}
	best := slottedHead{slot: -1, slotSize: size}
	for i := range 2 {
		off := headBlock + i*size
		if off+slotHdrSize > len(file) {
			continue
		}
		s := file[off : off+slotHdrSize]
		seq := binary.LittleEndian.Uint64(s)
		n := int(binary.LittleEndian.Uint32(s[8:]))
		if n > size-slotHdrSize || off+slotHdrSize+n > len(file) {
			continue
		}
		data := file[off+slotHdrSize : off+slotHdrSize+n]
		if slotSum(seq, data) != [32]byte(s[16:48]) {
			continue
		}
		if best.slot < 0 || seq > best.seq {
			best.data, best.seq, best.slot = data, seq, i
		}
	}
	if best.slot < 0 {
		return slottedHead{}, errTornHead
	}
	return best, nil
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

// appendSlot appends the slot holding data as its seq-th state.
func appendSlot(b []byte, seq uint64, data []byte) []byte {
	b = binary.LittleEndian.AppendUint64(b, seq)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	b = append(b, 0, 0, 0, 0)
	sum := slotSum(seq, data)
	b = append(b, sum[:]...)
	return append(b, data...)
}

// slotSizeFor is the slot size of a new file for data: room for it twice
// over, so a head that grows slowly (a schema gaining attributes) is not
// rewritten each time.
func slotSizeFor(data []byte) int {
	n := 2 * (slotHdrSize + len(data))
	if n > maxSlotSize {
		n = slotHdrSize + len(data)
	}
	return (n + headBlock - 1) / headBlock * headBlock
}

// newHeadFile returns a whole slotted file with data in slot 0. Slot 1 is
// written as zeros, so its blocks exist and a later slot write allocates
// nothing (fdatasync then has no metadata to commit).
func newHeadFile(seq uint64, data []byte) []byte {
	size := slotSizeFor(data)
	b := make([]byte, headBlock, headBlock+2*size)
	copy(b, headMagic)
	binary.LittleEndian.PutUint32(b[len(headMagic):], uint32(size))
	b = appendSlot(b, seq, data)
	return b[:headBlock+2*size]
}

// readHeadFile reads and parses the head file at p. A reader that finds no
// intact slot reads again: the writer may have been writing a slot while
// the file was read and, being fast, written the other by the time both
// were looked at. Only a file that stays without an intact slot is damage.
func readHeadFile(p string) (slottedHead, error) {
	for attempt := 0; ; attempt++ {
		file, err := os.ReadFile(p)
		if err != nil {
			return slottedHead{}, err
		}
		h, err := parseHeadFile(file)
		if !errors.Is(err, errTornHead) {
			return h, err
		}
		if attempt == 20 {
			return slottedHead{}, fmt.Errorf("head file %s: %w: %w", filepath.Base(p), err, ErrCorrupt)
		}
		time.Sleep(time.Duration(attempt+1) * 100 * time.Microsecond)
	}
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
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || (err == nil && !bytes.Equal(magic, headMagic)) {
		return slottedHead{}, false, nil
	}
	if err != nil {
		return slottedHead{}, false, err
	}
	h, err := readHeadFile(p)
	return h, err == nil, err
}
