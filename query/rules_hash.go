package query

import (
	"hash/maphash"

	"github.com/accretedb/accrete/edn"
)

// Rule tables are indexed by open-addressing hash tables of row numbers
// (rowHash) instead of maps keyed by tkey: a key is not stored but read
// from the row a slot names, so adding a result costs one probe of a flat
// table without pointers — no key encoding, no map growth by splitting
// and no memory the garbage collector has to scan. A recursive rule over
// tens of thousands of pairs adds, and looks up, each pair several times.

// ruleSeed seeds the hashes of values that are not plain numbers.
var ruleSeed = maphash.MakeSeed()

// hashValue hashes v consistently with valuesEqual: equal values hash alike.
// buf is scratch space for the encoding of uncommon types.
func hashValue(v any, buf *[]byte) uint64 {
	switch x := v.(type) {
	case int64:
		return mix64(uint64(x))
	case string:
		return maphash.String(ruleSeed, x)
	case edn.Keyword:
		return mix64(maphash.String(ruleSeed, string(x)) + 0x51ed27)
	}
	*buf = appendKey((*buf)[:0], v)
	return maphash.Bytes(ruleSeed, *buf) + 0x2b
}

// mix64 is the finaliser of SplitMix64: every input bit affects every
// output bit, so that ids differing in their high bits (partitions) or in
// low bits both spread.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// hashVals hashes a tuple of key values.
func hashVals(vals []any, buf *[]byte) uint32 {
	h := uint64(len(vals)) * 0x9e3779b97f4a7c15
	for _, v := range vals {
		h = (h<<7 | h>>57) ^ hashValue(v, buf)
		h *= 0x9e3779b97f4a7c15
	}
	return uint32(h ^ h>>32)
}

// rowHash is an open-addressing (linear probing) hash table whose entries
// are row numbers of a table of tuples, keyed by the tuples' values at
// some positions. The zero rowHash is empty and ready to use.
type rowHash struct {
	slots []hslot // a power of two long, at most three quarters full
	n     int
}

type hslot struct {
	hash uint32
	row  int32 // the row + 1; 0: an empty slot
}

// find looks for the key vals (hashed h) among rows, comparing each
// candidate's values at pos: it returns the slot of the key's entry, or of
// the empty slot where it belongs, and whether it was found.
func (x *rowHash) find(rows *tupleStore, pos []int, h uint32, vals []any) (int, bool) {
	return probe(x, storeKeys{rows, pos}, h, vals)
}

// findRel is find over the rows of a relation, keyed by the values of
// args at pos in each row (see argValue).
func (x *rowHash) findRel(rows *rel, args []term, pos []int, h uint32, vals []any) (int, bool) {
	return probe(x, relKeys{rows, args, pos}, h, vals)
}

// rowKeys reads the key values of the rows a rowHash indexes: key(r, k) is
// the k-th key value of row r. Its implementations are structs, so that
// probe is compiled once for each, with the reads inlined.
type rowKeys interface {
	key(row, k int) any
}

type storeKeys struct {
	rows *tupleStore
	pos  []int
}

func (s storeKeys) key(row, k int) any { return s.rows.row(row)[s.pos[k]] }

type relKeys struct {
	rows *rel
	args []term
	pos  []int
}

func (s relKeys) key(row, k int) any { return argValue(&s.args[s.pos[k]], s.rows.row(row)) }

// probe walks x's slots from h's until it finds an entry of hash h whose
// row's keys are vals (its slot, true) or an empty slot (its slot, false).
func probe[R rowKeys](x *rowHash, keys R, h uint32, vals []any) (int, bool) {
	if len(x.slots) == 0 {
		x.slots = make([]hslot, 16)
	}
	mask := uint32(len(x.slots) - 1)
next:
	for i := h & mask; ; i = (i + 1) & mask {
		s := x.slots[i]
		if s.row == 0 {
			return int(i), false
		}
		if s.hash != h {
			continue
		}
		for k, v := range vals {
			if !valuesEqual(keys.key(int(s.row-1), k), v) {
				continue next
			}
		}
		return int(i), true
	}
}

