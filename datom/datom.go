package datom

// ID is an entity id. Entity, attribute and transaction ids share one space
// and are split into partitions by their high bits, so a transaction is an
// entity like any other and ids of different kinds never collide:
//
//	id = partition<<PartShift | n
type ID = int64

// PartShift is the bit position of the partition in an ID.
const PartShift = 42

// The partitions. PartDB holds the built-in and user-declared attributes and
// idents; PartTx holds transaction entities, whose n is the basis t; PartUser
// holds every other entity.
const (
	PartDB   int64 = 0
	PartTx   int64 = 1
	PartUser int64 = 2
)

// MakeID builds the id of the n-th entity of partition part.
func MakeID(part, n int64) ID { return part<<PartShift | n }

// Part returns the partition of id.
func Part(id ID) int64 { return id >> PartShift }

// TxID returns the id of the transaction entity whose basis is t.
func TxID(t int64) ID { return MakeID(PartTx, t) }

// TxT returns the basis t of a transaction id.
func TxT(tx ID) int64 { return tx & (1<<PartShift - 1) }

// Datom is one fact: entity E has value V for attribute A, asserted
// (Added) or retracted (!Added) by transaction Tx.
//
// V holds one of the Go types listed for ValueType; refs hold the entity
// ID (int64) they point to.
type Datom struct {
	E     ID
	A     ID
	V     any
	Tx    ID
	Added bool
}
