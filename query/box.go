package query

import (
	"unsafe"

	"github.com/accretedb/accrete/edn"
)

// Values boxed in place.
//
// Converting a slice header or an int64 to an interface allocates a copy
// of it. Where a result holds thousands of them (the sets Entity.Get
// returns, pull's vectors, the ids a scan binds), the values are written
// into blocks and each interface is pointed at its value in the block:
// one allocation per block rather than per value. Such a value must never
// be written after it is boxed, as for any interface value.

// eface is the layout of an interface value without methods (as in
// internal/abi.EmptyInterface): its type, then a pointer to its value
// (for a type that is not pointer-shaped).
type eface struct {
	typ  unsafe.Pointer
	data unsafe.Pointer
}

// setType and vectorType are the type words of an edn.Set and of an
// edn.Vector in an any.
var (
	setType    = typeWord(edn.Set(nil))
	vectorType = typeWord(edn.Vector(nil))
	mapType    = typeWord(edn.Map(nil))
)

func typeWord(x any) unsafe.Pointer { return (*eface)(unsafe.Pointer(&x)).typ }

// boxSet, boxVector and boxMap return *p as an any whose value is *p itself
// rather than a copy (what converting a slice to an interface would
// allocate): *p must never be written again.
func boxSet(p *edn.Set) any       { return boxAt(setType, unsafe.Pointer(p)) }
func boxVector(p *edn.Vector) any { return boxAt(vectorType, unsafe.Pointer(p)) }
func boxMap(p *edn.Map) any       { return boxAt(mapType, unsafe.Pointer(p)) }

func boxAt(typ, p unsafe.Pointer) any {
	var x any
	e := (*eface)(unsafe.Pointer(&x))
	e.typ, e.data = typ, p
	return x
}

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