// row returns the row of slot i.
func (x *rowHash) row(i int) int32 { return x.slots[i].row - 1 }

// insert fills the empty slot i (from find) with row under hash h.
func (x *rowHash) insert(i int, h uint32, row int32) {
	x.slots[i] = hslot{hash: h, row: row + 1}
	x.n++
	if 4*x.n > 3*len(x.slots) {
		x.grow(2 * len(x.slots))
	}
}

func (x *rowHash) grow(size int) {
	old := x.slots
	x.slots = make([]hslot, size)
	mask := uint32(size - 1)
	for _, s := range old {
		if s.row == 0 {
			continue
		}
		i := s.hash & mask
		for x.slots[i].row != 0 {
			i = (i + 1) & mask
		}
		x.slots[i] = s
	}
}

// reserve makes room for n more entries, so that the table grows once
// rather than doubling its way there.
func (x *rowHash) reserve(n int) {
	want := (4*(x.n+n))/3 + 1
	if want <= len(x.slots) {
		return
	}
	size := max(16, len(x.slots))
	for size < want {
		size *= 2
	}
	x.grow(size)
}

// reset empties the table and sizes it for n entries, reusing its room.
func (x *rowHash) reset(n int) {
	size := 16
	for size < (4*n)/3+2 {
		size *= 2
	}
	if cap(x.slots) >= size && cap(x.slots) <= 8*size {
		x.slots = x.slots[:size]
		clear(x.slots)
	} else {
		x.slots = make([]hslot, size)
	}
	x.n = 0
}

// tupleStore holds a table's tuples in blocks of storeRows rows, each one
// slice of arity values per row: adding a tuple neither allocates a slice
// of its own nor, once the first block is full, copies the tuples before
// it (growing one slice would copy, with write barriers, every pointer it
// holds).
type tupleStore struct {
	arity  int
	blocks [][]any
	n      int
}

const (
	storeShift = 10
	storeRows  = 1 << storeShift
)

// row returns tuple j; it must not be modified.
func (s *tupleStore) row(j int) []any {
	b := s.blocks[j>>storeShift]
	o := (j & (storeRows - 1)) * s.arity
	return b[o : o+s.arity : o+s.arity]
}

// reserve makes room in the first block for n more rows (up to a block):
// a small table is then allocated once, at its size.
func (s *tupleStore) reserve(n int) {
	want := min(max(s.n+n, 64), storeRows) * s.arity
	if s.n >= storeRows || want == 0 {
		return
	}
	if len(s.blocks) == 0 {
		s.blocks = append(s.blocks, make([]any, 0, want))
	} else if c := cap(s.blocks[0]); c < want {
		// At least doubling: reserving a row at a time must not copy
		// the block every time.
		s.blocks[0] = append(make([]any, 0, min(max(want, 2*c), storeRows*s.arity)), s.blocks[0]...)
	}
}

// add appends a copy of vals (arity values).
func (s *tupleStore) add(vals []any) {
	bi := s.n >> storeShift
	if bi == len(s.blocks) {
		// The first block grows from 64 rows, so that a small
		// evaluation does not clear room it never uses; the others are
		// allocated whole.
		size := storeRows
		if bi == 0 {
			size = 64
		}
		s.blocks = append(s.blocks, make([]any, 0, size*s.arity))
	}
	b := s.blocks[bi]
	o := len(b)
	if o+len(vals) > cap(b) {
		// Only the first block grows: doubling (append grows a large
		// slice by a quarter, copying it over and over).
		nb := make([]any, o, min(max(2*cap(b), o+len(vals)), storeRows*s.arity))
		copy(nb, b)
		b = append(nb, vals...)
	} else {
		// Element by element: copying a few values with append costs
		// more than the values (typedslicecopy, bulk write barriers).
		b = b[:o+len(vals)]
		for k, v := range vals {
			b[o+k] = v
		}
	}
	s.blocks[bi] = b
	s.n++
}
