package query

import "unsafe"

// int64Type is the type word of an int64 in an any.
var int64Type = typeWord(int64(0))

// intBox hands out boxed int64 values cut from blocks, rather than one
// allocation each (what converting an int64 to an interface costs): a
// scan binding an entity id per row of a 20,000-row result allocates a
// few blocks instead of 20,000 words, and the collector has that many
// fewer objects to trace. A block stays alive while any value cut from it
// does; values are never written after they are handed out.
//
// An intBox belongs to one evaluation, which runs on one goroutine.
type intBox struct {
	block []int64
}

// intBoxBlock is the number of values per block: big enough to make the
// allocation per value negligible, small enough that a result keeping one
// value alive keeps little else.
const intBoxBlock = 256

// box returns v as an any.
func (b *intBox) box(v int64) any {
	if uint64(v) < 256 {
		return v // the runtime boxes small values without allocating
	}
	if len(b.block) == cap(b.block) {
		b.block = make([]int64, 0, intBoxBlock)
	}
	b.block = append(b.block, v)
	return boxAt(int64Type, unsafe.Pointer(&b.block[len(b.block)-1]))
}
