package tx

import (
	"cmp"
	"fmt"
	"iter"
	"slices"

	"github.com/accretedb/accrete/datom"
)

// TempIDs is how a transaction's tempids resolved: each tempid as the data
// gave it (string tempids as string, negative integer tempids as int64)
// with the entity it names, and TxTempID ("datomic.tx") with the
// transaction's id. It is read-only and safe to share; its zero value is
// the empty table.
//
// It is a small table rather than a Go map because nearly every
// transaction names one or two tempids, and a map (a header and a hash
// group, 256 bytes in two allocations) cost a small transaction more than
// the rest of its result: the table is one allocation of its entries, and
// the transaction's own entry costs none. Tables of more than a few
// entries are indexed, so lookups stay constant-time in an import of
// thousands. Map returns an ordinary map.
//
// An import's table (NewImportTempIDs) is its map of integer tempids
// itself: hundreds of thousands of entries, which as a table would cost a
// boxed key each, a sort and an index.
type TempIDs struct {
	ents []TempID
	tx   datom.ID
	idx  map[any]int32      // position in ents by key, for large tables
	ints map[int64]datom.ID // an import's tempids; ents is then empty
}

// TempID is one resolved tempid.
type TempID struct {
	Key any
	ID  datom.ID
}

// NewTempIDs returns the table of ents, whose keys are distinct strings or
// int64s other than TxTempID (a key given twice resolves to its first
// entry; a key of another type is never found), and of TxTempID
// resolving to txID (none when txID is 0). It keeps ents: the caller must
// not modify it afterwards.
func NewTempIDs(ents []TempID, txID datom.ID) TempIDs {
	t := TempIDs{ents: ents, tx: txID}
	if len(ents) > smallIndex {
		t.idx = make(map[any]int32, len(ents))
		for i, e := range ents {
			if _, dup := t.idx[e.Key]; !dup {
				t.idx[e.Key] = int32(i)
			}
		}
	}
	return t
}

// NewImportTempIDs returns the table of an import's tempids, negative
// int64s resolved to new entities, and of TxTempID resolving to txID (none
// when txID is 0). It keeps m: the caller must not modify it afterwards.
// All yields the tempids in the order of their entities' ids, which an
// import allocates in the order its data first names them.
func NewImportTempIDs(m map[int64]datom.ID, txID datom.ID) TempIDs {
	return TempIDs{ints: m, tx: txID}
}

// Lookup returns the entity tempid k resolved to, and whether the
// transaction named k.
func (t TempIDs) Lookup(k any) (datom.ID, bool) {
	switch key := k.(type) {
	case string:
		if key == TxTempID {
			return t.tx, t.tx != 0
		}
	case int64:
		if t.ints != nil {
			id, ok := t.ints[key]
			return id, ok
		}
	default:
		return 0, false // no tempid has another type (and k may not be comparable)
	}
	if t.idx != nil {
		if i, ok := t.idx[k]; ok {
			return t.ents[i].ID, true
		}
		return 0, false
	}
	for _, e := range t.ents {
		if e.Key == k {
			return e.ID, true
		}
	}
	return 0, false
}

// ID returns the entity tempid k resolved to, or 0 when the transaction did
// not name k (as indexing a map would).
func (t TempIDs) ID(k any) datom.ID {
	id, _ := t.Lookup(k)
	return id
}

// Len returns how many tempids the table resolves, TxTempID included.
func (t TempIDs) Len() int {
	n := len(t.ents) + len(t.ints)
	if t.tx != 0 {
		n++
	}
	return n
}

// All yields each tempid and its entity, in the table's order (a
// transaction's: the order its data first named them), then TxTempID.
func (t TempIDs) All() iter.Seq2[any, datom.ID] {
	return func(yield func(any, datom.ID) bool) {
		for _, e := range t.ents {
			if !yield(e.Key, e.ID) {
				return
			}
		}
		if t.ints != nil {
			ents := make([]TempID, 0, len(t.ints))
			for k, id := range t.ints {
				ents = append(ents, TempID{Key: k, ID: id})
			}
			slices.SortFunc(ents, func(a, b TempID) int { return cmp.Compare(a.ID, b.ID) })
			for _, e := range ents {
				if !yield(e.Key, e.ID) {
					return
				}
			}
		}
		if t.tx != 0 {
			yield(TxTempID, t.tx)
		}
	}
}

// Map returns the table as a new map.
func (t TempIDs) Map() map[any]datom.ID {
	m := make(map[any]datom.ID, t.Len())
	for k, id := range t.All() {
		m[k] = id
	}
	return m
}

// String prints the table as fmt prints its Map (keys sorted), as a report
// printed before TempIDs was a table.
func (t TempIDs) String() string { return fmt.Sprint(t.Map()) }
